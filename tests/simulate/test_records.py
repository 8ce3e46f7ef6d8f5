"""Per-patient records for the trial driver: dates, windows, weights, eligibility, seeds."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from strokecell.errors import InputError
from strokecell.protocol import Protocol, compute_dose
from strokecell.simulate import (
    Assumptions,
    Design,
    PatientCohort,
    Scenario,
    assumption_table,
    simulate_patients,
    simulate_trials,
)


@pytest.fixture(scope="module")
def cohort(protocol: Protocol) -> PatientCohort:
    return simulate_patients(protocol, 60, np.random.default_rng(99),
                             scenario=Scenario(effects={"mbi": 8}), screen_failures=10)


def test_dates_lie_in_the_protocol_windows(protocol: Protocol, cohort: PatientCohort) -> None:
    arm = protocol.arm("transplant")
    assert arm.timing is not None
    for p in cohort.patients:
        onset_to_random = (p.randomisation_date - p.onset_date).days
        assert protocol.eligibility.onset_min_days <= onset_to_random <= \
            protocol.eligibility.onset_max_days
        assert p.onset_date <= p.admission_date <= p.randomisation_date
        for course in p.courses.values():
            for visit, spec in zip(course.visits, protocol.schedule.visits, strict=True):
                low, high = spec.window
                assert low <= visit.day <= high
                assert visit.date == p.randomisation_date + timedelta(days=visit.day)
        admin = p.course("transplant").administrations
        assert len(admin) == 1
        after_onset = (admin[0].date - p.onset_date).days
        assert arm.timing.min_days <= after_onset <= arm.timing.max_days
        assert admin[0].date >= p.randomisation_date
        assert admin[0].cells == compute_dose(protocol, "transplant",
                                              p.weight_kg).cells_per_administration
        assert p.course("control").administrations == ()


def test_patient_characteristics_are_plausible(protocol: Protocol,
                                               cohort: PatientCohort) -> None:
    a = Assumptions().population
    for p in cohort.patients:
        assert a.weight_min_kg <= p.weight_kg <= a.weight_max_kg
        assert protocol.eligibility.age_min_years <= p.age_years <= \
            protocol.eligibility.age_max_years
        assert p.sex in ("M", "F") and 3 <= p.gcs <= 15
        assert p.ich_score is not None and 0 <= p.ich_score <= 6
        assert p.haematoma_volume_ml is not None and p.haematoma_volume_ml > 0
        elig = p.eligibility
        assert elig["consent"] and all(elig["inclusion"].values())
        assert not any(elig["exclusion"].values())
        assert elig["baseline_severity"]["mbi"] <= 60
        baseline = p.course("control").visits[0]
        assert baseline.totals["mbi"] == elig["baseline_severity"]["mbi"]
        assert p.nihss_baseline == baseline.totals["nihss"]


def test_screen_failures_fail_one_criterion(protocol: Protocol, cohort: PatientCohort) -> None:
    e = protocol.eligibility
    assert len(cohort.screen_failures) == 10
    for f in cohort.screen_failures:
        answers = f.eligibility
        failed = [
            not e.age_min_years <= answers["age_years"] <= e.age_max_years,
            not e.onset_min_days <= answers["onset_days"] <= e.onset_max_days,
            not answers["consent"],
            answers["baseline_severity"].get("mbi", 0) > 60,
            any(answers["exclusion"].values()),
        ]
        assert sum(failed) == 1, f


def test_courses_differ_only_by_treatment(cohort: PatientCohort) -> None:
    # Common random numbers: same baseline, same deaths and dropout under either arm.
    for p in cohort.patients:
        treated, control = p.course("transplant"), p.course("control")
        assert treated.visits[0].assessments == control.visits[0].assessments
        assert [v.status for v in treated.visits] == [v.status for v in control.visits]
        assert treated.death_date == control.death_date
    gain = [p.course("transplant").visits[-1].totals["mbi"]
            - p.course("control").visits[-1].totals["mbi"]
            for p in cohort.patients if p.course("control").visits[-1].status == "done"]
    assert 4 < float(np.mean(gain)) < 12


def test_seed_is_recorded_and_reproducible(protocol: Protocol) -> None:
    one = simulate_patients(protocol, 3, np.random.default_rng(5))
    two = simulate_patients(protocol, 3, np.random.default_rng(5))
    assert one.seed.entropy == 5
    assert one.patients == two.patients
    r = simulate_trials(protocol, 5, 3, np.random.default_rng(6))
    assert r.settings()["seed"]["seed"] == 6


def test_fast_and_record_paths_share_the_model(protocol: Protocol, design: Design) -> None:
    # The same seed gives the same primary-endpoint values in both outputs.
    records = simulate_patients(design, 8, np.random.default_rng(77))
    arrays = simulate_trials(design, [0, 8], 1, np.random.default_rng(77))
    from_records = [[v.totals.get("mbi", np.nan) for v in p.course("control").visits]
                    for p in records.patients]
    np.testing.assert_array_equal(np.array(from_records), arrays.aval[0])


def test_long_form_has_cdisc_columns(protocol: Protocol) -> None:
    r = simulate_trials(protocol, {"transplant": 2, "control": 3}, 2, np.random.default_rng(1))
    frame = r.to_frame(drop_missing=False)
    assert list(frame.columns) == ["TRIAL", "USUBJID", "ARMCD", "AVISIT", "AVISITN", "PARAMCD",
                                   "AVAL", "BASE", "CHG"]
    assert len(frame) == 2 * 5 * 4
    assert frame["USUBJID"].iloc[0] == "SC-ICH-IA-UCMSC-00001-0001"
    np.testing.assert_allclose(frame["CHG"], frame["AVAL"] - frame["BASE"])


def test_bad_input_is_an_input_error(protocol: Protocol) -> None:
    with pytest.raises(InputError, match=r"n_per_arm"):
        simulate_trials(protocol, {"cells": 3}, 2, np.random.default_rng(1))
    with pytest.raises(InputError, match=r"n_trials"):
        simulate_trials(protocol, 3, 0, np.random.default_rng(1))
    with pytest.raises(InputError, match=r"rng"):
        simulate_trials(protocol, 3, 1, 42)  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"instrument"):
        simulate_trials(protocol, 3, 1, np.random.default_rng(1), instrument="barthel")
    with pytest.raises(InputError, match=r"n"):
        simulate_patients(protocol, 0, np.random.default_rng(1))


def test_every_assumption_is_documented() -> None:
    rows = assumption_table()
    assert len(rows) > 60
    for row in rows:
        assert row["tag"] in ("V", "K", "A"), row["name"]
        assert row["unit"], row["name"]
        assert row["source"], row["name"]
    with pytest.raises(InputError, match=r"barthel.plateau"):
        Assumptions().with_overrides(**{"barthel.plateau": 0.5})
    with pytest.raises(InputError, match=r"barthel.plateau_fraction_mean"):
        Assumptions.load({"barthel": {"plateau_fraction_mean": 1.5}})
    with pytest.raises(InputError, match=r"unexpected|Extra"):
        Assumptions.load({"barthel": {"platoe": 1}})
