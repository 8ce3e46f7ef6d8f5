"""Web sessions in the database (trial/web_sessions.py), on SQLite and PostgreSQL: stored by
hash only, idle and absolute expiry with a once-a-minute touch, sign-out, replacement at
sign-in, flash notices, purge of expired rows, no audit rows, clear input errors."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text, update

from strokecell.errors import InputError, PermissionDeniedError
from strokecell.store import models as m
from strokecell.store import read_session, session_scope
from strokecell.trial import (
    SessionPolicy,
    end_web_session,
    get_web_session,
    pop_flashes,
    push_flash,
    revoke_role,
    start_web_session,
)
from strokecell.trial.web_sessions import MAX_FLASHES

from .conftest import START, World

POLICY = SessionPolicy(idle=timedelta(minutes=30), max_age=timedelta(hours=12))


def _rows(world: World) -> list[m.WebSession]:
    with read_session(world.db) as s:
        return list(s.scalars(select(m.WebSession).order_by(m.WebSession.id)).all())


def _audit_head(world: World) -> object:
    with read_session(world.db) as s:
        return s.execute(text("SELECT last_seq, last_hash FROM audit_chain_head")).one()


def test_a_session_is_stored_by_the_hash_of_its_id_only(world: World) -> None:
    ctx = world.ctx("coordinator", "S01")
    begun = start_web_session(world.db, ctx, policy=POLICY, now=START)
    sid = begun.session_id
    assert len(sid) == 43 and begun.view.username == "coordinator.s01"
    (row,) = _rows(world)
    assert row.key_sha256 == hashlib.sha256(sid.encode()).hexdigest() != sid
    with read_session(world.db) as s:  # the id is in no column of any row
        values = s.execute(select(m.WebSession.__table__)).one()
    assert all(sid not in str(v) for v in values)
    view = get_web_session(world.db, sid, policy=POLICY, now=START + timedelta(minutes=5))
    assert view is not None
    assert view.ctx == ctx and view.ctx.role.value == "coordinator"
    assert (view.username, view.study_code) == ("coordinator.s01", "SC-ICH-IA-UCMSC")
    assert view.created_at == START
    # the hash is not a session id: presenting it finds nothing
    assert get_web_session(world.db, row.key_sha256, policy=POLICY, now=START) is None


def test_idle_expiry_with_a_touch_at_most_once_a_minute(world: World) -> None:
    sid = start_web_session(world.db, world.ctx("monitor"), policy=POLICY,
                            now=START).session_id
    for seconds in (10, 30, 59):  # read only: last_seen_at stays
        assert get_web_session(world.db, sid, policy=POLICY,
                               now=START + timedelta(seconds=seconds)) is not None
        assert _rows(world)[0].last_seen_at == START
    later = START + timedelta(minutes=20)
    view = get_web_session(world.db, sid, policy=POLICY, now=later)
    assert view is not None and view.last_seen_at == later == _rows(world)[0].last_seen_at
    # idle is counted from the last touch: 29 min after it alive (and touched again) ...
    again = later + timedelta(minutes=29)
    assert get_web_session(world.db, sid, policy=POLICY, now=again) is not None
    # ... and 30 min and a second after that one, gone (a failed read writes nothing)
    assert get_web_session(world.db, sid, policy=POLICY,
                           now=again + POLICY.idle + timedelta(seconds=1)) is None
    assert _rows(world)[0].last_seen_at == again


def test_idle_expiry_is_never_late_for_a_session_read_just_before_the_touch(
        world: World) -> None:
    """The one-minute granularity: last use 59 s after the last touch is not written, so
    the session ends at most a minute before idle after that use, never after."""
    sid = start_web_session(world.db, world.ctx("monitor"), policy=POLICY,
                            now=START).session_id
    use = START + timedelta(seconds=59)
    assert get_web_session(world.db, sid, policy=POLICY, now=use) is not None
    assert get_web_session(world.db, sid, policy=POLICY,
                           now=START + POLICY.idle + timedelta(seconds=1)) is None


def test_absolute_expiry_even_for_a_session_in_use(world: World) -> None:
    sid = start_web_session(world.db, world.ctx("monitor"), policy=POLICY,
                            now=START).session_id
    moment = START
    while moment < START + POLICY.max_age - timedelta(minutes=10):
        moment += timedelta(minutes=10)
        assert get_web_session(world.db, sid, policy=POLICY, now=moment) is not None
    assert get_web_session(world.db, sid, policy=POLICY,
                           now=START + POLICY.max_age + timedelta(seconds=1)) is None


def test_short_idle_limits_are_touched_often_enough() -> None:
    assert POLICY.touch_after == timedelta(minutes=1)
    short = SessionPolicy(idle=timedelta(minutes=1), max_age=timedelta(hours=1))
    assert short.touch_after == timedelta(seconds=30)


def test_sign_out_and_replacement_end_the_old_session(world: World) -> None:
    ctx = world.ctx("investigator")
    first = start_web_session(world.db, ctx, policy=POLICY, now=START).session_id
    second = start_web_session(world.db, ctx, policy=POLICY, replaces=first,
                               now=START).session_id
    assert second != first
    assert get_web_session(world.db, first, policy=POLICY, now=START) is None
    assert get_web_session(world.db, second, policy=POLICY, now=START) is not None
    end_web_session(world.db, second)
    assert get_web_session(world.db, second, policy=POLICY, now=START) is None
    assert _rows(world) == []
    end_web_session(world.db, second)  # again: nothing to do
    end_web_session(world.db, "not a session id")


def test_a_touch_after_sign_out_does_not_bring_the_session_back(world: World) -> None:
    sid = start_web_session(world.db, world.ctx("monitor"), policy=POLICY,
                            now=START).session_id
    end_web_session(world.db, sid)
    assert get_web_session(world.db, sid, policy=POLICY,
                           now=START + timedelta(minutes=5)) is None
    assert _rows(world) == []


def test_expired_sessions_are_purged_at_the_next_sign_in(world: World) -> None:
    ctx = world.ctx("monitor")
    old, idle, live = (start_web_session(world.db, ctx, policy=POLICY, now=START).session_id
                       for _ in range(3))
    digest = {sid: hashlib.sha256(sid.encode()).hexdigest() for sid in (old, idle, live)}
    in_use = START + timedelta(minutes=20)
    assert get_web_session(world.db, live, policy=POLICY, now=in_use) is not None
    with session_scope(world.db) as s:  # in use too, but signed in more than 12 hours ago
        s.execute(update(m.WebSession).where(m.WebSession.key_sha256 == digest[old])
                  .values(created_at=START - timedelta(hours=12), last_seen_at=in_use))
    assert len(_rows(world)) == 3  # expired rows stay until someone signs in ...
    start_web_session(world.db, ctx, policy=POLICY, now=START + timedelta(minutes=35))
    keys = {r.key_sha256 for r in _rows(world)}  # ... who removes them
    assert digest[old] not in keys  # past max_age
    assert digest[idle] not in keys  # idle for 35 minutes
    assert digest[live] in keys and len(keys) == 2


def test_flash_notices_are_pushed_and_popped_once(world: World) -> None:
    sid = start_web_session(world.db, world.ctx("coordinator"), policy=POLICY,
                            now=START).session_id
    assert push_flash(world.db, sid, "Saved mbi.")
    assert push_flash(world.db, sid, "Visit baseline date saved.")
    view = get_web_session(world.db, sid, policy=POLICY, now=START)
    assert view is not None and view.flashes == ("Saved mbi.", "Visit baseline date saved.")
    assert pop_flashes(world.db, sid) == ("Saved mbi.", "Visit baseline date saved.")
    assert pop_flashes(world.db, sid) == ()
    assert not push_flash(world.db, "x" * 43, "nobody's")  # no such session
    assert pop_flashes(world.db, None) == ()
    for i in range(MAX_FLASHES + 5):
        push_flash(world.db, sid, f"notice {i}")
    long = "é" * 5000
    push_flash(world.db, sid, long)
    kept = pop_flashes(world.db, sid)
    assert len(kept) == MAX_FLASHES and kept[0] == "notice 6"
    assert len(kept[-1]) == 1000 and kept[-1].endswith("…")
    with pytest.raises(InputError, match="message"):
        push_flash(world.db, sid, "  ")


def test_session_rows_are_not_audited(world: World) -> None:
    ctx = world.ctx("coordinator")
    head = _audit_head(world)
    sid = start_web_session(world.db, ctx, policy=POLICY, now=START).session_id
    get_web_session(world.db, sid, policy=POLICY, now=START + timedelta(minutes=2))
    push_flash(world.db, sid, "hello")
    pop_flashes(world.db, sid)
    end_web_session(world.db, sid)
    assert _audit_head(world) == head


def test_a_session_needs_an_active_role(world: World) -> None:
    ctx = world.ctx("monitor", "S02")
    revoke_role(world.db, world.admin, "monitor.s02", "monitor", "S02", reason="left")
    with pytest.raises(PermissionDeniedError):
        start_web_session(world.db, ctx, policy=POLICY, now=START)
    assert _rows(world) == []


def test_malformed_ids_are_no_session() -> None:
    from sqlalchemy import create_engine
    db = create_engine("sqlite://")  # never queried: malformed ids are refused first
    for sid in (None, "", "short", "x" * 44, "x" * 42 + "!", "anon." + "x" * 43):
        assert get_web_session(db, sid, policy=POLICY) is None


def test_bad_input_names_the_field(world: World) -> None:
    with pytest.raises(InputError, match="idle"):
        SessionPolicy(idle=timedelta(0), max_age=timedelta(hours=1))
    with pytest.raises(InputError, match="max_age"):
        SessionPolicy(idle=timedelta(minutes=1), max_age=-timedelta(hours=1))
    from datetime import datetime
    with pytest.raises(InputError, match="now"):
        start_web_session(world.db, world.ctx("monitor"), policy=POLICY,
                          now=datetime(2026, 5, 4, 8, 0))


def test_concurrent_touches_and_flashes_lose_nothing(world: World) -> None:
    """Several threads (as several server processes would) push notices to one session at
    once: every notice is kept (the row is locked while its list is rewritten)."""
    import threading
    sid = start_web_session(world.db, world.ctx("coordinator"), policy=POLICY,
                            now=START).session_id
    errors: list[BaseException] = []

    def push(i: int) -> None:
        try:
            for j in range(3):
                push_flash(world.db, sid, f"{i}.{j}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=push, args=(i,)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(pop_flashes(world.db, sid)) == sorted(f"{i}.{j}" for i in range(5)
                                                        for j in range(3))
    # a row updated by someone else in between is still one row
    with session_scope(world.db) as s:
        s.execute(update(m.WebSession).values(last_seen_at=START - timedelta(minutes=2)))
    assert get_web_session(world.db, sid, policy=POLICY, now=START) is not None
    with read_session(world.db) as s:
        assert s.scalar(select(func.count()).select_from(m.WebSession)) == 1
