"""Engines and sessions for SQLite (one file, WAL) and PostgreSQL (psycopg 3).

SQLite connections get ``journal_mode=WAL``, ``foreign_keys=ON``, ``busy_timeout`` and
``synchronous=FULL`` (a committed transaction survives a power cut), and every transaction
starts with ``BEGIN IMMEDIATE``: the writer lock is taken at the start, so a transaction
never fails half-way on upgrading from reader to writer and audit appends are serialised.
Read-only work can use :func:`read_session`, which begins ``DEFERRED`` and does not wait
for writers (WAL readers see the last committed state). Writers of a database file queue
in the kernel before ``BEGIN IMMEDIATE`` (:mod:`strokecell.store._writer_queue`), fairly
across threads and processes, rather than in SQLite's sleeping busy handler.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from strokecell.errors import InputError, Problem
from strokecell.store._writer_queue import WriterBusy, WriterQueue

__all__ = [
    "NO_WAIT",
    "SQLITE_BUSY_TIMEOUT_MS",
    "WriterBusy",
    "make_engine",
    "make_session_factory",
    "read_session",
    "session_scope",
]

SQLITE_BUSY_TIMEOUT_MS = 30_000
_BEGIN_OPTION = "strokecell_sqlite_begin"
#: Execution option of a connection: its write transactions on a SQLite file do not wait
#: for another writer but raise :class:`WriterBusy` at once.
NO_WAIT = "strokecell_sqlite_no_wait"
_ALLOWED = "sqlite:///PATH, sqlite:// (memory), postgresql+psycopg://USER@HOST:PORT/DB"


def _parse(url: str | URL) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise InputError(Problem("db", "not a database URL", str(url), _ALLOWED)) from exc
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername not in ("sqlite", "sqlite+pysqlite", "postgresql+psycopg"):
        raise InputError(Problem("db", "unsupported database driver", parsed.drivername,
                                 _ALLOWED))
    return parsed


def _sqlite_engine(url: URL, **kwargs: Any) -> Engine:
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
                           **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own is deferred).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA synchronous=FULL")
        finally:
            cursor.close()

    database = url.database
    queue = (WriterQueue(Path(database).resolve())
             if database and database != ":memory:" and not database.startswith("file:")
             else None)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        options = conn.get_execution_options()
        mode = options.get(_BEGIN_OPTION, "IMMEDIATE")
        wait = options.get(NO_WAIT, False) is not True
        raw = conn.connection.dbapi_connection
        if queue is not None and mode == "IMMEDIATE":
            queue.acquire(raw, wait=wait)
        try:
            if wait:
                conn.exec_driver_sql(f"BEGIN {mode}")
            else:
                _begin_without_waiting(conn, mode)
        except BaseException:
            if queue is not None:
                queue.release(raw)
            raise
        conn.info[_BEGIN_OPTION] = mode

    if queue is not None:
        _release_after(engine, queue)
    return engine


def _begin_without_waiting(conn: Connection, mode: str) -> None:
    """BEGIN, or WriterBusy at once if a writer outside strokecell (which does not take the
    writer lock file, e.g. the sqlite3 shell) holds SQLite's own lock."""
    conn.exec_driver_sql("PRAGMA busy_timeout=0")
    try:
        conn.exec_driver_sql(f"BEGIN {mode}")
    except OperationalError as exc:
        if "locked" in str(exc.orig) or "busy" in str(exc.orig):
            raise WriterBusy(f"the database is locked by another writer ({exc.orig})") from None
        raise
    finally:
        conn.exec_driver_sql(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")


def _release_after(engine: Engine, queue: WriterQueue) -> None:
    """Release the writer lock once a commit or rollback has returned (SQLAlchemy's own
    commit and rollback events fire before them) or the connection is closed."""
    dialect = engine.dialect

    def wrap(name: str) -> None:
        original = getattr(dialect, name)

        def released(connection: Any) -> None:
            try:
                original(connection)
            finally:
                # commit/rollback get the pool's proxy, close the DBAPI connection itself
                queue.release(getattr(connection, "dbapi_connection", connection))

        setattr(dialect, name, released)

    for name in ("do_commit", "do_rollback", "do_close"):
        wrap(name)


def make_engine(url: str | URL, *, echo: bool = False) -> Engine:
    """An engine for ``url`` with strokecell's durability settings (see module docstring).

    ``postgresql://`` is read as ``postgresql+psycopg://``; other drivers are refused.
    """
    parsed = _parse(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, echo=echo)
    return create_engine(parsed, echo=echo, pool_pre_ping=True,
                         connect_args={"connect_timeout": 10})


def sqlite_begin_mode(conn: Connection) -> str | None:
    """How the current SQLite transaction began (``IMMEDIATE``/``DEFERRED``), else None."""
    mode = conn.info.get(_BEGIN_OPTION)
    return str(mode) if mode is not None else None


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (``expire_on_commit=False``)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(engine_or_factory: Engine | sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit on success, roll back (and re-raise) on any error."""
    factory = (make_session_factory(engine_or_factory)
               if isinstance(engine_or_factory, Engine) else engine_or_factory)
    with factory() as session, session.begin():
        yield session


@contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    """A session for reading only: on SQLite it begins DEFERRED and never waits for writers.

    Writing through it is a mistake (on SQLite it may fail with ``database is locked``).
    """
    bound = engine.execution_options(**{_BEGIN_OPTION: "DEFERRED"})
    with Session(bind=bound, expire_on_commit=False) as session:
        yield session  # close() ends the transaction; loaded objects stay readable
