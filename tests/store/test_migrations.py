"""The migration creates exactly the models' schema, with the audit guards, on both DBs."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError

from strokecell.store import (
    current_revision,
    head_revision,
    make_engine,
    schema_differences,
    upgrade_to_head,
)
from strokecell.store.migrate import alembic_config
from strokecell.store.models import Base


def test_upgrade_from_empty_matches_the_models(empty_db_url: str) -> None:
    engine = make_engine(empty_db_url)
    try:
        assert current_revision(engine) is None
        assert upgrade_to_head(empty_db_url) == head_revision() == "0004"
        assert current_revision(engine) == head_revision()
        assert schema_differences(engine) == []
        tables = set(inspect(engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
        assert upgrade_to_head(engine) == head_revision()  # a second run changes nothing
        with engine.connect() as conn:
            head = conn.execute(text("SELECT last_seq, last_hash FROM audit_chain_head")).all()
        assert head == [(0, "0" * 64)]
    finally:
        engine.dispose()


def test_downgrade_to_base_and_up_again(empty_db_url: str) -> None:
    from alembic import command

    engine = make_engine(empty_db_url)
    try:
        upgrade_to_head(engine)
        with engine.begin() as conn:
            command.downgrade(alembic_config(conn), "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        upgrade_to_head(engine)
        assert schema_differences(engine) == []
    finally:
        engine.dispose()


def test_the_migration_installs_the_append_only_guards(engine: object) -> None:
    from sqlalchemy import Engine

    assert isinstance(engine, Engine)
    for statement in ("UPDATE audit_chain_head SET last_seq = 5",
                      "DELETE FROM audit_chain_head",
                      "INSERT INTO audit_log (seq, username, role, occurred_at, offset_min, "
                      "table_name, row_key, action, prev_hash, row_hash) VALUES (7, 'x', 'y', "
                      "'2026-01-01 00:00:00', 0, 't', 'k', 'insert', 'p', 'h')"):
        with pytest.raises(DBAPIError), engine.begin() as conn:
            conn.execute(text(statement))


def test_0003_widens_the_columns_that_hold_scale_versions(empty_db_url: str) -> None:
    """Regression: the Fugl-Meyer version texts (61 and 92 characters) did not fit
    form_instances.instrument_version (40) nor their engine names derived_values.engine (80);
    PostgreSQL refused every FMA form."""
    from alembic import command

    engine = make_engine(empty_db_url)
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0002")
        upgrade_to_head(engine)
        widths = {(table, c["name"]): getattr(c["type"], "length", None)
                  for table in ("form_instances", "derived_values")
                  for c in inspect(engine).get_columns(table)}
        assert widths[("form_instances", "instrument_version")] == 200
        assert widths[("derived_values", "engine")] == 250
        assert schema_differences(engine) == []
    finally:
        engine.dispose()
