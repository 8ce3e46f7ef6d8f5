"""Alembic environment for strokecell; run through ``strokecell.store.upgrade_to_head``.

The caller passes an open connection in ``config.attributes["connection"]``; without one,
an engine is made from ``sqlalchemy.url`` with :func:`strokecell.store.make_engine`.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from strokecell.store.engine import make_engine
from strokecell.store.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():  # pragma: no cover - SQL scripts are not used
    context.configure(url=config.get_main_option("sqlalchemy.url"),
                      target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
