"""The engine against R metafor beyond the BCG reference: all nine estimators, z and knha,
six effect-size measures (incl. zero cells), a meta-regression with a categorical moderator,
and the diagnostics.

Expected numbers: ``data/metafor_extra.json``, made by ``data/make_metafor_extra.R`` (R metafor
3.8.1 with the data sets of metadat). Each model entry holds metafor's results twice:
``tight`` (``control=list(threshold=1e-12, tol=1e-12)``, the converged optimum, compared with
the engine's defaults) and ``default`` (metafor's own stopping rules, compared with
``Control.metafor_defaults()``).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from strokecell.stats.meta import (
    Control,
    EffectSizes,
    escalc,
    influence,
    leave_one_out,
    regtest,
    rma,
    trimfill,
)

# dat.yusuf1985 has a trial with missing counts: dropped (and warned about) as in metafor.
pytestmark = pytest.mark.filterwarnings("ignore:1 study with missing data:RuntimeWarning")

EXTRA = Path(__file__).resolve().parent / "data" / "metafor_extra.json"
RTOL = 1e-6


@cache
def extra() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(EXTRA.read_text(encoding="utf-8"))
    return data


def _col(dataset: str, name: str) -> list[Any]:
    return [row[name] for row in extra()["data"][dataset]]


@cache
def effects(name: str) -> EffectSizes:
    dataset, measure = name.split("_")
    roles = {"bcg": {"ai": "tpos", "bi": "tneg", "ci": "cpos", "di": "cneg"},
             "normand": {r: r for r in ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i")},
             "pritz": {"xi": "xi", "ni": "ni"},
             "yusuf": {r: r for r in ("ai", "n1i", "ci", "n2i")}}[dataset]
    return escalc(measure, **{role: _col(dataset, col) for role, col in roles.items()})


def _close(actual: Any, expected: Any, where: str, rtol: float = RTOL) -> None:
    np.testing.assert_allclose(np.asarray(actual, dtype=float),
                               np.asarray(expected, dtype=float), rtol=rtol, atol=1e-12,
                               err_msg=where)


MODELS = extra()["models"]
CASES = [(m, which) for m in MODELS for which in ("tight", "default")]


def _id(case: tuple[dict[str, Any], str]) -> str:
    m, which = case
    mods = "-mods" if "mods" in m else ""
    return f"{m['data']}-{m['method']}-{m['test']}{mods}-{which}"


@pytest.mark.parametrize("name", sorted(extra()["escalc"]))
def test_escalc_matches_metafor(name: str) -> None:
    """metafor_extra.json "escalc"[name]: yi, vi (missing ones dropped)."""
    ref = extra()["escalc"][name]
    yi = np.array([np.nan if v is None else v for v in ref["yi"]], dtype=float)
    vi = np.array([np.nan if v is None else v for v in ref["vi"]], dtype=float)
    es = effects(name)
    ok = np.isfinite(yi)
    assert es.n_dropped == int((~ok).sum())
    _close(es.yi, yi[ok], f"{name} yi", 1e-12)
    _close(es.vi, vi[ok], f"{name} vi", 1e-12)


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_model_matches_metafor(case: tuple[dict[str, Any], str]) -> None:
    """metafor_extra.json "models"[i][tight|default]: every reported number, fitstats()
    included."""
    entry, which = case
    control = None if which == "tight" else Control.metafor_defaults()
    mods = {c: _col("bcg", c) for c in entry["mods"]} if "mods" in entry else None
    got = rma(effects(entry["data"]), method=entry["method"], test=entry["test"], mods=mods,
              control=control).to_dict()
    for key, expected in entry[which].items():
        where = f"{_id(case)}: {key}"
        if key == "coef_names":
            assert got["coef_names"] == expected, where
        elif expected is None:
            assert got.get(key) is None, where
        elif key == "fit_stats":  # logLik, deviance, AIC, BIC, AICc (ML, or REML for REML)
            for stat, value in expected.items():
                _close(got[key][stat], value, f"{where}.{stat}")
        else:
            _close(got[key], expected, where)


def _bcg_reml() -> Any:
    return rma(effects("bcg_RR"), method="REML")


def test_influence_matches_metafor() -> None:
    """metafor_extra.json "diagnostics"."influence": influence(rma(..., method="REML"))."""
    inf = influence(_bcg_reml())
    for key, expected in extra()["diagnostics"]["influence"].items():
        got = inf.dfbetas[:, 0] if key == "dfbetas" else getattr(inf, key)
        _close(got, expected, f"influence {key}", 1e-9)


def test_influence_knha_matches_metafor() -> None:
    """metafor_extra.json "diagnostics"."influence_dl_knha": DL with test="knha"."""
    inf = influence(rma(effects("bcg_RR"), method="DL", test="knha"))
    for key, expected in extra()["diagnostics"]["influence_dl_knha"].items():
        got = inf.dfbetas[:, 0] if key == "dfbetas" else getattr(inf, key)
        _close(got, expected, f"influence knha {key}", 1e-9)


def test_leave_one_out_matches_metafor() -> None:
    """metafor_extra.json "diagnostics"."leave1out"."""
    loo = leave_one_out(_bcg_reml())
    for key, expected in extra()["diagnostics"]["leave1out"].items():
        _close(getattr(loo, key), expected, f"leave1out {key}", 1e-9)


def test_regtest_matches_metafor() -> None:
    """metafor_extra.json "diagnostics"."regtest" and "regtest_lm"."""
    res = _bcg_reml()
    eg = regtest(res)
    for key, expected in extra()["diagnostics"]["regtest"].items():
        _close(getattr(eg, key), expected, f"regtest {key}", 1e-9)
    lm = regtest(res, model="lm")
    for key, expected in extra()["diagnostics"]["regtest_lm"].items():
        _close(getattr(lm, key), expected, f"regtest lm {key}", 1e-9)


def test_trimfill_matches_metafor() -> None:
    """metafor_extra.json "diagnostics"."trimfill". metafor refits the filled data with its
    default stopping rule (its trimfill does not pass ``control`` on), so the filled model's
    estimate, SE and tau² are compared at 1e-5; k0, its SE, the side and the filled values
    at 1e-9."""
    tf = trimfill(_bcg_reml())
    ref = extra()["diagnostics"]["trimfill"]
    assert (tf.k0, tf.side) == (ref["k0"], ref["side"])
    _close(tf.se_k0, ref["se_k0"], "se_k0", 1e-9)
    _close(tf.filled_yi, ref["filled_yi"], "filled yi", 1e-9)
    _close(tf.result.beta[0], ref["estimate"], "estimate", 1e-5)
    _close(tf.result.se_beta[0], ref["se"], "se", 1e-5)
    _close(tf.result.tau2, ref["tau2"], "tau2", 1e-5)
