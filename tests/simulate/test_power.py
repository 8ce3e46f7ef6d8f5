"""Monte-Carlo power (``strokecell.simulate.power`` and ``strokecell power``)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from typer.testing import CliRunner

from strokecell.cli import app
from strokecell.errors import InputError
from strokecell.protocol import Protocol
from strokecell.simulate import Design, Scenario
from strokecell.simulate.power import (
    _summarise,
    clopper_pearson,
    parse_sample_sizes,
    run_power,
    split_by_ratio,
    true_effect,
)

from .conftest import REFERENCE

ROOT = REFERENCE.parents[1]
RUNNER = CliRunner()

# Type I error check: 4,000 null trials of the reference size with a fixed seed. The binomial
# SD of a rejection rate at 5% over 4,000 trials is sqrt(0.05 * 0.95 / 4000) = 0.00345, so
# +-3 SD is the band 0.0397 to 0.0603 (the 0.04-0.06 is its example for 10,000).
TYPE1_SIMS = 4000
TYPE1_SEED = 20261126
TYPE1_SD = math.sqrt(0.05 * 0.95 / TYPE1_SIMS)


def test_type_one_error_is_nominal(protocol: Protocol) -> None:
    res = run_power(protocol, [45], TYPE1_SIMS, seed=TYPE1_SEED, workers=1)
    r = res.results[0].to_dict()
    assert r["n_per_arm"] == {"transplant": 22, "control": 23}
    assert r["n_failed_fits"] == 0 and r["n_analysed"] == TYPE1_SIMS
    lo, hi = 0.05 - 3 * TYPE1_SD, 0.05 + 3 * TYPE1_SD
    assert lo < r["rejection_rate"] < hi, r["rejection_rate"]
    assert r["type1_error"] == r["rejection_rate"]
    # no effect: the estimate is centred on 0 and the 95% intervals cover it
    assert abs(r["bias"]) < 4 * r["sd_estimate"] / math.sqrt(TYPE1_SIMS)
    assert 0.95 - 3 * math.sqrt(0.95 * 0.05 / TYPE1_SIMS) < r["coverage"] < 0.96 + 0.01
    assert res.smallest_n_for_target is None


def test_large_effect_has_high_power(protocol: Protocol) -> None:
    res = run_power(protocol, [60, 90], 300, seed=5, workers=1,
                    scenario=Scenario(effects={"mbi": 20}), target_power=0.9)
    by_n = {r.n_total: r.to_dict() for r in res.results}
    assert by_n[90]["rejection_rate"] > 0.95
    assert by_n[60]["rejection_rate"] <= by_n[90]["rejection_rate"]
    assert by_n[90]["type1_error"] < 0.12            # the same trials without the effect
    # MBI +20 on the latent scale: the estimate is close to it (the ceiling takes a little)
    assert abs(by_n[90]["bias"]) < 2.0
    assert by_n[90]["coverage"] > 0.85
    assert res.smallest_n_for_target in (60, 90)
    assert res.settings["true_effect"] == 20.0


def test_clopper_pearson_matches_scipy() -> None:
    for k, n in [(0, 10), (1, 10), (5, 10), (10, 10), (213, 4000), (3999, 4000), (37, 500)]:
        ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
        lo, hi = clopper_pearson(k, n)
        assert lo == pytest.approx(ci.low, abs=1e-12)
        assert hi == pytest.approx(ci.high, abs=1e-12)
    lo, hi = clopper_pearson(3, 20, 0.9)
    ci = stats.binomtest(3, 20).proportion_ci(confidence_level=0.9, method="exact")
    assert (lo, hi) == (pytest.approx(ci.low), pytest.approx(ci.high))


def test_sample_sizes_and_allocation(design: Design) -> None:
    assert parse_sample_sizes("20:200:20") == list(range(20, 201, 20))
    assert parse_sample_sizes("45") == [45]
    assert parse_sample_sizes("90, 45,45") == [45, 90]
    for bad in ("200:20:20", "20:200:0", "20:200", "abc", "0", ""):
        with pytest.raises(InputError, match="--n"):
            parse_sample_sizes(bad)
    assert split_by_ratio(45, design) == {"transplant": 22, "control": 23}
    assert split_by_ratio(44, design) == {"transplant": 22, "control": 22}
    two_to_one = Design(design.study_id, design.condition, (
        design.arms[0].__class__(code="cells", cell_therapy=True, ratio=2),
        design.arms[1].__class__(code="ctl", ratio=1)), design.visits)
    assert split_by_ratio(90, two_to_one) == {"cells": 60, "ctl": 30}
    assert split_by_ratio(46, two_to_one) == {"cells": 31, "ctl": 15}   # 30.67 : 15.33


def test_true_effect_comes_from_the_scenario(design: Design) -> None:
    from strokecell.simulate import Assumptions

    a = Assumptions()
    assert true_effect(design, Scenario(), a, "mbi", "transplant") == 0.0
    assert true_effect(design, Scenario(effects={"mbi": 8}), a, "mbi", "transplant") == 8.0
    assert true_effect(design, Scenario(effects={"fma_total": 10}), a, "fma_total",
                       "transplant") == pytest.approx(10.0)
    assert true_effect(design, Scenario(effects={"mbi": 8}), a, "mrs", "transplant") is None
    halved = a.with_overrides(**{"effect_modifiers.route": {"intra_arterial": 0.5}})
    assert true_effect(design, Scenario(effects={"mbi": 8}), halved, "mbi",
                       "transplant") == pytest.approx(4.0)


def test_failed_fits_are_counted_and_never_used() -> None:
    part = {"estimate": np.array([1.0, 50.0, 2.0, np.nan]), "se": np.array([1.0, 1.0, 1.0, 1.0]),
            "df": np.array([30.0, 30.0, 30.0, 30.0]),
            "ok": np.array([True, False, True, True])}
    rates = _summarise([part], 0.05, 0.0)
    assert rates.n_failed_fits == 2 and rates.n_analysed == 2
    assert rates.mean_estimate == pytest.approx(1.5)       # 50 is not used
    assert rates.rejection_rate == 0.0


def test_results_do_not_depend_on_the_number_of_workers(protocol: Protocol) -> None:
    one = run_power(protocol, [40], 120, seed=9, workers=1).to_dict()["results"][0]
    two = run_power(protocol, [40], 120, seed=9, workers=2).to_dict()["results"][0]
    for key in ("rejection_rate", "mean_estimate", "coverage", "n_failed_fits"):
        assert one[key] == two[key]


def test_dask_local_cluster(protocol: Protocol) -> None:
    pytest.importorskip("distributed")
    res = run_power(protocol, [40], 60, seed=9, workers=1, use_dask=True)
    ref = run_power(protocol, [40], 60, seed=9, workers=1)
    assert res.results[0].to_dict()["rejection_rate"] == ref.results[0].to_dict()[
        "rejection_rate"]
    assert res.settings["execution"]["dask"]


def test_cli_json_keys_and_plot(tmp_path: Path) -> None:
    png = tmp_path / "power.png"
    result = RUNNER.invoke(app, [
        "power", "--protocol", str(REFERENCE), "--effect", "MBI=8", "--n", "40:60:20",
        "--sims", "40", "--seed", "3", "--workers", "1", "--plot", str(png), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert set(out) == {"settings", "results", "smallest_n_for_target"}
    s = out["settings"]
    for key in ("seed", "sims", "n_totals", "alpha", "target_power", "effect", "true_effect",
                "analysis", "simulation", "execution", "protocol"):
        assert key in s
    assert s["seed"] == 3 and s["n_totals"] == [40, 60] and s["effect"] == {"mbi": 8.0}
    assert s["analysis"]["df"] == "satterthwaite" and s["analysis"]["covariance"] == "us"
    assert "barthel" in s["simulation"]["assumptions"]
    assert [r["n_total"] for r in out["results"]] == [40, 60]
    for r in out["results"]:
        for key in ("n_total", "rejection_rate", "rejection_rate_ci", "mean_estimate", "bias",
                    "coverage", "n_failed_fits", "type1_error", "type1_error_ci"):
            assert key in r
        assert r["rejection_rate_ci"][0] <= r["rejection_rate"] <= r["rejection_rate_ci"][1]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_human_output() -> None:
    result = RUNNER.invoke(app, ["power", "--protocol", str(REFERENCE), "--n", "45",
                                 "--sims", "30", "--seed", "1", "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "Type I error" in result.stdout and "seed 1" in result.stdout


@pytest.mark.parametrize(("args", "needle"), [
    (["--n", "200:20:20"], "200:20:20"),
    (["--n", "20:200:0"], "step"),
    (["--n", "3"], "fewer than 2"),
    (["--n", "45", "--effect", "MBI8"], "INSTRUMENT=NUMBER"),
    (["--n", "45", "--effect", "BP=3"], "effects.bp"),
    (["--n", "45", "--alpha", "1.5"], "--alpha"),
    (["--n", "45", "--sims", "0"], "--sims"),
    (["--n", "45", "--plot", "curve.pdf"], "--plot"),
])
def test_cli_bad_input_exits_2(args: list[str], needle: str) -> None:
    result = RUNNER.invoke(app, ["power", "--protocol", str(REFERENCE), "--sims", "5",
                                 "--workers", "1", *args])
    assert result.exit_code == 2, result.output
    assert needle in result.output


def test_cli_bad_n_names_option_value_and_allowed() -> None:
    result = RUNNER.invoke(app, ["power", "--protocol", str(REFERENCE), "--n", "200:20:20",
                                 "--json"])
    assert result.exit_code == 2
    problem = json.loads(result.stdout)["problems"][0]
    assert problem["location"] == "--n" and problem["value"] == "200:20:20"
    assert "START <= STOP" in problem["allowed"]


def test_cli_missing_protocol_exits_2(tmp_path: Path) -> None:
    result = RUNNER.invoke(app, ["power", "--protocol", str(tmp_path / "nope.yaml"),
                                 "--n", "45"])
    assert result.exit_code == 2 and "--protocol" in result.output


def test_dask_without_the_package_is_a_clear_error(monkeypatch: pytest.MonkeyPatch,
                                                   protocol: Protocol) -> None:
    import importlib

    real = importlib.import_module

    def fake(name: str, package: str | None = None) -> object:
        if name in ("dask", "distributed"):
            raise ImportError(name)
        return real(name, package)

    monkeypatch.setattr(importlib, "import_module", fake)
    with pytest.raises(InputError, match=r"--scheduler.*dask\[distributed\]"):
        run_power(protocol, [40], 5, seed=1, workers=1, scheduler="tcp://127.0.0.1:8786")
