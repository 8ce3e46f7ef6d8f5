"""The data set contracts: simulated frames pass; each kind of breach is named."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from strokecell.analysis import (
    PARAMS,
    derive_worst_case,
    paramcd_for,
    scheduled_visits,
    strata_columns,
    validate_adae,
    validate_adsl,
    validate_bds,
)
from strokecell.errors import InputError, NotFoundError
from strokecell.protocol import Protocol

from .conftest import Frames


def test_simulated_frames_meet_the_contracts(protocol: Protocol, trial: Frames) -> None:
    adsl, bds, adae = trial
    validate_adsl(adsl, protocol)
    validate_bds(bds, adsl)
    validate_adae(adae, adsl)
    assert strata_columns(protocol) == ["STRAT_BASELINE_MBI"]
    assert set(bds["PARAMCD"]) >= {"MBI", "FMAUE", "FMALE", "FMATOT", "NIHSS", "MRS",
                                    "LESVOL", "BDNF"}
    assert (adsl["ARMCD"] == "SCRNFAIL").sum() == 8
    assert bds["SRCSEQ"].notna().all()


def _problem_text(exc: pytest.ExceptionInfo[InputError]) -> str:
    return "\n".join(str(p) for p in exc.value.problems)


def test_missing_column_is_named(frames: Frames) -> None:
    adsl = frames[0].drop(columns="ARMCD")
    with pytest.raises(InputError) as exc:
        validate_adsl(adsl)
    assert "ADSL.ARMCD: required column is missing" in _problem_text(exc)


def test_bad_flag_names_column_value_and_allowed(frames: Frames) -> None:
    adsl = frames[0]
    adsl.loc[3, "ITTFL"] = "yes"
    with pytest.raises(InputError) as exc:
        validate_adsl(adsl)
    text = _problem_text(exc)
    assert "ADSL.ITTFL" in text and "'yes'" in text and "allowed: Y, N" in text


def test_dates_must_be_datetimes(frames: Frames) -> None:
    adsl = frames[0]
    adsl["RANDDT"] = adsl["RANDDT"].dt.strftime("%Y-%m-%d")
    with pytest.raises(InputError, match=r"ADSL\.RANDDT.*not a date"):
        validate_adsl(adsl)


def test_arm_not_in_protocol(protocol: Protocol, frames: Frames) -> None:
    adsl = frames[0]
    adsl.loc[0, "ARMCD"] = "placebo"
    with pytest.raises(InputError) as exc:
        validate_adsl(adsl, protocol)
    assert "'placebo'" in _problem_text(exc) and "transplant, control" in _problem_text(exc)


def test_stratum_level_not_in_protocol(protocol: Protocol, frames: Frames) -> None:
    adsl = frames[0]
    adsl.loc[0, "STRAT_BASELINE_MBI"] = "high"
    with pytest.raises(InputError, match="STRAT_BASELINE_MBI"):
        validate_adsl(adsl, protocol)


def test_duplicate_subject(frames: Frames) -> None:
    adsl = pd.concat([frames[0], frames[0].iloc[[0]]], ignore_index=True)
    with pytest.raises(InputError, match="share a key"):
        validate_adsl(adsl)


def test_bds_change_must_equal_aval_minus_base(frames: Frames) -> None:
    bds = frames[1]
    i = bds.index[bds["CHG"].notna()][0]
    bds.loc[i, "CHG"] += 1.0
    with pytest.raises(InputError, match=r"BDS\.CHG: is not AVAL - BASE"):
        validate_bds(bds)


def test_bds_one_analysed_row_per_visit(frames: Frames) -> None:
    bds = pd.concat([frames[1], frames[1].iloc[[5]]], ignore_index=True)
    with pytest.raises(InputError, match="ANL01FL"):
        validate_bds(bds)
    bds.loc[len(bds) - 1, "ANL01FL"] = "N"  # a second record outside the window is fine
    validate_bds(bds)


def test_unknown_paramcd_and_subject(frames: Frames) -> None:
    adsl, bds, _ = frames
    bds.loc[0, "PARAMCD"] = "FOO"
    bds.loc[1, "USUBJID"] = "nobody"
    with pytest.raises(InputError) as exc:
        validate_bds(bds)
    assert "BDS.PARAMCD" in _problem_text(exc)
    bds.loc[0, "PARAMCD"] = "MBI"
    with pytest.raises(InputError, match="'nobody'"):
        validate_bds(bds, adsl)


def test_adae_grade_range(frames: Frames) -> None:
    adae = frames[2]
    adae.loc[0, "AETOXGR"] = 6
    with pytest.raises(InputError) as exc:
        validate_adae(adae)
    assert "ADAE.AETOXGR" in _problem_text(exc) and "<= 5" in _problem_text(exc)


def test_numeric_column_with_text_dtype(frames: Frames) -> None:
    bds = frames[1]
    bds["AVAL"] = bds["AVAL"].astype(str)
    with pytest.raises(InputError, match=r"BDS\.AVAL: has dtype"):
        validate_bds(bds)


def test_param_lookup() -> None:
    assert paramcd_for("fma_total") == "FMATOT"
    assert PARAMS["MRS"].worst == 6 and PARAMS["MBI"].worst == 0
    assert PARAMS["LESVOL"].worst is None and PARAMS["LESVOL"].log_scale
    with pytest.raises(NotFoundError, match="allowed"):
        paramcd_for("gose")


def test_worst_case_rows_after_death(protocol: Protocol, trial: Frames) -> None:
    adsl, bds, _ = trial
    worst = bds[bds["DTYPE"] == "WORST"]
    dead = set(adsl.loc[adsl["DTHFL"] == "Y", "USUBJID"])
    assert dead and set(worst["USUBJID"]) == dead
    assert set(worst["PARAMCD"]) == {"MBI", "FMAUE", "FMALE", "FMATOT", "NIHSS", "MRS"}
    for code in ("MBI", "MRS", "NIHSS"):
        assert (worst.loc[worst["PARAMCD"] == code, "AVAL"] == PARAMS[code].worst).all()
    assert np.allclose(worst["CHG"], worst["AVAL"] - worst["BASE"])
    assert (worst["SRCSEQ"] == "ADSL.DTHDT").all()
    again = derive_worst_case(adsl, bds, protocol)
    assert len(again) == len(bds)  # idempotent
    # every visit the protocol schedules for the parameter and due on or after the death
    # has a worst row, none before it and none where the parameter is not collected
    subj = adsl[adsl["DTHFL"] == "Y"].iloc[0]
    day = (subj["DTHDT"] - subj["RANDDT"]).days
    for code in ("MRS", "FMATOT", "MBI"):
        due = {v.code for v in protocol.schedule.visits if not v.baseline
               and v.target_day >= day and v.code in scheduled_visits(protocol, code)}
        got = set(worst.loc[(worst["USUBJID"] == subj["USUBJID"]) &
                            (worst["PARAMCD"] == code), "AVISIT"])
        assert got == due, code
    assert set(worst.loc[worst["PARAMCD"].str.startswith("FMA"), "AVISIT"]) == {"month_12"}
    assert set(worst.loc[worst["PARAMCD"] == "MRS", "AVISIT"]) <= {"month_3", "month_12"}


def test_scheduled_visits_follow_the_endpoints(protocol: Protocol) -> None:
    """The visits at which the protocol collects each parameter (as the trial's design
    schedules the forms): Fugl-Meyer only at month 12, the key secondary endpoint."""
    assert scheduled_visits(protocol, "FMATOT") == ["month_12"]
    assert scheduled_visits(protocol, "FMAUE") == scheduled_visits(protocol, "FMALE") == [
        "month_12"]
    assert scheduled_visits(protocol, "MBI") == ["month_1", "month_3", "month_6", "month_12"]
    assert scheduled_visits(protocol, "MRS") == ["month_3", "month_12"]
    assert scheduled_visits(protocol, "LESVOL") == ["month_12"]
    assert scheduled_visits(protocol, "BI") == []


def test_bds_visits_must_be_in_the_schedule(protocol: Protocol, frames: Frames) -> None:
    bds = frames[1]
    bds.loc[0, "AVISIT"] = "week_2"
    with pytest.raises(InputError) as exc:
        validate_bds(bds, frames[0], protocol)
    assert "'week_2'" in _problem_text(exc) and "month_12" in _problem_text(exc)
