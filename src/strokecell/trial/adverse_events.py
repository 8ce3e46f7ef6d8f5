"""Adverse events: the AE page with its typed row, expedited reporting, stopping rules, death.

:func:`report_adverse_event` (investigator, coordinator) saves a complete ``adverse_event``
page and the typed ``adverse_events`` row (linked by ``form_instance_id``) in one
transaction; :func:`update_adverse_event` changes one (version read + reason for change).

Edit checks beyond the page's own: the body system is a MedDRA SOC name
(:data:`~strokecell.trial.meddra.MEDDRA_SOC`); onset not before the consent and not in the
future; a serious event names at least one ICH E2A criterion; CTCAE grade 5 (death) goes
with outcome ``fatal`` and the death criterion, and the other way round.

Expedited reporting (ICH E2A, "Clinical safety data management: definitions and standards
for expedited reporting", 1994, section III.A): every serious event raises
``expedited_report_required``; the report is due within 7 calendar days when the event is
fatal or life-threatening, unexpected and related (at least possibly, to the product or the
procedure), within 15 calendar days otherwise. The clock starts when the event is first
recorded as serious (the audit row that set the flag). "Related" means WHO-UMC
``possible``, ``probable`` or ``definite``.

Stopping rules (protocol ``safety.stopping_rules``) are evaluated on every entry over the
whole study; a rule whose count reaches its threshold (and exceeds the count of its last
signal) writes a ``safety_signals`` row. A fatal outcome sets the subject's status to
``died``; visits after the death are then "not expected" (see :mod:`.visits`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from strokecell.errors import (
    ConflictError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
    Problem,
)
from strokecell.protocol.models import StoppingRule
from strokecell.store import Role, SubjectStatus
from strokecell.store import models as m
from strokecell.trial._authz import Action
from strokecell.trial._context import Scope, ServiceContext, authorize, visible_subject
from strokecell.trial._design import current_version, design_of
from strokecell.trial._formspec import form_spec
from strokecell.trial._tx import audit_insert, audit_update, reading, require_reason, writing
from strokecell.trial.forms import stored_value, write_form
from strokecell.trial.meddra import MEDDRA_SOC
from strokecell.trial.views import AdverseEventView, SafetySignalView
from strokecell.trial.visits import enrolment_date, subject_death_date

__all__ = ["EXPEDITED_FATAL_DAYS", "EXPEDITED_OTHER_DAYS", "RELATED", "SERIOUS_CRITERIA",
           "SIGNAL_READERS", "acknowledge_signal", "death_date", "get_adverse_event",
           "list_adverse_events", "list_safety_signals", "mark_expedited_reported",
           "report_adverse_event", "update_adverse_event"]

_FORM = "adverse_event"
#: WHO-UMC causality categories counted as "related".
RELATED = frozenset({"possible", "probable", "definite"})
#: ICH E2A seriousness criteria, as the page's ``sc_*`` fields name them.
SERIOUS_CRITERIA = ("death", "life_threatening", "hospitalisation", "disability",
                    "congenital_anomaly", "important_medical_event")
EXPEDITED_FATAL_DAYS = 7   # ICH E2A III.A.1: fatal or life-threatening unexpected ADRs
EXPEDITED_OTHER_DAYS = 15  # ICH E2A III.A.2: all other serious (unexpected) ADRs
#: Roles that may read safety signals (monitoring, data management, cell lab).
SIGNAL_READERS = frozenset({Role.MONITOR, Role.DATA_MANAGER, Role.ADMIN, Role.CELL_LAB})


def _is_related(product: str, procedure: str) -> bool:
    return product in RELATED or procedure in RELATED


def _criteria(values: Mapping[str, Any]) -> list[str]:
    return [c for c in SERIOUS_CRITERIA if values.get(f"sc_{c}") is True]


def expedited_days(serious: bool, criteria: list[str] | tuple[str, ...], expected: bool,
                   related: bool) -> int | None:
    """7 or 15 calendar days (ICH E2A) for a serious event; None for a non-serious one."""
    if not serious:
        return None
    fatal = "death" in criteria or "life_threatening" in criteria
    return EXPEDITED_FATAL_DAYS if fatal and not expected and related else EXPEDITED_OTHER_DAYS


def _edit_checks(subject: m.Subject, consent: date | None, v: Mapping[str, Any],
                 today: date) -> list[Problem]:
    problems: list[Problem] = []
    if v["body_system"] not in MEDDRA_SOC:
        problems.append(Problem("body_system", "not a MedDRA system organ class",
                                v["body_system"], "; ".join(MEDDRA_SOC)))
    floor = consent or enrolment_date(subject)
    onset: date = v["onset_date"]
    if onset < floor:
        problems.append(Problem("onset_date", f"is before the informed consent ({floor}): "
                                "record it as medical history", str(onset), f"{floor} or later"))
    for name in ("onset_date", "resolution_date"):
        when = v.get(name)
        if when is not None and when > today:
            problems.append(Problem(name, "is in the future", str(when), f"{today} or earlier"))
    criteria = _criteria(v)
    if v["serious"] and not criteria:
        problems.append(Problem("serious", "a serious event needs at least one ICH E2A "
                                "criterion", True, ", ".join(f"sc_{c}" for c in
                                                             SERIOUS_CRITERIA)))
    fatal = v["outcome"] == "fatal"
    if (v["ctcae_grade"] == 5) != fatal:
        problems.append(Problem("ctcae_grade", "grade 5 (death) goes with outcome fatal, and "
                                "outcome fatal with grade 5", v["ctcae_grade"],
                                "5 with outcome fatal, 1-4 otherwise"))
    if fatal and "death" not in criteria:
        problems.append(Problem("sc_death", "a fatal event is serious with the death "
                                "criterion", v.get("sc_death"), "serious = true, sc_death = "
                                "true"))
    if "death" in criteria and not fatal:
        problems.append(Problem("outcome", "the death criterion needs outcome fatal",
                                v["outcome"], "fatal"))
    return problems


def _consent(s: Session, subject: m.Subject) -> date | None:
    if subject.screening_id is None:
        return None
    screening = s.get(m.Screening, subject.screening_id)
    return screening.consent_date if screening else None


def _fill(row: m.AdverseEvent, v: Mapping[str, Any]) -> None:
    criteria = _criteria(v)
    row.term = v["term"]
    row.body_system = v["body_system"]
    row.onset_date = v["onset_date"]
    row.resolution_date = v.get("resolution_date")
    row.ongoing = v["ongoing"]
    row.ctcae_grade = v["ctcae_grade"]
    row.serious = v["serious"]
    row.serious_criteria = criteria
    row.related_to_product = v["related_to_product"]
    row.related_to_procedure = v["related_to_procedure"]
    row.expected = v["expected"]
    row.action_taken = v["action_taken"]
    row.outcome = v["outcome"]
    row.expedited_report_required = bool(v["serious"])


def report_adverse_event(db: Engine, ctx: ServiceContext, subject_code: str,
                         items: Mapping[str, object]) -> AdverseEventView:
    """Report a new adverse event from a complete ``adverse_event`` page."""
    with writing(db) as s:
        scope = authorize(s, ctx, Action.REPORT_AE)
        subject = visible_subject(s, scope, subject_code, for_update=True)
        typed = {k: t.value for k, t in form_spec(_FORM).check(items, partial=False).items()}
        problems = _edit_checks(subject, _consent(s, subject), typed, ctx.local_now().date())
        if problems:
            raise InputError(problems, context=f"{subject_code} adverse event")
        number = int(s.scalar(select(func.coalesce(func.max(m.AdverseEvent.ae_number), 0))
                              .where(m.AdverseEvent.subject_id == subject.id)) or 0) + 1
        inst = write_form(s, scope, subject, _FORM, items, repeat_index=number)
        now = ctx.now()
        row = m.AdverseEvent(subject_id=subject.id, form_instance_id=inst.id,
                             protocol_version_id=inst.protocol_version_id, ae_number=number,
                             reported_at=now, reported_offset_min=ctx.offset_minutes,
                             reported_by_user_id=ctx.user_id)
        _fill(row, typed)
        audit_insert(s, scope, row, "adverse_events")
        _death(s, scope, subject, row, None)
        signals = evaluate_stopping_rules(s, scope, row)
        return ae_view(s, scope, subject, row, signals)


def update_adverse_event(db: Engine, ctx: ServiceContext, subject_code: str, ae_number: int,
                         items: Mapping[str, object], *, version: int,
                         reason: str) -> AdverseEventView:
    """Change an adverse event (follow-up information): the version read and a reason."""
    text = require_reason(reason, f"adverse event #{ae_number}")
    with writing(db) as s:
        scope = authorize(s, ctx, Action.REPORT_AE)
        subject = visible_subject(s, scope, subject_code, for_update=True)
        row = _ae(s, subject, ae_number)
        if version != row.version:
            raise ConflictError(f"version: adverse event #{ae_number} of {subject_code} is at "
                                f"version {row.version}, you edited version {version}; "
                                "reload it")
        inst = s.get(m.FormInstance, row.form_instance_id) if row.form_instance_id else None
        merged: dict[str, object] = {r.item_code: stored_value(r) for r in inst.items} \
            if inst else {}
        for key, value in items.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        typed = {k: t.value for k, t in form_spec(_FORM).check(merged, partial=False).items()}
        problems = _edit_checks(subject, _consent(s, subject), typed, ctx.local_now().date())
        if problems:
            raise InputError(problems, context=f"{subject_code} adverse event #{ae_number}")
        write_form(s, scope, subject, _FORM, items, repeat_index=ae_number,
                   version=inst.version if inst else None, reason=text)
        was_fatal = row.outcome == "fatal"
        _fill(row, typed)
        audit_update(s, scope, row, "adverse_events", text)
        _death(s, scope, subject, row, was_fatal)
        signals = evaluate_stopping_rules(s, scope, row)
        return ae_view(s, scope, subject, row, signals)


def _ae(s: Session, subject: m.Subject, number: int) -> m.AdverseEvent:
    row = s.scalars(select(m.AdverseEvent).where(m.AdverseEvent.subject_id == subject.id,
                                                 m.AdverseEvent.ae_number == number)).first()
    if row is None:
        raise NotFoundError(f"ae_number: {subject.subject_code} has no adverse event "
                            f"#{number}")
    return row


def _death(s: Session, scope: Scope, subject: m.Subject, row: m.AdverseEvent,
           was_fatal: bool | None) -> None:
    fatal = row.outcome == "fatal"
    if fatal and subject.status is not SubjectStatus.DIED:
        subject.status = SubjectStatus.DIED
        audit_update(s, scope, subject, "subjects",
                     f"death recorded in adverse event #{row.ae_number}")
    elif was_fatal and not fatal and subject.status is SubjectStatus.DIED \
            and death_date(s, subject) is None:
        randomized = s.scalars(select(m.SubjectAllocation.id).where(
            m.SubjectAllocation.subject_id == subject.id)).first() is not None
        subject.status = SubjectStatus.RANDOMIZED if randomized else SubjectStatus.ENROLLED
        audit_update(s, scope, subject, "subjects",
                     f"adverse event #{row.ae_number} corrected: not fatal")


def death_date(s: Session, subject: m.Subject) -> date | None:
    """The date of death from the subject's fatal adverse events (resolution or onset)."""
    return subject_death_date(s, subject.id)


def _first_administrations(s: Session, study_id: int) -> dict[int, date]:
    out: dict[int, date] = {}
    for subject_id, at, offset in s.execute(
            select(m.Administration.subject_id, m.Administration.administered_at,
                   m.Administration.administered_offset_min)
            .join(m.Subject, m.Subject.id == m.Administration.subject_id)
            .where(m.Subject.study_id == study_id)).all():
        day = at.astimezone(timezone(timedelta(minutes=offset))).date()
        if subject_id not in out or day < out[subject_id]:
            out[subject_id] = day
    return out


def rule_count(s: Session, study_id: int, rule: StoppingRule) -> int:
    """How many events of the study match ``rule`` now (deaths: how many subjects)."""
    rows = s.execute(select(m.AdverseEvent).join(
        m.Subject, m.Subject.id == m.AdverseEvent.subject_id)
        .where(m.Subject.study_id == study_id)).scalars().all()
    first = _first_administrations(s, study_id) if rule.within_days_of_administration else {}
    counted: set[object] = set()
    for ae in rows:
        if rule.count == "serious_adverse_event" and not ae.serious:
            continue
        if rule.count == "death" and ae.outcome != "fatal":
            continue
        if rule.related and not _is_related(ae.related_to_product, ae.related_to_procedure):
            continue
        if rule.min_grade is not None and ae.ctcae_grade < rule.min_grade:
            continue
        if rule.within_days_of_administration is not None:
            start = first.get(ae.subject_id)
            if start is None:
                continue
            days = (ae.onset_date - start).days
            if not 0 <= days <= rule.within_days_of_administration:
                continue
        counted.add(ae.subject_id if rule.count == "death" else ae.id)
    return len(counted)


def evaluate_stopping_rules(s: Session, scope: Scope,
                            row: m.AdverseEvent) -> list[m.SafetySignal]:
    """Evaluate every stopping rule of the protocol in force; write the signals that fire."""
    pv = current_version(s, scope.study_id)
    fired = []
    for rule in design_of(pv.yaml_text).protocol.stopping_rules:
        observed = rule_count(s, scope.study_id, rule)
        if observed < rule.threshold:
            continue
        last = s.scalar(select(func.max(m.SafetySignal.observed)).where(
            m.SafetySignal.study_id == scope.study_id,
            m.SafetySignal.rule_code == rule.code))
        if last is not None and observed <= last:
            continue
        signal = m.SafetySignal(
            study_id=scope.study_id, protocol_version_id=pv.id, rule_code=rule.code,
            description=f"{rule.label or rule.code}: {rule.text} (observed {observed})",
            observed=observed, threshold=rule.threshold, adverse_event_id=row.id,
            triggered_at=scope.ctx.now())
        audit_insert(s, scope, signal, "safety_signals")
        fired.append(signal)
    return fired


def _due(s: Session, row: m.AdverseEvent, days: int | None) -> date | None:
    if days is None:
        return None
    flagged = s.scalar(select(func.min(m.AuditLog.seq)).where(
        m.AuditLog.table_name == "adverse_events", m.AuditLog.row_key == str(row.id),
        m.AuditLog.field_name == "expedited_report_required", m.AuditLog.new_value == "true"))
    start: datetime = row.reported_at
    offset = row.reported_offset_min
    if flagged is not None:
        audit = s.get(m.AuditLog, flagged)
        if audit is not None:
            start, offset = audit.occurred_at, audit.offset_min
    return start.astimezone(timezone(timedelta(minutes=offset))).date() + timedelta(days=days)


def _signal_view(s: Session, scope: Scope, sig: m.SafetySignal) -> SafetySignalView:
    code = None
    if not scope.blinded and sig.adverse_event_id is not None:
        code = s.scalar(select(m.Subject.subject_code).join(
            m.AdverseEvent, m.AdverseEvent.subject_id == m.Subject.id)
            .where(m.AdverseEvent.id == sig.adverse_event_id))
    return SafetySignalView(sig.id, sig.rule_code, sig.description, sig.observed,
                            sig.threshold, sig.triggered_at, code, sig.acknowledged_at)


def ae_view(s: Session, scope: Scope, subject: m.Subject, row: m.AdverseEvent,
            signals: list[m.SafetySignal] | tuple[()] = ()) -> AdverseEventView:
    related = _is_related(row.related_to_product, row.related_to_procedure)
    criteria = tuple(str(c) for c in row.serious_criteria or [])
    days = expedited_days(row.serious, criteria, row.expected, related)
    inst = s.get(m.FormInstance, row.form_instance_id) if row.form_instance_id else None
    shown = tuple(_signal_view(s, scope, g) for g in signals) \
        if scope.role in SIGNAL_READERS else ()
    return AdverseEventView(
        subject.subject_code, row.ae_number, row.term, row.body_system, row.onset_date,
        row.resolution_date, row.ongoing, row.ctcae_grade, row.serious, criteria,
        row.related_to_product, row.related_to_procedure, related, row.expected,
        row.action_taken, row.outcome, row.expedited_report_required, days,
        _due(s, row, days), row.expedited_reported_at, row.reported_at, row.version,
        inst.version if inst else 0, shown)


def get_adverse_event(db: Engine, ctx: ServiceContext, subject_code: str,
                      ae_number: int) -> AdverseEventView:
    with reading(db) as s:
        scope = authorize(s, ctx, Action.READ_SUBJECTS)
        subject = visible_subject(s, scope, subject_code)
        return ae_view(s, scope, subject, _ae(s, subject, ae_number))


def list_adverse_events(db: Engine, ctx: ServiceContext,
                        subject_code: str | None = None) -> list[AdverseEventView]:
    """Adverse events of one subject, or of every subject at the caller's sites."""
    with reading(db) as s:
        scope = authorize(s, ctx, Action.READ_SUBJECTS)
        if subject_code is not None:
            subjects = [visible_subject(s, scope, subject_code)]
        else:
            subjects = list(s.scalars(select(m.Subject).where(
                m.Subject.study_id == scope.study_id, scope.site_filter(m.Subject.site_id))
                .order_by(m.Subject.subject_code)).all())
        out = []
        for subject in subjects:
            for row in s.scalars(select(m.AdverseEvent).where(
                    m.AdverseEvent.subject_id == subject.id)
                    .order_by(m.AdverseEvent.ae_number)).all():
                out.append(ae_view(s, scope, subject, row))
        return out


def mark_expedited_reported(db: Engine, ctx: ServiceContext, subject_code: str,
                            ae_number: int, *, version: int,
                            reported_at: datetime | None = None) -> AdverseEventView:
    """Record that the expedited report of a serious event was sent (default: now)."""
    with writing(db) as s:
        scope = authorize(s, ctx, Action.REPORT_AE)
        subject = visible_subject(s, scope, subject_code, for_update=True)
        row = _ae(s, subject, ae_number)
        if version != row.version:
            raise ConflictError(f"version: adverse event #{ae_number} is at version "
                                f"{row.version}, you edited version {version}; reload it")
        if not row.expedited_report_required:
            raise InputError(Problem("ae_number", "this event needs no expedited report (not "
                                     "serious)", ae_number, "a serious adverse event"))
        when = reported_at or ctx.now()
        if when.utcoffset() is None or when > ctx.now():
            raise InputError(Problem("reported_at", "must be timezone-aware and not in the "
                                     "future", str(when), "a past, timezone-aware time"))
        row.expedited_reported_at = when
        audit_update(s, scope, row, "adverse_events", "expedited report sent")
        return ae_view(s, scope, subject, row)


def _signal_reader(s: Session, ctx: ServiceContext) -> Scope:
    scope = authorize(s, ctx, Action.READ_STUDY)
    if scope.role not in SIGNAL_READERS:
        raise PermissionDeniedError(
            f"safety signals: not shown to role {scope.role.value}; allowed roles: "
            f"{', '.join(sorted(r.value for r in SIGNAL_READERS))}")
    return scope


def list_safety_signals(db: Engine, ctx: ServiceContext) -> list[SafetySignalView]:
    """Safety signals (stopping rules met) of the study; subject shown to unblinded only."""
    with reading(db) as s:
        scope = _signal_reader(s, ctx)
        rows = s.scalars(select(m.SafetySignal).where(
            m.SafetySignal.study_id == scope.study_id).order_by(m.SafetySignal.id)).all()
        return [_signal_view(s, scope, r) for r in rows]


def acknowledge_signal(db: Engine, ctx: ServiceContext, signal_id: int) -> SafetySignalView:
    """Record that a safety signal was seen (monitor, data manager, admin, cell lab)."""
    with writing(db) as s:
        scope = _signal_reader(s, ctx)
        sig = s.get(m.SafetySignal, signal_id)
        if sig is None or sig.study_id != scope.study_id:
            raise NotFoundError(f"signal_id: no safety signal #{signal_id}")
        if sig.acknowledged_at is not None:
            raise ConflictError(f"signal_id: signal #{signal_id} was acknowledged already")
        sig.acknowledged_at = ctx.now()
        sig.acknowledged_by_user_id = ctx.user_id
        audit_update(s, scope, sig, "safety_signals", "signal acknowledged")
        return _signal_view(s, scope, sig)
