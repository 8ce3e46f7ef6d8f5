"""Reliability: no acknowledged write is lost when the writer is killed (SIGKILL) mid-flight;
concurrent edits of one form from two processes: one wins, the other gets a conflict."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from strokecell.store import Role, make_engine, read_session, verify_chain
from strokecell.store import models as m
from strokecell.trial import save_form

from .conftest import STUDY, World, build_world

WRITER = Path(__file__).with_name("crash_writer.py")
SAVES_BEFORE_KILL = 40
DEADLINE_S = 20.0


@pytest.fixture
def own_db(db_url: str) -> Iterator[tuple[str, Engine]]:
    """A database of its own (the writer process connects to it by URL)."""
    eng = make_engine(db_url)
    yield db_url, eng
    eng.dispose()


def _env() -> dict[str, str]:
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[2] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    return env


def test_no_acknowledged_write_is_lost_on_sigkill(own_db: tuple[str, Engine]) -> None:
    url, eng = own_db
    world = build_world(eng)
    subjects = [world.enrol_one("S01") for _ in range(3)]
    world.ctx(Role.COORDINATOR, "ALL")
    proc = subprocess.Popen([sys.executable, str(WRITER), "writer", url, STUDY,
                             "coordinator.all", *subjects], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=_env())
    acknowledged: list[tuple[str, int]] = []
    lock = threading.Lock()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            parts = line.split()
            if len(parts) == 3 and parts[0] == "saved":
                with lock:
                    acknowledged.append((parts[1], int(parts[2])))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    start = time.monotonic()
    while time.monotonic() - start < DEADLINE_S and proc.poll() is None:
        with lock:
            if len(acknowledged) >= SAVES_BEFORE_KILL:
                break
        time.sleep(0.01)
    assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
    proc.send_signal(signal.SIGKILL)  # mid-flight: the threads are inside transactions
    proc.wait(timeout=10)
    reader.join(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    assert len(acknowledged) >= SAVES_BEFORE_KILL
    # "restart": a fresh engine (new connections, SQLite WAL recovery) reads the record
    eng.dispose()
    fresh = make_engine(url)
    try:
        with read_session(fresh) as s:
            saved = set(s.execute(
                select(m.Subject.subject_code, m.FormInstance.repeat_index)
                .join(m.FormInstance, m.FormInstance.subject_id == m.Subject.id)
                .where(m.FormInstance.form_code == "concomitant_medication",
                       m.FormInstance.status == "complete")).all())
            assert set(acknowledged) <= saved, sorted(set(acknowledged) - saved)
            result = verify_chain(s)
        assert result.ok, result
        # the record is writable again after the crash
        world2 = World(fresh, world.clock, world.admin, dict(world.users), world.screened)
        after = save_form(fresh, world2.ctx(Role.COORDINATOR, "ALL"), subjects[0], "mbi",
                          {"feeding": 5}, visit_code="baseline")
        assert after.version == 1
    finally:
        fresh.dispose()


def test_two_processes_editing_one_form_one_gets_a_conflict(
        own_db: tuple[str, Engine]) -> None:
    url, eng = own_db
    world = build_world(eng)
    code = world.enrol_one("S01")
    site = world.ctx(Role.COORDINATOR, "ALL")
    form = save_form(eng, site, code, "mbi", {"feeding": 5}, visit_code="baseline")
    procs = [subprocess.Popen([sys.executable, str(WRITER), "conflict", url, STUDY,
                               "coordinator.all", code, str(form.version), value],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=_env())
             for value in ("0", "10")]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready", (
            p.stderr.read() if p.stderr else "")
    for p in procs:  # release both at once
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    outcomes = sorted(p.communicate(timeout=30)[0].strip() for p in procs)
    assert outcomes == ["conflict", "ok"]
    with read_session(eng) as s:
        inst = s.scalars(select(m.FormInstance).where(m.FormInstance.form_code == "mbi")).one()
        assert inst.version == form.version + 1
        assert verify_chain(s).ok
