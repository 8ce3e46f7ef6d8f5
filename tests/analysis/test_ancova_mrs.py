"""ANCOVA against statsmodels OLS; the mRS analysis against a direct fit; degenerate cases."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from strokecell.analysis import ancova_at_visit, mrs_analysis, ols, strata_columns
from strokecell.analysis._prep import analysis_rows
from strokecell.errors import ModelError
from strokecell.protocol import Protocol
from strokecell.stats.ordinal import fit_proportional_odds

from .conftest import Frames

ARMS = ["transplant", "control"]


def test_ancova_matches_statsmodels_ols(protocol: Protocol, trial: Frames) -> None:
    smf = pytest.importorskip("statsmodels.formula.api")
    adsl, bds, _ = trial
    strata = strata_columns(protocol)
    res = ancova_at_visit(adsl, bds, "MBI", "month_12", ARMS, "control", strata=strata)
    rows, _ = analysis_rows(adsl, bds, "MBI", strata=strata)
    rows = rows[rows["AVISIT"] == "month_12"]
    fit = smf.ols("CHG ~ C(ARMCD, Treatment('control')) + BASE + STRAT_BASELINE_MBI",
                  data=rows).fit()
    term = "C(ARMCD, Treatment('control'))[T.transplant]"
    row = res.table.iloc[0]
    assert row["estimate"] == pytest.approx(fit.params[term], rel=1e-10)
    assert row["se"] == pytest.approx(fit.bse[term], rel=1e-10)
    assert row["df"] == fit.df_resid
    assert row["p"] == pytest.approx(fit.pvalues[term], rel=1e-8)
    lo, hi = fit.conf_int().loc[term]
    assert row["lower"] == pytest.approx(lo, rel=1e-10)
    assert row["upper"] == pytest.approx(hi, rel=1e-10)
    assert row["n_treatment"] + row["n_reference"] == len(rows)


def test_ols_two_groups_is_the_pooled_t_test() -> None:
    from scipy import stats
    a, b = np.array([3.0, 5.0, 4.0, 6.0]), np.array([1.0, 2.0, 2.5])
    x = np.column_stack([np.ones(7), np.r_[np.ones(4), np.zeros(3)]])
    fit = ols(np.r_[a, b], x, ["Intercept", "g"])
    t = stats.ttest_ind(a, b)
    r = fit.row("g")
    assert r["estimate"] == pytest.approx(a.mean() - b.mean())
    assert r["p"] == pytest.approx(t.pvalue) and r["df"] == 5
    with pytest.raises(ModelError, match="rank deficient"):
        ols(np.r_[a, b], np.column_stack([x, x[:, 1]]), ["a", "b", "c"])


def test_ancova_degenerate(protocol: Protocol, frames: Frames) -> None:
    adsl, bds, _ = frames
    no_visit = bds[bds["AVISIT"] != "month_12"]
    res = ancova_at_visit(adsl, no_visit, "MBI", "month_12", ARMS, "control")
    assert res.table.empty and "visit month_12 has no data for MBI" in res.messages
    treated = set(adsl.loc[adsl["ARMCD"] == "transplant", "USUBJID"])
    no_arm = bds[~(bds["USUBJID"].isin(treated) & (bds["AVISIT"] == "month_12"))]
    res = ancova_at_visit(adsl, no_arm, "MBI", "month_12", ARMS, "control")
    assert res.table.empty and "arm transplant has no data" in res.messages[0]


def test_mrs_shift_matches_a_direct_fit(protocol: Protocol, trial: Frames) -> None:
    adsl, bds, _ = trial
    strata = strata_columns(protocol)
    res = mrs_analysis(adsl, bds, ["month_3", "month_12"], arms=ARMS, reference="control",
                       strata=strata)
    rows, _ = analysis_rows(adsl, bds, "MRS", strata=strata, composite=True)
    sub = rows[rows["AVISIT"] == "month_12"].reset_index(drop=True)
    assert (sub["AVAL"] == 6).sum() == int((adsl["DTHFL"] == "Y").sum())  # death is mRS 6
    x = np.column_stack([(sub["ARMCD"] == "transplant").astype(float),
                         (sub["STRAT_BASELINE_MBI"] == "le_40").astype(float)])
    fit = fit_proportional_odds(sub["AVAL"].to_numpy(float), x, ["arm", "s"])
    row = res.table[res.table["AVISIT"] == "month_12"].iloc[0]
    b, se = fit.beta[0], fit.beta_se[0]
    assert row["common_or"] == pytest.approx(math.exp(-b), rel=1e-8)
    assert row["lower"] == pytest.approx(math.exp(-b - 1.959963985 * se), rel=1e-6)
    assert row["po_test_df"] == len(fit.levels) - 2
    dist = res.tables["distribution"]
    d = dist[(dist["AVISIT"] == "month_12") & (dist["ARMCD"] == "control")]
    assert d["n"].sum() == row["n_reference"] and d["percent"].sum() == pytest.approx(100)
    dich = res.tables["dichotomy"]
    assert set(dich["AVISIT"]) == {"month_3", "month_12"}


def _mrs_frames(values_t: list[int], values_c: list[int]) -> tuple[pd.DataFrame, pd.DataFrame]:
    ids_t = [f"T{i}" for i in range(len(values_t))]
    ids_c = [f"C{i}" for i in range(len(values_c))]
    adsl = pd.DataFrame({"USUBJID": ids_t + ids_c,
                         "ARMCD": ["cell"] * len(ids_t) + ["ctrl"] * len(ids_c),
                         "ITTFL": "Y"})
    bds = pd.DataFrame({"USUBJID": ids_t + ids_c, "PARAMCD": "MRS", "ANL01FL": "Y",
                        "ABLFL": "N", "AVISIT": "month_3", "AVISITN": 1.0,
                        "AVAL": [float(v) for v in values_t + values_c], "BASE": 4.0,
                        "DTYPE": None})
    return adsl, bds


def test_mrs_all_at_the_ceiling() -> None:
    adsl, bds = _mrs_frames([6] * 5, [6] * 6)
    res = mrs_analysis(adsl, bds, ["month_3"], arms=["cell", "ctrl"], reference="ctrl")
    assert res.table.empty
    assert any("all subjects at mRS 6 (the ceiling): odds ratio not estimable" in m
               for m in res.messages)
    dich = res.tables["dichotomy"].iloc[0]
    assert dich["rd"] == 0 and math.isnan(dich["rr"])


def test_mrs_arm_without_data_and_visit_without_data() -> None:
    adsl, bds = _mrs_frames([1, 2, 3], [2, 3, 4])
    bds = bds[~bds["USUBJID"].str.startswith("T")]
    res = mrs_analysis(adsl, bds, ["month_3", "month_12"], arms=["cell", "ctrl"],
                       reference="ctrl")
    assert res.table.empty
    assert "visit month_3: arm cell has no mRS data: comparison not estimable" in res.messages
    assert "visit month_12 has no mRS data" in res.messages


def test_mrs_separation_is_a_message() -> None:
    adsl, bds = _mrs_frames([0, 0, 1, 1, 0], [5, 5, 4, 4, 5])
    res = mrs_analysis(adsl, bds, ["month_3"], arms=["cell", "ctrl"], reference="ctrl")
    assert res.table.empty and any("separates" in m for m in res.messages)
    d = res.tables["dichotomy"].iloc[0]
    assert d["rd"] == 1.0 and "0.5 added" in d["note"]
