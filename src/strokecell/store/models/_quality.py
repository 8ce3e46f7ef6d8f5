"""Data quality: queries with their message threads, record locks, e-signatures."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from strokecell.store._types import LockScope, QueryStatus, Role, UTCDateTime, enum_type
from strokecell.store.models._base import Base


class DataQuery(Base):
    """A query on a field (form + item) or a form; ``check_code`` names a failed edit check."""

    __tablename__ = "queries"

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"), index=True)
    form_instance_id: Mapped[int | None] = mapped_column(ForeignKey("form_instances.id"))
    item_code: Mapped[str | None] = mapped_column(String(60))
    check_code: Mapped[str | None] = mapped_column(String(60))
    status: Mapped[QueryStatus] = mapped_column(enum_type(QueryStatus, "status"),
                                                default=QueryStatus.OPEN)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    opened_offset_min: Mapped[int] = mapped_column(SmallInteger)
    opened_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_offset_min: Mapped[int | None] = mapped_column(SmallInteger)
    closed_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    messages: Mapped[list[QueryMessage]] = relationship(
        back_populates="query", cascade="all, delete-orphan", order_by="QueryMessage.id")


class QueryMessage(Base):
    """One message of a query thread (open, answer, re-open, close)."""

    __tablename__ = "query_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    query_id: Mapped[int] = mapped_column(ForeignKey("queries.id"), index=True)
    action: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text)
    author_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    author_role: Mapped[Role | None] = mapped_column(enum_type(Role, "author_role"))
    written_at: Mapped[datetime] = mapped_column(UTCDateTime())
    written_offset_min: Mapped[int] = mapped_column(SmallInteger)

    query: Mapped[DataQuery] = relationship(back_populates="messages")


class RecordLock(Base):
    """A lock on a form, a visit, a subject's casebook or the whole study.

    The row naming the narrowest target is set (``form_instance_id`` for a form lock ...).
    Unlocking sets ``unlocked_at`` and a reason; the row stays.
    """

    __tablename__ = "record_locks"

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    scope: Mapped[LockScope] = mapped_column(enum_type(LockScope, "scope"))
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("subjects.id"), index=True)
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id"))
    form_instance_id: Mapped[int | None] = mapped_column(ForeignKey("form_instances.id"))
    locked_at: Mapped[datetime] = mapped_column(UTCDateTime())
    locked_offset_min: Mapped[int] = mapped_column(SmallInteger)
    locked_by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    unlocked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    unlocked_offset_min: Mapped[int | None] = mapped_column(SmallInteger)
    unlocked_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    unlock_reason: Mapped[str | None] = mapped_column(Text)


class Signature(Base):
    """An electronic signature (21 CFR 11.50): who, when, the meaning, what was signed.

    ``content_sha256`` is the digest of the signed content; a later change to that content
    invalidates the signature (``invalidated_at`` and reason), it is never deleted.
    ``reauthenticated`` records that the password was re-entered for this signature.
    """

    __tablename__ = "signatures"

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    scope: Mapped[LockScope] = mapped_column(enum_type(LockScope, "scope"))
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("subjects.id"), index=True)
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id"))
    form_instance_id: Mapped[int | None] = mapped_column(ForeignKey("form_instances.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    role: Mapped[Role] = mapped_column(enum_type(Role, "role"))
    meaning: Mapped[str] = mapped_column(Text)
    content_sha256: Mapped[str] = mapped_column(String(64))
    reauthenticated: Mapped[bool] = mapped_column(Boolean)
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    signed_offset_min: Mapped[int] = mapped_column(SmallInteger)
    invalidated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    invalidated_reason: Mapped[str | None] = mapped_column(Text)
