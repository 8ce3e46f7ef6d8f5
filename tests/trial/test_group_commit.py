"""Group commit: several saves in one transaction, each in its own savepoint, one commit.

Each save stays all-or-nothing (a refused save rolls back its own changes and audit rows
only), the saves see each other in order, the audit chain stays whole, and a broken group
transaction falls back to one transaction per save.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

import pytest
from sqlalchemy import func, select, text

from strokecell.errors import ConflictError, InputError
from strokecell.store import Role, read_session
from strokecell.store import models as m
from strokecell.trial import get_form, save_form
from strokecell.trial.group_commit import run_grouped

from .conftest import MBI_0, World, chain_ok, snapshot


def _head(world: World) -> tuple[int, str]:
    with read_session(world.db) as s:
        row = s.execute(text("SELECT last_seq, last_hash FROM audit_chain_head")).one()
        return int(row[0]), str(row[1])


def _audit_rows(world: World) -> int:
    with read_session(world.db) as s:
        return int(s.scalar(select(func.count()).select_from(m.AuditLog)) or 0)


def test_a_group_commits_every_good_save_and_refuses_the_bad_ones_alone(world: World) -> None:
    ctx = world.ctx(Role.COORDINATOR, "ALL")
    subjects = [world.enrol_one("S01"), world.enrol_one("S02"), world.enrol_one("S01")]
    first = [save_form(world.db, ctx, s, "mbi", MBI_0, visit_code="baseline")
             for s in subjects]
    rows_before = _audit_rows(world)
    calls: list[Any] = [
        functools.partial(save_form, world.db, ctx, subjects[0], "mbi", {"feeding": 5},
                          visit_code="baseline", version=first[0].version, reason="r1"),
        # stale version: refused, rolls back to its own savepoint
        functools.partial(save_form, world.db, ctx, subjects[1], "mbi", {"feeding": 5},
                          visit_code="baseline", version=first[1].version + 7, reason="r2"),
        # off-grid value: refused before writing anything
        functools.partial(save_form, world.db, ctx, subjects[2], "mbi", {"feeding": 7},
                          visit_code="baseline", version=first[2].version, reason="r3"),
        functools.partial(save_form, world.db, ctx, subjects[2], "mbi", {"feeding": 10},
                          visit_code="baseline", version=first[2].version, reason="r4"),
        # the same form again in the same group: sees the save before it (version moved on)
        functools.partial(save_form, world.db, ctx, subjects[0], "mbi", {"feeding": 10},
                          visit_code="baseline", version=first[0].version, reason="r5"),
        functools.partial(save_form, world.db, ctx, subjects[0], "mbi", {"bathing": 5},
                          visit_code="baseline", version=first[0].version + 1, reason="r6"),
    ]
    outcomes = run_grouped(world.db, calls)
    assert [ok for ok, _ in outcomes] == [True, False, False, True, False, True]
    assert isinstance(outcomes[1][1], ConflictError)
    assert isinstance(outcomes[2][1], InputError)
    assert isinstance(outcomes[4][1], ConflictError)
    assert outcomes[5][1].version == first[0].version + 2
    a = get_form(world.db, ctx, subjects[0], "mbi", visit_code="baseline")
    assert a.version == first[0].version + 2 and a.items["feeding"] == 5
    assert a.items["bathing"] == 5
    assert get_form(world.db, ctx, subjects[1], "mbi", visit_code="baseline") == first[1]
    c = get_form(world.db, ctx, subjects[2], "mbi", visit_code="baseline")
    assert c.version == first[2].version + 1 and c.items["feeding"] == 10
    # audit rows only for the three saves that went through, chained, head at the end
    assert _audit_rows(world) > rows_before
    assert chain_ok(world.db)
    with read_session(world.db) as s:
        reasons = set(s.scalars(select(m.AuditLog.reason).where(
            m.AuditLog.seq > rows_before)).all())
    assert {"r1", "r4", "r6"} <= {r.split("(")[-1].rstrip(")") for r in reasons if r}
    assert not {"r2", "r3", "r5"} & {r.split("(")[-1].rstrip(")") for r in reasons if r}


def test_a_group_of_refused_saves_changes_nothing(world: World) -> None:
    ctx = world.ctx(Role.COORDINATOR, "ALL")
    subject = world.enrol_one()
    save_form(world.db, ctx, subject, "mbi", MBI_0, visit_code="baseline")
    before = snapshot(world.db)
    outcomes = run_grouped(world.db, [
        functools.partial(save_form, world.db, ctx, subject, "mbi", {"feeding": 5},
                          visit_code="baseline", version=99, reason="stale"),
        functools.partial(save_form, world.db, ctx, subject, "mbi", {"feeding": 5},
                          visit_code="baseline", version=1),  # no reason for a change
    ])
    assert [ok for ok, _ in outcomes] == [False, False]
    assert snapshot(world.db) == before
    assert chain_ok(world.db)


def test_a_broken_group_transaction_runs_each_save_alone(world: World) -> None:
    ctx = world.ctx(Role.COORDINATOR, "ALL")
    subjects = [world.enrol_one(), world.enrol_one()]
    head = _head(world)
    calls: list[Any] = [functools.partial(save_form, world.db, ctx, s, "mbi", MBI_0,
                                          visit_code="baseline") for s in subjects]
    broken = {"done": False}

    def breaks_the_group() -> None:
        # The first time, end the group's transaction under it (as an I/O error would).
        if not broken["done"]:
            broken["done"] = True
            from strokecell.trial._tx import _JOINED
            conn = _JOINED.get()
            assert conn is not None
            conn.connection.dbapi_connection.rollback()  # type: ignore[union-attr]
        raise RuntimeError("refused")

    outcomes = run_grouped(world.db, [calls[0], breaks_the_group, calls[1]])
    assert [ok for ok, _ in outcomes] == [True, False, True]
    for s in subjects:
        assert get_form(world.db, ctx, s, "mbi", visit_code="baseline").version == 1
    assert _head(world)[0] > head[0]
    assert chain_ok(world.db)


@pytest.mark.parametrize("size", [1, 5])
def test_results_equal_separate_transactions(world: World, size: int) -> None:
    ctx = world.ctx(Role.COORDINATOR, "ALL")
    subjects = [world.enrol_one() for _ in range(size)]
    outcomes = run_grouped(world.db, [
        functools.partial(save_form, world.db, ctx, s, "mbi", MBI_0, visit_code="baseline")
        for s in subjects])
    for s, (ok, view) in zip(subjects, outcomes, strict=True):
        assert ok
        assert view == get_form(world.db, ctx, s, "mbi", visit_code="baseline")
    assert chain_ok(world.db)


def test_a_group_opened_without_waiting_refuses_at_once_while_another_writes(
        world: World) -> None:
    """The server opens a group on its event loop without waiting (wait=False); if another
    writer (another process) holds the SQLite writer lock it gets WriterBusy at once and
    waits in a thread instead. On PostgreSQL nothing is queued: the group just opens."""
    from strokecell.trial.group_commit import WriterBusy, open_group

    ctx = world.ctx(Role.COORDINATOR, "ALL")
    subject = world.enrol_one("S01")
    if world.db.dialect.name == "sqlite":
        holding, done = threading.Event(), threading.Event()

        def other_writer() -> None:
            with world.db.begin():
                holding.set()
                done.wait(30)

        other = threading.Thread(target=other_writer)
        other.start()
        try:
            assert holding.wait(30)
            with pytest.raises(WriterBusy):
                open_group(world.db, wait=False)
        finally:
            done.set()
            other.join()
    group = open_group(world.db, wait=False)  # free again
    assert group is not None
    outcomes = group.run([functools.partial(save_form, world.db, ctx, subject, "mbi", MBI_0,
                                            visit_code="baseline")])
    assert outcomes is not None and outcomes[0][0] is True
    assert get_form(world.db, ctx, subject, "mbi", visit_code="baseline").version == 1
    assert chain_ok(world.db)
