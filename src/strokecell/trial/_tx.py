"""One service call = one transaction, with its audit rows in it and errors translated.

:func:`writing` opens the transaction (``BEGIN IMMEDIATE`` on SQLite, see
:mod:`strokecell.store.engine`), commits on success and rolls everything back on any error,
so that a rejected input leaves the database as it was. SQLAlchemy's optimistic-lock and
constraint errors become :class:`~strokecell.errors.ConflictError`.

The ``audit_*`` helpers write one audit row per changed column of an ORM object, in the same
session, before the commit: a change and its audit rows are committed together or not at all.
:class:`AuditBatch` does the same for several objects with one flush and one audit INSERT
(the hot path of form saves).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import Connection, Engine, inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from strokecell.errors import ConflictError, InputError, Problem
from strokecell.store import (
    AuditAction,
    AuditRecord,
    FieldChange,
    changes_of,
    record_batch,
    record_changes,
    session_scope,
)
from strokecell.store import read_session as _read_session
from strokecell.trial._context import Scope
from strokecell.trial._direct_update import update_now

__all__ = ["AuditBatch", "audit_delete", "audit_insert", "audit_update", "joined", "reading",
           "require_reason", "row_key", "writing"]


#: The connection of a group transaction (:mod:`strokecell.trial.group_commit`) that service
#: calls of this thread join, each in a savepoint of its own, instead of beginning their own.
_JOINED: ContextVar[Connection | None] = ContextVar("strokecell_joined_transaction",
                                                    default=None)


@contextmanager
def joined(conn: Connection) -> Iterator[None]:
    """Make :func:`writing` on ``conn``'s engine join ``conn``'s open transaction, each
    call in a SAVEPOINT of its own (released on success, rolled back on any error)."""
    token = _JOINED.set(conn)
    try:
        yield
    finally:
        _JOINED.reset(token)


@contextmanager
def _session(db: Engine) -> Iterator[Session]:
    conn = _JOINED.get()
    if conn is None or conn.engine is not db:
        with session_scope(db) as session:
            yield session
        return
    with Session(bind=conn, join_transaction_mode="create_savepoint",
                 expire_on_commit=False) as session, session.begin():
        yield session


@contextmanager
def writing(db: Engine) -> Iterator[Session]:
    """A write transaction; stale versions and duplicate keys raise ConflictError.

    Inside a group transaction (:func:`joined`) it is a savepoint of that transaction:
    all-or-nothing for the call all the same, made durable by the group's commit.
    """
    try:
        with _session(db) as session:
            yield session
    except StaleDataError as exc:
        raise ConflictError("the record was changed by someone else since you read it; "
                            "reload it and apply your change again") from exc
    except IntegrityError as exc:
        first = str(exc.orig).splitlines()[0] if exc.orig is not None else str(exc)
        raise ConflictError(f"the change contradicts the record ({first})") from exc


@contextmanager
def reading(db: Engine) -> Iterator[Session]:
    """A read-only session (never waits for writers on SQLite)."""
    with _read_session(db) as session:
        yield session


def require_reason(reason: str | None, what: str) -> str:
    """A reason for change is required once a record has been saved (GCP, 21 CFR 11.10(e))."""
    if not isinstance(reason, str) or not reason.strip():
        raise InputError(Problem("reason", f"a reason for change is required to change {what}",
                                 reason, "a non-empty reason, e.g. 'transcription error'"))
    return reason.strip()


def row_key(obj: object) -> str:
    identity = inspect(obj).identity
    if identity is None:
        raise RuntimeError("row_key needs a flushed object")
    return ",".join(str(part) for part in identity)


def _filtered(changes: list[FieldChange], exclude: Collection[str]) -> list[FieldChange]:
    return [c for c in changes if c.field not in exclude]


def audit_insert(session: Session, scope: Scope, obj: Any, table: str, *,
                 exclude: Collection[str] = ()) -> None:
    """Add ``obj``, flush it, and audit every set column as an insert."""
    session.add(obj)
    session.flush()
    changes = _filtered(changes_of(obj, inserted=True), exclude)
    record_changes(session, scope.actor, table=table, row_key=row_key(obj),
                   action=AuditAction.INSERT, changes=changes, study_id=scope.study_id,
                   at=scope.ctx.now())


def audit_update(session: Session, scope: Scope, obj: Any, table: str, reason: str | None, *,
                 exclude: Collection[str] = ("version", "revision")) -> bool:
    """Audit the pending column changes of ``obj`` as an update, then flush it.

    Returns False (and writes nothing) when no column really changed. The flush is what
    checks the optimistic version: a stale object raises (then ConflictError).
    """
    changes = _filtered(changes_of(obj), exclude)
    if not changes:
        return False
    session.flush()
    record_changes(session, scope.actor, table=table, row_key=row_key(obj),
                   action=AuditAction.UPDATE, changes=changes, reason=reason,
                   study_id=scope.study_id, at=scope.ctx.now())
    return True


def audit_delete(session: Session, scope: Scope, obj: Any, table: str, reason: str) -> None:
    """Audit every column's last value as a delete, then delete the row."""
    key = row_key(obj)
    changes = [FieldChange(c.field, c.new, None) for c in changes_of(obj, inserted=True)]
    session.delete(obj)
    session.flush()
    record_changes(session, scope.actor, table=table, row_key=key, action=AuditAction.DELETE,
                   changes=changes, reason=reason, study_id=scope.study_id,
                   at=scope.ctx.now())


class AuditBatch:
    """The audited changes of several ORM objects, written together by :meth:`write`: the
    updates each by one plain UPDATE (:mod:`strokecell.trial._direct_update`), inserts and
    deletes by one flush, then their audit rows (in the order the changes were queued) with
    one INSERT. Same rows as the ``audit_*`` helpers called one after the other."""

    def __init__(self, session: Session, scope: Scope) -> None:
        self.session = session
        self.scope = scope
        # (table, object or row key, action, changes or None = all set columns, reason,
        #  excluded fields)
        self._queue: list[tuple[str, Any, AuditAction, list[FieldChange] | None, str | None,
                                Collection[str]]] = []

    def insert(self, obj: Any, table: str, *, exclude: Collection[str] = ()) -> None:
        """Add ``obj``; its set columns are audited as an insert after the flush."""
        self.session.add(obj)
        self._queue.append((table, obj, AuditAction.INSERT, None, None, exclude))

    def update(self, obj: Any, table: str, reason: str | None, *,
               exclude: Collection[str] = ("version", "revision")) -> bool:
        """Queue the pending column changes of ``obj`` (False when none really changed)."""
        changes = _filtered(changes_of(obj), exclude)
        if not changes:
            return False
        self._queue.append((table, obj, AuditAction.UPDATE, changes, reason, ()))
        return True

    def delete(self, obj: Any, table: str, reason: str) -> None:
        """Queue every column's last value as a delete and delete the row."""
        key = row_key(obj)
        changes = [FieldChange(c.field, c.new, None) for c in changes_of(obj, inserted=True)]
        self.session.delete(obj)
        self._queue.append((table, key, AuditAction.DELETE, changes, reason, ()))

    def write(self) -> None:
        """Write the queued updates (one UPDATE each, optimistic versions checked), flush
        the rest, and append the audit rows."""
        for _, target, action, *_ in self._queue:
            if action is AuditAction.UPDATE and not isinstance(target, str):
                update_now(self.session, target)  # else the flush below writes it
        self.session.flush()
        records: list[AuditRecord] = []
        for table, target, action, changes, reason, exclude in self._queue:
            if changes is None:
                changes = _filtered(changes_of(target, inserted=True), exclude)
            key = target if isinstance(target, str) else row_key(target)
            records.append(AuditRecord(table, key, action, changes, reason))
        self._queue.clear()
        if records:
            record_batch(self.session, self.scope.actor, records,
                         study_id=self.scope.study_id, at=self.scope.ctx.now())
