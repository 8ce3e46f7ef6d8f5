"""Record locks (data manager) and investigator e-signatures (21 CFR 11.50, 11.200).

**Locks.** :func:`lock_records` locks a form, a visit, a subject's casebook or the whole
study (study level needs a study-wide role); every write under an active lock is refused by
:func:`~strokecell.trial.ensure_writable`. :func:`unlock_records` releases a lock with a
reason (the row stays, with ``unlocked_at``, the user and the reason). Locking the same
target twice is a conflict.

**Study lock and study status.** A study-level lock also sets ``studies.status`` to
``locked``, and its release sets it back to ``active``, in the same transaction as the lock
row and audited like it (table ``studies``, field ``status``, the reason naming the lock), so
that every reader of the status (the API's study, the dashboard, the export rules, the
report's footer) agrees with the lock without looking for lock rows. A ``closed`` study
keeps its status: closing is final and refuses writes already. The study row is read
``FOR UPDATE`` first, which serializes study-level locking on PostgreSQL too.

**Signatures.** :func:`sign` (investigator) re-authenticates the signer with the password
(argon2id, ``store.passwords``), records the meaning of the signature (default for a
casebook: "I approve the data of this casebook") and the SHA-256 of the signed content: the
canonical JSON of every form in the target (items as entered and as typed, derived values,
status) and the visit dates. Pages hidden from the signer (the administration page, for a
blinded investigator) are not part of what they sign. Any later write that changes that
content (a form save, a visit date) invalidates the signature in the same transaction:
``invalidated_at`` and the reason are set, audited, and the row stays
(:func:`invalidate_changed_signatures`, called by the form and visit services).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import Engine, bindparam, select
from sqlalchemy.orm import Session

from strokecell.errors import ConflictError, InputError, NotFoundError, Problem
from strokecell.store import LockScope, StudyStatus, audit_text
from strokecell.store import models as m
from strokecell.trial._authz import Action, is_blinded
from strokecell.trial._context import Scope, ServiceContext, authorize, visible_subject
from strokecell.trial._formspec import unblinded_only_form
from strokecell.trial._tx import audit_insert, audit_update, reading, require_reason, writing
from strokecell.trial.product import reauthenticate
from strokecell.trial.targets import lock_scope, resolve_target
from strokecell.trial.views import LockView, SignatureView

__all__ = ["DEFAULT_MEANINGS", "content_digest", "invalidate_changed_signatures",
           "list_locks", "list_signatures", "lock_records", "sign", "unlock_records"]

DEFAULT_MEANINGS = {
    LockScope.SUBJECT: "I approve the data of this casebook",
    LockScope.VISIT: "I approve the data of this visit",
    LockScope.FORM: "I approve the data of this form",
}


def lock_records(db: Engine, ctx: ServiceContext, scope: LockScope | str, *,
                 subject_code: str | None = None, visit_code: str | None = None,
                 form_code: str | None = None, repeat_index: int = 1) -> LockView:
    """Lock a form, a visit, a casebook or the study (data manager)."""
    level = lock_scope(scope)
    with writing(db) as s:
        sc = authorize(s, ctx, Action.LOCK, all_sites=level is LockScope.STUDY)
        study = _study_for_update(s, sc) if level is LockScope.STUDY else None
        subject, visit, form = resolve_target(s, sc, level, subject_code, visit_code,
                                              form_code, repeat_index)
        stmt = select(m.RecordLock).where(m.RecordLock.study_id == sc.study_id,
                                          m.RecordLock.scope == level,
                                          m.RecordLock.unlocked_at.is_(None))
        if subject is not None:
            stmt = stmt.where(m.RecordLock.subject_id == subject.id)
        if level is LockScope.VISIT and visit is not None:
            stmt = stmt.where(m.RecordLock.visit_id == visit.id)
        if level is LockScope.FORM and form is not None:
            stmt = stmt.where(m.RecordLock.form_instance_id == form.id)
        if s.scalars(stmt.limit(1)).first() is not None:
            raise ConflictError(f"lock: this {level.value} is locked already")
        row = m.RecordLock(study_id=sc.study_id, scope=level,
                           subject_id=subject.id if subject else None,
                           visit_id=visit.id if visit and level is LockScope.VISIT else None,
                           form_instance_id=form.id if form else None, locked_at=ctx.now(),
                           locked_offset_min=ctx.offset_minutes, locked_by_user_id=ctx.user_id)
        audit_insert(s, sc, row, "record_locks")
        if study is not None and study.status is not StudyStatus.CLOSED:
            study.status = StudyStatus.LOCKED
            audit_update(s, sc, study, "studies", f"study lock #{row.id}")
        return _lock_view(s, row)


def _study_for_update(s: Session, scope: Scope) -> m.Study:
    study = s.scalars(select(m.Study).where(m.Study.id == scope.study_id)
                      .with_for_update()).one_or_none()
    if study is None:
        raise NotFoundError(f"study #{scope.study_id} does not exist")
    return study


def unlock_records(db: Engine, ctx: ServiceContext, lock_id: int, *, reason: str) -> LockView:
    """Release a lock (data manager), with the reason; the lock row stays."""
    text = require_reason(reason, f"unlock #{lock_id}")
    with writing(db) as s:
        sc = authorize(s, ctx, Action.LOCK)
        row = _lock(s, sc, lock_id)
        if row.scope is LockScope.STUDY and sc.site_ids is not None:
            raise NotFoundError(f"lock_id: no lock {lock_id!r} among those you can see")
        if row.unlocked_at is not None:
            raise ConflictError(f"lock_id: lock #{lock_id} was released already")
        row.unlocked_at = ctx.now()
        row.unlocked_offset_min = ctx.offset_minutes
        row.unlocked_by_user_id = ctx.user_id
        row.unlock_reason = text
        audit_update(s, sc, row, "record_locks", text)
        if row.scope is LockScope.STUDY:
            study = _study_for_update(s, sc)
            # only the status the lock set is undone (not a closed study's)
            if study.status is StudyStatus.LOCKED:
                study.status = StudyStatus.ACTIVE
                audit_update(s, sc, study, "studies", f"study lock #{row.id} released: {text}")
        return _lock_view(s, row)


def _lock(s: Session, scope: Scope, lock_id: int) -> m.RecordLock:
    row = s.get(m.RecordLock, lock_id) if isinstance(lock_id, int) else None
    missing = NotFoundError(f"lock_id: no lock {lock_id!r} among those you can see")
    if row is None or row.study_id != scope.study_id:
        raise missing
    if row.subject_id is not None:
        subject = s.get(m.Subject, row.subject_id)
        if subject is None or not scope.covers(subject.site_id):
            raise missing
    return row


def _codes(s: Session, subject_id: int | None, visit_id: int | None,
           form_id: int | None) -> tuple[str | None, str | None, str | None, int | None]:
    subject = s.get(m.Subject, subject_id) if subject_id else None
    form = s.get(m.FormInstance, form_id) if form_id else None
    vid = visit_id or (form.visit_id if form else None)
    visit = s.get(m.Visit, vid) if vid else None
    return (subject.subject_code if subject else None, visit.visit_code if visit else None,
            form.form_code if form else None, form.repeat_index if form else None)


def _lock_view(s: Session, row: m.RecordLock) -> LockView:
    subject, visit, form, repeat = _codes(s, row.subject_id, row.visit_id,
                                          row.form_instance_id)
    user = s.get(m.User, row.locked_by_user_id)
    return LockView(row.id, row.scope.value, subject, visit, form, repeat, row.locked_at,
                    user.username if user else "?", row.unlocked_at is None, row.unlocked_at,
                    row.unlock_reason)


def list_locks(db: Engine, ctx: ServiceContext, subject_code: str | None = None, *,
               include_released: bool = False) -> list[LockView]:
    """Locks of the caller's sites (and study-wide ones), active only unless asked."""
    with reading(db) as s:
        scope = authorize(s, ctx, Action.READ_SUBJECTS)
        stmt = select(m.RecordLock).where(m.RecordLock.study_id == scope.study_id) \
            .order_by(m.RecordLock.id)
        if not include_released:
            stmt = stmt.where(m.RecordLock.unlocked_at.is_(None))
        if subject_code is not None:
            subject = visible_subject(s, scope, subject_code)
            stmt = stmt.where((m.RecordLock.subject_id == subject.id)
                              | (m.RecordLock.scope == LockScope.STUDY))
        out = []
        for row in s.scalars(stmt).all():
            if row.subject_id is not None:
                subject_row = s.get(m.Subject, row.subject_id)
                if subject_row is None or not scope.covers(subject_row.site_id):
                    continue
            if row.form_instance_id is not None and scope.blinded:
                form = s.get(m.FormInstance, row.form_instance_id)
                if form is not None and unblinded_only_form(form.form_code):
                    continue
            out.append(_lock_view(s, row))
        return out


# --- signatures ---------------------------------------------------------------------------


def _forms_in(s: Session, subject_id: int, visit_id: int | None, form_id: int | None,
              blinded: bool) -> list[m.FormInstance]:
    stmt = select(m.FormInstance).where(m.FormInstance.subject_id == subject_id) \
        .order_by(m.FormInstance.id)
    if form_id is not None:
        stmt = stmt.where(m.FormInstance.id == form_id)
    elif visit_id is not None:
        stmt = stmt.where(m.FormInstance.visit_id == visit_id)
    forms = list(s.scalars(stmt).all())
    return [f for f in forms if not (blinded and unblinded_only_form(f.form_code))]


def content_digest(s: Session, subject_id: int, visit_id: int | None, form_id: int | None,
                   *, blinded: bool) -> str:
    """SHA-256 of the canonical content of a casebook, a visit or a form (see module doc)."""
    from strokecell.trial.forms import stored_value

    content: dict[str, Any] = {"forms": []}
    for form in _forms_in(s, subject_id, visit_id, form_id, blinded):
        content["forms"].append({
            "id": form.id, "form": form.form_code, "visit_id": form.visit_id,
            "repeat": form.repeat_index, "status": form.status.value,
            "assessment_date": audit_text(form.assessment_date),
            "items": {r.item_code: [r.raw_text, audit_text(stored_value(r)), r.missing_reason]
                      for r in form.items},
            "derived": {d.param_code: [audit_text(d.value_num), d.value_text]
                        for d in form.derived}})
    if form_id is None:
        stmt = select(m.Visit.visit_code, m.Visit.actual_date).where(
            m.Visit.subject_id == subject_id).order_by(m.Visit.visit_number)
        if visit_id is not None:
            stmt = stmt.where(m.Visit.id == visit_id)
        content["visits"] = [[code, audit_text(day)] for code, day in s.execute(stmt).all()]
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _digest_of(s: Session, sig: m.Signature) -> str:
    assert sig.subject_id is not None  # every signature names a subject
    return content_digest(s, sig.subject_id, sig.visit_id, sig.form_instance_id,
                          blinded=is_blinded(sig.role))


def sign(db: Engine, ctx: ServiceContext, *, password: str, subject_code: str,
         scope: LockScope | str = LockScope.SUBJECT, meaning: str | None = None,
         visit_code: str | None = None, form_code: str | None = None,
         repeat_index: int = 1) -> SignatureView:
    """Sign a casebook, a visit or a form (investigator), re-authenticating with the password."""
    level = lock_scope(scope)
    if level is LockScope.STUDY:
        raise InputError(Problem("scope", "an investigator signs a casebook, a visit or a "
                                 "form, not the whole study", level.value,
                                 "subject, visit, form"))
    text = require_reason(meaning if meaning is not None else DEFAULT_MEANINGS[level],
                          "the meaning of the signature")
    with writing(db) as s:
        sc = authorize(s, ctx, Action.SIGN)
        subject, visit, form = resolve_target(s, sc, level, subject_code, visit_code,
                                              form_code, repeat_index)
        assert subject is not None
        reauthenticate(s, ctx.user_id, password, "signature")
        visit_id = visit.id if visit is not None and level is LockScope.VISIT else None
        form_id = form.id if form is not None else None
        digest = content_digest(s, subject.id, visit_id, form_id, blinded=sc.blinded)
        same = s.scalars(select(m.Signature).where(
            m.Signature.subject_id == subject.id, m.Signature.scope == level,
            m.Signature.user_id == ctx.user_id, m.Signature.invalidated_at.is_(None),
            m.Signature.content_sha256 == digest,
            m.Signature.visit_id.is_(None) if visit_id is None
            else m.Signature.visit_id == visit_id,
            m.Signature.form_instance_id.is_(None) if form_id is None
            else m.Signature.form_instance_id == form_id)).first()
        if same is not None:
            raise ConflictError(f"signature: you signed this {level.value} already and it has "
                                "not changed since")
        row = m.Signature(study_id=sc.study_id, scope=level, subject_id=subject.id,
                          visit_id=visit_id, form_instance_id=form_id, user_id=ctx.user_id,
                          role=ctx.role, meaning=text, content_sha256=digest,
                          reauthenticated=True, signed_at=ctx.now(),
                          signed_offset_min=ctx.offset_minutes)
        audit_insert(s, sc, row, "signatures")
        return _signature_view(s, row)


# Built once: every save of a form runs it.
_ACTIVE_SIGNATURES = select(m.Signature).where(m.Signature.subject_id == bindparam("subject_id"),
                                               m.Signature.invalidated_at.is_(None))


def invalidate_changed_signatures(s: Session, scope: Scope, subject: m.Subject,
                                  what: str) -> int:
    """Invalidate the subject's active signatures whose signed content has changed.

    Called inside every write of a form or a visit date; returns how many were invalidated.
    """
    rows = s.scalars(_ACTIVE_SIGNATURES, {"subject_id": subject.id}).all()
    if not rows:
        return 0
    s.flush()
    count = 0
    for row in rows:
        if _digest_of(s, row) == row.content_sha256:
            continue
        row.invalidated_at = scope.ctx.now()
        row.invalidated_reason = f"signed data changed after signing: {what}"
        audit_update(s, scope, row, "signatures", row.invalidated_reason)
        count += 1
    return count


def _signature_view(s: Session, row: m.Signature) -> SignatureView:
    subject, visit, form, repeat = _codes(s, row.subject_id, row.visit_id,
                                          row.form_instance_id)
    user = s.get(m.User, row.user_id)
    return SignatureView(row.id, row.scope.value, subject, visit, form, repeat,
                         user.username if user else "?", row.role.value, row.meaning,
                         row.content_sha256, row.signed_at, row.invalidated_at is None,
                         row.invalidated_at, row.invalidated_reason)


def list_signatures(db: Engine, ctx: ServiceContext, subject_code: str) -> list[SignatureView]:
    """A subject's signatures, valid and invalidated, oldest first."""
    with reading(db) as s:
        scope = authorize(s, ctx, Action.READ_SUBJECTS)
        subject = visible_subject(s, scope, subject_code)
        rows = s.scalars(select(m.Signature).where(m.Signature.subject_id == subject.id)
                         .order_by(m.Signature.id)).all()
        return [_signature_view(s, r) for r in rows]
