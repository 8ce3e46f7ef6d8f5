"""Form entry: item by item, validated by the form's engine, scored when complete.

A save merges the given items into the form (``None`` clears an item), validates the whole
form as a partial one (every value on its grid, every decided rule), and stores it as
``incomplete`` or, when it validates as complete, ``complete`` with its derived values
(totals, bands, GCS ...) computed by the engine, never typed.

Concurrency: a save of an existing form must name the ``version`` it was read at; a stale
version is a ConflictError, not a silent overwrite. Reason for change (GCP): changing or
clearing an item that was saved before needs a ``reason``; adding items to a partial form
does not. Every insert, update and delete of the form, its items and its derived values is
audited in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, bindparam, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from strokecell.errors import (
    ConflictError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
    Problem,
)
from strokecell.store import FormStatus, ValueType
from strokecell.store import models as m
from strokecell.trial._authz import Action
from strokecell.trial._context import Scope, ServiceContext, authorize, visible_subject
from strokecell.trial._design import current_version, version_design
from strokecell.trial._formspec import (
    FormSpec,
    TypedValue,
    form_spec,
    study_form_codes,
    study_form_spec,
)
from strokecell.trial._guards import ensure_writable
from strokecell.trial._tx import (
    AuditBatch,
    reading,
    require_reason,
    writing,
)
from strokecell.trial.locks import invalidate_changed_signatures
from strokecell.trial.views import FormView
from strokecell.trial.visits import enrolment_date, parse_date

__all__ = ["SCREENING_DAYS", "form_view", "get_form", "list_forms", "save_form", "stored_value",
           "write_form"]

SCREENING_DAYS = 30

_COLUMNS = ("value_int", "value_num", "value_text", "value_date", "value_datetime",
            "value_bool")
_COLUMN_OF = {ValueType.INTEGER: "value_int", ValueType.DECIMAL: "value_num",
              ValueType.TEXT: "value_text", ValueType.CODE: "value_text",
              ValueType.DATE: "value_date", ValueType.DATETIME: "value_datetime",
              ValueType.BOOLEAN: "value_bool"}


def stored_value(row: m.ItemValue) -> Any:
    """The typed value of an item row (the column its ``value_type`` names)."""
    return getattr(row, _COLUMN_OF[row.value_type])


def _not_found(form_code: str) -> NotFoundError:
    # Same words whether the form does not exist or is hidden from a blinded role.
    return NotFoundError(f"form_code: no form {form_code!r} here among those you can see")


def _spec_for(scope: Scope, form_code: str, *, writing_: bool,
              session: Session | None = None) -> FormSpec:
    # Reading (with the session): the study's imported forms too; they are written through
    # imported_forms.save_imported_form.
    spec = form_spec(form_code) if session is None else study_form_spec(
        session, scope.study_id, form_code)
    if spec.unblinded_only and scope.blinded:
        if writing_:
            raise PermissionDeniedError(f"{form_code}: only unblinded roles may enter it")
        raise _not_found(form_code)
    if writing_ and scope.role not in spec.roles:
        raise PermissionDeniedError(
            f"{form_code}: not entered by role {scope.role.value}; allowed roles: "
            f"{', '.join(r.value for r in spec.roles)}")
    return spec


def _visit(s: Session, subject: m.Subject, code: str | None) -> m.Visit | None:
    if code is None:
        return None
    visit = s.scalars(_VISIT, {"subject_id": subject.id, "code": code}).first()
    if visit is None:
        raise NotFoundError(f"visit_code: no visit {code!r} for {subject.subject_code}; "
                            f"visits: {', '.join(v.visit_code for v in subject.visits)}")
    return visit


# Built once (every save runs them; building costs more than running them on SQLite).
_VISIT = select(m.Visit).where(m.Visit.subject_id == bindparam("subject_id"),
                               m.Visit.visit_code == bindparam("code"))
_INSTANCE = select(m.FormInstance).where(
    m.FormInstance.subject_id == bindparam("subject_id"),
    m.FormInstance.form_code == bindparam("form_code"),
    m.FormInstance.repeat_index == bindparam("repeat"))
_INSTANCES = {
    (at_visit, lock): (stmt.with_for_update() if lock else stmt)
    for at_visit in (False, True) for lock in (False, True)
    for stmt in [_INSTANCE.where(m.FormInstance.visit_id == bindparam("visit_id"))
                 if at_visit else _INSTANCE.where(m.FormInstance.visit_id.is_(None))]}


def _instance(s: Session, subject: m.Subject, visit: m.Visit | None, form_code: str,
              repeat: int, *, lock: bool = False) -> m.FormInstance | None:
    params: dict[str, object] = {"subject_id": subject.id, "form_code": form_code,
                                 "repeat": repeat}
    if visit is not None:
        params["visit_id"] = visit.id
    return s.scalars(_INSTANCES[visit is not None, lock], params).first()


def save_form(db: Engine, ctx: ServiceContext, subject_code: str, form_code: str,
              items: Mapping[str, object], *, visit_code: str | None = None,
              repeat_index: int = 1, version: int | None = None, reason: str | None = None,
              assessment_date: date | str | None = None) -> FormView:
    """Save items of a form (first save: ``version=None``; later: the version read)."""
    with writing(db) as s:
        scope = authorize(s, ctx, Action.ENTER_FORM)
        spec = _spec_for(scope, form_code, writing_=True)
        subject = visible_subject(s, scope, subject_code)
        inst, visit, protocol = _write_form(s, scope, subject, form_code, items,
                                            visit_code=visit_code, repeat_index=repeat_index,
                                            version=version, reason=reason,
                                            assessment_date=assessment_date)
        return _view(s, subject, visit, inst, spec, protocol)


def write_form(s: Session, scope: Scope, subject: m.Subject, form_code: str,
               items: Mapping[str, object], *, visit_code: str | None = None,
               repeat_index: int = 1, version: int | None = None, reason: str | None = None,
               assessment_date: date | str | None = None) -> m.FormInstance:
    """:func:`save_form` inside the caller's transaction, for services that write a CRF
    page together with a typed row (adverse events, administrations): the caller has
    authorized its own action and found the subject with :func:`visible_subject`."""
    return _write_form(s, scope, subject, form_code, items, visit_code=visit_code,
                       repeat_index=repeat_index, version=version, reason=reason,
                       assessment_date=assessment_date)[0]


def _write_form(s: Session, scope: Scope, subject: m.Subject, form_code: str,
                items: Mapping[str, object], *, visit_code: str | None,
                repeat_index: int, version: int | None, reason: str | None,
                assessment_date: date | str | None,
                ) -> tuple[m.FormInstance, m.Visit | None, tuple[int, str]]:
    """Write the form; with the (id, label) of the protocol version it was saved under."""
    ctx = scope.ctx
    subject_code = subject.subject_code
    if not isinstance(items, Mapping) or not items:
        raise InputError(Problem("items", "nothing to save", items, "item code -> value"))
    spec = _spec_for(scope, form_code, writing_=True)
    visit = _visit(s, subject, visit_code)
    label = _check_place(s, subject, spec, visit_code, repeat_index)
    protocol = (subject.protocol_version_id, label)
    inst = _instance(s, subject, visit, form_code, repeat_index, lock=True)
    ensure_writable(s, scope.study_id, subject, visit, inst)
    if inst is None and version is not None:
        raise ConflictError(f"version: {form_code} has not been saved yet (you gave "
                            f"version {version}); save it without a version")
    if inst is not None and version != inst.version:
        raise ConflictError(f"version: {form_code} of {subject_code} is at version "
                            f"{inst.version}, you edited version {version}; reload it")
    old = {r.item_code: r for r in inst.items} if inst else {}
    if inst is not None:
        inst.derived  # noqa: B018 - load it now: a load after the changes below would flush
    merged: dict[str, object] = {k: stored_value(r) for k, r in old.items()}
    for key, value in items.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    typed = spec.check(merged, partial=True)  # InputError/ScoringError: nothing written
    changed = [k for k in items if k in old and (items[k] is None or typed[k].value
                                                   != stored_value(old[k]))]
    unknown_clear = [k for k, v in items.items() if v is None and k not in old]
    if unknown_clear:
        raise InputError([Problem(k, "cannot clear an item that was never saved", None)
                          for k in unknown_clear], context=form_code)
    text = require_reason(reason, f"saved items of {form_code}") if changed else None
    when = _assessment(subject, assessment_date, ctx)
    complete = spec.is_complete(merged)
    derived = spec.complete(merged) if complete else []
    now = ctx.now()
    batch = AuditBatch(s, scope)
    if inst is None:
        pv = current_version(s, scope.study_id)
        protocol = (pv.id, pv.version_label)
        inst = m.FormInstance(
            subject_id=subject.id, visit_id=visit.id if visit else None,
            protocol_version_id=pv.id, form_code=form_code,
            instrument_code=spec.instrument_code, instrument_version=spec.version,
            repeat_index=repeat_index,
            status=FormStatus.COMPLETE if complete else FormStatus.INCOMPLETE,
            assessment_date=when, created_at=now, created_offset_min=ctx.offset_minutes,
            created_by_user_id=ctx.user_id, updated_at=now,
            updated_offset_min=ctx.offset_minutes, updated_by_user_id=ctx.user_id,
            items=[], derived=[])
        batch.insert(inst, "form_instances")
    else:
        inst.status = FormStatus.COMPLETE if complete else FormStatus.INCOMPLETE
        if when is not None:
            inst.assessment_date = when
        inst.updated_at = now
        inst.updated_offset_min = ctx.offset_minutes
        inst.updated_by_user_id = ctx.user_id
        # Every save moves the version on (one UPDATE), even one that changes only item
        # rows, so that a writer holding the previous version is refused.
        flag_modified(inst, "updated_at")
        batch.update(inst, "form_instances", text or "items added")
    _write_items(batch, inst, old, items, typed, text)
    _write_derived(batch, inst, derived, now, text)
    # One flush for the form, its items and derived values, then their audit rows; the
    # collections were kept up to date in memory (new rows appended, removed rows taken
    # out), so the view needs no reload.
    batch.write()
    invalidate_changed_signatures(s, scope, subject, f"{form_code} saved")
    return inst, visit, protocol


def form_view(s: Session, subject: m.Subject, inst: m.FormInstance) -> FormView:
    """The view of a saved form (items, derived values, status, version)."""
    visit = s.get(m.Visit, inst.visit_id) if inst.visit_id is not None else None
    return _view(s, subject, visit, inst, form_spec(inst.form_code))


def _check_place(s: Session, subject: m.Subject, spec: FormSpec, visit_code: str | None,
                 repeat: int) -> str:
    """Whether the form belongs where it is saved; the subject's protocol version label."""
    label, design = version_design(s, subject.protocol_version_id)
    planned = design.forms_at(visit_code)
    problems: list[Problem] = []
    if spec.code not in planned:
        where = f"visit {visit_code}" if visit_code else "outside a visit"
        problems.append(Problem("form_code", f"{spec.code} is not collected {where}",
                                spec.code, ", ".join(planned)))
    if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 1 \
            or (repeat > 1 and not spec.repeating):
        problems.append(Problem("repeat_index", f"{spec.code} "
                                f"{'repeats' if spec.repeating else 'does not repeat'}",
                                repeat, "1, 2, 3 ..." if spec.repeating else "1"))
    if problems:
        raise InputError(problems, context=subject.subject_code)
    return label


def _assessment(subject: m.Subject, value: date | str | None, ctx: ServiceContext,
                ) -> date | None:
    if value is None:
        return None
    when = parse_date(value, "assessment_date")
    enrolled, today = enrolment_date(subject), ctx.local_now().date()
    # Screening-time pages (consent, eligibility, baseline scales) may predate enrolment,
    # by the screening period at most.
    floor = enrolled - timedelta(days=SCREENING_DAYS)
    if when > today:
        raise InputError(Problem("assessment_date", "is in the future", str(when),
                                 f"{today} or earlier"))
    if when < floor:
        raise InputError(Problem("assessment_date", f"is before enrolment ({enrolled}) by "
                                 f"more than the {SCREENING_DAYS}-day screening period",
                                 str(when), f"{floor} or later"))
    return when


def _assign(row: m.ItemValue, tv: TypedValue) -> None:
    row.value_type = tv.value_type
    row.raw_text = tv.raw_text
    row.unit = tv.unit
    row.missing_reason = None
    for column in _COLUMNS:
        setattr(row, column, None)
    value = tv.value
    if isinstance(value, datetime):  # stored in UTC: keep in memory what a reload gives
        value = value.astimezone(UTC)
    setattr(row, _COLUMN_OF[tv.value_type], value)


def _write_items(batch: AuditBatch, inst: m.FormInstance, old: dict[str, m.ItemValue],
                 items: Mapping[str, object], typed: Mapping[str, TypedValue],
                 reason: str | None) -> None:
    for key, value in items.items():
        row = old.get(key)
        if value is None and row is not None:
            inst.items.remove(row)
            batch.delete(row, "item_values", reason or "cleared")
        elif row is None:
            row = m.ItemValue(item_code=key)
            _assign(row, typed[key])
            inst.items.append(row)
            batch.insert(row, "item_values")
        else:
            _assign(row, typed[key])
            batch.update(row, "item_values", reason or "re-entered")


def _write_derived(batch: AuditBatch, inst: m.FormInstance, derived: list[Any],
                   now: datetime, reason: str | None) -> None:
    old = {d.param_code: d for d in inst.derived}
    why = f"recomputed from the items ({reason})" if reason else "recomputed from the items"
    new = {d.param: d for d in derived}
    for param, gone in old.items():
        if param not in new:
            inst.derived.remove(gone)
            batch.delete(gone, "derived_values", why)
    for param, d in new.items():
        row = old.get(param)
        if row is None:
            row = m.DerivedValue(param_code=param, value_num=d.num, value_text=d.text,
                                 engine=d.engine, computed_at=now)
            inst.derived.append(row)
            batch.insert(row, "derived_values")
        elif (row.value_num, row.value_text) != (d.num, d.text):
            row.value_num, row.value_text, row.engine = d.num, d.text, d.engine
            row.computed_at = now
            batch.update(row, "derived_values", why)


def _view(s: Session, subject: m.Subject, visit: m.Visit | None, inst: m.FormInstance,
          spec: FormSpec, version: tuple[int, str] | None = None) -> FormView:
    """``version``: (id, label) of a protocol version, used if it is the form's."""
    if version is None or version[0] != inst.protocol_version_id:
        version = (inst.protocol_version_id,
                   version_design(s, inst.protocol_version_id)[0])
    values = {r.item_code: stored_value(r) for r in inst.items}
    problems: tuple[str, ...] = ()
    if inst.status is FormStatus.INCOMPLETE:
        try:
            spec.check(values, partial=False)
        except InputError as exc:
            problems = tuple(str(p) for p in exc.problems)
    derived = {d.param_code: d.value_num if d.value_text is None else d.value_text
               for d in inst.derived}
    return FormView(subject.subject_code, inst.form_code, visit.visit_code if visit else None,
                    inst.repeat_index, inst.status.value, inst.version,
                    version[1], inst.assessment_date, values,
                    {r.item_code: r.raw_text for r in inst.items}, derived, problems)


def get_form(db: Engine, ctx: ServiceContext, subject_code: str, form_code: str, *,
             visit_code: str | None = None, repeat_index: int = 1) -> FormView:
    """One form with its items, derived values, status and version (to save against)."""
    with reading(db) as s:
        scope = authorize(s, ctx, Action.READ_SUBJECTS)
        subject = visible_subject(s, scope, subject_code)
        if form_code not in study_form_codes(s, scope.study_id):
            raise _not_found(form_code)
        spec = _spec_for(scope, form_code, writing_=False, session=s)
        visit = _visit(s, subject, visit_code)
        inst = _instance(s, subject, visit, form_code, repeat_index)
        if inst is None:
            raise _not_found(form_code)
        return _view(s, subject, visit, inst, spec)


def list_forms(db: Engine, ctx: ServiceContext, subject_code: str) -> list[FormView]:
    """Every saved form of a subject the caller may see (unblinded pages hidden if blinded)."""
    with reading(db) as s:
        scope = authorize(s, ctx, Action.READ_SUBJECTS)
        subject = visible_subject(s, scope, subject_code)
        visits = {v.id: v for v in subject.visits}
        out = []
        for inst in s.scalars(select(m.FormInstance).where(
                m.FormInstance.subject_id == subject.id).order_by(m.FormInstance.id)).all():
            spec = study_form_spec(s, scope.study_id, inst.form_code)
            if spec.unblinded_only and scope.blinded:
                continue
            out.append(_view(s, subject, visits.get(inst.visit_id or -1), inst, spec))
        return out
