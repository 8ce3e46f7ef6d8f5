"""MMRM endpoint analysis: against a direct engine call and, on complete data, against the
per-visit ANCOVA it must reproduce; log scale; degenerate cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from strokecell.analysis import mmrm_endpoint, ols, strata_columns
from strokecell.analysis._prep import analysis_rows
from strokecell.protocol import AnalysisSettings, Protocol
from strokecell.stats.mmrm import fit_mmrm

from .conftest import Frames

ARMS = ["transplant", "control"]


def test_matches_a_direct_engine_call(protocol: Protocol, trial: Frames) -> None:
    adsl, bds, _ = trial
    strata = strata_columns(protocol)
    res = mmrm_endpoint(adsl, bds, "MBI", arms=ARMS, reference="control", strata=strata,
                        settings=protocol.analysis, primary_visit="month_12")
    rows, _ = analysis_rows(adsl, bds, "MBI", strata=strata)
    fit = fit_mmrm(rows, "CHG ~ BASE + STRAT_BASELINE_MBI + ARMCD * AVISIT + "
                   "us(AVISIT | USUBJID)", df="kenward-roger", reference={"ARMCD": "control"})
    ct = fit.contrasts("ARMCD", by="AVISIT").set_index("AVISIT")
    ls = fit.lsmeans("ARMCD", by="AVISIT").set_index(["AVISIT", "ARMCD"])
    for _, row in res.table.iterrows():
        ref = ct.loc[row["AVISIT"]]
        assert row["estimate"] == pytest.approx(ref["estimate"], rel=1e-6)
        assert row["se"] == pytest.approx(ref["se"], rel=1e-6)
        assert row["df"] == pytest.approx(ref["df"], rel=1e-6)
    for _, row in res.tables["lsmeans"].iterrows():
        assert row["estimate"] == pytest.approx(ls.loc[(row["AVISIT"], row["ARMCD"]),
                                                       "estimate"], rel=1e-6)
    assert res.table["primary"].tolist() == [False, False, False, True]
    assert res.table["AVISIT"].tolist() == ["month_1", "month_3", "month_6", "month_12"]
    assert res.info["structure"] == "us" and res.info["df_method"] == "kenward-roger"
    lsm = res.tables["lsmeans"]
    dead = lsm[lsm["AVISIT"] == "month_12"]["n_dead"].sum()
    assert dead == int(((bds["DTYPE"] == "WORST") & (bds["PARAMCD"] == "MBI") &
                        (bds["AVISIT"] == "month_12")).sum())


def _complete(n_per_arm: int = 30, seed: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ids = [f"S{i:03d}" for i in range(2 * n_per_arm)]
    arm = np.repeat(["cell", "ctrl"], n_per_arm)
    base = rng.normal(30, 10, 2 * n_per_arm)
    stratum = np.where(base > 30, "hi", "lo")
    adsl = pd.DataFrame({"USUBJID": ids, "ARMCD": arm, "ITTFL": "Y", "STRAT": stratum})
    rows = []
    cov = np.array([[40.0, 25, 20], [25, 60, 40], [20, 40, 80]])
    eps = rng.multivariate_normal(np.zeros(3), cov, size=len(ids))
    for i, s in enumerate(ids):
        rows.append({"USUBJID": s, "PARAMCD": "MBI", "AVISIT": "baseline", "AVISITN": 0.0,
                     "AVAL": base[i], "BASE": base[i], "ABLFL": "Y", "ANL01FL": "Y",
                     "DTYPE": None})
        for k, v in enumerate(["month_1", "month_3", "month_12"]):
            val = base[i] + 5 * (k + 1) + (4.0 if arm[i] == "cell" else 0) * k + eps[i, k]
            rows.append({"USUBJID": s, "PARAMCD": "MBI", "AVISIT": v, "AVISITN": k + 1.0,
                         "AVAL": val, "BASE": base[i], "ABLFL": "N", "ANL01FL": "Y",
                         "DTYPE": None})
    return adsl, pd.DataFrame(rows)


def test_complete_data_equals_per_visit_ancova() -> None:
    """Complete data, unstructured covariance: GLS with a common design is OLS per visit
    (multivariate regression), so with covariates by visit each visit's difference and its
    SE are those of the ANCOVA at that visit."""
    adsl, bds = _complete()
    res = mmrm_endpoint(adsl, bds, "MBI", arms=["cell", "ctrl"], reference="ctrl",
                        strata=["STRAT"], primary_visit="month_12", covariates_by_visit=True)
    rows, _ = analysis_rows(adsl, bds, "MBI", strata=["STRAT"])
    for visit in ["month_1", "month_3", "month_12"]:
        sub = rows[rows["AVISIT"] == visit]
        x = np.column_stack([np.ones(len(sub)), (sub["ARMCD"] == "cell").astype(float),
                             sub["BASE"], (sub["STRAT"] == "lo").astype(float)])
        fit = ols(sub["CHG"].to_numpy(float), x, ["1", "cell", "BASE", "lo"]).row("cell")
        row = res.table[res.table["AVISIT"] == visit].iloc[0]
        assert row["estimate"] == pytest.approx(fit["estimate"], rel=1e-6)
        assert row["se"] == pytest.approx(fit["se"], rel=1e-4)


def test_log_scale_reports_ratios(protocol: Protocol, trial: Frames) -> None:
    adsl, bds, _ = trial
    res = mmrm_endpoint(adsl, bds, "LESVOL", arms=ARMS, reference="control",
                        primary_visit="month_12", log_scale=True)
    t = res.table
    assert np.allclose(t["ratio"], np.exp(t["estimate"]))
    assert np.allclose(t["ratio_upper"], np.exp(t["upper"]))
    assert (t["scale"] == "log").all()
    ls = res.tables["lsmeans"]
    assert (ls["ratio"] < 1).all()  # lesions shrink from baseline


def test_degenerate_visits_and_arms(trial: Frames) -> None:
    adsl, bds, _ = trial
    no12 = bds[bds["AVISIT"] != "month_12"]
    res = mmrm_endpoint(adsl, no12, "MBI", arms=ARMS, reference="control",
                        primary_visit="month_12",
                        visits=["month_1", "month_3", "month_6", "month_12"])
    assert "visit month_12 has no data for MBI" in res.messages
    assert "primary visit month_12 has no estimable data for MBI" in res.messages
    assert res.table["AVISIT"].tolist() == ["month_1", "month_3", "month_6"]
    assert not res.table["primary"].any()
    treated = set(adsl.loc[adsl["ARMCD"] == "transplant", "USUBJID"])
    thin = bds[~(bds["USUBJID"].isin(treated) & (bds["AVISIT"] == "month_6"))]
    res = mmrm_endpoint(adsl, thin, "MBI", arms=ARMS, reference="control")
    assert any("visit month_6 has fewer than 2 values in arm transplant" in m
               for m in res.messages)
    assert "month_6" not in res.table["AVISIT"].tolist()
    res = mmrm_endpoint(adsl, bds[~bds["USUBJID"].isin(treated)], "MBI", arms=ARMS,
                        reference="control")
    assert res.table.empty and res.tables["lsmeans"].empty
    assert "arm transplant has no data for MBI: the MMRM is not estimable" in res.messages
    res = mmrm_endpoint(adsl, bds, "NGF", arms=ARMS, reference="control")
    assert res.table.empty and "NGF: no post-baseline data" in res.messages


def test_single_visit_and_settings(trial: Frames) -> None:
    adsl, bds, _ = trial
    one = bds[bds["AVISIT"].isin(["baseline", "month_12"])]
    res = mmrm_endpoint(adsl, one, "FMATOT", arms=ARMS, reference="control",
                        settings=AnalysisSettings(df_method="satterthwaite"),
                        primary_visit="month_12")
    assert res.table["AVISIT"].tolist() == ["month_12"]
    assert bool(res.table["primary"].iloc[0]) and res.info["df_method"] == "satterthwaite"


def test_model_uses_the_scheduled_visits_only(trial: Frames) -> None:
    """A parameter is modelled at the visits the protocol schedules for it (Fugl-Meyer:
    month 12, the key secondary endpoint), baseline as covariate; records at other visits
    (here the simulated month 1-6 values) are left out and said, no visit is reported
    empty."""
    adsl, bds, _ = trial
    for composite in (False, True):
        res = mmrm_endpoint(adsl, bds, "FMATOT", arms=ARMS, reference="control",
                            primary_visit="month_12", visits=["month_12"],
                            composite=composite)
        assert res.table["AVISIT"].tolist() == ["month_12"]
        assert set(res.tables["lsmeans"]["AVISIT"]) == {"month_12"}
        assert res.info["visits"] == ["month_12"] == res.info["visits_scheduled"]
        assert any("at visits the protocol does not schedule for it (month_1, month_3, "
                   "month_6) are not used; the model uses month_12" in m for m in res.messages)
        assert not any("fewer than" in m or "has no data" in m for m in res.messages)
