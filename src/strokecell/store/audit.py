"""The audit trail: append-only rows chained by SHA-256, written in the caller's transaction.

Each row's ``row_hash`` is ``SHA-256("strokecell-audit-v1\\n" + canonical JSON)`` of all its
fields including ``prev_hash``, the previous row's ``row_hash`` (``"0" * 64`` for the
first). Any later edit, deletion or insertion of a row breaks either a hash, a link or
the gap-free sequence, and :func:`verify_chain` reports the first broken row.

Appends are serialised on the one-row ``audit_chain_head`` table: ``SELECT ... FOR UPDATE``
on PostgreSQL (held until the caller's transaction ends), the database writer lock on
SQLite (``BEGIN IMMEDIATE`` from :func:`strokecell.store.make_engine`). Two transactions
therefore cannot both append after the same row. A transaction computes its rows' chain in
memory, inserts each batch with one statement and moves the head once, just before it
commits (a ``before_commit`` session hook). Database triggers (migrations 0001 and 0002)
reject UPDATE and DELETE of audit rows, any INSERT that does not extend the last row beyond
the head, and any move of the head other than forward to the last row.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import Table, bindparam, event, insert, inspect, select, update
from sqlalchemy.orm import Session, SessionTransaction

from strokecell.errors import ConflictError, InputError, Problem, StrokecellError
from strokecell.store._types import AuditAction
from strokecell.store.engine import sqlite_begin_mode
from strokecell.store.models import GENESIS_HASH, AuditChainHead, AuditLog

__all__ = [
    "Actor",
    "AuditEntry",
    "AuditRecord",
    "AuditVerification",
    "FieldChange",
    "audit_text",
    "changes_of",
    "flush_audit_head",
    "record_batch",
    "record_change",
    "record_changes",
    "row_hash",
    "verify_chain",
]

_DOMAIN = b"strokecell-audit-v1\n"
_TAIL = "strokecell_audit_tail"
_LOG: Table = AuditLog.__table__  # type: ignore[assignment]
_HEAD: Table = AuditChainHead.__table__  # type: ignore[assignment]
# Built once: every write transaction runs them.
_READ_HEAD = select(_HEAD.c.last_seq, _HEAD.c.last_hash).where(_HEAD.c.id == 1).with_for_update()
_MOVE_HEAD = update(_HEAD).where(_HEAD.c.id == 1).values(last_seq=bindparam("seq"),
                                                         last_hash=bindparam("hash"))
_APPEND = insert(_LOG)
_LIMITS = {"username": 80, "role": 40, "table_name": 60, "row_key": 200, "field_name": 60}


@dataclass(frozen=True)
class Actor:
    """Who makes a change: user, role, and the user's UTC offset in minutes."""

    user_id: int | None
    username: str
    role: str
    offset_minutes: int = 0


@dataclass(frozen=True)
class FieldChange:
    """One field's old and new value (``field`` None for a whole-row entry)."""

    field: str | None
    old: Any = None
    new: Any = None


@dataclass(frozen=True)
class AuditEntry:
    """An appended audit row: its place in the chain and its hash."""

    seq: int
    row_hash: str


@dataclass(frozen=True)
class AuditVerification:
    """The result of :func:`verify_chain`."""

    ok: bool
    rows_checked: int
    first_broken_seq: int | None = None
    reason: str | None = None
    head_seq: int | None = None
    head_hash: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "rows_checked": self.rows_checked,
                "first_broken_seq": self.first_broken_seq, "reason": self.reason,
                "head_seq": self.head_seq, "head_hash": self.head_hash}


def audit_text(value: Any) -> str | None:
    """The text an audit row stores for a value (None stays NULL)."""
    if value is None:
        return None
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise InputError(Problem("value", "naive datetime in an audited change", value,
                                     "a timezone-aware datetime"))
        return _iso_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)


def _iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def row_hash(fields: dict[str, Any]) -> str:
    """The SHA-256 of an audit row's canonical content (every column but ``row_hash``)."""
    content = {
        "seq": int(fields["seq"]),
        "study_id": fields["study_id"],
        "user_id": fields["user_id"],
        "username": fields["username"],
        "role": fields["role"],
        "occurred_at": _iso_utc(fields["occurred_at"]),
        "offset_min": int(fields["offset_min"]),
        "table_name": fields["table_name"],
        "row_key": fields["row_key"],
        "action": AuditAction(fields["action"]).value,
        "field_name": fields["field_name"],
        "old_value": fields["old_value"],
        "new_value": fields["new_value"],
        "reason": fields["reason"],
        "prev_hash": fields["prev_hash"],
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(_DOMAIN + canonical.encode("utf-8")).hexdigest()


def _validate(actor: Actor, table: str, row_key: str, action: AuditAction | str,
              changes: list[FieldChange], reason: str | None) -> AuditAction:
    problems: list[Problem] = []
    try:
        act = AuditAction(action)
    except ValueError:
        problems.append(Problem("action", "unknown audit action", action,
                                ", ".join(a.value for a in AuditAction)))
        act = AuditAction.INSERT
    texts = {"username": actor.username, "role": str(actor.role), "table_name": table,
             "row_key": row_key}
    texts.update({f"field_name[{i}]": c.field or "" for i, c in enumerate(changes)})
    for name, text in texts.items():
        limit = _LIMITS[name.split("[")[0]]
        if name in ("username", "role", "table_name", "row_key") and not text:
            problems.append(Problem(name, "must not be empty", text))
        elif len(text) > limit:
            problems.append(Problem(name, f"longer than {limit} characters", text[:40] + "…"))
    if not -1080 <= actor.offset_minutes <= 1080:
        problems.append(Problem("offset_minutes", "UTC offset out of range",
                                actor.offset_minutes, "-1080 to 1080 minutes"))
    if act is not AuditAction.INSERT and not (reason and reason.strip()):
        problems.append(Problem("reason", f"a reason for the change is required for {act}",
                                reason, "a non-empty reason"))
    if not changes:
        problems.append(Problem("changes", "nothing to record", []))
    if problems:
        raise InputError(problems, context="audit entry")
    return act


@dataclass(frozen=True)
class AuditRecord:
    """The audit rows of one changed row (one per field), for :func:`record_batch`."""

    table: str
    row_key: str | int
    action: AuditAction | str
    changes: Sequence[FieldChange]
    reason: str | None = None


@dataclass
class _Tail:
    """The chain as this transaction has extended it (the head row is written once, at
    commit): the root transaction it belongs to, the head as stored, the last row written."""

    transaction: SessionTransaction
    head_seq: int
    head_hash: str
    seq: int
    hash: str
    dirty: bool = False  # a savepoint was rolled back: find the last surviving row again


def _tail(session: Session) -> _Tail:
    root = session.get_transaction()
    state: _Tail | None = session.info.get(_TAIL)
    if state is not None and state.transaction is root:
        if state.dirty:
            _recover(session, state)
        return state
    head = session.connection().execute(_READ_HEAD).one_or_none()
    if head is None:
        raise StrokecellError("the audit chain head is missing: create the schema with "
                              "strokecell.store.upgrade_to_head")
    if root is None:  # pragma: no cover - connection() has begun the transaction
        raise StrokecellError("audit entries need a transaction")
    seq, last = int(head.last_seq), str(head.last_hash)
    state = _Tail(root, seq, last, seq, last)
    session.info[_TAIL] = state
    return state


def _recover(session: Session, state: _Tail) -> None:
    """After a savepoint rollback: the rows this transaction wrote that survive are a
    prefix of those it wrote (seq in head_seq+1 .. seq), so the last of them is the tail."""
    row = session.connection().execute(
        select(_LOG.c.seq, _LOG.c.row_hash)
        .where(_LOG.c.seq > state.head_seq, _LOG.c.seq <= state.seq)
        .order_by(_LOG.c.seq.desc()).limit(1)).one_or_none()
    if row is None:
        state.seq, state.hash = state.head_seq, state.head_hash
    else:
        state.seq, state.hash = int(row.seq), str(row.row_hash)
    state.dirty = False


def flush_audit_head(session: Session) -> None:
    """Write the chain head for the rows this transaction appended (done once, at commit,
    by a ``before_commit`` hook; call it to read the head inside the transaction)."""
    state: _Tail | None = session.info.get(_TAIL)
    if state is None or state.transaction is not session.get_transaction():
        return
    if state.dirty:
        _recover(session, state)
    if state.seq == state.head_seq:
        return
    session.connection().execute(_MOVE_HEAD, {"seq": state.seq, "hash": state.hash})
    state.head_seq, state.head_hash = state.seq, state.hash


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    if session.info.get(_TAIL) is not None and session.get_nested_transaction() is None:
        flush_audit_head(session)


@event.listens_for(Session, "after_soft_rollback")
def _after_soft_rollback(session: Session, previous: SessionTransaction) -> None:
    state: _Tail | None = session.info.get(_TAIL)
    if state is not None:
        state.dirty = True


@event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    state: _Tail | None = session.info.get(_TAIL)
    if state is not None and (transaction.parent is None or state.transaction is transaction):
        del session.info[_TAIL]


def record_batch(session: Session, actor: Actor, records: Iterable[AuditRecord], *,
                 study_id: int | None = None, at: datetime | None = None,
                 ) -> list[AuditEntry]:
    """Append the audit rows of several changed rows at once, in ``session``'s transaction:
    the rows continue the chain in the order given and are inserted by one statement.

    Every record is validated first (an invalid one writes nothing); update and delete need
    a ``reason``. ``at`` defaults to now; it must be timezone-aware. The chain head is
    written once per transaction, just before it commits.
    """
    prepared: list[tuple[AuditRecord, str, AuditAction, list[FieldChange]]] = []
    for record in records:
        items = list(record.changes)
        key = str(record.row_key)
        act = _validate(actor, record.table, key, record.action, items, record.reason)
        prepared.append((record, key, act, items))
    moment = datetime.now(UTC) if at is None else at
    if moment.utcoffset() is None:
        raise InputError(Problem("at", "must be timezone-aware", moment))
    moment = moment.astimezone(UTC)
    if not prepared:
        return []
    conn = session.connection()
    if conn.dialect.name == "sqlite" and sqlite_begin_mode(conn) == "DEFERRED":
        raise ConflictError("audit entries need a write session (BEGIN IMMEDIATE); "
                            "this session was opened with read_session()")
    state = _tail(session)
    seq, prev = state.seq, state.hash
    role = str(actor.role)
    rows: list[dict[str, Any]] = []
    entries: list[AuditEntry] = []
    for record, key, act, items in prepared:
        for change in items:
            seq += 1
            fields: dict[str, Any] = {
                "seq": seq, "study_id": study_id, "user_id": actor.user_id,
                "username": actor.username, "role": role, "occurred_at": moment,
                "offset_min": actor.offset_minutes, "table_name": record.table,
                "row_key": key, "action": act, "field_name": change.field,
                "old_value": audit_text(change.old), "new_value": audit_text(change.new),
                "reason": record.reason, "prev_hash": prev,
            }
            digest = row_hash(fields)
            fields["row_hash"] = digest
            rows.append(fields)
            entries.append(AuditEntry(seq, digest))
            prev = digest
    conn.execute(_APPEND, rows)
    state.seq, state.hash = seq, prev
    return entries


def record_changes(session: Session, actor: Actor, *, table: str, row_key: str | int,
                   action: AuditAction | str, changes: Iterable[FieldChange],
                   reason: str | None = None, study_id: int | None = None,
                   at: datetime | None = None) -> list[AuditEntry]:
    """Append one audit row per change, in ``session``'s transaction (commit is the caller's).

    Update and delete need a ``reason``. ``at`` defaults to now; it must be timezone-aware.
    """
    return record_batch(session, actor, [AuditRecord(table, row_key, action, list(changes),
                                                     reason)], study_id=study_id, at=at)


def record_change(session: Session, actor: Actor, *, table: str, row_key: str | int,
                  action: AuditAction | str, field: str | None = None, old: Any = None,
                  new: Any = None, reason: str | None = None, study_id: int | None = None,
                  at: datetime | None = None) -> AuditEntry:
    """Append one audit row (see :func:`record_changes`)."""
    return record_changes(session, actor, table=table, row_key=row_key, action=action,
                          changes=[FieldChange(field, old, new)], reason=reason,
                          study_id=study_id, at=at)[0]


def changes_of(obj: object, *, inserted: bool = False) -> list[FieldChange]:
    """The column changes of an ORM object not yet flushed (all set columns if ``inserted``)."""
    state = inspect(obj)
    out: list[FieldChange] = []
    # Only attributes set since the object was loaded can have changed (their old values
    # wait in committed_state): history is costly, and form saves audit on every request.
    touched = state.committed_state
    for column_attr in state.mapper.column_attrs:
        key = column_attr.key
        if inserted:
            value = getattr(obj, key)
            if value is not None:
                out.append(FieldChange(key, None, value))
            continue
        if key not in touched:
            continue
        history = state.attrs[key].history
        if history.has_changes():
            old = history.deleted[0] if history.deleted else None
            new = history.added[0] if history.added else None
            if old != new:
                out.append(FieldChange(key, old, new))
    return out


def verify_chain(session: Session, *, batch_size: int = 2000) -> AuditVerification:
    """Recompute every hash and link of the audit chain; report the first broken row.

    On PostgreSQL the check runs in a REPEATABLE READ snapshot (when the session has not
    begun yet), so appends committed meanwhile cannot make it report a false break.
    """
    if session.bind is not None and session.bind.dialect.name == "postgresql" \
            and not session.in_transaction():
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    flush_audit_head(session)  # rows appended by this very transaction
    head = session.execute(select(AuditChainHead.last_seq, AuditChainHead.last_hash)
                           .where(AuditChainHead.id == 1)).one_or_none()
    if head is None:
        return AuditVerification(False, 0, None, "audit_chain_head row is missing")
    head_seq, head_hash = int(head.last_seq), str(head.last_hash)
    columns = [c for c in AuditLog.__table__.columns]
    result = session.execute(select(*columns).order_by(AuditLog.seq)
                             .execution_options(yield_per=batch_size))
    expected, prev, checked = 1, GENESIS_HASH, 0

    def broken(seq: int | None, reason: str) -> AuditVerification:
        return AuditVerification(False, checked, seq, reason, head_seq, head_hash)

    for row in result:
        fields = row._asdict()
        seq = int(fields["seq"])
        checked += 1
        if seq != expected:
            what = "missing (deleted)" if seq > expected else "duplicated or inserted"
            result.close()
            return broken(seq, f"sequence gap: expected seq {expected}, found {seq}; "
                               f"rows {what}")
        if fields["prev_hash"] != prev:
            result.close()
            return broken(seq, f"prev_hash does not match the hash of row {seq - 1} "
                               "(a row before it was edited, deleted or inserted)")
        if row_hash(fields) != fields["row_hash"]:
            result.close()
            return broken(seq, "content does not match its row_hash (row edited)")
        prev = fields["row_hash"]
        expected += 1
    last = expected - 1
    if last != head_seq or prev != head_hash:
        return broken(last + 1 if last < head_seq else head_seq + 1,
                      f"chain head says {head_seq} rows ending in {head_hash[:12]}…, the log "
                      f"has {last} ending in {prev[:12]}… (tail rows deleted, or rows "
                      "appended outside record_change)")
    return AuditVerification(True, checked, None, None, head_seq, head_hash)
