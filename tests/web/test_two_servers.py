"""Two ``strokecell serve`` processes over one SQLite file share sessions and the sign-in
lockout, and a restarted server keeps everyone signed in (sessions are in the database)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from strokecell.store import make_engine, upgrade_to_head
from strokecell.trial import create_user, grant_role, init_study

from . import _server
from .conftest import PASSWORD, REFERENCE, STUDY

SECRET = "two-servers-secret-key-of-32-bytes!!"


class Server(_server.Server):
    """A server with the lockout after 3 failures, and clients for it."""

    def __init__(self, url: str, log: Path) -> None:
        super().__init__(url, log, secret=SECRET,
                         env={"STROKECELL_WEB_LOGIN_MAX_FAILURES": "3"})

    def client(self, cookie: str | None = None) -> httpx.Client:
        client = httpx.Client(base_url=self.base, timeout=30)
        if cookie is not None:
            client.cookies.set("sc_session", cookie)
        return client


@pytest.fixture
def database(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'two.sqlite'}"
    engine = make_engine(url)
    try:
        upgrade_to_head(engine)
        admin = init_study(engine, REFERENCE.read_text(encoding="utf-8"),
                           admin_username="admin", admin_password=PASSWORD, seed="two")
        for name in ("coordinator", "monitor"):
            create_user(engine, admin, name, name.title(), PASSWORD)
            grant_role(engine, admin, name, name, None)
    finally:
        engine.dispose()
    return url


@pytest.fixture
def servers(database: str, tmp_path: Path) -> Iterator[list[Server]]:
    started: list[Server] = []
    try:
        started.append(Server(database, tmp_path / "a.log"))
        started.append(Server(database, tmp_path / "b.log"))
        yield started
    finally:
        for server in started:
            server.stop()


def _sign_in(server: Server, username: str, password: str = PASSWORD) -> httpx.Response:
    with server.client() as client:
        return client.post("/api/v1/session", json={
            "username": username, "password": password, "study_code": STUDY,
            "role": username})


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX processes")
def test_two_servers_and_a_restart(servers: list[Server], database: str,
                                   tmp_path: Path) -> None:
    a, b = servers
    r = _sign_in(a, "monitor")
    assert r.status_code == 201, r.text
    cookie, csrf = r.cookies["sc_session"], r.json()["csrf_token"]
    with b.client(cookie) as client:  # made by A, known to B
        me = client.get("/api/v1/me")
        assert me.status_code == 200 and me.json()["username"] == "monitor"
    # failures counted by both servers lock the name on both
    for server in (a, b, a):
        assert _sign_in(server, "coordinator", "wrong password!").status_code == 403
    for server in (a, b):
        assert _sign_in(server, "coordinator").status_code == 429
    # A restarts: the session made before is still good there
    a.stop()
    servers.append(restarted := Server(database, tmp_path / "a2.log"))
    with restarted.client(cookie) as client:
        assert client.get("/api/v1/me").status_code == 200
        assert client.delete("/api/v1/session",
                             headers={"X-CSRF-Token": csrf}).status_code == 204
    with b.client(cookie) as client:  # signed out on A: ended on B too
        assert client.get("/api/v1/me").status_code == 401
