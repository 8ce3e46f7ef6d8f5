"""Widen ``form_instances.instrument_version`` (40 -> 200) and ``derived_values.engine``
(80 -> 250 characters).

The version texts of the Fugl-Meyer scales are 61 (``fma_ue``, ``fma_le``) and 92
(``fma_total``) characters: PostgreSQL refused every FMA form (SQLite ignores VARCHAR
lengths), and the derived values of those forms name their engine ``"<code> <version>"``
(up to 40 + 1 + 200 characters) in ``derived_values.engine``. The scale-file schema
(``instruments/_schema.py``) now refuses a ``version`` longer than 200 characters and a
``code`` longer than 40 on load, so no scale can outgrow these columns again.

On PostgreSQL this is an ``ALTER COLUMN ... TYPE``. SQLite ignores VARCHAR lengths and
stores the values the same whatever the declared width, so only the declared type in the
table's schema text changes, as SQLite documents for changes that do not touch the stored
content (https://sqlite.org/lang_altertable.html, "otherwise"): ``writable_schema``, the
column's declaration rewritten, ``schema_version`` moved on, then an integrity check. Copying
the tables (Alembic's batch mode) would drop tables other rows reference, which the
connection's ``foreign_keys=ON`` refuses inside the migration's transaction.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


#: (table, column, width before, width after)
_CHANGES = (
    ("form_instances", "instrument_version", 40, 200),
    ("derived_values", "engine", 80, 250),
)


def _alter_sqlite(table: str, column: str, old: str, new: str) -> None:
    bind = op.get_bind()
    sql = bind.execute(sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' "
                               "AND name = :t"), {"t": table}).scalar_one()
    declared, wanted = f"\t{column} {old}", f"\t{column} {new}"
    if sql.count(declared) != 1:
        raise RuntimeError(f"{table}.{column}: expected one declaration {declared.strip()!r} "
                           f"in the schema, found {sql.count(declared)}")
    version = int(bind.exec_driver_sql("PRAGMA schema_version").scalar_one())
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    try:
        bind.execute(sa.text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' "
                             "AND name = :t"), {"sql": sql.replace(declared, wanted), "t": table})
        bind.exec_driver_sql(f"PRAGMA schema_version = {version + 1}")
    finally:
        bind.exec_driver_sql("PRAGMA writable_schema = OFF")
    check = bind.exec_driver_sql("PRAGMA integrity_check").scalar_one()
    if check != "ok":
        raise RuntimeError(f"integrity check after widening {table}.{column}: {check}")


def _alter(*, up: bool) -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table, column, before, after in _CHANGES:
        old, new = (before, after) if up else (after, before)
        nullable = column != "engine"
        if sqlite:
            suffix = "" if nullable else " NOT NULL"
            _alter_sqlite(table, column, f"VARCHAR({old}){suffix}", f"VARCHAR({new}){suffix}")
        else:
            op.alter_column(table, column, existing_type=sa.String(length=old),
                            type_=sa.String(length=new), existing_nullable=nullable)


def upgrade() -> None:
    _alter(up=True)


def downgrade() -> None:
    _alter(up=False)
