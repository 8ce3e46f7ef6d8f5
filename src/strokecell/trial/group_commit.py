"""Group commit: several service calls in one database transaction, committed once.

SQLite has one writer, and with ``synchronous=FULL`` each commit waits for the disk. A
server with many concurrent writers (``strokecell serve``) can instead run the calls that
queue up while a commit is in flight as one group: :func:`run_grouped` opens one
transaction (``BEGIN IMMEDIATE``), runs each call in a SAVEPOINT of its own (the call's
:func:`~strokecell.trial._tx.writing` joins the group instead of beginning a transaction),
then commits once: one disk flush for the whole group.

What each caller sees is unchanged:

* all-or-nothing per call: a call that fails rolls back to its own savepoint (its changes
  and its audit rows) and gets its own error; the other calls of the group are unaffected;
* durability before acknowledgement: results are handed back only after the group's
  commit has returned, so nothing is acknowledged that a crash could still lose;
* serial order: the calls run one after the other in the order given, each seeing the
  changes of those before it (optimistic versions, audit chain), as separate transactions
  committed in that order would.

If the group's transaction itself fails (its commit, or an error that ends the whole
transaction), nothing of it is committed and every call is run again alone, in its own
transaction, so that each gets its own result.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, Engine

from strokecell.trial._tx import joined

__all__ = ["Outcome", "run_grouped"]

#: ``(True, result)`` or ``(False, exception)`` for each call, in the order given.
Outcome = tuple[bool, Any]


class _GroupBroken(Exception):
    """The group's transaction ended under it: run the calls alone."""


def _in_transaction(conn: Connection) -> bool:
    """Whether the group's transaction is still open in the database itself."""
    raw = conn.connection.dbapi_connection
    if conn.dialect.name == "sqlite":
        return bool(getattr(raw, "in_transaction", True))
    status = getattr(getattr(raw, "info", None), "transaction_status", None)
    return status is None or int(status) == 2  # psycopg: INTRANS (not idle, not failed)


def _alone(call: Callable[[], Any]) -> Outcome:
    try:
        return True, call()
    except Exception as exc:
        return False, exc


def run_grouped(db: Engine, calls: Sequence[Callable[[], Any]]) -> list[Outcome]:
    """Run ``calls`` (service calls on ``db``, e.g. ``functools.partial(save_form, db,
    ...)``) in one transaction, each in its own savepoint, and commit once.

    Returns one outcome per call, in order, once the commit has returned.
    """
    if len(calls) == 1:
        return [_alone(calls[0])]
    outcomes: list[Outcome] = []
    try:
        with db.connect() as conn:
            transaction = conn.begin()
            with joined(conn):
                for call in calls:
                    outcome = _alone(call)
                    if not _in_transaction(conn):
                        raise _GroupBroken
                    outcomes.append(outcome)
            transaction.commit()
    except Exception:
        # Nothing of the group was committed: each call again, in its own transaction.
        return [_alone(call) for call in calls]
    return outcomes
