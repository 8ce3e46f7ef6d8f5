"""Web sessions and the sign-in throttle move from server memory into the database.

Three tables of web plumbing, outside the trial record (not audited row by row; see
``models/_web.py``), so that every server process over one database shares them and they
survive a restart:

* ``web_sessions``: one row per signed-in session, stored by the SHA-256 of the session id
  (never the id itself), with the user, study, role and UTC offset it acts in, when it
  began and was last seen, and its pending flash notices (JSON text);
* ``login_attempts``: one row per sign-in attempt and client address, for the per-address
  rate limit (rows older than a minute are deleted as new attempts come in, hence the
  index on ``attempted_at`` besides the one on address and time);
* ``login_failures``: failed sign-ins in a row per user name (by the SHA-256 of the
  lower-cased name) and the lockout they led to.

Plain tables and indexes, the same on SQLite and PostgreSQL. Downgrading drops them, which
signs everyone out and forgets the throttle's counters.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_sha256", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "investigator",
                "coordinator",
                "blinded_assessor",
                "cell_lab",
                "monitor",
                "statistician",
                "data_manager",
                "admin",
                name="role",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("offset_min", sa.SmallInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("flash", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["study_id"], ["studies.id"], name=op.f("fk_web_sessions_study_id_studies")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_web_sessions_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_sessions")),
        sa.UniqueConstraint("key_sha256", name=op.f("uq_web_sessions_key_sha256")),
    )
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=100), nullable=False),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_attempts")),
    )
    op.create_index(
        "ix_login_attempts_address_attempted_at",
        "login_attempts",
        ["address", "attempted_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_login_attempts_attempted_at"), "login_attempts", ["attempted_at"], unique=False
    )
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username_sha256", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
        sa.UniqueConstraint("username_sha256", name=op.f("uq_login_failures_username_sha256")),
    )
    op.create_index(
        op.f("ix_login_failures_locked_until"), "login_failures", ["locked_until"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_login_failures_locked_until"), table_name="login_failures")
    op.drop_table("login_failures")
    op.drop_index(op.f("ix_login_attempts_attempted_at"), table_name="login_attempts")
    op.drop_index("ix_login_attempts_address_attempted_at", table_name="login_attempts")
    op.drop_table("login_attempts")
    op.drop_table("web_sessions")
