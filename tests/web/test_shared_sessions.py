"""Sessions and the sign-in throttle are in the database: several application instances
over one database (as several server processes, or one server before and after a restart)
share them. On SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, update

from strokecell.store import make_engine, read_session, session_scope
from strokecell.store import models as m
from strokecell.web import create_app
from strokecell.web.core.security import SessionStore

from .conftest import PASSWORD, STUDY, World, build_web_world, settings

COOKIE = "sc_session"


@pytest.fixture
def world(engine: Engine) -> World:
    return build_web_world(engine)


@pytest.fixture
def second_engine(engine: Engine) -> Iterator[Engine]:
    """An engine of its own on the same database (another server process's pool)."""
    other = make_engine(engine.url)
    yield other
    other.dispose()


def _sign_in(app: FastAPI, world: World, role: str = "coordinator") -> tuple[str, str]:
    """(cookie value, CSRF token) of a new API session on ``app``."""
    world.ctx(role, "S01")
    with TestClient(app) as client:
        r = client.post("/api/v1/session", json={
            "username": world.users[(role, "S01")], "password": PASSWORD,
            "study_code": STUDY, "role": role})
        assert r.status_code == 201, r.text
        cookie = client.cookies.get(COOKIE)
    assert cookie
    return cookie, str(r.json()["csrf_token"])


def _client(app: FastAPI, cookie: str) -> TestClient:
    client = TestClient(app)
    client.cookies.set(COOKIE, cookie)
    return client


def _row_counts(db: Engine) -> dict[str, int]:
    with read_session(db) as s:
        return {t.name: int(s.scalar(select(func.count()).select_from(t)) or 0)
                for t in m.Base.metadata.sorted_tables}


def test_a_session_works_on_every_server_and_sign_out_ends_it_everywhere(
        world: World, second_engine: Engine) -> None:
    one = create_app(settings(), world.db)
    two = create_app(settings(), second_engine)
    cookie, csrf = _sign_in(one, world)
    with _client(two, cookie) as other:
        me = other.get("/api/v1/me")
        assert me.status_code == 200 and me.json()["username"] == "coordinator.s01"
        assert me.json()["csrf_token"] == csrf  # same secret key: same CSRF token
        assert other.get("/dashboard", follow_redirects=False).status_code == 200
        r = other.delete("/api/v1/session", headers={"X-CSRF-Token": csrf})
        assert r.status_code == 204
    with _client(one, cookie) as first:
        assert first.get("/api/v1/me").status_code == 401
        assert first.get("/dashboard", follow_redirects=False).status_code == 303


def test_sessions_survive_a_restart(world: World) -> None:
    before = make_engine(world.db.url)
    cookie, _ = _sign_in(create_app(settings(), before), world, "monitor")
    before.dispose()  # the server stops ...
    after = make_engine(world.db.url)
    try:  # ... and a new one starts over the same database
        with _client(create_app(settings(), after), cookie) as client:
            r = client.get("/api/v1/me")
            assert r.status_code == 200 and r.json()["role"] == "monitor"
    finally:
        after.dispose()


def test_lockout_is_counted_across_servers(world: World, second_engine: Engine) -> None:
    world.ctx("coordinator", "S01")
    tight = settings(login_max_failures=3, login_lockout_minutes=5)
    apps = [create_app(tight, world.db), create_app(tight, second_engine)]
    body = {"username": "coordinator.s01", "study_code": STUDY, "role": "coordinator"}
    for i in range(3):  # the failures alternate between the servers
        with TestClient(apps[i % 2]) as client:
            r = client.post("/api/v1/session", json={**body, "password": "wrong password!"})
            assert r.status_code == 403
    for app in apps:  # locked on both, the right password included
        with TestClient(app) as client:
            r = client.post("/api/v1/session", json={**body, "password": PASSWORD})
            assert r.status_code == 429 and "locked" in r.json()["detail"]
            assert int(r.headers["retry-after"]) > 0


def test_rate_limit_is_counted_across_servers(world: World, second_engine: Engine) -> None:
    strict = settings(login_attempts_per_minute=4, login_max_failures=100)
    apps = [create_app(strict, world.db), create_app(strict, second_engine)]
    codes = []
    for i in range(6):
        with TestClient(apps[i % 2]) as client:
            codes.append(client.post("/api/v1/session", json={
                "username": f"nobody{i}", "password": "x" * 12, "study_code": STUDY,
                "role": "monitor"}).status_code)
    assert codes == [403] * 4 + [429] * 2


def test_a_flash_from_one_server_is_shown_once_by_the_other(
        world: World, second_engine: Engine) -> None:
    subject = world.enrol_one("S01")
    one = create_app(settings(), world.db)
    two = create_app(settings(), second_engine)
    cookie, _ = _sign_in(one, world)
    with _client(one, cookie) as first, _client(two, cookie) as other:
        page = first.get(f"/subjects/{subject}")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token
        r = first.post(f"/subjects/{subject}/randomize", data={"csrf_token": token.group(1)},
                       follow_redirects=False)
        assert r.status_code == 303
        shown = other.get(f"/subjects/{subject}")
        assert f"{subject} randomized: randomized #1." in shown.text
        assert "randomized: randomized #1." not in first.get(f"/subjects/{subject}").text


def test_the_database_holds_a_hash_of_the_session_id_not_the_id(world: World) -> None:
    cookie, _ = _sign_in(create_app(settings(), world.db), world)
    with read_session(world.db) as s:
        rows = s.execute(select(m.WebSession.__table__)).all()
    assert len(rows) == 1
    assert all(cookie not in str(value) for value in rows[0])
    assert rows[0].key_sha256 == hashlib.sha256(cookie.encode()).hexdigest()


def test_the_sign_in_page_writes_nothing_and_its_form_works_on_another_server(
        world: World, second_engine: Engine) -> None:
    world.ctx("coordinator", "S01")
    one = create_app(settings(), world.db)
    two = create_app(settings(), second_engine)
    before = _row_counts(world.db)
    with TestClient(one) as browser:
        page = browser.get("/login")
        browser.get("/login")
        assert _row_counts(world.db) == before  # anonymous sessions are stored nowhere
        anonymous = browser.cookies.get(COOKIE)
        assert anonymous and anonymous.startswith("anon.")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token
    with _client(two, anonymous) as other:
        form = {"csrf_token": token.group(1), "username": "coordinator.s01",
                "password": PASSWORD, "study_code": STUDY, "role": "coordinator"}
        r = other.post("/login", data={**form, "csrf_token": "0" * 64},
                       follow_redirects=False)
        assert r.status_code == 403  # login CSRF: the token must match the cookie
        r = other.post("/login", data=form, follow_redirects=False)
        assert r.status_code == 303
        signed_in = r.cookies.get(COOKIE)
        assert signed_in and not signed_in.startswith("anon.")


def test_last_seen_is_written_at_most_once_a_minute(world: World) -> None:
    app = create_app(settings(), world.db)
    cookie, _ = _sign_in(app, world)

    def last_seen() -> datetime:
        with read_session(world.db) as s:
            return s.scalars(select(m.WebSession.last_seen_at)).one()

    first = last_seen()
    with _client(app, cookie) as client:
        for _ in range(5):
            assert client.get("/api/v1/me").status_code == 200
        assert last_seen() == first  # reads only
        with session_scope(world.db) as s:
            s.execute(update(m.WebSession).values(
                last_seen_at=first - timedelta(minutes=2)))
        assert client.get("/api/v1/me").status_code == 200
        assert last_seen() >= first  # touched


def test_idle_and_absolute_expiry(world: World) -> None:
    app = create_app(settings(session_idle_minutes=30, session_max_hours=12), world.db)
    now = datetime.now(UTC)
    cookie, _ = _sign_in(app, world)
    with session_scope(world.db) as s:  # idle for 31 minutes
        s.execute(update(m.WebSession).values(last_seen_at=now - timedelta(minutes=31)))
    with _client(app, cookie) as client:
        assert client.get("/api/v1/me").status_code == 401
        assert client.get("/dashboard", follow_redirects=False).status_code == 303
    cookie, _ = _sign_in(app, world)
    with session_scope(world.db) as s:  # in use, but signed in 12 hours and a minute ago
        s.execute(update(m.WebSession).values(created_at=now - timedelta(hours=12, minutes=1),
                                              last_seen_at=now))
    with _client(app, cookie) as client:
        assert client.get("/api/v1/me").status_code == 401


def test_idle_expiry_on_an_injected_clock(world: World) -> None:
    class Clock:
        now = datetime.now(UTC)

        def __call__(self) -> datetime:
            return self.now

    clock = Clock()
    app = create_app(settings(session_idle_minutes=10), world.db)
    web: Any = app.state.web
    web.sessions = SessionStore(web.settings, world.db, clock=clock)
    cookie, _ = _sign_in(app, world)
    with _client(app, cookie) as client:
        for _ in range(3):  # in use every 9 minutes: alive for 27 minutes
            clock.now += timedelta(minutes=9)
            assert client.get("/api/v1/me").status_code == 200
        clock.now += timedelta(minutes=10, seconds=1)
        assert client.get("/api/v1/me").status_code == 401
