"""One service call = one transaction, with its audit rows in it and errors translated.

:func:`writing` opens the transaction (``BEGIN IMMEDIATE`` on SQLite, see
:mod:`strokecell.store.engine`), commits on success and rolls everything back on any error,
so that a rejected input leaves the database as it was. SQLAlchemy's optimistic-lock and
constraint errors become :class:`~strokecell.errors.ConflictError`.

The ``audit_*`` helpers write one audit row per changed column of an ORM object, in the same
session, before the commit: a change and its audit rows are committed together or not at all.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from strokecell.errors import ConflictError, InputError, Problem
from strokecell.store import AuditAction, FieldChange, changes_of, record_changes, session_scope
from strokecell.store import read_session as _read_session
from strokecell.trial._context import Scope

__all__ = ["audit_delete", "audit_insert", "audit_update", "reading", "require_reason",
           "row_key", "writing"]


@contextmanager
def writing(db: Engine) -> Iterator[Session]:
    """A write transaction; stale versions and duplicate keys raise ConflictError."""
    try:
        with session_scope(db) as session:
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
