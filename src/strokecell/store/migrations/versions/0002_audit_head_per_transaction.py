"""Audit chain head moved once per transaction instead of once per audit row.

The services now compute the chain of all the audit rows of one transaction in memory,
insert them in order and move ``audit_chain_head`` once, just before the commit. The
guards of migration 0001 required each INSERT to extend the *head* and the head to advance
by exactly one, which forced one head UPDATE per audit row. They become (same trigger
names, on both SQLite and PostgreSQL):

* an INSERT into ``audit_log`` must extend the *last row* of the log (``seq = max(seq) + 1``
  and ``prev_hash`` = that row's ``row_hash``, the genesis hash for row 1) and lie beyond
  the head (``seq > last_seq``), so the chain still cannot fork or gain a gap;
* ``audit_chain_head`` may only move forward, to the last row of the log (its ``seq`` and
  ``row_hash``), and still cannot be deleted.

UPDATE and DELETE of ``audit_log`` (and TRUNCATE on PostgreSQL) stay refused as before.
``verify_chain`` is unchanged: rows and head must agree once a transaction has committed.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS_HASH = "0" * 64

_SQLITE_NEW = (
    "DROP TRIGGER IF EXISTS audit_log_append_check",
    f"""CREATE TRIGGER audit_log_append_check BEFORE INSERT ON audit_log
    WHEN NEW.seq IS NOT (SELECT COALESCE(MAX(seq), 0) + 1 FROM audit_log)
      OR NEW.prev_hash IS NOT COALESCE((SELECT row_hash FROM audit_log
                                         WHERE seq = NEW.seq - 1), '{GENESIS_HASH}')
      OR NEW.seq <= COALESCE((SELECT last_seq FROM audit_chain_head WHERE id = 1), NEW.seq)
    BEGIN SELECT RAISE(ABORT, 'audit_log insert does not extend the chain beyond the head');
    END""",
    "DROP TRIGGER IF EXISTS audit_chain_head_advance",
    """CREATE TRIGGER audit_chain_head_advance BEFORE UPDATE ON audit_chain_head
    WHEN NEW.id IS NOT OLD.id OR NEW.last_seq <= OLD.last_seq
      OR NEW.last_seq IS NOT (SELECT MAX(seq) FROM audit_log)
      OR NOT EXISTS (SELECT 1 FROM audit_log
                     WHERE seq = NEW.last_seq AND row_hash = NEW.last_hash)
    BEGIN SELECT RAISE(ABORT, 'audit_chain_head may only advance, to the last audit row');
    END""",
)

_SQLITE_OLD = (
    "DROP TRIGGER IF EXISTS audit_log_append_check",
    """CREATE TRIGGER audit_log_append_check BEFORE INSERT ON audit_log
    WHEN NEW.seq IS NOT (SELECT last_seq + 1 FROM audit_chain_head WHERE id = 1)
      OR NEW.prev_hash IS NOT (SELECT last_hash FROM audit_chain_head WHERE id = 1)
    BEGIN SELECT RAISE(ABORT, 'audit_log insert does not extend the chain head'); END""",
    "DROP TRIGGER IF EXISTS audit_chain_head_advance",
    """CREATE TRIGGER audit_chain_head_advance BEFORE UPDATE ON audit_chain_head
    WHEN NEW.id IS NOT OLD.id OR NEW.last_seq IS NOT OLD.last_seq + 1
      OR NOT EXISTS (SELECT 1 FROM audit_log
                     WHERE seq = NEW.last_seq AND row_hash = NEW.last_hash)
    BEGIN SELECT RAISE(ABORT, 'audit_chain_head may only advance by one to an existing row');
    END""",
)

_PG_NEW = (
    f"""CREATE OR REPLACE FUNCTION audit_log_check_append() RETURNS trigger
    LANGUAGE plpgsql AS $$
    DECLARE head record; tail bigint; link text;
    BEGIN
        SELECT last_seq, last_hash INTO head FROM audit_chain_head WHERE id = 1;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'audit_log insert: the chain head is missing'
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        SELECT max(seq) INTO tail FROM audit_log;
        IF NEW.seq > 1 THEN
            SELECT row_hash INTO link FROM audit_log WHERE seq = NEW.seq - 1;
        ELSE
            link := '{GENESIS_HASH}';
        END IF;
        IF NEW.seq IS DISTINCT FROM COALESCE(tail, 0) + 1 OR NEW.seq <= head.last_seq
           OR NEW.prev_hash IS DISTINCT FROM link THEN
            RAISE EXCEPTION 'audit_log insert does not extend the chain (seq %)', NEW.seq
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NEW;
    END $$""",
    """CREATE OR REPLACE FUNCTION audit_chain_head_guard() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            RAISE EXCEPTION 'audit_chain_head cannot be deleted'
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        IF NEW.id IS DISTINCT FROM OLD.id OR NEW.last_seq <= OLD.last_seq
           OR NEW.last_seq IS DISTINCT FROM (SELECT max(seq) FROM audit_log)
           OR NOT EXISTS (SELECT 1 FROM audit_log
                          WHERE seq = NEW.last_seq AND row_hash = NEW.last_hash) THEN
            RAISE EXCEPTION 'audit_chain_head may only advance, to the last row of audit_log'
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NEW;
    END $$""",
)

_PG_OLD = (
    """CREATE OR REPLACE FUNCTION audit_log_check_append() RETURNS trigger
    LANGUAGE plpgsql AS $$
    DECLARE head record;
    BEGIN
        SELECT last_seq, last_hash INTO head FROM audit_chain_head WHERE id = 1;
        IF head IS NULL OR NEW.seq IS DISTINCT FROM head.last_seq + 1
           OR NEW.prev_hash IS DISTINCT FROM head.last_hash THEN
            RAISE EXCEPTION 'audit_log insert does not extend the chain head (seq %)', NEW.seq
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NEW;
    END $$""",
    """CREATE OR REPLACE FUNCTION audit_chain_head_guard() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            RAISE EXCEPTION 'audit_chain_head cannot be deleted'
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        IF NEW.id IS DISTINCT FROM OLD.id OR NEW.last_seq IS DISTINCT FROM OLD.last_seq + 1
           OR NOT EXISTS (SELECT 1 FROM audit_log
                          WHERE seq = NEW.last_seq AND row_hash = NEW.last_hash) THEN
            RAISE EXCEPTION 'audit_chain_head may only advance by one to an existing row'
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NEW;
    END $$""",
)


def _run(sqlite: Sequence[str], postgresql: Sequence[str]) -> None:
    statements = postgresql if op.get_bind().dialect.name == "postgresql" else sqlite
    for statement in statements:
        op.execute(sa.text(statement))


def upgrade() -> None:
    _run(_SQLITE_NEW, _PG_NEW)


def downgrade() -> None:
    _run(_SQLITE_OLD, _PG_OLD)
