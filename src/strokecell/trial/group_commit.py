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

from sqlalchemy import Connection, Engine, RootTransaction

from strokecell.store import NO_WAIT, WriterBusy
from strokecell.trial._tx import joined

__all__ = ["OpenGroup", "Outcome", "WriterBusy", "open_group", "run_alone", "run_grouped"]

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


class OpenGroup:
    """A group transaction that holds the writer lock (from :func:`open_group`, which may
    wait for other writers); :meth:`run` then runs the calls without waiting for anyone."""

    def __init__(self, conn: Connection, transaction: RootTransaction) -> None:
        self._conn = conn
        self._transaction = transaction

    def run(self, calls: Sequence[Callable[[], Any]]) -> list[Outcome] | None:
        """Each call in its own savepoint, then one commit; None if the group's
        transaction broke (nothing of it committed: run the calls with :func:`run_alone`).
        The connection is closed either way (an uncommitted group is rolled back)."""
        outcomes: list[Outcome] = []
        try:
            with self._conn:
                with joined(self._conn):
                    for call in calls:
                        outcome = _alone(call)
                        if not _in_transaction(self._conn):
                            raise _GroupBroken
                        outcomes.append(outcome)
                self._transaction.commit()
        except Exception:
            return None
        return outcomes


def open_group(db: Engine, *, wait: bool = True) -> OpenGroup | None:
    """Begin a group transaction on ``db``; None if it cannot begin (then run the calls
    with :func:`run_alone`). On a SQLite file it waits for the writer lock, or with
    ``wait`` False raises :class:`WriterBusy` at once if another writer holds it."""
    try:
        conn = db.connect()
    except Exception:
        return None
    try:
        if not wait:
            conn.execution_options(**{NO_WAIT: True})
        transaction = conn.begin()
    except WriterBusy:
        conn.close()
        raise
    except Exception:
        conn.close()
        return None
    return OpenGroup(conn, transaction)


def run_alone(calls: Sequence[Callable[[], Any]]) -> list[Outcome]:
    """Each call in its own transaction, in order."""
    return [_alone(call) for call in calls]


def run_grouped(db: Engine, calls: Sequence[Callable[[], Any]]) -> list[Outcome]:
    """Run ``calls`` (service calls on ``db``, e.g. ``functools.partial(save_form, db,
    ...)``) in one transaction, each in its own savepoint, and commit once.

    Returns one outcome per call, in order, once the commit has returned.
    """
    if len(calls) == 1:
        return [_alone(calls[0])]
    group = open_group(db)
    outcomes = group.run(calls) if group is not None else None
    # None: nothing of the group was committed; each call again, in its own transaction.
    return outcomes if outcomes is not None else run_alone(calls)
