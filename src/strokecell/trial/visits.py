"""Visits: the schedule from the anchor date, status from dates and windows, actual dates.

Status is computed from the dates, never typed: with an actual date, ``done`` inside the
window and ``out_of_window`` outside it; without one, ``scheduled`` until the window closes
and ``missed`` after. The stored ``status`` column is refreshed on every write; reads compute
it again for "today" (the caller's clock), since a visit becomes missed by time passing.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from strokecell.errors import ConflictError, InputError, NotFoundError, Problem
from strokecell.store import SubjectStatus, VisitStatus
from strokecell.store import models as m
from strokecell.trial._authz import Action
from strokecell.trial._context import Scope, ServiceContext, authorize, visible_subject
from strokecell.trial._design import design_of
from strokecell.trial._formspec import form_spec
from strokecell.trial._guards import ensure_writable
from strokecell.trial._tx import audit_insert, audit_update, reading, require_reason, writing
from strokecell.trial.locks import invalidate_changed_signatures
from strokecell.trial.views import FormStatusView, VisitView

__all__ = ["NOT_EXPECTED", "enrolment_date", "list_visits", "parse_date", "record_visit",
           "schedule_visits", "subject_death_date", "subject_withdrawal_date", "visit_status"]


def visit_status(expected: date, before: int, after: int, actual: date | None,
                 today: date) -> VisitStatus:
    """The status of a visit due on ``expected`` with a window of -before/+after days."""
    start, end = expected - timedelta(days=before), expected + timedelta(days=after)
    if actual is not None:
        return VisitStatus.DONE if start <= actual <= end else VisitStatus.OUT_OF_WINDOW
    return VisitStatus.MISSED if today > end else VisitStatus.SCHEDULED


def parse_date(value: object, field: str) -> date:
    """A date given as a ``date`` or an exact ISO ``YYYY-MM-DD`` string (nothing guessed)."""
    if isinstance(value, date) and not hasattr(value, "hour"):
        return value
    if isinstance(value, str) and len(value) == 10:
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise InputError(Problem(field, "not a date", value, "a date YYYY-MM-DD"))


def enrolment_date(subject: m.Subject) -> date:
    """The enrolment date on the enrolling user's clock."""
    local = subject.enrolled_at + timedelta(minutes=subject.enrolled_offset_min)
    return local.date()


def schedule_visits(s: Session, scope: Scope, subject: m.Subject, anchor: date,
                    reason: str | None = None) -> None:
    """Create the subject's visits from ``anchor`` (day 0), or move the expected dates of
    existing ones (an update, audited with ``reason``) when day 0 is re-anchored, e.g. on
    the first administration when the protocol's ``schedule.day_zero`` says so."""
    pv = s.get(m.ProtocolVersion, subject.protocol_version_id)
    if pv is None:
        raise NotFoundError("the subject's protocol version is missing")
    existing = {v.visit_code: v for v in subject.visits}
    if subject.anchor_date != anchor:
        subject.anchor_date = anchor
        if existing:
            audit_update(s, scope, subject, "subjects", require_reason(reason, "day 0"))
    for plan in design_of(pv.yaml_text).visits:
        expected = plan.expected_date(anchor)
        visit = existing.get(plan.code)
        if visit is None:
            audit_insert(s, scope, m.Visit(
                subject_id=subject.id, protocol_version_id=pv.id, visit_code=plan.code,
                visit_name=plan.label, visit_number=plan.number, expected_date=expected,
                window_before_days=plan.window_before, window_after_days=plan.window_after,
                status=VisitStatus.SCHEDULED), "visits")
        elif visit.expected_date != expected:
            visit.expected_date = expected
            audit_update(s, scope, visit, "visits", require_reason(reason, "day 0"))


def _visit(s: Session, subject: m.Subject, code: str) -> m.Visit:
    visit = s.scalars(select(m.Visit).where(m.Visit.subject_id == subject.id,
                                            m.Visit.visit_code == code)).first()
    if visit is None:
        codes = [v.visit_code for v in subject.visits]
        raise NotFoundError(f"visit_code: no visit {code!r} for {subject.subject_code}; "
                            f"visits: {', '.join(codes) or 'none scheduled'}")
    return visit


def visit_view(s: Session, scope: Scope, visit: m.Visit, today: date) -> VisitView:
    pv = s.get(m.ProtocolVersion, visit.protocol_version_id)
    planned = design_of(pv.yaml_text).forms_at(visit.visit_code) if pv else ()
    found = {f.form_code: f for f in s.scalars(select(m.FormInstance).where(
        m.FormInstance.visit_id == visit.id, m.FormInstance.repeat_index == 1)).all()}
    forms = []
    for code in dict.fromkeys([*planned, *found]):
        if scope.blinded and form_spec(code).unblinded_only:
            continue
        inst = found.get(code)
        forms.append(FormStatusView(code, inst.status.value if inst else "not_started",
                                    inst.version if inst else None))
    before, after = visit.window_before_days, visit.window_after_days
    start = visit.expected_date - timedelta(days=before)
    status = visit_status(visit.expected_date, before, after, visit.actual_date, today).value
    if visit.actual_date is None and visit.subject.status in _ENDED:
        ended = (subject_death_date(s, visit.subject_id)
                 if visit.subject.status is SubjectStatus.DIED
                 else subject_withdrawal_date(s, visit.subject_id))
        if ended is not None and start > ended:
            status = NOT_EXPECTED
    return VisitView(visit.visit_code, visit.visit_name, visit.visit_number,
                     visit.expected_date, start, visit.expected_date + timedelta(days=after),
                     visit.actual_date, status, visit.version, tuple(forms))


#: The view status of a visit whose window opens after the subject's death or withdrawal.
NOT_EXPECTED = "not_expected"
#: Statuses that end the follow-up: later visits are not expected.
_ENDED = (SubjectStatus.DIED, SubjectStatus.WITHDRAWN, SubjectStatus.LOST)


def subject_death_date(s: Session, subject_id: int) -> date | None:
    """The date of death: the earliest fatal adverse event's resolution (else onset) date."""
    dates = [r or o for o, r in s.execute(
        select(m.AdverseEvent.onset_date, m.AdverseEvent.resolution_date).where(
            m.AdverseEvent.subject_id == subject_id, m.AdverseEvent.outcome == "fatal")).all()]
    return min(dates) if dates else None


def subject_withdrawal_date(s: Session, subject_id: int) -> date | None:
    """The date on the subject's withdrawal page (``withdraw_subject``), if one was saved."""
    return s.scalar(select(m.ItemValue.value_date).join(
        m.FormInstance, m.FormInstance.id == m.ItemValue.form_instance_id).where(
        m.FormInstance.subject_id == subject_id, m.FormInstance.form_code == "withdrawal",
        m.ItemValue.item_code == "withdrawal_date").limit(1))


def list_visits(db: Engine, ctx: ServiceContext, subject_code: str) -> list[VisitView]:
    """The subject's visits with expected dates, windows, status and form completion."""
    with reading(db) as s:
        scope = authorize(s, ctx, Action.READ_SUBJECTS)
        subject = visible_subject(s, scope, subject_code)
        today = ctx.local_now().date()
        return [visit_view(s, scope, v, today) for v in subject.visits]


def record_visit(db: Engine, ctx: ServiceContext, subject_code: str, visit_code: str,
                 actual_date: date | str, *, version: int | None = None,
                 reason: str | None = None) -> VisitView:
    """Set the date a visit took place. Changing a saved date needs the version read and a
    reason. Edit checks: not before enrolment, not in the future, in visit order."""
    when = parse_date(actual_date, "actual_date")
    with writing(db) as s:
        scope = authorize(s, ctx, Action.RECORD_VISIT)
        subject = visible_subject(s, scope, subject_code)
        visit = _visit(s, subject, visit_code)
        ensure_writable(s, scope.study_id, subject, visit)
        today = ctx.local_now().date()
        problems = _date_problems(subject, visit, when, today)
        if problems:
            raise InputError(problems, context=f"{subject_code} {visit_code}")
        if visit.actual_date is not None:
            if version is None or version != visit.version:
                raise ConflictError(f"version: visit {visit_code} of {subject_code} is at "
                                    f"version {visit.version}, you edited version {version}; "
                                    "reload it")
            text: str | None = require_reason(reason, f"the date of visit {visit_code}")
        else:
            text = None
        if visit.actual_date == when:
            return visit_view(s, scope, visit, today)
        visit.actual_date = when
        visit.status = visit_status(visit.expected_date, visit.window_before_days,
                                    visit.window_after_days, when, today)
        audit_update(s, scope, visit, "visits", text or "visit date entered")
        if visit.status is VisitStatus.OUT_OF_WINDOW:
            _window_deviation(s, scope, subject, visit, when)
        invalidate_changed_signatures(s, scope, subject, f"date of visit {visit_code}")
        return visit_view(s, scope, visit, today)


def _window_deviation(s: Session, scope: Scope, subject: m.Subject, visit: m.Visit,
                      when: date) -> None:
    """Record a visit done outside its window as a (minor) protocol deviation, once per date."""
    start = visit.expected_date - timedelta(days=visit.window_before_days)
    end = visit.expected_date + timedelta(days=visit.window_after_days)
    text = (f"visit {visit.visit_code} done on {when}, outside its window {start} to {end} "
            f"(expected {visit.expected_date})")
    known = s.scalars(select(m.ProtocolDeviation.id).where(
        m.ProtocolDeviation.visit_id == visit.id, m.ProtocolDeviation.category == "visit_window",
        m.ProtocolDeviation.description == text)).first()
    if known is None:
        audit_insert(s, scope, m.ProtocolDeviation(
            study_id=scope.study_id, subject_id=subject.id, administration_id=None,
            visit_id=visit.id, protocol_version_id=visit.protocol_version_id,
            category="visit_window", description=text, major=False,
            detected_at=scope.ctx.now(), detected_offset_min=scope.ctx.offset_minutes,
            detected_by_user_id=None), "protocol_deviations")


def _date_problems(subject: m.Subject, visit: m.Visit, when: date, today: date,
                   ) -> list[Problem]:
    problems: list[Problem] = []
    enrolled = enrolment_date(subject)
    if when < enrolled:
        problems.append(Problem("actual_date", f"is before enrolment ({enrolled})", str(when),
                                f"{enrolled} or later"))
    if when > today:
        problems.append(Problem("actual_date", "is in the future", str(when),
                                f"{today} or earlier"))
    for other in subject.visits:
        if other.id == visit.id or other.actual_date is None:
            continue
        if other.visit_number < visit.visit_number and other.actual_date >= when:
            problems.append(Problem("actual_date", f"is not after visit {other.visit_code} "
                                    f"({other.actual_date})", str(when),
                                    f"after {other.actual_date}"))
        if other.visit_number > visit.visit_number and other.actual_date <= when:
            problems.append(Problem("actual_date", f"is not before visit {other.visit_code} "
                                    f"({other.actual_date})", str(when),
                                    f"before {other.actual_date}"))
    return problems
