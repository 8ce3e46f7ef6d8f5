"""The in-silico trial through the real services (simulate/driver.py).

One 12-patient run of the reference protocol on SQLite (module fixture, ~20-30 s) with more
deaths and dropout than the defaults, so that a small trial has both; then what the record
holds is compared with the virtual patients' courses under the arm the service assigned.
A smaller run on PostgreSQL checks the same path there.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from datetime import timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from store.conftest import (  # noqa: F401 (pytest fixtures, found by name)
    DB_KINDS,
    db_kind,
    db_url,
    engine,
    pg_shared,
    pg_template,
    sqlite_template,
)
from strokecell.errors import ConflictError
from strokecell.simulate import Assumptions, VirtualPatient
from strokecell.simulate.driver import (
    SITE_OFFSET_MIN,
    SimulatedTrialSummary,
    run_simulated_trial,
)
from strokecell.store import make_engine, read_session, upgrade_to_head, verify_chain
from strokecell.store import models as m
from strokecell.trial import (
    ServiceContext,
    context_for,
    design_of,
    list_administrations,
    list_adverse_events,
    list_deviations,
    list_forms,
    list_locks,
    list_queries,
    list_signatures,
    list_subjects,
    list_visits,
    save_form,
)

REFERENCE = Path(__file__).resolve().parents[2] / "protocols" / "reference-ich-ia-ucmsc.yaml"
SEED = 20261126
SITE_TZ = timezone(timedelta(minutes=SITE_OFFSET_MIN))
#: More deaths and dropout than the defaults, so that 12 patients show both.
EVENTFUL = Assumptions().with_overrides(**{"deaths.mortality_12_months": 0.3,
                                           "dropout.per_visit": 0.1})


@pytest.fixture(scope="module")
def sqlite_run(tmp_path_factory: pytest.TempPathFactory,
               ) -> Iterator[tuple[Engine, SimulatedTrialSummary]]:
    path = tmp_path_factory.mktemp("driver") / "trial.sqlite"
    eng = make_engine(f"sqlite:///{path}")
    upgrade_to_head(eng)
    stages: list[tuple[str, int, int]] = []
    summary = run_simulated_trial(eng, REFERENCE, seed=SEED, n_total=12,
                                  assumptions=EVENTFUL, screen_failures=3,
                                  progress=lambda *a: stages.append(a))
    assert {s for s, _, _ in stages} == {"setup", "trial", "lock"}
    assert stages[-1] == ("lock", 13, 13)
    yield eng, summary
    eng.dispose()


def _ctx(eng: Engine, summary: SimulatedTrialSummary, role: str) -> ServiceContext:
    user = summary.user(role)
    return context_for(eng, user.username, study_code=summary.study, role=role)


def _patients(summary: SimulatedTrialSummary) -> dict[str, VirtualPatient]:
    return {p.subject: p for p in summary.cohort.patients}


def test_audit_chain_verifies_and_follows_the_simulated_calendar(
        sqlite_run: tuple[Engine, SimulatedTrialSummary]) -> None:
    eng, summary = sqlite_run
    with read_session(eng) as s:
        result = verify_chain(s)
        first, last = s.execute(select(func.min(m.AuditLog.occurred_at),
                                       func.max(m.AuditLog.occurred_at))).one()
    assert result.ok, result
    assert result.rows_checked > 10_000
    # Virtual time: the trail runs from set-up (30 days before the first onset) to the
    # database lock, not on the wall clock of the test run.
    assert first.date() >= summary.first_date - timedelta(days=31)
    assert last.date() <= summary.last_date + timedelta(days=1)
    assert (last - first).days > 365


def test_screening_enrolment_and_arm_sizes_follow_the_blocks(
        sqlite_run: tuple[Engine, SimulatedTrialSummary]) -> None:
    eng, summary = sqlite_run
    assert summary.n_screen_failures == 3 and summary.n_screened == 15
    assert len(summary.subjects) == 12 and sum(summary.arm_counts.values()) == 12
    with read_session(eng) as s:
        outcomes = s.scalars(select(m.Screening.outcome)).all()
        rows = s.execute(select(m.SubjectAllocation.detail, m.Arm.code)
                         .join(m.Arm, m.Arm.id == m.SubjectAllocation.arm_id)
                         .order_by(m.SubjectAllocation.sequence_number)).all()
    assert sorted(o.value for o in outcomes) == ["enrolled"] * 12 + ["screen_failed"] * 3
    blocks: dict[tuple[str, int], list[str]] = defaultdict(list)
    sizes: dict[tuple[str, int], int] = {}
    for detail, arm in rows:
        assert detail["method"] == "permuted_blocks"
        key = (detail["stratum"], detail["block"]["number"])
        blocks[key].append(arm)
        sizes[key] = detail["block"]["size"]
        assert sizes[key] in (2, 4)  # the protocol's block sizes
    for key, arms in blocks.items():
        if len(arms) == sizes[key]:  # a complete block is balanced 1:1
            assert arms.count("transplant") == arms.count("control"), key
        else:  # an open block (the last of its stratum) is off by at most half its size
            assert abs(arms.count("transplant") - arms.count("control")) <= sizes[key] // 2
    assert abs(summary.arm_counts["transplant"] - summary.arm_counts["control"]) <= 4


def test_visits_and_forms_match_the_course_of_the_assigned_arm(
        sqlite_run: tuple[Engine, SimulatedTrialSummary]) -> None:
    eng, summary = sqlite_run
    lab = _ctx(eng, summary, "cell_lab")  # unblinded: sees every page
    design = design_of(REFERENCE.read_text(encoding="utf-8"))
    patients = _patients(summary)
    subjects = {v.subject_code: v for v in list_subjects(eng, lab)}
    checked = 0
    for subj in summary.subjects:
        course = patients[subj.patient].course(subj.arm)
        assert subjects[subj.subject_code].arm == subj.arm
        visits = {v.code: v for v in list_visits(eng, lab, subj.subject_code)}
        forms = {(f.visit_code, f.form_code): f for f in list_forms(eng, lab, subj.subject_code)}
        enrolled = subjects[subj.subject_code].enrolled_at.astimezone(SITE_TZ).date()
        for record in course.visits:
            stored = visits[record.code]
            if record.status != "done":
                assert stored.actual_date is None, (subj, record.code)
                assert not any(k[0] == record.code for k in forms), (subj, record.code)
                continue
            expected = record.date if record.code != "baseline" else max(record.date,
                                                                          enrolled)
            assert stored.actual_date == expected, (subj, record.code)
            assert stored.status == "done"
            for code in design.forms_at(record.code):
                form = forms[(record.code, code)]
                assert form.status == "complete", (subj, record.code, code, form.problems)
                if code == "fma_total":
                    wanted = {**record.assessments["fma_ue"], **record.assessments["fma_le"]}
                elif code in record.assessments:
                    wanted = record.assessments[code]
                else:
                    continue  # a CRF page (consent, MRI, rehabilitation ...)
                assert form.items == pytest.approx(wanted), (subj, record.code, code)
                assert form.assessment_date == record.date
                checked += 1
    assert checked > 100


def test_administrations_only_in_the_cell_arm_on_plan(
        sqlite_run: tuple[Engine, SimulatedTrialSummary]) -> None:
    eng, summary = sqlite_run
    lab = _ctx(eng, summary, "cell_lab")
    patients = _patients(summary)
    given = 0
    for subj in summary.subjects:
        rows = list_administrations(eng, lab, subj.subject_code)
        course = patients[subj.patient].course(subj.arm)
        if subj.arm == "control":
            assert rows == []
            continue
        assert len(rows) == len(course.administrations)
        for row, planned in zip(rows, course.administrations, strict=True):
            assert row.administered_at.date() == planned.date
            assert row.lot_number in summary.lots
            assert row.route == "intra_arterial"
            assert 10 <= row.hours_since_onset / 24 <= 18  # the arm's timing window
            given += 1
    assert given == summary.administrations > 0
    # On plan: no deviation of any kind (dose, volume, timing, visit windows).
    assert list_deviations(eng, lab) == []


def test_deaths_withdrawals_and_adverse_events_are_recorded(
        sqlite_run: tuple[Engine, SimulatedTrialSummary]) -> None:
    eng, summary = sqlite_run
    dm = _ctx(eng, summary, "data_manager")
    patients = _patients(summary)
    status = {v.subject_code: v.status for v in list_subjects(eng, dm)}
    deaths = withdrawals = 0
    for subj in summary.subjects:
        course = patients[subj.patient].course(subj.arm)
        events = list_adverse_events(eng, dm, subj.subject_code)
        forms = {f.form_code: f for f in list_forms(eng, dm, subj.subject_code)}
        assert len(events) == len(course.adverse_events)
        died = course.death_date is not None and (
            course.dropout_date is None or course.death_date <= course.dropout_date)
        if died:
            deaths += 1
            assert status[subj.subject_code] == "died"
            fatal = [e for e in events if e.outcome == "fatal"]
            assert len(fatal) == 1 and fatal[0].onset_date == course.death_date
            assert forms["withdrawal"].items["reason"] == "death"
        elif course.dropout_date is not None:
            withdrawals += 1
            assert forms["withdrawal"].items["withdrawal_date"] == course.dropout_date
            assert forms["withdrawal"].items["reason"] in ("lost_to_follow_up",
                                                          "consent_withdrawn")
        else:
            assert "withdrawal" not in forms
    assert deaths == summary.deaths > 0
    assert withdrawals == summary.withdrawals > 0
    # Every serious event was source-verified by the monitor: one query, answered, closed.
    queries = list_queries(eng, dm)
    assert len(queries) == summary.queries == summary.serious_adverse_events > 0
    assert {q.status for q in queries} == {"closed"}
    assert {q.form_code for q in queries} == {"adverse_event"}


def test_casebooks_signed_and_the_study_locked(
        sqlite_run: tuple[Engine, SimulatedTrialSummary]) -> None:
    eng, summary = sqlite_run
    dm = _ctx(eng, summary, "data_manager")
    locks = list_locks(eng, dm)
    assert [lk.scope for lk in locks].count("study") == 1
    assert sorted(lk.subject_code for lk in locks if lk.scope == "subject") == sorted(
        s.subject_code for s in summary.subjects)
    for subj in summary.subjects:
        signatures = list_signatures(eng, dm, subj.subject_code)
        assert len(signatures) == 1 and signatures[0].valid
        assert signatures[0].role == "investigator"
    first = summary.subjects[0]
    coordinator = context_for(eng, f"coord.{first.site.lower()}", study_code=summary.study,
                              role="coordinator")
    with pytest.raises(ConflictError, match="lock"):
        save_form(eng, coordinator, first.subject_code, "concomitant_medication",
                  {"drug_name": "paracetamol"}, repeat_index=9)


def _run_and_check(eng: Engine, protocol: Path) -> None:
    summary = run_simulated_trial(eng, protocol, seed=SEED, n_total=4, screen_failures=1)
    with read_session(eng) as s:
        result = verify_chain(s)
        locked = s.scalar(select(func.count()).select_from(m.RecordLock)
                          .where(m.RecordLock.scope == "study"))
    assert result.ok, result
    assert locked == 1
    assert sum(summary.arm_counts.values()) == 4 and summary.signatures == 4


@pytest.mark.parametrize("db_kind", [DB_KINDS[1]], indirect=True)
def test_reference_trial_on_postgresql(engine: Engine) -> None:  # noqa: F811
    """Regression: form_instances.instrument_version was VARCHAR(40) while the Fugl-Meyer
    version texts are 61 (fma_ue, fma_le) and 92 (fma_total) characters, so PostgreSQL
    refused every FMA form (migration 0003 widens it to 200)."""
    _run_and_check(engine, REFERENCE)


@pytest.mark.parametrize("db_kind", [DB_KINDS[1]], indirect=True)
def test_trial_without_fugl_meyer_on_postgresql(engine: Engine,  # noqa: F811
                                                tmp_path: Path) -> None:
    """The reference protocol less its Fugl-Meyer endpoint."""
    text = REFERENCE.read_text(encoding="utf-8")
    text, removed = re.subn(r"  - instrument: fma_total\n(    .*\n)+", "", text)
    assert removed == 1
    protocol = tmp_path / "reference-without-fma.yaml"
    protocol.write_text(text, encoding="utf-8")
    _run_and_check(engine, protocol)
