"""Schema migrations (Alembic), run programmatically: no alembic.ini needed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine
from sqlalchemy.engine import URL

from strokecell.store.engine import make_engine
from strokecell.store.models import Base

__all__ = ["alembic_config", "current_revision", "head_revision", "schema_differences",
           "upgrade_to_head"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config pointing at strokecell's migrations (optionally bound)."""
    cfg = Config()
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("version_locations", str(MIGRATIONS / "versions"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _engine(engine_or_url: Engine | str | URL) -> tuple[Engine, bool]:
    if isinstance(engine_or_url, Engine):
        return engine_or_url, False
    return make_engine(engine_or_url), True


def upgrade_to_head(engine_or_url: Engine | str | URL) -> str:
    """Create or upgrade the schema to the newest migration; returns the revision."""
    engine, owned = _engine(engine_or_url)
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "head")
        return current_revision(engine) or ""
    finally:
        if owned:
            engine.dispose()


def head_revision() -> str:
    """The newest migration's revision id."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    return head or ""


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None for an empty database)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def schema_differences(engine: Engine) -> list[Any]:
    """What Alembic's autogenerate would change to make the database match the models."""
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(ctx, Base.metadata))
