"""The engine against R metafor on the BCG vaccine data.

Every expected number comes from ``dat_bcg_metafor.json`` (beside DESIGN.md, see
meta_reference.py): its ``escalc`` list (metafor ``escalc(measure="RR", ai=tpos, bi=tneg,
ci=cpos, di=cneg)``) and each entry of its ``results`` list (``rma(yi, vi, method=..., test=...,
mods=...)``, or per-subgroup fits with the test of subgroup differences). The tests are
parametrized over all entries, so a new entry in the JSON is tested without a code change.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from meta_reference import ATOL, RTOL, SPEC_KEYS, bcg, entry_id, reference

from strokecell.stats.meta import escalc, rma, subgroup_analysis

RESULTS = reference()["results"]


def _effects() -> Any:
    spec = reference()["spec"]
    data = bcg()
    cols = {role: data[col] for role, col in spec.items() if role != "measure"}
    return escalc(spec["measure"], **cols)


def _assert_close(actual: Any, expected: Any, where: str) -> None:
    np.testing.assert_allclose(np.asarray(actual, dtype=float),
                               np.asarray(expected, dtype=float),
                               rtol=RTOL, atol=ATOL, err_msg=where)


def _fit(entry: dict[str, Any]) -> dict[str, Any]:
    es = _effects()
    if "subgroup" in entry:
        return subgroup_analysis(es, subgroup=bcg()[entry["subgroup"]], method=entry["method"],
                                 test=entry["test"]).to_dict()
    mods = {name: bcg()[name] for name in entry.get("mods", [])} or None
    return rma(es, method=entry["method"], test=entry["test"], mods=mods).to_dict()


def _compare(got: dict[str, Any], entry: dict[str, Any], where: str) -> None:
    for key, expected in entry.items():
        if key in SPEC_KEYS:
            continue
        assert got.get(key) is not None, f"{where}: key {key!r} missing from to_dict()"
        _assert_close(got[key], expected, f"{where}: {key}")


def test_escalc_rr_matches_metafor() -> None:
    """dat_bcg_metafor.json, "escalc": yi and vi of the 13 trials."""
    es = _effects()
    expected = reference()["escalc"]
    assert es.k == len(expected) and es.n_dropped == 0
    _assert_close(es.yi, [e["yi"] for e in expected], "escalc yi")
    _assert_close(es.vi, [e["vi"] for e in expected], "escalc vi")


@pytest.mark.parametrize("entry", RESULTS, ids=[entry_id(e) for e in RESULTS])
def test_model_matches_metafor(entry: dict[str, Any]) -> None:
    """dat_bcg_metafor.json, "results": every number of every entry."""
    got = _fit(entry)
    where = f"dat_bcg_metafor.json results[{RESULTS.index(entry)}] {entry_id(entry)}"
    if "coef_names" in entry:
        assert got["coef_names"] == entry["coef_names"]
        terms = [c["term"] for c in got["coefficients"]]
        assert terms == entry["coef_names"]
        for j, coef in enumerate(got["coefficients"]):
            for key in ("estimate", "se", "ci_lb", "ci_ub", "pval"):
                _assert_close(coef[key], entry[key][j], f"{where}: coefficients[{j}].{key}")
    if "levels" in entry:
        assert [s["level"] for s in got["subgroups"]] == [lv["level"] for lv in entry["levels"]]
        for sub, lv in zip(got["subgroups"], entry["levels"], strict=True):
            _compare(sub, lv, f"{where} level {lv['level']}")
    _compare(got, entry, where)


def test_random_effects_weights_and_studies_block() -> None:
    """The studies block carries the escalc values of dat_bcg_metafor.json "escalc"; weights
    are 100 w/Σw with w = 1/(vi + tau²) and tau² of the REML/z entry."""
    entry = next(e for e in RESULTS if e["method"] == "REML" and e["test"] == "z"
                 and "mods" not in e and "subgroup" not in e)
    got = rma(_effects(), method="REML").to_dict()
    vi = np.array([e["vi"] for e in reference()["escalc"]])
    w = 1 / (vi + entry["tau2"])
    _assert_close([s["weight"] for s in got["studies"]], 100 * w / w.sum(), "weights")
    _assert_close([s["yi"] for s in got["studies"]], [e["yi"] for e in reference()["escalc"]],
                  "studies yi")
