"""Multiple imputation: reproducible by seed, exact on complete data, jump to reference
pulls the effect towards the reference arm, the implied mean and covariance by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from strokecell.analysis import ancova_at_visit, multiple_imputation, strata_columns
from strokecell.analysis.imputation import _implied
from strokecell.protocol import Protocol

from .conftest import Frames

ARMS = ["transplant", "control"]


def test_seeded_and_recorded(protocol: Protocol, trial: Frames) -> None:
    adsl, bds, _ = trial
    kw = {"arms": ARMS, "reference": "control", "strata": strata_columns(protocol), "m": 20}
    a = multiple_imputation(adsl, bds, "MBI", "month_12", seed=11, **kw)
    b = multiple_imputation(adsl, bds, "MBI", "month_12", seed=11, **kw)
    c = multiple_imputation(adsl, bds, "MBI", "month_12", seed=12, **kw)
    pd.testing.assert_frame_equal(a.table, b.table)
    assert not np.allclose(a.table["estimate"], c.table["estimate"])
    assert a.info["seed"] == 11 and a.info["m"] == 20
    assert a.table["method"].tolist() == ["MAR", "J2R"]
    # death is composite (worst score), not imputed: only withdrawals and missed visits are
    rows = bds[(bds["PARAMCD"] == "MBI") & (bds["AVISIT"] == "month_12")]
    itt = adsl[adsl["ITTFL"] == "Y"]
    assert a.table["n_imputed"].iloc[0] == int((~itt["USUBJID"].isin(rows["USUBJID"])).sum())


def _synthetic(n: int, dropout: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ids = [f"S{i:04d}" for i in range(2 * n)]
    arm = np.repeat(["cell", "ctrl"], n)
    base = rng.normal(30, 8, 2 * n)
    cov = np.array([[30.0, 20, 15], [20, 40, 30], [15, 30, 50]])
    eps = rng.multivariate_normal(np.zeros(3), cov, size=2 * n)
    effect = np.array([4.0, 8.0, 12.0])
    rows = []
    for i, s in enumerate(ids):
        rows.append({"USUBJID": s, "PARAMCD": "MBI", "AVISIT": "baseline", "AVISITN": 0.0,
                     "AVAL": base[i], "BASE": base[i], "ABLFL": "Y", "ANL01FL": "Y",
                     "DTYPE": None})
        drop = arm[i] == "cell" and rng.random() < dropout
        for k, v in enumerate(["month_1", "month_3", "month_12"]):
            if drop and k >= 1:
                break
            val = base[i] + 10 + 5 * k + (effect[k] if arm[i] == "cell" else 0) + eps[i, k]
            rows.append({"USUBJID": s, "PARAMCD": "MBI", "AVISIT": v, "AVISITN": k + 1.0,
                         "AVAL": val, "BASE": base[i], "ABLFL": "N", "ANL01FL": "Y",
                         "DTYPE": None})
    adsl = pd.DataFrame({"USUBJID": ids, "ARMCD": arm, "ITTFL": "Y", "DTHFL": "N"})
    return adsl, pd.DataFrame(rows)


def test_complete_data_reproduce_the_ancova() -> None:
    adsl, bds = _synthetic(25, 0.0, 1)
    mi = multiple_imputation(adsl, bds, "MBI", "month_12", arms=["cell", "ctrl"],
                             reference="ctrl", seed=1, m=5).table
    anc = ancova_at_visit(adsl, bds, "MBI", "month_12", ["cell", "ctrl"], "ctrl").table
    for method in ("MAR", "J2R"):
        row = mi[mi["method"] == method].iloc[0]
        assert row["estimate"] == pytest.approx(anc["estimate"].iloc[0], rel=1e-10)
        assert row["se"] == pytest.approx(anc["se"].iloc[0], rel=1e-10)
        assert row["fmi_lambda"] == pytest.approx(0.0, abs=1e-12)
        assert row["n_imputed"] == 0


def test_jump_to_reference_pulls_towards_the_reference_arm() -> None:
    """40% of the cell arm drop out after month 1. Under MAR their month-12 values follow
    the cell arm (true effect 12); under J2R the reference arm's mean after dropout, so the
    expected effect is about 0.6 × 12 + 0.4 × (what month 1 carries over) ≈ 7-8."""
    adsl, bds = _synthetic(300, 0.4, 2)
    mi = multiple_imputation(adsl, bds, "MBI", "month_12", arms=["cell", "ctrl"],
                             reference="ctrl", seed=3, m=20).table.set_index("method")
    assert mi.loc["MAR", "estimate"] == pytest.approx(12.0, abs=1.5)
    assert 5.5 < mi.loc["J2R", "estimate"] < 9.5
    assert mi.loc["J2R", "estimate"] < mi.loc["MAR", "estimate"] - 2.5
    assert mi.loc["MAR", "fmi_lambda"] > 0.05


def test_implied_mean_and_covariance_by_hand() -> None:
    # Y1 = 1 + 2x + e1 (var 1); Y2 = 0.5 + x + 0.5 Y1 + e2 (var 2)
    params = [(np.array([1.0, 2.0]), 1.0), (np.array([0.5, 1.0, 0.5]), 2.0)]
    x = np.array([[1.0, 0.0], [1.0, 3.0]])
    mean, cov = _implied(params, x)
    assert np.allclose(mean, [[1.0, 1.0], [7.0, 7.0]])
    assert np.allclose(cov, [[1.0, 0.5], [0.5, 0.25 + 2.0]])


def test_no_data_at_the_visit(trial: Frames) -> None:
    adsl, bds, _ = trial
    res = multiple_imputation(adsl, bds[bds["AVISIT"] != "month_12"], "MBI", "month_12",
                              arms=ARMS, reference="control", seed=1, m=5)
    assert res.table.empty and "visit month_12 has no data for MBI: MI not done" in \
        res.messages


def test_too_few_observations_is_a_message() -> None:
    adsl, bds = _synthetic(3, 0.0, 4)
    keep = ~((bds["USUBJID"].isin(["S0000", "S0001"])) & (bds["AVISIT"] == "month_3"))
    res = multiple_imputation(adsl, bds[keep], "MBI", "month_12", arms=["cell", "ctrl"],
                              reference="ctrl", seed=1, m=5)
    assert res.table.empty and any("not estimable" in m for m in res.messages)


def test_stratum_level_missing_from_one_arm_is_dropped_there() -> None:
    adsl, bds = _synthetic(20, 0.2, 6)
    adsl["STRAT"] = np.where(adsl["ARMCD"] == "cell", "a", "a")
    adsl.loc[adsl.index[-5:], "STRAT"] = "b"  # level b only in the control arm
    res = multiple_imputation(adsl, bds, "MBI", "month_12", arms=["cell", "ctrl"],
                              reference="ctrl", strata=["STRAT"], seed=2, m=5)
    assert len(res.table) == 2 and res.table["estimate"].notna().all()


def test_at_least_two_imputations(trial: Frames) -> None:
    from strokecell.errors import InputError
    adsl, bds, _ = trial
    with pytest.raises(InputError, match="at least two imputations"):
        multiple_imputation(adsl, bds, "MBI", "month_12", arms=ARMS, reference="control",
                            seed=1, m=1)
