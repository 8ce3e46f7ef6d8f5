"""The SQLite write path of the server: a write queue, and group commit for form saves.

SQLite has one writer. State-changing requests queue on one ``asyncio.Lock`` per process
(in arrival order, holding no thread while they wait). Form saves, the bulk of the traffic,
go further: while one group of saves is being written, the saves that arrive queue up, and
the next time the writer gets the lock it runs all of them as one group
(:func:`strokecell.trial.group_commit.run_grouped`): one transaction, each save in its own
savepoint, one commit, so one disk flush serves the whole group. Each request is answered
only after that commit has returned, with its own result or its own error. The wait for the
database's writer lock happens in a worker thread; the group itself runs on the event loop
(see :meth:`GroupCommit._run`), so the loop does not answer other requests for the few
milliseconds per save the group takes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from strokecell.trial.group_commit import (
    Outcome,
    WriterBusy,
    open_group,
    run_alone,
    run_grouped,
)

__all__ = ["MAX_GROUP", "GroupCommit", "group_committed", "is_group_committed"]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

#: At most this many saves in one transaction (bounds the work lost to a failing commit).
MAX_GROUP = 64

_GROUPED: set[Callable[..., Any]] = set()


def group_committed(endpoint: F) -> F:
    """Mark a route whose writes go through :class:`GroupCommit` (so that the router's
    write-queue dependency does not hold the lock for it)."""
    _GROUPED.add(endpoint)
    return endpoint


def is_group_committed(endpoint: object) -> bool:
    return endpoint in _GROUPED


class GroupCommit:
    """Queue service calls and run them in groups, one group at a time, under ``lock``."""

    def __init__(self, db: Engine, lock: Callable[[], asyncio.Lock],
                 max_group: int = MAX_GROUP) -> None:
        self._db = db
        self._lock = lock
        self._max = max_group
        self._pending: list[tuple[Callable[[], Any], asyncio.Future[Any]]] = []
        self._task: asyncio.Task[None] | None = None

    async def run(self, call: Callable[[], T]) -> T:
        """Run ``call`` in the next group; its result once the group has committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._pending.append((call, future))
        task = self._task
        if task is None or task.done() or task.get_loop() is not loop:
            self._task = loop.create_task(self._drain())
        return await future

    async def _run(self, calls: list[Callable[[], Any]]) -> list[Outcome]:
        if len(calls) == 1:
            return await run_in_threadpool(run_grouped, self._db, calls)
        # The group, pure CPU once it holds the writer lock, runs here on the event loop:
        # in a thread it would contend for the interpreter lock with this loop's request
        # parsing (measured: about 10% fewer saves per second, and a longer tail). Only a
        # wait for the lock (another process writing) happens in a thread.
        try:
            group = open_group(self._db, wait=False)
        except WriterBusy:
            group = await run_in_threadpool(open_group, self._db)
        outcomes = group.run(calls) if group is not None else None
        if outcomes is None:
            outcomes = await run_in_threadpool(run_alone, calls)
        return outcomes

    async def _drain(self) -> None:
        while self._pending:
            async with self._lock():
                loop = asyncio.get_running_loop()
                group = [(c, f) for c, f in self._pending[:self._max]
                         if not f.cancelled() and f.get_loop() is loop]
                del self._pending[:self._max]
                if not group:
                    continue
                try:
                    outcomes = await self._run([c for c, _ in group])
                except Exception as exc:  # pragma: no cover - the runners report per call
                    outcomes = [(False, exc)] * len(group)
            for (_, future), (ok, value) in zip(group, outcomes, strict=True):
                if future.done():
                    continue  # the client has gone away
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)
