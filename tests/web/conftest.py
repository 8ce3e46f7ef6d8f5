"""Fixtures for the web tests: the reference study (two sites, one user per role and
site) behind the application, and signed-in API clients per role.

The study runs on the wall clock (the web signs users in with the real clock), on SQLite
(``web_world``); test_api_flow.py uses the store's ``engine`` fixture to run on PostgreSQL
too when STROKECELL_TEST_PG_URL is set.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from store.conftest import (  # noqa: F401 (pytest fixtures, found by name)
    DB_KINDS,
    db_kind,
    db_url,
    empty_db_url,
    engine,
    pg_shared,
    pg_template,
    sqlite_engine,
    sqlite_template,
)
from strokecell.store import make_engine
from strokecell.trial import add_site, init_study
from strokecell.web import Settings, create_app
from trial.conftest import (  # noqa: F401 (the autouse fixture caches argon2 hashes)
    MBI_0,
    MBI_45,
    PASSWORD,
    REFERENCE,
    STUDY,
    Clock,
    World,
    _fast_passwords,
    snapshot,
)

SECRET = "test-secret-key-of-at-least-32-bytes!!"
ROLES = ("investigator", "coordinator", "blinded_assessor", "cell_lab", "monitor",
         "statistician", "data_manager", "admin")


def build_web_world(db: Engine) -> World:
    """The reference study on the wall clock, with sites S01 and S02."""
    clock = Clock(datetime.now(UTC))
    admin = init_study(db, REFERENCE.read_text(encoding="utf-8"), admin_username="admin",
                       admin_password=PASSWORD, seed="web-seed", clock=clock)
    world = World(db, clock, admin)
    world.users[("admin", "ALL")] = "admin"
    for site in ("S01", "S02"):
        add_site(db, admin, site, f"Site {site}", country="CN", timezone="Asia/Shanghai")
    return world


def settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"env": "development", "secret_key": SECRET,
                              "default_study": STUDY, **overrides}
    return Settings(**values)


@dataclass
class ApiUser:
    """A signed-in API client (session cookie + CSRF header)."""

    client: TestClient
    csrf: str
    role: str
    site: str

    def get(self, url: str, **kw: Any) -> Any:
        return self.client.get(url, **kw)

    def send(self, method: str, url: str, json: Any = None, **kw: Any) -> Any:
        headers = {"X-CSRF-Token": self.csrf, **kw.pop("headers", {})}
        return self.client.request(method, url, json=json, headers=headers, **kw)


def sign_in_api(app: Any, world: World, role: str, site: str = "S01") -> ApiUser:
    world.ctx(role, site)  # creates the user on first use
    username = world.users[(role, site)]
    client = TestClient(app)
    r = client.post("/api/v1/session", json={"username": username, "password": PASSWORD,
                                             "study_code": STUDY, "role": role})
    assert r.status_code == 201, r.text
    return ApiUser(client, r.json()["csrf_token"], role, site)


@pytest.fixture
def web_world(sqlite_engine: Engine) -> World:  # noqa: F811
    """The study on SQLite (the flows of test_api_flow.py run on PostgreSQL too)."""
    return build_web_world(sqlite_engine)


@pytest.fixture
def app(web_world: World) -> Any:
    return create_app(settings(), web_world.db)


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="module")
def module_db(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path,  # noqa: F811
              ) -> Iterator[Engine]:
    """A migrated SQLite database shared by a module's tests (for the big matrices)."""
    import shutil
    path = tmp_path_factory.mktemp("webmod") / "web.sqlite"
    shutil.copyfile(sqlite_template, path)
    eng = make_engine(f"sqlite:///{path}")
    yield eng
    eng.dispose()


__all__ = ["MBI_0", "MBI_45", "PASSWORD", "ROLES", "SECRET", "STUDY", "ApiUser",
           "build_web_world", "settings", "sign_in_api", "snapshot"]
