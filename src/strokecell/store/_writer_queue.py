"""Writers of one SQLite file queue on an OS file lock before ``BEGIN IMMEDIATE``.

SQLite lets one writer in at a time; the others get ``SQLITE_BUSY`` and its busy handler
sleeps and retries (1, 2, 5, 10 ... 100 ms). Under steady load from several server
processes that is unfair: a writer that has just committed begins again before a sleeping
one wakes, and the sleeper's naps grow, so some requests wait seconds. Here every write
transaction first takes an exclusive ``flock`` on ``<database>-writer`` next to the
database file, waiting in the kernel, which wakes a waiter as soon as the holder's commit
or rollback has returned; only then does it ``BEGIN IMMEDIATE``. The lock is released
right after the commit or rollback (and when a connection is closed), and by the kernel
if the process dies, so a crash never leaves it held.

Readers (``BEGIN DEFERRED``) never take it. A thread that already holds the lock of a
file and begins a second write transaction on another connection of it would wait for
itself forever; that is refused at once instead.
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path

__all__ = ["WriterBusy", "WriterQueue"]


class WriterBusy(Exception):
    """Another writer holds the lock (raised only when asked not to wait)."""


class WriterQueue:
    """The writer lock of one SQLite database file (see module docstring)."""

    def __init__(self, database: Path) -> None:
        self.path = database.with_name(database.name + "-writer")
        self._held: dict[int, tuple[int, int]] = {}  # connection id -> (fd, thread id)
        self._guard = threading.Lock()

    def acquire(self, connection: object, *, wait: bool = True) -> None:
        """Take the lock on behalf of DBAPI ``connection``: wait for it, or (``wait``
        False) raise :class:`WriterBusy` at once if another writer holds it."""
        me = threading.get_ident()
        with self._guard:
            if any(thread == me for _, thread in self._held.values()):
                raise RuntimeError("a second write transaction on this database in the same "
                                   "thread would wait for the first forever")
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise WriterBusy(f"{self.path.name}: another write transaction is open") from None
        except BaseException:
            os.close(fd)
            raise
        with self._guard:
            self._held[id(connection)] = (fd, me)

    def release(self, connection: object) -> None:
        """Release the lock ``connection`` holds, if any (closing the file releases it)."""
        with self._guard:
            held = self._held.pop(id(connection), None)
        if held is not None:
            os.close(held[0])
