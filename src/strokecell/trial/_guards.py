"""Whether clinical data may still be written: study status and record locks.

Every service that writes a subject's data calls :func:`ensure_writable` inside its
transaction. A closed or locked study, or an active lock (``record_locks`` with no
``unlocked_at``) on the study, the subject's casebook, the visit or the form, refuses the
write with a ConflictError. The lock service (part B) only has to create and release
``record_locks`` rows; the check is already here.
"""

from __future__ import annotations

from itertools import product
from typing import Any

from sqlalchemy import Select, bindparam, or_, select
from sqlalchemy.orm import Session

from strokecell.errors import ConflictError
from strokecell.store import LockScope, StudyStatus
from strokecell.store import models as m

__all__ = ["ensure_writable"]


def _status_and_lock(subject: bool, visit: bool, form: bool) -> Select[Any]:
    # The study's status and the first active lock over the target, in one query.
    lock = m.RecordLock
    targets = [lock.scope == LockScope.STUDY]
    if subject:
        targets.append((lock.scope == LockScope.SUBJECT)
                       & (lock.subject_id == bindparam("subject_id")))
    if visit:
        targets.append((lock.scope == LockScope.VISIT) & (lock.visit_id == bindparam("visit_id")))
    if form:
        targets.append((lock.scope == LockScope.FORM)
                       & (lock.form_instance_id == bindparam("form_id")))
    lock_id = (select(lock.id)
               .where(lock.study_id == bindparam("study_id"), lock.unlocked_at.is_(None),
                      or_(*targets))
               .order_by(lock.id).limit(1).scalar_subquery())
    return select(m.Study.code, m.Study.status, lock_id).where(
        m.Study.id == bindparam("study_id"))


# Built once per combination of targets: every write of clinical data runs one.
_CHECKS = {key: _status_and_lock(*key) for key in product((False, True), repeat=3)}


def ensure_writable(s: Session, study_id: int, subject: m.Subject | None = None,
                    visit: m.Visit | None = None, form: m.FormInstance | None = None) -> None:
    """Refuse the write if the study or any enclosing record is locked."""
    params: dict[str, int] = {"study_id": study_id}
    if subject is not None:
        params["subject_id"] = subject.id
    if visit is not None:
        params["visit_id"] = visit.id
    if form is not None:
        params["form_id"] = form.id
    key = (subject is not None, visit is not None, form is not None)
    row = s.execute(_CHECKS[key], params).one_or_none()
    if row is None:
        return
    code, status, found = row
    # An active lock first: it says since when and who can lift it (a study lock also sets
    # the status to locked, so the status alone would say less).
    lock = s.get(m.RecordLock, found) if found is not None else None
    if lock is not None:
        what = {LockScope.STUDY: "the study", LockScope.SUBJECT: "the subject's casebook",
                LockScope.VISIT: "the visit", LockScope.FORM: "the form"}[lock.scope]
        raise ConflictError(f"lock: {what} is locked (since {lock.locked_at:%Y-%m-%d}); "
                            "ask the data manager to unlock it, with a reason")
    if status in (StudyStatus.LOCKED, StudyStatus.CLOSED):
        raise ConflictError(f"study: {code} is {status.value}; no data can be changed")
