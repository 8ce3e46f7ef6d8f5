"""The audit trail tables: append-only log rows chained by SHA-256, and the chain head."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Integer, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from strokecell.store._types import AuditAction, UTCDateTime, enum_type
from strokecell.store.models._base import Base

GENESIS_HASH = "0" * 64


class AuditLog(Base):
    """One audited change of one field (or of a whole row, ``field_name`` NULL).

    No foreign keys: the trail outlives and never blocks the rows it describes. ``seq`` is
    the position in the chain (1, 2, 3 ... without gaps); ``row_hash`` is the SHA-256 of
    the row's canonical content including ``prev_hash``, the previous row's ``row_hash``.
    UPDATE and DELETE are refused by database triggers (see the initial migration).
    """

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    study_id: Mapped[int | None] = mapped_column(Integer, index=True)
    user_id: Mapped[int | None] = mapped_column(Integer)
    username: Mapped[str] = mapped_column(String(80))
    role: Mapped[str] = mapped_column(String(40))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    offset_min: Mapped[int] = mapped_column(SmallInteger)
    table_name: Mapped[str] = mapped_column(String(60))
    row_key: Mapped[str] = mapped_column(String(200))
    action: Mapped[AuditAction] = mapped_column(enum_type(AuditAction, "action"))
    field_name: Mapped[str | None] = mapped_column(String(60))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditChainHead(Base):
    """The single row (id 1) holding the last sequence number and hash of the chain.

    Appenders lock this row (``SELECT ... FOR UPDATE`` on PostgreSQL; the SQLite writer
    lock taken by ``BEGIN IMMEDIATE``), so two writers cannot fork the chain; comparing it
    with the last log row detects a truncated tail.
    """

    __tablename__ = "audit_chain_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(64))
