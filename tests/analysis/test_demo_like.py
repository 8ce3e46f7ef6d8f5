"""Regressions found on the demo (``strokecell demo``): the analyses on a trial recorded as
the protocol schedules it (Fugl-Meyer at baseline and month 12 only), and the CONSORT
follow-up counts.

* Multiple imputation of the Fugl-Meyer total at month 12 said "0 observed values": the
  worst-score rows after death were derived at every visit, also months 1-6 where Fugl-Meyer
  is not collected, so the imputation model had visits with no observed value in an arm.
* The MMRM of Fugl-Meyer tried visits 1-6 (worst-score rows only) and reported them empty.
* CONSORT listed loss to follow-up twice (as a discontinuation reason and as its own stage)
  and counted a completer who missed the month-12 visit as "discontinued - not recorded".
"""

from __future__ import annotations

import pandas as pd
import pytest

from strokecell.analysis import (
    PlannedAnalyses,
    consort_flow,
    derive_worst_case,
    multiple_imputation,
    run_planned_analyses,
    scheduled_visits,
)
from strokecell.protocol import Protocol

from .conftest import Frames

ARMS = ["transplant", "control"]


@pytest.fixture(scope="module")
def planned(protocol: Protocol, demo_like: Frames) -> PlannedAnalyses:
    return run_planned_analyses(protocol, *demo_like, seed=20260, unblinded=True,
                                imputations=10)


def _n(table: pd.DataFrame, stage: str, arm: str, reason: str = "") -> int:
    sel = table[(table["stage"] == stage) & (table["ARMCD"] == arm) &
                (table["reason"] == reason)]
    return int(sel["n"].sum())


def test_worst_scores_only_where_the_instrument_is_collected(protocol: Protocol,
                                                            demo_like: Frames) -> None:
    _, bds, _ = demo_like
    worst = bds[bds["DTYPE"] == "WORST"]
    assert not worst.empty
    for code, sub in worst.groupby("PARAMCD"):
        assert set(sub["AVISIT"]) <= set(scheduled_visits(protocol, str(code))), code
    assert set(worst.loc[worst["PARAMCD"] == "FMATOT", "AVISIT"]) == {"month_12"}


def test_fugl_meyer_imputation_at_month_12(planned: PlannedAnalyses,
                                           demo_like: Frames) -> None:
    """The key secondary endpoint is imputed from its month-12 values (the demo said
    "0 observed values")."""
    mi = planned["mi:FMATOT"]
    assert mi.table["method"].tolist() == ["MAR", "J2R"]
    assert mi.table["estimate"].notna().all() and mi.table["se"].gt(0).all()
    assert mi.info["visits_used"] == ["month_12"]
    assert not any("not estimable" in m for m in mi.messages)
    bds = demo_like[1]
    observed = bds[(bds["PARAMCD"] == "FMATOT") & (bds["AVISIT"] == "month_12")
                   & bds["DTYPE"].isna()]
    assert len(observed) > 30  # the ~37 values the derived BDS holds on the demo
    assert not any("observed values" in m for m in planned.messages)


def test_imputation_ignores_rows_at_unscheduled_visits(protocol: Protocol,
                                                       demo_like: Frames) -> None:
    """Data as the old derivation left them (worst scores at months 1-6, where Fugl-Meyer
    is not collected): with the scheduled visits the imputation uses month 12 only."""
    adsl, bds, _ = demo_like
    dead = adsl[adsl["DTHFL"] == "Y"].iloc[0]
    base = float(bds[(bds["USUBJID"] == dead["USUBJID"]) & (bds["PARAMCD"] == "FMATOT")
                     & (bds["ABLFL"] == "Y")]["AVAL"].iloc[0])
    stray = pd.DataFrame([{**bds.iloc[0].to_dict(), "USUBJID": dead["USUBJID"],
                           "PARAMCD": "FMATOT", "AVISIT": "month_6", "AVISITN": 3.0,
                           "AVAL": 0.0, "BASE": base, "CHG": -base, "ABLFL": "N",
                           "ANL01FL": "Y", "DTYPE": "WORST", "SRCSEQ": "ADSL.DTHDT"}])
    bad = pd.concat([bds, stray.astype(bds.dtypes.to_dict())], ignore_index=True)
    kw = {"arms": ARMS, "reference": "control", "seed": 5, "m": 5}
    res = multiple_imputation(adsl, bad, "FMATOT", "month_12",
                              visits=scheduled_visits(protocol, "FMATOT"), **kw)
    assert len(res.table) == 2 and res.info["visits_used"] == ["month_12"]
    # without the schedule the stray visit is used, but thin visits are left out and said
    res = multiple_imputation(adsl, bad, "FMATOT", "month_12", **kw)
    assert len(res.table) == 2 and res.info["visits_used"] == ["month_12"]
    assert any("month_6 with fewer than 2 values" in m for m in res.messages)


def test_each_endpoint_modelled_at_its_scheduled_visits(protocol: Protocol,
                                                        planned: PlannedAnalyses) -> None:
    for code in ("MBI", "FMATOT", "NIHSS", "LESVOL"):
        for key in (f"mmrm:{code}", f"composite:{code}"):
            if key not in planned.results:
                continue
            res = planned[key]
            assert res.info["visits_scheduled"] == scheduled_visits(protocol, code)
            assert res.table["AVISIT"].tolist() == scheduled_visits(protocol, code), key
            assert not any("has no data" in m or "fewer than" in m for m in res.messages), key
    assert planned["mmrm:FMATOT"].table["primary"].tolist() == [True]


def test_consort_identity_on_the_demo_like_trial(planned: PlannedAnalyses,
                                                 demo_like: Frames) -> None:
    """allocated = completed + discontinued (with reasons) + lost to follow-up, per arm; loss
    to follow-up is counted once, never as a discontinuation reason; the subjects who only
    missed month 12 are completers."""
    flow = planned["consort"].table
    adsl = demo_like[0]
    assert not (flow["reason"] == "NOT RECORDED").any()
    assert not ((flow["stage"] == "discontinued") & (flow["reason"] == "LOST TO FOLLOW-UP")
                ).any()
    assert "ongoing" not in set(flow["stage"])
    for arm in ARMS:
        allocated = _n(flow, "allocated", arm)
        disc = _n(flow, "discontinued", arm)
        reasons = flow[(flow["stage"] == "discontinued") & (flow["ARMCD"] == arm)
                       & (flow["reason"] != "")]["n"].sum()
        assert disc == reasons
        assert allocated == (_n(flow, "completed", arm) + disc
                             + _n(flow, "lost to follow-up", arm)), arm
        assert _n(flow, "lost to follow-up", arm) == 1
        sub = adsl[(adsl["ARMCD"] == arm) & (adsl["RANDFL"] == "Y")]
        assert _n(flow, "completed", arm) == int((sub["COMPLFL"] == "Y").sum())


def test_consort_ongoing_follow_up_keeps_the_identity(demo_like: Frames) -> None:
    """A subject neither discontinued nor at the end of follow-up (an interim look) is
    'ongoing', not 'discontinued - not recorded'."""
    adsl = demo_like[0].copy()
    first = adsl.index[(adsl["ARMCD"] == "control") & (adsl["COMPLFL"] == "Y")][0]
    adsl.loc[first, "COMPLFL"] = "N"
    res = consort_flow(adsl, ARMS)
    t = res.table
    assert _n(t, "ongoing", "control") == 1 and _n(t, "ongoing", "transplant") == 0
    for arm in ARMS:
        assert _n(t, "allocated", arm) == sum(_n(t, s, arm) for s in (
            "completed", "discontinued", "lost to follow-up", "ongoing"))
    assert any("still in follow-up" in m for m in res.messages)
    pooled = consort_flow(adsl, ARMS, by_arm=False).table
    assert _n(pooled, "allocated", "ALL") == sum(_n(pooled, s, "ALL") for s in (
        "completed", "discontinued", "lost to follow-up", "ongoing"))


def test_worst_case_derivation_is_unchanged_when_rerun(protocol: Protocol,
                                                       demo_like: Frames) -> None:
    adsl, bds, _ = demo_like
    assert len(derive_worst_case(adsl, bds, protocol)) == len(bds)
