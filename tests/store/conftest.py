"""Database fixtures: every store test runs on SQLite and on PostgreSQL.

PostgreSQL cases need a server: ``scripts/test-postgres.sh start`` and
``export STROKECELL_TEST_PG_URL=$(cat .pg-test/url)`` (``make test`` does both). Without the
variable they are skipped with that reason.

Each test gets a fresh, migrated database. On SQLite it is a copy of a template file
migrated once per run. On PostgreSQL, where ``CREATE DATABASE`` costs about 0.4 s, the
``engine`` fixture hands out one migrated database per test process, emptied before each
test (every table emptied with triggers off, chain head reset; ids are not reset); tests that change
the schema itself (dropping the audit triggers) use ``isolated_engine``, a database of
their own made with ``CREATE DATABASE ... TEMPLATE`` and dropped afterwards.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from strokecell.store import make_engine, upgrade_to_head
from strokecell.store.models import GENESIS_HASH, Base

PG_ENV = "STROKECELL_TEST_PG_URL"
PG_URL = os.environ.get(PG_ENV, "")
SKIP_PG = pytest.mark.skipif(
    not PG_URL,
    reason=f"PostgreSQL tests need {PG_ENV}: run scripts/test-postgres.sh start and export "
           "the URL it prints (make test does this)")
DB_KINDS = [pytest.param("sqlite", id="sqlite"),
            pytest.param("postgresql", id="postgresql", marks=SKIP_PG)]


def _pg_admin() -> Engine:
    return make_engine(make_url(PG_URL))


def _pg_url(name: str) -> str:
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


def _pg_create(name: str, template: str | None = None) -> None:
    admin = _pg_admin()
    try:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            suffix = f" TEMPLATE {template}" if template else ""
            conn.execute(text(f'CREATE DATABASE "{name}"{suffix}'))
    finally:
        admin.dispose()


def _pg_drop(name: str) -> None:
    admin = _pg_admin()
    try:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    upgrade_to_head(engine)
    engine.dispose()  # closing the last connection checkpoints the WAL into the file
    with sqlite3.connect(path) as raw:
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw.close()
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    name = f"sc_tpl_{uuid.uuid4().hex[:10]}"
    _pg_create(name)
    engine = make_engine(_pg_url(name))
    upgrade_to_head(engine)
    engine.dispose()
    yield name
    _pg_drop(name)


@pytest.fixture(params=DB_KINDS)
def db_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def empty_db_url(db_kind: str, tmp_path: Path) -> Iterator[str]:
    """A URL of a new, empty database (no schema)."""
    if db_kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite'}"
        return
    name = f"sc_t_{uuid.uuid4().hex[:12]}"
    _pg_create(name)
    yield _pg_url(name)
    _pg_drop(name)


@pytest.fixture
def db_url(db_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A URL of a new database migrated to head."""
    if db_kind == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "test.sqlite"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    pg_tpl: str = request.getfixturevalue("pg_template")
    name = f"sc_t_{uuid.uuid4().hex[:12]}"
    _pg_create(name, template=pg_tpl)
    yield _pg_url(name)
    _pg_drop(name)


@pytest.fixture(scope="session")
def pg_shared(pg_template: str) -> Iterator[Engine]:
    """One migrated PostgreSQL database for this test process, reset before each test."""
    name = f"sc_s_{uuid.uuid4().hex[:12]}"
    _pg_create(name, template=pg_template)
    eng = make_engine(_pg_url(name))
    yield eng
    eng.dispose()
    _pg_drop(name)


def _pg_reset(eng: Engine) -> None:
    # DELETE is much cheaper than TRUNCATE on near-empty tables; replica role turns the
    # audit triggers and the foreign-key checks off for this transaction only.
    with eng.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
        conn.execute(text("INSERT INTO audit_chain_head (id, last_seq, last_hash) "
                          f"VALUES (1, 0, '{GENESIS_HASH}')"))


@pytest.fixture
def engine(db_kind: str, request: pytest.FixtureRequest) -> Iterator[Engine]:
    """An engine on an empty migrated database (do not change its schema: see below)."""
    if db_kind == "sqlite":
        eng = make_engine(request.getfixturevalue("db_url"))
        yield eng
        eng.dispose()
        return
    shared: Engine = request.getfixturevalue("pg_shared")
    _pg_reset(shared)
    yield shared


@pytest.fixture
def isolated_engine(db_url: str) -> Iterator[Engine]:
    """An engine on a database of its own, for tests that alter the schema."""
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def sqlite_engine(sqlite_template: Path, tmp_path: Path) -> Iterator[Engine]:
    """A migrated SQLite database, for the tests about SQLite itself."""
    path = tmp_path / "sqlite-only.sqlite"
    shutil.copyfile(sqlite_template, path)
    eng = make_engine(f"sqlite:///{path}")
    yield eng
    eng.dispose()
