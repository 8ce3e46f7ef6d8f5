"""Reading subjects: one subject or the list, only at the caller's sites, arm masked."""

from __future__ import annotations

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from strokecell.store import models as m
from strokecell.trial._authz import Action
from strokecell.trial._context import Scope, ServiceContext, authorize, visible_subject
from strokecell.trial._tx import reading
from strokecell.trial.views import SubjectView, arm_shown

__all__ = ["get_subject", "list_subjects", "subject_view"]


def subject_view(s: Session, scope: Scope, subject: m.Subject) -> SubjectView:
    """The view of ``subject`` for ``scope`` (the one place subjects are turned into views)."""
    site = s.get(m.Site, subject.site_id)
    pv = s.get(m.ProtocolVersion, subject.protocol_version_id)
    found = s.execute(select(m.SubjectAllocation.sequence_number, m.Arm.code)
                      .join(m.Arm, m.Arm.id == m.SubjectAllocation.arm_id)
                      .where(m.SubjectAllocation.subject_id == subject.id)).first()
    sequence, arm_code = (found[0], found[1]) if found else (None, None)
    shown, label = arm_shown(scope, arm_code, sequence)
    return SubjectView(subject.subject_code, site.code if site else "?", subject.status.value,
                       subject.enrolled_at, subject.anchor_date, dict(subject.strata or {}),
                       found is not None, sequence, shown, label,
                       pv.version_label if pv else "?", subject.version)


def get_subject(db: Engine, ctx: ServiceContext, subject_code: str) -> SubjectView:
    """One subject of the caller's sites (another site's subject: NotFoundError)."""
    with reading(db) as s:
        scope = authorize(s, ctx, Action.READ_SUBJECTS)
        return subject_view(s, scope, visible_subject(s, scope, subject_code))


def list_subjects(db: Engine, ctx: ServiceContext) -> list[SubjectView]:
    """The subjects of the caller's sites, by subject id."""
    with reading(db) as s:
        scope = authorize(s, ctx, Action.READ_SUBJECTS)
        rows = s.scalars(select(m.Subject).where(m.Subject.study_id == ctx.study_id,
                                                 scope.site_filter(m.Subject.site_id))
                         .order_by(m.Subject.subject_code)).all()
        return [subject_view(s, scope, row) for row in rows]
