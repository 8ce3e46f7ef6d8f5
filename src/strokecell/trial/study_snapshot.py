"""The whole study as an exporter needs it, read in one transaction (export role).

:func:`study_snapshot` returns subjects (site, status, visits), every form the caller may see
with its items (typed value, text as entered, unit, the last audit row: user, time, reason),
derived values and a valid form signature, the sites, the users holding a role in the study,
the protocol text, the visit plan and the imported design (None for a protocol-only study).
Blinded like the analysis export: no arm, no page only unblinded roles see.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from strokecell.errors import NotFoundError
from strokecell.instruments import list_instruments
from strokecell.store import AuditAction
from strokecell.store import models as m
from strokecell.trial._authz import Action
from strokecell.trial._context import ServiceContext, authorize
from strokecell.trial._design import design_of
from strokecell.trial._formspec import form_codes, form_spec
from strokecell.trial._tx import reading
from strokecell.trial.forms import stored_value
from strokecell.trial.imported_forms import ImportedDesign

__all__ = ["SnapshotForm", "SnapshotItem", "SnapshotSubject", "StudySnapshot",
           "study_snapshot"]


@dataclass(frozen=True)
class SnapshotItem:
    code: str
    value_type: str
    value: Any
    raw_text: str | None
    unit: str | None
    audit_user: str | None = None
    audit_at: datetime | None = None
    audit_reason: str | None = None


@dataclass(frozen=True)
class SnapshotForm:
    form_code: str
    kind: str  # scale, crf, imported
    visit_code: str | None
    repeat_index: int
    status: str
    items: tuple[SnapshotItem, ...]
    derived: Mapping[str, float | str | None]
    signed_by: str | None = None
    signed_at: datetime | None = None


@dataclass(frozen=True)
class SnapshotSubject:
    code: str
    site_code: str
    status: str
    enrolled: date
    visits: tuple[tuple[str, str, int, date, date | None], ...]  # code, name, number, exp, act
    forms: tuple[SnapshotForm, ...]
    arm: str | None = None


@dataclass(frozen=True)
class StudySnapshot:
    """The whole study as the caller may export it (blinded: no arm, no unblinded page)."""

    study_code: str
    title: str
    protocol_text: str
    design: ImportedDesign | None
    sites: tuple[tuple[str, str], ...]
    users: tuple[tuple[str, str], ...]  # username, full name
    subjects: tuple[SnapshotSubject, ...]
    blinded: bool = True
    visit_plan: tuple[tuple[str, str, int, int, tuple[str, ...]], ...] = field(default=())


def study_snapshot(db: Engine, ctx: ServiceContext) -> StudySnapshot:
    """Everything an export writes, read in one transaction (export role; site filter)."""
    with reading(db) as s:
        scope = authorize(s, ctx, Action.EXPORT)
        study = s.get(m.Study, ctx.study_id)
        if study is None:
            raise NotFoundError(f"study #{ctx.study_id} does not exist")
        pv_first = s.scalars(select(m.ProtocolVersion).where(
            m.ProtocolVersion.study_id == study.id).order_by(m.ProtocolVersion.id)).first()
        pv_last = s.scalars(select(m.ProtocolVersion).where(
            m.ProtocolVersion.study_id == study.id)
            .order_by(m.ProtocolVersion.id.desc())).first()
        if pv_first is None or pv_last is None:
            raise NotFoundError("the study has no protocol version")
        design = ImportedDesign.from_note(pv_first.note)
        plan = design_of(pv_last.yaml_text)
        sites = {x.id: x for x in s.scalars(select(m.Site).where(
            m.Site.study_id == study.id).order_by(m.Site.code)).all()}
        users = {u.id: u for u in s.scalars(select(m.User)).all()}
        assigned = {r.user_id for r in s.scalars(select(m.RoleAssignment).where(
            m.RoleAssignment.study_id == study.id)).all()}
        last_audit = _last_item_audit(s, study.id)
        signatures = _form_signatures(s, study.id, users)
        out: list[SnapshotSubject] = []
        for subj in s.scalars(select(m.Subject).where(
                m.Subject.study_id == study.id, scope.site_filter(m.Subject.site_id))
                .order_by(m.Subject.id)).all():
            visits = {v.id: v for v in subj.visits}
            forms: list[SnapshotForm] = []
            for inst in s.scalars(select(m.FormInstance).where(
                    m.FormInstance.subject_id == subj.id).order_by(m.FormInstance.id)).all():
                kind = "imported" if design and design.form(inst.form_code) else (
                    "scale" if inst.form_code in list_instruments() else "crf")
                if kind == "crf" and inst.form_code in form_codes() and scope.blinded \
                        and form_spec(inst.form_code).unblinded_only:
                    continue
                items = []
                for r in sorted(inst.items, key=lambda r: r.id):
                    who = last_audit.get(str(r.id))
                    items.append(SnapshotItem(
                        r.item_code, r.value_type.value, stored_value(r), r.raw_text, r.unit,
                        who[0] if who else None, who[1] if who else None,
                        who[2] if who else None))
                visit = visits.get(inst.visit_id or -1)
                sig = signatures.get(inst.id)
                forms.append(SnapshotForm(
                    inst.form_code, kind, visit.visit_code if visit else None,
                    inst.repeat_index, inst.status.value, tuple(items),
                    {d.param_code: d.value_num if d.value_text is None else d.value_text
                     for d in inst.derived}, sig[0] if sig else None, sig[1] if sig else None))
            out.append(SnapshotSubject(
                subj.subject_code, sites[subj.site_id].code, subj.status.value,
                subj.enrolled_at.date(),
                tuple((v.visit_code, v.visit_name, v.visit_number, v.expected_date,
                       v.actual_date) for v in sorted(subj.visits,
                                                      key=lambda v: v.visit_number)),
                tuple(forms)))
        return StudySnapshot(
            study.code, study.title, pv_last.yaml_text, design,
            tuple((x.code, x.name) for x in sites.values()),
            tuple((users[u].username, users[u].full_name) for u in sorted(assigned)),
            tuple(out), scope.blinded,
            tuple((v.code, v.label, v.number, v.target_day, v.forms) for v in plan.visits))


def _last_item_audit(s: Session, study_id: int) -> dict[str, tuple[str, datetime, str | None]]:
    out: dict[str, tuple[str, datetime, str | None]] = {}
    for entry in s.scalars(select(m.AuditLog).where(
            m.AuditLog.study_id == study_id, m.AuditLog.table_name == "item_values",
            m.AuditLog.action.in_((AuditAction.INSERT, AuditAction.UPDATE)))
            .order_by(m.AuditLog.seq)).all():
        out[entry.row_key] = (entry.username, entry.occurred_at, entry.reason)
    return out


def _form_signatures(s: Session, study_id: int, users: Mapping[int, m.User],
                     ) -> dict[int, tuple[str, datetime]]:
    out: dict[int, tuple[str, datetime]] = {}
    for sig in s.scalars(select(m.Signature).where(
            m.Signature.study_id == study_id, m.Signature.form_instance_id.is_not(None),
            m.Signature.invalidated_at.is_(None)).order_by(m.Signature.id)).all():
        user = users.get(sig.user_id)
        if sig.form_instance_id is not None:
            out[sig.form_instance_id] = (user.username if user else "?", sig.signed_at)
    return out
