"""Randomization through the concealed state; emergency unblinding.

The list's engine state (``randomization_states.state``: seed, block lists or minimization
counts) is read, advanced by one allocation and written back in the same transaction as the
allocation row, under the row's optimistic ``revision`` and, on PostgreSQL, a
``SELECT ... FOR UPDATE`` lock (SQLite serialises writers with ``BEGIN IMMEDIATE``). A writer
that still meets a stale revision is retried; after :data:`RETRIES` attempts the caller gets
a ConflictError. The state is never returned by a service, and its seed never enters the
audit trail (only its SHA-256 does).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from strokecell.errors import ConflictError, InputError, NotFoundError, Problem
from strokecell.protocol import Protocol
from strokecell.store import SubjectStatus
from strokecell.store import models as m
from strokecell.trial._authz import Action
from strokecell.trial._context import Scope, ServiceContext, authorize, visible_subject
from strokecell.trial._guards import ensure_writable
from strokecell.trial._tx import audit_insert, audit_update, reading, require_reason, writing
from strokecell.trial.randomization import (
    MinimizationRandomizer,
    PermutedBlockRandomizer,
    Randomizer,
    SimpleRandomizer,
    restore_randomizer,
)
from strokecell.trial.views import AllocationView, UnblindingView, arm_shown

__all__ = ["RETRIES", "build_randomizer", "create_randomization_list", "get_allocation",
           "randomize", "state_digest", "unblind"]

RETRIES = 3
_METHODS = {"stratified_block": PermutedBlockRandomizer.method,
            "minimization": MinimizationRandomizer.method, "simple": SimpleRandomizer.method}


def state_digest(state: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of an engine state."""
    text = json.dumps(state, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def build_randomizer(protocol: Protocol, seed: int | str) -> Randomizer:
    """The engine the protocol's randomization settings describe, seeded with ``seed``."""
    settings = protocol.randomization
    if settings is None:
        raise InputError(Problem("randomization", "the protocol has no randomization", None))
    levels = {f.factor: list(f.levels) for f in settings.strata}
    factors = {name: levels[name] for name in settings.stratify_by}
    ratio = protocol.allocation_ratio
    if settings.method == "stratified_block":
        engine = PermutedBlockRandomizer(ratio, block_sizes=settings.block_sizes or [],
                                         seed=seed, factors=factors,
                                         list_length=protocol.study.planned_n or 100)
        engine.pregenerate()  # the whole list exists before the first patient
        return engine
    if settings.method == "minimization":
        return MinimizationRandomizer(ratio, factors=factors, seed=seed,
                                      p_preferred=settings.random_element or 0.8)
    return SimpleRandomizer(ratio, seed=seed, factors=factors)


def create_randomization_list(s: Session, scope: Scope, pv: m.ProtocolVersion,
                              protocol: Protocol, seed: int | str | None) -> m.RandomizationList:
    """The public list header and its concealed state (seed inside), both audited."""
    engine = build_randomizer(protocol, secrets.token_hex(16) if seed is None else seed)
    now = scope.ctx.now()
    rl = m.RandomizationList(study_id=scope.study_id, protocol_version_id=pv.id, name="primary",
                             method=engine.method, active=True, created_at=now,
                             created_offset_min=scope.ctx.offset_minutes,
                             created_by_user_id=scope.ctx.user_id)
    audit_insert(s, scope, rl, "randomization_lists")
    state = engine.to_state()
    row = m.RandomizationState(list_id=rl.id, state=state, state_sha256=state_digest(state),
                               updated_at=now, updated_offset_min=scope.ctx.offset_minutes)
    audit_insert(s, scope, row, "randomization_states", exclude=("state",))
    return rl


def randomize(db: Engine, ctx: ServiceContext, subject_code: str,
              strata: Mapping[str, str] | None = None) -> AllocationView:
    """Allocate an enrolled subject; blinded callers see ``"randomized #n"``, not the arm.

    ``strata`` defaults to the strata recorded at enrolment.
    """
    for attempt in range(RETRIES):
        try:
            with writing(db) as s:
                return _randomize(s, ctx, subject_code, strata)
        except ConflictError as exc:
            if not isinstance(exc.__cause__, StaleDataError) or attempt == RETRIES - 1:
                raise
    raise ConflictError("randomization: the list kept changing; try again")  # unreachable


def _randomize(s: Session, ctx: ServiceContext, code: str,
               strata: Mapping[str, str] | None) -> AllocationView:
    scope = authorize(s, ctx, Action.RANDOMIZE)
    subject = visible_subject(s, scope, code, for_update=True)
    ensure_writable(s, scope.study_id, subject)
    if s.scalars(select(m.SubjectAllocation.id)
                 .where(m.SubjectAllocation.subject_id == subject.id)).first() is not None:
        raise ConflictError(f"subject_code: {code} is randomized already")
    if subject.status is not SubjectStatus.ENROLLED:
        raise ConflictError(f"subject_code: {code} is {subject.status.value}; only an "
                            "enrolled subject can be randomized")
    rl = s.scalars(select(m.RandomizationList).where(
        m.RandomizationList.study_id == scope.study_id,
        m.RandomizationList.active.is_(True)).order_by(m.RandomizationList.id)).first()
    if rl is None:
        raise NotFoundError("randomization: this study has no active randomization list")
    row = s.get(m.RandomizationState, rl.id, with_for_update=True)
    if row is None:
        raise NotFoundError("randomization: the list has no state")
    if state_digest(row.state) != row.state_sha256:
        raise ConflictError("randomization: the concealed state does not match its SHA-256; "
                            "the list may have been tampered with (stop and investigate)")
    engine = restore_randomizer(row.state)
    chosen = dict(subject.strata or {}) if strata is None else dict(strata)
    allocation = engine.allocate(chosen)  # InputError naming each bad stratum value
    arm = s.scalars(select(m.Arm).where(m.Arm.study_id == scope.study_id,
                                        m.Arm.code == allocation.arm)).one()
    now = ctx.now()
    row.state = engine.to_state()
    row.state_sha256 = state_digest(row.state)
    row.updated_at = now
    row.updated_offset_min = ctx.offset_minutes
    reason = f"allocation #{allocation.sequence} of list {rl.name}"
    audit_update(s, scope, row, "randomization_states", reason,
                 exclude=("state", "revision", "updated_at", "updated_offset_min"))
    detail = {k: v for k, v in allocation.to_dict().items() if k != "arm"}
    record = m.SubjectAllocation(
        list_id=rl.id, subject_id=subject.id, arm_id=arm.id,
        sequence_number=allocation.sequence, stratum=allocation.stratum,
        strata=dict(allocation.strata), detail=detail, allocated_at=now,
        allocated_offset_min=ctx.offset_minutes, allocated_by_user_id=ctx.user_id,
        allocated_by_role=ctx.role)
    audit_insert(s, scope, record, "allocations")
    subject.status = SubjectStatus.RANDOMIZED
    subject.strata = dict(allocation.strata)
    audit_update(s, scope, subject, "subjects", reason)
    shown, label = arm_shown(scope, arm.code, allocation.sequence)
    return AllocationView(code, allocation.sequence, allocation.stratum,
                          dict(allocation.strata), now, scope.username, shown, label,
                          scope.blinded)


def _allocation(s: Session, subject: m.Subject) -> tuple[m.SubjectAllocation, m.Arm]:
    found = s.execute(select(m.SubjectAllocation, m.Arm)
                      .join(m.Arm, m.Arm.id == m.SubjectAllocation.arm_id)
                      .where(m.SubjectAllocation.subject_id == subject.id)).first()
    if found is None:
        raise NotFoundError(f"subject_code: {subject.subject_code} is not randomized")
    return found[0], found[1]


def get_allocation(db: Engine, ctx: ServiceContext, subject_code: str) -> AllocationView:
    """A subject's allocation as the caller may see it (arm masked for blinded roles)."""
    with reading(db) as s:
        scope = authorize(s, ctx, Action.READ_SUBJECTS)
        subject = visible_subject(s, scope, subject_code)
        record, arm = _allocation(s, subject)
        user = s.get(m.User, record.allocated_by_user_id)
        shown, label = arm_shown(scope, arm.code, record.sequence_number)
        return AllocationView(subject_code, record.sequence_number, record.stratum,
                              dict(record.strata), record.allocated_at,
                              user.username if user else "?", shown, label, scope.blinded)


def unblind(db: Engine, ctx: ServiceContext, subject_code: str, reason: str, *,
            emergency: bool = True) -> UnblindingView:
    """Reveal one subject's arm to the caller, recording who, when and why (audited)."""
    with writing(db) as s:
        scope = authorize(s, ctx, Action.UNBLIND)
        subject = visible_subject(s, scope, subject_code)
        text = require_reason(reason, f"unblind {subject_code}")
        record, arm = _allocation(s, subject)
        now = ctx.now()
        event = m.UnblindingEvent(subject_id=subject.id, allocation_id=record.id,
                                  user_id=ctx.user_id, role=ctx.role, emergency=emergency,
                                  reason=text, unblinded_at=now,
                                  unblinded_offset_min=ctx.offset_minutes)
        audit_insert(s, scope, event, "unblinding_events")
        return UnblindingView(subject_code, arm.code, emergency, text, now, scope.username)
