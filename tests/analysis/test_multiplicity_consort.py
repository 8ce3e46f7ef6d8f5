"""Fixed-sequence testing on constructed p-values; CONSORT counts on a constructed ADSL."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from strokecell.analysis import Hypothesis, consort_flow, fixed_sequence
from strokecell.errors import InputError


def _status(ps: list[float], alpha: float = 0.05) -> list[str]:
    hyps = [Hypothesis(i + 1, f"H{i + 1}", "MBI", "month_12", p) for i, p in enumerate(ps)]
    return fixed_sequence(hyps, alpha).table["status"].tolist()


def test_fixed_sequence_stops_at_first_non_significant() -> None:
    assert _status([0.01, 0.04, 0.20, 0.001]) == [
        "significant", "significant", "not significant", "not tested"]
    assert _status([0.06, 0.001, 0.001]) == ["not significant", "not tested", "not tested"]
    assert _status([0.05, 0.05]) == ["significant", "significant"]  # p <= alpha
    assert _status([0.02, 0.03], alpha=0.025) == ["significant", "not significant"]


def test_fixed_sequence_order_and_missing_p() -> None:
    hyps = [Hypothesis(2, "key secondary", "FMATOT", "month_12", 0.001),
            Hypothesis(1, "primary", "MBI", "month_12", math.nan)]
    res = fixed_sequence(hyps)
    assert res.table["hypothesis"].tolist() == ["primary", "key secondary"]
    assert res.table["status"].tolist() == ["not estimable", "not tested"]
    assert res.table["confirmatory"].tolist() == [True, False]
    assert "no p-value" in res.messages[0]
    with pytest.raises(InputError, match="share an order"):
        fixed_sequence([hyps[0], Hypothesis(2, "x", "MBI", "month_12", 0.1)])


def _adsl() -> pd.DataFrame:
    rows = []

    def add(armcd: str, rand: str, rec: str = "Y", compl: str = "Y", reas: object = None,
            scrf: object = None) -> None:
        rows.append({"USUBJID": f"S{len(rows):02d}", "ARMCD": armcd, "RANDFL": rand,
                     "ITTFL": rand, "RECFL": rec if rand == "Y" else "N",
                     "COMPLFL": compl if rand == "Y" else "N", "DCSREAS": reas,
                     "SCRFREAS": scrf})

    for reason in ["AGE", "AGE", "CONSENT"]:
        add("SCRNFAIL", "N", scrf=reason)
    for _ in range(5):
        add("cell", "Y")
    add("cell", "Y", rec="N")
    add("cell", "Y", compl="N", reas="DEATH")
    add("cell", "Y", compl="N", reas="LOST TO FOLLOW-UP")
    for _ in range(6):
        add("ctrl", "Y")
    add("ctrl", "Y", compl="N", reas="WITHDRAWAL BY SUBJECT")
    return pd.DataFrame(rows)


def _n(table: pd.DataFrame, stage: str, arm: str, reason: str = "") -> int:
    sel = table[(table["stage"] == stage) & (table["ARMCD"] == arm) &
                (table["reason"] == reason)]
    return int(sel["n"].iloc[0])


def test_consort_counts_by_hand() -> None:
    t = consort_flow(_adsl(), ["cell", "ctrl"]).table
    assert _n(t, "screened", "ALL") == 18
    assert _n(t, "excluded", "ALL") == 3
    assert _n(t, "excluded", "ALL", "AGE") == 2 and _n(t, "excluded", "ALL", "CONSENT") == 1
    assert _n(t, "randomised", "ALL") == 15
    assert _n(t, "allocated", "cell") == 8 and _n(t, "allocated", "ctrl") == 7
    assert _n(t, "received", "cell") == 7 and _n(t, "not received", "cell") == 1
    # loss to follow-up is its own stage, not also a discontinuation reason
    assert _n(t, "discontinued", "cell") == 1
    assert _n(t, "discontinued", "cell", "DEATH") == 1
    assert not ((t["stage"] == "discontinued") & (t["reason"] == "LOST TO FOLLOW-UP")).any()
    assert _n(t, "lost to follow-up", "cell") == 1 and _n(t, "lost to follow-up", "ctrl") == 0
    assert _n(t, "completed", "ctrl") == 6 and _n(t, "completed", "cell") == 6
    for arm in ("cell", "ctrl"):
        assert _n(t, "allocated", arm) == (_n(t, "completed", arm) + _n(t, "discontinued", arm)
                                           + _n(t, "lost to follow-up", arm))
    assert "ongoing" not in set(t["stage"])
    assert _n(t, "analysed", "cell") == 8  # ITT, no BDS given


def test_consort_analysed_needs_a_post_baseline_value_and_blinded_pools() -> None:
    adsl = _adsl()
    bds = pd.DataFrame({"USUBJID": ["S03", "S04", "S11"], "PARAMCD": "MBI",
                        "ANL01FL": "Y", "ABLFL": "N", "AVAL": [50.0, 60.0, 40.0],
                        "DTYPE": None})
    t = consort_flow(adsl, ["cell", "ctrl"], bds=bds, primary_paramcd="MBI").table
    assert _n(t, "analysed", "cell") == 2 and _n(t, "excluded from analysis", "cell") == 6
    assert _n(t, "analysed", "ctrl") == 1
    pooled = consort_flow(adsl, ["cell", "ctrl"], by_arm=False).table
    assert set(pooled["ARMCD"]) == {"ALL"}
    assert _n(pooled, "allocated", "ALL") == 15


def test_consort_empty_arm_and_no_screen_failures() -> None:
    adsl = _adsl()
    adsl = adsl[adsl["ARMCD"] != "SCRNFAIL"]
    res = consort_flow(adsl, ["cell", "ctrl", "other"])
    assert "arm other has no randomised subjects" in res.messages
    assert any("no screen failures" in m for m in res.messages)
    assert _n(res.table, "allocated", "other") == 0
