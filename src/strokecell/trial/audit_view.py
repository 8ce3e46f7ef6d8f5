"""Reading the audit trail of one record: who changed what, when, and why.

Read-only. The record is a form (the form instance, its items and derived values) or a
subject (the subject row, its visits and its allocation). Reading needs ``read_audit``
(monitor, data manager, admin); site isolation as everywhere (another site's subject is
reported exactly like a subject that does not exist), and blinding: the rows of
:data:`~strokecell.trial.CONCEALED_AUDIT` and the forms only unblinded roles see are hidden
from blinded readers, like a form that does not exist.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, or_, select
from sqlalchemy.orm import Session

from strokecell.errors import NotFoundError
from strokecell.store import models as m
from strokecell.trial._authz import CONCEALED_AUDIT, Action
from strokecell.trial._context import Scope, ServiceContext, authorize, visible_subject
from strokecell.trial._formspec import study_form_codes, unblinded_only_form
from strokecell.trial._tx import reading

__all__ = ["AuditRowView", "form_audit", "subject_audit"]


@dataclass(frozen=True)
class AuditRowView:
    seq: int
    occurred_at: datetime
    offset_min: int
    username: str
    role: str
    table: str
    row_key: str
    action: str
    field: str | None
    old_value: str | None
    new_value: str | None
    reason: str | None
    item_code: str | None = None  # for item and derived-value rows: which item or PARAMCD


def _hidden(scope: Scope, row: m.AuditLog) -> bool:
    if not scope.blinded:
        return False
    return (row.table_name, None) in CONCEALED_AUDIT or \
        (row.table_name, row.field_name) in CONCEALED_AUDIT


def _views(scope: Scope, rows: Sequence[m.AuditLog]) -> list[AuditRowView]:
    names: dict[tuple[str, str], str] = {}
    for r in rows:
        if r.field_name in ("item_code", "param_code") and r.new_value is not None:
            names[(r.table_name, r.row_key)] = r.new_value
        elif r.field_name in ("item_code", "param_code") and r.old_value is not None:
            names.setdefault((r.table_name, r.row_key), r.old_value)
    return [AuditRowView(r.seq, r.occurred_at, r.offset_min, r.username, r.role, r.table_name,
                         r.row_key, r.action.value, r.field_name, r.old_value, r.new_value,
                         r.reason, names.get((r.table_name, r.row_key)))
            for r in rows if not _hidden(scope, r)]


def _rows(s: Session, study_id: int, keys: Iterable[tuple[str, str]]) -> list[m.AuditLog]:
    by_table: dict[str, set[str]] = {}
    for table, key in keys:
        by_table.setdefault(table, set()).add(key)
    if not by_table:
        return []
    clauses = [(m.AuditLog.table_name == t) & m.AuditLog.row_key.in_(sorted(k))
               for t, k in by_table.items()]
    return list(s.scalars(select(m.AuditLog).where(m.AuditLog.study_id == study_id,
                                                   or_(*clauses))
                          .order_by(m.AuditLog.seq)).all())


def _children(s: Session, study_id: int, tables: Sequence[str], field: str,
              parent: str) -> set[tuple[str, str]]:
    """Row keys of audited rows of ``tables`` whose ``field`` was ``parent`` (also rows
    deleted since: the trail keeps their last values)."""
    found = s.execute(select(m.AuditLog.table_name, m.AuditLog.row_key).where(
        m.AuditLog.study_id == study_id, m.AuditLog.table_name.in_(tables),
        m.AuditLog.field_name == field,
        or_(m.AuditLog.new_value == parent, m.AuditLog.old_value == parent))).all()
    return {(t, k) for t, k in found}


def form_audit(db: Engine, ctx: ServiceContext, subject_code: str, form_code: str, *,
               visit_code: str | None = None, repeat_index: int = 1) -> list[AuditRowView]:
    """The audit trail of one form of a subject, oldest first."""
    with reading(db) as s:
        scope = authorize(s, ctx, Action.READ_AUDIT)
        subject = visible_subject(s, scope, subject_code)
        missing = NotFoundError(f"form_code: no form {form_code!r} here among those you "
                                "can see")
        if form_code not in study_form_codes(s, scope.study_id) or (
                unblinded_only_form(form_code) and scope.blinded):
            raise missing
        visit = next((v for v in subject.visits if v.visit_code == visit_code), None)
        if visit_code is not None and visit is None:
            raise NotFoundError(f"visit_code: no visit {visit_code!r} for {subject_code}")
        inst = s.scalars(select(m.FormInstance).where(
            m.FormInstance.subject_id == subject.id, m.FormInstance.form_code == form_code,
            m.FormInstance.repeat_index == repeat_index,
            m.FormInstance.visit_id.is_(None) if visit is None
            else m.FormInstance.visit_id == visit.id)).first()
        if inst is None:
            raise missing
        key = str(inst.id)
        keys = {("form_instances", key)} | _children(
            s, scope.study_id, ("item_values", "derived_values"), "form_instance_id", key)
        return _views(scope, _rows(s, scope.study_id, keys))


def subject_audit(db: Engine, ctx: ServiceContext, subject_code: str) -> list[AuditRowView]:
    """The audit trail of a subject's own record: the subject row, its visits, its
    allocation (the arm hidden from blinded readers), oldest first."""
    with reading(db) as s:
        scope = authorize(s, ctx, Action.READ_AUDIT)
        subject = visible_subject(s, scope, subject_code)
        keys = {("subjects", str(subject.id))}
        keys |= {("visits", str(v.id)) for v in subject.visits}
        keys |= {("allocations", str(a)) for a in s.scalars(
            select(m.SubjectAllocation.id).where(m.SubjectAllocation.subject_id == subject.id))}
        return _views(scope, _rows(s, scope.study_id, keys))
