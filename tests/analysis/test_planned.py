"""Estimands from the protocol, and the whole planned analysis on a simulated reference
trial (45 patients): contents, blinding, seeds, speed and the degenerate cases."""

from __future__ import annotations

import json
import time

import pandas as pd
import pytest

from strokecell.analysis import (
    PlannedAnalyses,
    StoppingRule,
    build_estimands,
    run_planned_analyses,
)
from strokecell.errors import InputError
from strokecell.protocol import Protocol

from .conftest import Frames


def test_estimands_from_the_protocol(protocol: Protocol) -> None:
    ests = build_estimands(protocol)
    assert len(ests) == len(protocol.endpoints)
    primary = ests[0]
    assert primary.paramcd == "MBI" and primary.role == "primary" and primary.order == 1
    death = {e.paramcd: e.intercurrent_events[0] for e in ests}
    assert death["MBI"].strategy == "while alive" and "worst score (0)" in \
        death["MBI"].sensitivity
    assert death["NIHSS"].sensitivity.startswith("Composite: the worst score (42)")
    assert death["MRS"].strategy == "composite" and "mRS 6" in death["MRS"].handling
    assert death["LESVOL"].strategy == "while alive" and not death["LESVOL"].sensitivity
    events = [i.event for i in primary.intercurrent_events]
    assert events == ["death", "withdrawal or loss to follow-up",
                      "change of rehabilitation programme", "cells not administered"]
    strategies = {i.event: i.strategy for i in primary.intercurrent_events}
    assert strategies["change of rehabilitation programme"] == "treatment policy"
    assert "jump to reference" in primary.intercurrent_events[1].sensitivity
    text = primary.text()
    assert "Intercurrent events:" in text and "transplant versus control" in text
    assert ests[-1].paramcd == "AE" and "Safety population" in ests[-1].population


@pytest.fixture(scope="module")
def unblinded(protocol: Protocol, trial: Frames) -> tuple[PlannedAnalyses, float]:
    started = time.perf_counter()
    out = run_planned_analyses(protocol, *trial, seed=20261126, unblinded=True,
                               stopping_rule=StoppingRule(3))
    return out, time.perf_counter() - started


def test_end_to_end_unblinded(unblinded: tuple[PlannedAnalyses, float]) -> None:
    res, seconds = unblinded
    assert seconds < 10.0  # about half a second on one core
    for key in ["estimands", "consort", "baseline", "safety", "mmrm:MBI", "composite:MBI",
                "ancova:MBI", "mi:MBI", "mmrm:FMATOT", "mmrm:NIHSS", "mmrm:LESVOL", "mrs",
                "multiplicity", "exploratory"]:
        assert key in res.results, key
    assert "composite:LESVOL" not in res.results  # no worst score for lesion volume
    mmrm = res["mmrm:MBI"].table
    assert mmrm.loc[mmrm["primary"], "AVISIT"].tolist() == ["month_12"]
    assert res["mmrm:LESVOL"].table["scale"].eq("log").all()
    mult = res["multiplicity"].table
    assert mult["PARAMCD"].tolist() == ["MBI", "FMATOT"]
    p1 = float(mmrm.loc[mmrm["primary"], "p"].iloc[0])
    assert mult["p"].iloc[0] == pytest.approx(p1)
    if p1 > 0.05:
        assert mult["status"].tolist() == ["not significant", "not tested"]
    assert set(res.seeds) == {"seed", "mi:MBI", "mi:FMATOT", "mi:NIHSS", "mi:LESVOL"}
    assert res["mi:MBI"].info["seed"] == res.seeds["mi:MBI"]
    assert {"transplant", "control", "Total"} <= set(res["safety"].table["ARMCD"])
    assert res["safety"].info["stopping_rule_status"] in ("triggered", "not triggered")
    assert "BDNF" in res["exploratory"].info["parameters"]
    payload = json.loads(json.dumps(res.to_dict()))
    assert payload["seeds"]["seed"] == 20261126
    assert payload["results"]["mmrm:MBI"]["table"][3]["primary"] is True


def test_reproducible(protocol: Protocol, trial: Frames,
                      unblinded: tuple[PlannedAnalyses, float]) -> None:
    again = run_planned_analyses(protocol, *trial, seed=20261126, unblinded=True,
                                 stopping_rule=StoppingRule(3))
    pd.testing.assert_frame_equal(again["mi:MBI"].table, unblinded[0]["mi:MBI"].table)


def test_blinded_gets_pooled_results_only(protocol: Protocol, trial: Frames) -> None:
    res = run_planned_analyses(protocol, *trial, seed=1)
    assert not res.unblinded
    assert not any(k.startswith(("mmrm", "mi", "ancova", "composite")) for k in res.results)
    assert "mrs" not in res.results and "multiplicity" not in res.results
    assert set(res["exploratory"].table["ARMCD"]) == {"ALL"}
    assert res["exploratory"].tables["models"].empty
    assert set(res["safety"].table["ARMCD"]) == {"ALL"}
    assert set(res["baseline"].table["ARMCD"]) == {"Total"}
    assert set(res["consort"].table["ARMCD"]) == {"ALL"}
    assert set(res["pooled:MBI"].table["ARMCD"]) == {"ALL"}
    grotta = res["pooled:MRS"].tables["distribution"]
    assert set(grotta["ARMCD"]) == {"ALL"} and set(grotta["AVISIT"]) == {"month_3", "month_12"}
    assert "blinded: pooled summaries only, no comparison between arms" in res.messages
    json.dumps(res.to_dict())


def test_invalid_data_are_refused(protocol: Protocol, frames: Frames) -> None:
    adsl, bds, adae = frames
    adsl.loc[0, "SAFFL"] = "maybe"
    with pytest.raises(InputError, match=r"ADSL\.SAFFL"):
        run_planned_analyses(protocol, adsl, bds, adae, seed=1)


def test_degenerate_trial_gives_messages_not_crashes(protocol: Protocol,
                                                     frames: Frames) -> None:
    """No month-12 data at all, no adverse events in the cell arm, every mRS at 6."""
    adsl, bds, adae = frames
    bds = bds[bds["AVISIT"] != "month_12"].copy()
    post_mrs = (bds["PARAMCD"] == "MRS") & (bds["ABLFL"] != "Y")
    bds.loc[post_mrs, "AVAL"] = 6.0
    bds.loc[post_mrs, "CHG"] = 6.0 - bds.loc[post_mrs, "BASE"]
    treated = set(adsl.loc[adsl["ARMCD"] == "transplant", "USUBJID"])
    adae = adae[~adae["USUBJID"].isin(treated)]
    res = run_planned_analyses(protocol, adsl, bds, adae, seed=5, unblinded=True)
    text = "\n".join(res.messages)
    assert "visit month_12 has no data for MBI" in text
    assert "arm transplant has no adverse events" in text
    assert "all subjects at mRS 6 (the ceiling): odds ratio not estimable" in text
    assert "visit month_12 has no data for MBI: MI not done" in text
    mult = res["multiplicity"].table
    assert mult["status"].tolist() == ["not estimable", "not tested"]
    assert res["mrs"].table.empty
    json.dumps(res.to_dict())


def test_intercurrent_events_counted_and_per_protocol(
        unblinded: tuple[PlannedAnalyses, float], trial: Frames) -> None:
    res = unblinded[0]
    observed = res["estimands"].tables["observed"]
    adsl = trial[0]
    deaths = observed[(observed["event"] == "death")].set_index("ARMCD")["n"]
    for arm in ("transplant", "control"):
        assert deaths[arm] == int(((adsl["ARMCD"] == arm) & (adsl["DTHFL"] == "Y")).sum())
    assert "pp:MBI" in res.results and res["pp:MBI"].info["population"] == "PPROTFL"
