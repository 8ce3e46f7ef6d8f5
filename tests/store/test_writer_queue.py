"""Writers of one SQLite file queue on a kernel file lock before BEGIN IMMEDIATE
(strokecell.store._writer_queue): released after commit and rollback, refused when one
thread would wait for itself, and several processes writing at once all get through."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from strokecell.store import NO_WAIT, WriterBusy, make_engine, read_session, session_scope
from strokecell.store.engine import SQLITE_BUSY_TIMEOUT_MS


def _engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'q.sqlite'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, who TEXT)")
    return engine


def _lock_is_free(path: Path) -> bool:
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # releases the probe's lock too
    return True


def test_lock_is_held_during_a_write_and_released_after_commit_and_rollback(
        tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    lock = tmp_path / "q.sqlite-writer"
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t (who) VALUES ('a')"))
        assert not _lock_is_free(lock)
    assert _lock_is_free(lock)
    with pytest.raises(ZeroDivisionError), engine.begin() as conn:
        conn.execute(text("INSERT INTO t (who) VALUES ('b')"))
        assert not _lock_is_free(lock)
        raise ZeroDivisionError
    assert _lock_is_free(lock)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT who FROM t")).scalars().all() == ["a"]


def test_readers_do_not_take_the_lock(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    with engine.begin() as conn:  # holds the writer lock
        conn.execute(text("INSERT INTO t (who) VALUES ('w')"))
        with read_session(engine) as s:  # would hang if readers queued behind the writer
            assert s.execute(text("SELECT count(*) FROM t")).scalar_one() == 0


def test_a_second_write_transaction_in_the_same_thread_is_refused_at_once(
        tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    with session_scope(engine) as outer:
        outer.execute(text("INSERT INTO t (who) VALUES ('outer')"))
        started = time.monotonic()
        with pytest.raises(RuntimeError, match="same thread"), session_scope(engine) as s:
            s.execute(text("INSERT INTO t (who) VALUES ('inner')"))
        assert time.monotonic() - started < 1  # not SQLite's 30 s busy timeout
    with engine.connect() as conn:
        assert conn.execute(text("SELECT who FROM t")).scalars().all() == ["outer"]


def test_threads_wait_their_turn_without_busy_errors(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        try:
            for i in range(25):
                with engine.begin() as conn:
                    conn.execute(text("INSERT INTO t (who) VALUES (:w)"), {"w": f"{name}{i}"})
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(f"t{n}-",)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 150


def _process_writer(url: str, name: str, n: int) -> None:
    engine = make_engine(url)
    for i in range(n):
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t (who) VALUES (:w)"), {"w": f"{name}{i}"})
    engine.dispose()


def test_processes_share_the_queue_and_a_killed_holder_frees_it(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    url = f"sqlite:///{tmp_path / 'q.sqlite'}"
    spawn = multiprocessing.get_context("spawn")
    workers = [spawn.Process(target=_process_writer, args=(url, f"p{n}-", 40))
               for n in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
        assert w.exitcode == 0
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 120
    # A process that dies holding the lock (SIGKILL, no rollback) does not keep it.
    holder = spawn.Process(target=_hold_forever, args=(url,))
    holder.start()
    lock = tmp_path / "q.sqlite-writer"
    deadline = time.monotonic() + 30
    while _lock_is_free(lock):
        assert time.monotonic() < deadline, "the holder never took the lock"
        time.sleep(0.05)
    holder.kill()
    holder.join(10)
    with engine.begin() as conn:  # would wait forever if the kernel had not released it
        conn.execute(text("INSERT INTO t (who) VALUES ('after')"))


def _hold_forever(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t (who) VALUES ('doomed')"))
        time.sleep(600)


def test_no_wait_refuses_at_once_when_a_writer_outside_strokecell_holds_the_database(
        tmp_path: Path) -> None:
    """A writer that does not take the lock file (the sqlite3 shell, say) holds SQLite's own
    lock: a NO_WAIT begin (the server's event loop) gets WriterBusy at once instead of
    sleeping in SQLite's busy handler, and releases the lock file again."""
    engine = _engine(tmp_path)
    outsider = sqlite3.connect(tmp_path / "q.sqlite", isolation_level=None)
    outsider.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        with engine.connect() as conn:
            conn.execution_options(**{NO_WAIT: True})
            with pytest.raises(WriterBusy, match="locked"):
                conn.begin()
        assert time.monotonic() - started < 1
        assert _lock_is_free(tmp_path / "q.sqlite-writer")
    finally:
        outsider.execute("ROLLBACK")
        outsider.close()
    with engine.connect() as conn:  # the busy timeout is back: a normal write works
        conn.execution_options(**{NO_WAIT: True})
        with conn.begin():
            conn.execute(text("INSERT INTO t (who) VALUES ('after')"))
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == SQLITE_BUSY_TIMEOUT_MS
