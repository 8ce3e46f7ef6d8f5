"""Whether clinical data may still be written: study status and record locks.

Every service that writes a subject's data calls :func:`ensure_writable` inside its
transaction. A closed or locked study, or an active lock (``record_locks`` with no
``unlocked_at``) on the study, the subject's casebook, the visit or the form, refuses the
write with a ConflictError. The lock service (part B) only has to create and release
``record_locks`` rows; the check is already here.
"""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from strokecell.errors import ConflictError
from strokecell.store import LockScope, StudyStatus
from strokecell.store import models as m

__all__ = ["ensure_writable"]


def ensure_writable(s: Session, study_id: int, subject: m.Subject | None = None,
                    visit: m.Visit | None = None, form: m.FormInstance | None = None) -> None:
    """Refuse the write if the study or any enclosing record is locked."""
    targets = [m.RecordLock.scope == LockScope.STUDY]
    if subject is not None:
        targets.append((m.RecordLock.scope == LockScope.SUBJECT)
                       & (m.RecordLock.subject_id == subject.id))
    if visit is not None:
        targets.append((m.RecordLock.scope == LockScope.VISIT)
                       & (m.RecordLock.visit_id == visit.id))
    if form is not None:
        targets.append((m.RecordLock.scope == LockScope.FORM)
                       & (m.RecordLock.form_instance_id == form.id))
    # The study's status and the first active lock over the target, in one query.
    lock_id = (select(m.RecordLock.id)
               .where(m.RecordLock.study_id == study_id, m.RecordLock.unlocked_at.is_(None),
                      or_(*targets))
               .order_by(m.RecordLock.id).limit(1).scalar_subquery())
    row = s.execute(select(m.Study.code, m.Study.status, lock_id)
                    .where(m.Study.id == study_id)).one_or_none()
    if row is None:
        return
    code, status, found = row
    if status in (StudyStatus.LOCKED, StudyStatus.CLOSED):
        raise ConflictError(f"study: {code} is {status.value}; no data can be changed")
    lock = s.get(m.RecordLock, found) if found is not None else None
    if lock is not None:
        what = {LockScope.STUDY: "the study", LockScope.SUBJECT: "the subject's casebook",
                LockScope.VISIT: "the visit", LockScope.FORM: "the form"}[lock.scope]
        raise ConflictError(f"lock: {what} is locked (since {lock.locked_at:%Y-%m-%d}); "
                            "ask the data manager to unlock it, with a reason")
