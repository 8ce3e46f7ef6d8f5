"""Randomization lists (public header, concealed state), allocations, unblinding."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from strokecell.store._types import Role, UTCDateTime, enum_type
from strokecell.store.models._base import Base


class RandomizationList(Base):
    """The public header of a randomization scheme: which study, method, when created.

    Nothing here helps predict an allocation; the seed, the block sizes and the lists are
    in :class:`RandomizationState`, which only unblinded roles may read.
    """

    __tablename__ = "randomization_lists"
    __table_args__ = (UniqueConstraint("study_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    protocol_version_id: Mapped[int] = mapped_column(ForeignKey("protocol_versions.id"))
    name: Mapped[str] = mapped_column(String(60))
    method: Mapped[str] = mapped_column(String(40))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_offset_min: Mapped[int] = mapped_column(SmallInteger)
    created_by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))


class RandomizationState(Base):
    """CONCEALED: the engine state (``to_state()`` of ``strokecell.trial.randomization``).

    One row per list. ``revision`` is an optimistic lock: two enrolments cannot both
    advance the same state; ``state_sha256`` is the digest of the canonical JSON.
    """

    __tablename__ = "randomization_states"

    list_id: Mapped[int] = mapped_column(ForeignKey("randomization_lists.id"),
                                         primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    state_sha256: Mapped[str] = mapped_column(String(64))
    revision: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_offset_min: Mapped[int] = mapped_column(SmallInteger)

    __mapper_args__ = {"version_id_col": revision}  # noqa: RUF012 (SQLAlchemy reads it)


class SubjectAllocation(Base):
    """CONCEALED (the arm): one allocation, with who, when, the strata and what decided it."""

    __tablename__ = "allocations"
    __table_args__ = (UniqueConstraint("list_id", "sequence_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("randomization_lists.id"), index=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"), unique=True)
    arm_id: Mapped[int] = mapped_column(ForeignKey("arms.id"))
    sequence_number: Mapped[int] = mapped_column(Integer)
    stratum: Mapped[str] = mapped_column(String(400))
    strata: Mapped[dict[str, Any]] = mapped_column(JSON)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    allocated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    allocated_offset_min: Mapped[int] = mapped_column(SmallInteger)
    allocated_by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    allocated_by_role: Mapped[Role] = mapped_column(enum_type(Role, "allocated_by_role"))


class UnblindingEvent(Base):
    """An emergency (or planned) unblinding of one subject, with the reason."""

    __tablename__ = "unblinding_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"), index=True)
    allocation_id: Mapped[int] = mapped_column(ForeignKey("allocations.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    role: Mapped[Role] = mapped_column(enum_type(Role, "role"))
    emergency: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(Text)
    unblinded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    unblinded_offset_min: Mapped[int] = mapped_column(SmallInteger)
