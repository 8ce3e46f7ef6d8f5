"""Table 1 cells and safety counts by hand; the blinded/unblinded split of safety."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from strokecell.analysis import StoppingRule, baseline_table, dsmb_closed_report, safety_tables
from strokecell.errors import InputError, PermissionDeniedError


def _adsl() -> pd.DataFrame:
    return pd.DataFrame({
        "USUBJID": [f"S{i}" for i in range(8)],
        "ARMCD": ["cell"] * 4 + ["ctrl"] * 4,
        "ITTFL": ["Y"] * 7 + ["N"], "SAFFL": ["Y"] * 6 + ["N", "Y"],
        "AGE": [50, 60, 70, np.nan, 40, 45, 80, 99],
        "SEX": ["M", "F", "M", None, "F", "F", "M", "M"],
        "DTHFL": ["N", "N", "N", "Y", "N", "N", "N", "N"],
        "DTHDT": pd.to_datetime([None, None, None, "2026-05-01", None, None, None, None]),
        "RANDFL": "Y", "COMPLFL": ["Y", "Y", "Y", "N", "Y", "Y", "Y", "Y"],
        "DCSREAS": [None, None, None, "DEATH", None, None, None, None],
    })


def _cell(table: pd.DataFrame, var: str, arm: str, level: str = "") -> pd.Series:
    return table[(table["variable"] == var) & (table["ARMCD"] == arm) &
                 (table["level"] == level)].iloc[0]


def test_table1_cells_by_hand() -> None:
    res = baseline_table(_adsl(), None, ["cell", "ctrl"])
    t = res.table
    age = _cell(t, "AGE", "cell")  # 50, 60, 70 and one missing
    assert age["n"] == 3 and age["missing"] == 1
    assert age["mean"] == pytest.approx(60.0) and age["sd"] == pytest.approx(10.0)
    assert age["median"] == 60 and age["q1"] == 55 and age["q3"] == 65
    assert age["text"] == "60.0 (10.0); 60.0 [55.0, 65.0]"
    ctrl = _cell(t, "AGE", "ctrl")  # ITT only: 40, 45, 80
    assert ctrl["n"] == 3 and ctrl["mean"] == pytest.approx(55.0)
    assert ctrl["sd"] == pytest.approx(math.sqrt(((40 - 55) ** 2 + 100 + 625) / 2))
    assert ctrl["q1"] == pytest.approx(42.5)  # type 7: 40 + 0.5 * (45 - 40)
    male = _cell(t, "SEX", "cell", "M")
    assert male["count"] == 2 and male["n"] == 3 and male["missing"] == 1
    assert male["percent"] == pytest.approx(200 / 3) and male["text"] == "2 (66.7%)"
    total = _cell(t, "SEX", "Total", "F")
    assert total["count"] == 3 and total["n"] == 6
    assert res.info["n"] == {"cell": 4, "ctrl": 3, "Total": 7}


def test_table1_blinded_is_total_only_and_baseline_values_from_bds() -> None:
    bds = pd.DataFrame({"USUBJID": ["S0", "S1", "S4"], "PARAMCD": "MBI", "ABLFL": "Y",
                        "ANL01FL": "Y", "AVAL": [20.0, 30.0, 50.0]})
    t = baseline_table(_adsl(), bds, ["cell", "ctrl"], by_arm=False).table
    assert set(t["ARMCD"]) == {"Total"}
    mbi = _cell(t, "BL_MBI", "Total")
    assert mbi["n"] == 3 and mbi["missing"] == 4 and mbi["mean"] == pytest.approx(100 / 3)


def _adae() -> pd.DataFrame:
    return pd.DataFrame({
        "USUBJID": ["S0", "S0", "S1", "S3", "S4", "S6"],
        "AETERM": ["Fever", "Fever", "Seizure", "Death NOS", "Fall", "Fall"],
        "AEBODSYS": ["General", "General", "Nervous", "General", "Injury", "Injury"],
        "AETOXGR": [1, 2, 3, 5, 2, 2],
        "AESER": ["N", "N", "Y", "Y", "N", "N"],
        "AREL_CELL": ["Y", "Y", "Y", "N", "N", "N"],
        "AREL_PROC": ["N", "N", "Y", "N", "N", "N"],
        "AESDTH": ["N", "N", "N", "Y", "N", "N"],
        "TRTEMFL": ["Y", "Y", "Y", "Y", "Y", "Y"]})


def _ov(t: pd.DataFrame, cat: str, arm: str) -> tuple[int, int]:
    row = t[(t["category"] == cat) & (t["ARMCD"] == arm)].iloc[0]
    return int(row["subjects"]), int(row["events"])


def test_safety_counts_by_arm() -> None:
    res = safety_tables(_adsl(), _adae(), ["cell", "ctrl"], unblinded=True,
                        stopping_rule=StoppingRule(1))
    t = res.table
    assert _ov(t, "any adverse event", "cell") == (3, 4)
    assert _ov(t, "related to cells", "cell") == (2, 3)
    assert _ov(t, "related to procedure", "cell") == (1, 1)
    assert _ov(t, "serious", "cell") == (2, 2)
    assert _ov(t, "fatal", "cell") == (1, 1)
    assert _ov(t, "deaths (any cause)", "cell") == (1, 1)
    assert _ov(t, "any adverse event", "ctrl") == (1, 1)  # S6 is not in the safety set
    pct = t[(t["category"] == "any adverse event") & (t["ARMCD"] == "cell")]["percent"]
    assert float(pct.iloc[0]) == pytest.approx(75.0)
    soc = res.tables["by_soc_term"]
    fever = soc[(soc["AETERM"] == "Fever") & (soc["ARMCD"] == "cell")].iloc[0]
    assert fever["subjects"] == 1 and fever["events"] == 2
    grade = res.tables["by_grade"]
    g = grade[(grade["AEBODSYS"] == "General") & (grade["ARMCD"] == "cell")]
    assert g.set_index("grade")["subjects"].to_dict() == {1: 0, 2: 1, 3: 0, 4: 0, 5: 1}
    assert res.tables["stopping_rule"]["count"].iloc[0] == 1
    assert res.info["stopping_rule_status"] == "triggered"
    assert res.tables["deaths"]["cause"].tolist() == ["Death NOS"]


def test_safety_blinded_is_pooled_and_dsmb_needs_unblinding() -> None:
    res = safety_tables(_adsl(), _adae(), ["cell", "ctrl"])
    assert set(res.table["ARMCD"]) == {"ALL"}
    assert "ARMCD" not in res.tables["deaths"].columns
    assert _ov(res.table, "any adverse event", "ALL") == (4, 5)
    with pytest.raises(PermissionDeniedError, match="unblinded=True"):
        dsmb_closed_report(_adsl(), _adae(), ["cell", "ctrl"])
    closed = dsmb_closed_report(_adsl(), _adae(), ["cell", "ctrl"], unblinded=True)
    assert {"cell", "ctrl", "Total"} <= set(closed.table["ARMCD"])
    assert "discontinuations" in closed.tables


def test_arm_without_events_and_rules() -> None:
    adae = _adae()
    adae = adae[adae["USUBJID"].isin(["S0", "S1"])]
    res = safety_tables(_adsl(), adae, ["cell", "ctrl"], unblinded=True,
                        stopping_rule=StoppingRule(2, arm="cell"))
    assert "arm ctrl has no adverse events" in res.messages
    assert _ov(res.table, "any adverse event", "ctrl") == (0, 0)
    assert res.info["stopping_rule_status"] == "not triggered"
    blinded = safety_tables(_adsl(), adae, ["cell", "ctrl"],
                            stopping_rule=StoppingRule(1, arm="cell"))
    assert any("blinded view counts all arms" in m for m in blinded.messages)
    none = safety_tables(_adsl(), adae.iloc[0:0], ["cell", "ctrl"])
    assert "no treatment-emergent adverse events recorded" in none.messages
    with pytest.raises(InputError, match="at least 1"):
        StoppingRule(0)
