"""Per-patient records for the trial driver: what a site would enter, item by item, with dates.

:func:`simulate_patients` draws ``n`` eligible virtual patients (and optional screen
failures) from the same model as :func:`~strokecell.simulate.simulate_trials`. Arms are not
assigned here (the trial's randomisation does that): each patient carries its *course under
every arm* (``patient.course(arm_code)``), drawn with common random numbers, so the courses
differ only by the treatment (and the treatment's own adverse events). Every item set is
validated by the instrument engine before it is returned.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np

from strokecell.errors import InputError, Problem
from strokecell.instruments import load_instrument
from strokecell.protocol import Protocol
from strokecell.simulate.adverse_events import (
    AdverseEvent,
    background_events,
    death_event,
    route_events,
)
from strokecell.simulate.assumptions import Assumptions
from strokecell.simulate.cohort import Cohort, SeedRecord, seed_record, simulate_cohort
from strokecell.simulate.design import Design, as_design
from strokecell.simulate.events import DONE, STATUS_NAMES
from strokecell.simulate.scenario import Scenario

__all__ = ["Administration", "Course", "PatientCohort", "ScreenFailure", "VirtualPatient",
           "VisitRecord", "simulate_patients"]

RECORDED = ("mbi", "fma_ue", "fma_le", "nihss", "mrs", "lesion_volume")


@dataclass(frozen=True)
class Administration:
    number: int
    day: int
    date: date
    cells: float | None  # per administration, from the arm's regimen and the weight


@dataclass(frozen=True)
class VisitRecord:
    code: str
    day: int  # relative to day 0
    date: date
    status: str  # done, missed, dropped_out, dead
    assessments: dict[str, dict[str, Any]]  # instrument -> item values (empty unless done)
    totals: dict[str, float]  # as the instrument engine scores them


@dataclass(frozen=True)
class Course:
    """One patient's follow-up had they been randomised to ``arm``."""

    arm: str
    administrations: tuple[Administration, ...]
    visits: tuple[VisitRecord, ...]
    adverse_events: tuple[AdverseEvent, ...]
    death_date: date | None
    dropout_date: date | None


@dataclass(frozen=True)
class VirtualPatient:
    subject: str  # screening number, e.g. SIM-0001 (the trial assigns USUBJID)
    age_years: int
    sex: str  # M / F
    weight_kg: float
    condition: str
    lesion_side: str  # left / right hemisphere
    onset_date: date
    admission_date: date
    randomisation_date: date
    haematoma_volume_ml: float | None
    gcs: int
    ich_score: int | None
    nihss_baseline: int
    eligibility: dict[str, Any]
    courses: dict[str, Course] = field(repr=False)

    def course(self, arm: str) -> Course:
        if arm not in self.courses:
            raise InputError(Problem("arm", "is not an arm of the simulated design", arm,
                                     ", ".join(self.courses)))
        return self.courses[arm]


@dataclass(frozen=True)
class ScreenFailure:
    subject: str
    age_years: int
    sex: str
    condition: str
    eligibility: dict[str, Any]
    reason: str


@dataclass(frozen=True)
class PatientCohort:
    seed: SeedRecord
    patients: tuple[VirtualPatient, ...]
    screen_failures: tuple[ScreenFailure, ...]
    scenario: Scenario
    assumptions: Assumptions


def _gcs_and_ich_score(nihss0: float, volume: float, ivh: bool, infratentorial: bool,
                       age: float, rng: np.random.Generator) -> tuple[int, int]:
    """GCS from the deficit [A]; ICH score of Hemphill et al., Stroke 2001;32:891 [K]."""
    gcs = int(np.clip(round(15 - 0.25 * max(nihss0 - 4.0, 0.0) + rng.normal(0, 1)), 3, 15))
    score = (2 if gcs <= 4 else 1 if gcs <= 12 else 0) + int(volume >= 30) + int(ivh) + \
        int(infratentorial) + int(age >= 80)
    return gcs, score


def _eligibility(design: Design, protocol: Protocol | None, age: int, onset_days: int,
                 baseline: Mapping[str, float], consent: bool = True,
                 exclusion_hit: str | None = None) -> dict[str, Any]:
    extra_in = protocol.eligibility.extra_criteria.inclusion if protocol else []
    extra_ex = protocol.eligibility.extra_criteria.exclusion if protocol else []
    return {
        "age_years": age, "stroke_type": design.condition, "onset_days": onset_days,
        "baseline_severity": {i: baseline[i] for i, _, _ in design.severity if i in baseline},
        "consent": consent,
        "inclusion": {text: True for text in extra_in},
        "exclusion": {text: text == exclusion_hit for text in extra_ex},
    }


def _visits(cohort: Cohort, i: int, day0: date) -> tuple[VisitRecord, ...]:
    out = []
    for k, visit in enumerate(cohort.design.visits):
        status = int(cohort.status[i, k])
        assessments: dict[str, dict[str, Any]] = {}
        totals: dict[str, float] = {}
        if status == DONE:
            for code in RECORDED:
                if code in cohort.items:
                    items: dict[str, Any] = cohort.items[code].items_at((i, k))
                elif code == "mrs":
                    items = {"mrs": int(cohort.totals["mrs"][i, k])}
                else:
                    items = {"lesion_volume": float(cohort.totals["lesion_volume"][i, k])}
                result = load_instrument(code).score(items)  # raises if off the grid
                assessments[code] = dict(result.items)
                totals[code] = float(result.total)
        day = int(cohort.visit_day[i, k])
        out.append(VisitRecord(visit.code, day, day0 + timedelta(days=day),
                               STATUS_NAMES[status], assessments, totals))
    return tuple(out)


def simulate_patients(design: Design | Protocol, n: int, rng: np.random.Generator,
                      scenario: Scenario | None = None, assumptions: Assumptions | None = None,
                      screen_failures: int = 0) -> PatientCohort:
    """``n`` eligible virtual patients (courses under every arm) and screen failures."""
    if not isinstance(n, int) or n < 1:
        raise InputError(Problem("n", "must be a whole number of at least 1", n, "1, 2, ..."))
    if not isinstance(screen_failures, int) or screen_failures < 0:
        raise InputError(Problem("screen_failures", "must be a whole number", screen_failures,
                                 "0, 1, 2, ..."))
    protocol = design if isinstance(design, Protocol) else None
    d = as_design(design)
    a = assumptions or Assumptions()
    scenario = scenario or Scenario()
    seed = seed_record(rng)
    state = rng.bit_generator.state
    cohorts: dict[str, Cohort] = {}
    for j, arm in enumerate(d.arms):
        rng.bit_generator.state = state  # common random numbers across arms
        counts = [n if k == j else 0 for k in range(len(d.arms))]
        cohorts[arm.code] = simulate_cohort(d, counts, 1, rng, scenario, a,
                                            instruments=RECORDED, keep_items=True)
    first = cohorts[d.arms[0].code]
    pop = a.population
    start = date.fromisoformat(pop.study_start)
    follow_up = max(v.window[1] for v in d.visits)
    ich = d.condition == "intracerebral_haemorrhage"
    patients = []
    for i in range(n):
        onset = start + timedelta(days=int(rng.integers(0, pop.enrolment_period_days)))
        day0 = onset - timedelta(days=int(first.onset_day[i]))
        age = int(first.age[i])
        ivh = bool(rng.random() < pop.ivh_fraction)
        infra = bool(rng.random() < pop.infratentorial_fraction)
        volume = float(first.latent.lesion_onset_ml[i])
        gcs, ich_score = _gcs_and_ich_score(float(first.latent.nihss0[i]), volume, ivh, infra,
                                            age, rng)
        background = background_events(follow_up, day0, math.inf, a.adverse_events, rng)
        courses = {}
        for arm in d.arms:
            c = cohorts[arm.code]
            end = min(float(c.death_day[i]), float(c.dropout_day[i]), follow_up + 1.0)
            admins: list[Administration] = []
            if arm.cell_therapy and c.admin_day[i] >= 0:
                for k in range(arm.administrations):
                    day = int(c.admin_day[i]) + round(k * (arm.interval_days or 0))
                    if day < end:
                        admins.append(Administration(k + 1, day, day0 + timedelta(days=day),
                                                     arm.cells_for(float(c.weight_kg[i]))))
            events = [e for e in background if e.onset_day < end]
            if arm.route:
                events += route_events(arm.route, arm.cell_type, [x.day for x in admins], day0,
                                       end, a.adverse_events, rng)
            death = c.death_day[i]
            died = bool(death <= follow_up and death < c.dropout_day[i])
            if died:
                events.append(death_event(math.ceil(death), day0))
            dropout = c.dropout_day[i]
            courses[arm.code] = Course(
                arm.code, tuple(admins), _visits(c, i, day0),
                tuple(sorted(events, key=lambda e: e.onset_day)),
                day0 + timedelta(days=math.ceil(death)) if died else None,
                day0 + timedelta(days=math.ceil(dropout)) if np.isfinite(dropout) else None)
        baseline = courses[d.arms[0].code].visits[d.baseline_index].totals
        patients.append(VirtualPatient(
            subject=f"SIM-{i + 1:04d}", age_years=age, sex="M" if first.male[i] else "F",
            weight_kg=float(first.weight_kg[i]), condition=d.condition,
            lesion_side="left" if first.latent.left_hemisphere[i] else "right",
            onset_date=onset,
            admission_date=onset + timedelta(days=int(rng.integers(
                0, pop.admission_delay_max_days + 1))),
            randomisation_date=day0 + timedelta(days=int(first.randomisation_day[i])),
            haematoma_volume_ml=round(volume, 1) if ich else None, gcs=gcs,
            ich_score=ich_score if ich else None,
            nihss_baseline=int(baseline.get("nihss", 0)),
            eligibility=_eligibility(d, protocol, age, -int(first.onset_day[i]), baseline),
            courses=courses))
    failures = _screen_failures(d, protocol, screen_failures, a, rng)
    return PatientCohort(seed, tuple(patients), failures, scenario, a)


def _screen_failures(d: Design, protocol: Protocol | None, count: int, a: Assumptions,
                     rng: np.random.Generator) -> tuple[ScreenFailure, ...]:
    """Candidates who fail exactly one criterion (age, onset, severity, exclusion, consent)."""
    exclusions = protocol.eligibility.extra_criteria.exclusion if protocol else []
    reasons = ["age", "onset", "consent"] + (["severity"] if d.severity else []) + \
        (["exclusion"] if exclusions else [])
    out = []
    for i in range(count):
        reason = reasons[int(rng.integers(0, len(reasons)))]
        age = int(rng.integers(d.age_range[0], d.age_range[1] + 1))
        onset = int(rng.integers(math.ceil(d.onset_range[0]), math.floor(d.onset_range[1]) + 1))
        baseline: dict[str, float] = {}
        for instrument, low, high in d.severity:
            baseline[instrument] = float(low if low is not None else high or 0)
        hit = None
        if reason == "age":
            age = d.age_range[1] + 1 + int(rng.integers(0, 10))
        elif reason == "onset":
            onset = math.floor(d.onset_range[1]) + 1 + int(rng.integers(0, 14))
        elif reason == "severity":
            instrument, low, high = d.severity[0]
            baseline[instrument] = float(high + 1 + int(rng.integers(0, 10)) if high is not None
                                         else (low or 0) - 1)
        elif reason == "exclusion":
            hit = exclusions[int(rng.integers(0, len(exclusions)))]
        elig = _eligibility(d, protocol, age, onset, baseline, consent=reason != "consent",
                            exclusion_hit=hit)
        out.append(ScreenFailure(f"SIM-SF{i + 1:03d}", age,
                                 "M" if rng.random() < a.population.male_fraction else "F",
                                 d.condition, elig, reason))
    return tuple(out)
