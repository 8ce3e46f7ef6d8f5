"""Screening, subjects and their visits."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from strokecell.store._types import (
    ScreeningOutcome,
    SubjectStatus,
    UTCDateTime,
    VisitStatus,
    enum_type,
)
from strokecell.store.models._base import Base


class Screening(Base):
    """A screened patient, eligible or not (screen failures are kept with their reasons)."""

    __tablename__ = "screenings"
    __table_args__ = (UniqueConstraint("study_id", "screening_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    protocol_version_id: Mapped[int] = mapped_column(ForeignKey("protocol_versions.id"))
    screening_number: Mapped[str] = mapped_column(String(40))
    outcome: Mapped[ScreeningOutcome] = mapped_column(
        enum_type(ScreeningOutcome, "outcome"), default=ScreeningOutcome.PENDING)
    screened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    screened_offset_min: Mapped[int] = mapped_column(SmallInteger)
    screened_by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    consent_date: Mapped[date | None] = mapped_column(Date)

    answers: Mapped[list[EligibilityAnswer]] = relationship(
        back_populates="screening", cascade="all, delete-orphan",
        order_by="EligibilityAnswer.id")
    failure_reasons: Mapped[list[ScreenFailureReason]] = relationship(
        back_populates="screening", cascade="all, delete-orphan",
        order_by="ScreenFailureReason.id")


class EligibilityAnswer(Base):
    """The answer to one eligibility criterion, as entered and as judged (``met``)."""

    __tablename__ = "eligibility_answers"
    __table_args__ = (UniqueConstraint("screening_id", "criterion_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    screening_id: Mapped[int] = mapped_column(ForeignKey("screenings.id"), index=True)
    criterion_code: Mapped[str] = mapped_column(String(60))
    raw_text: Mapped[str | None] = mapped_column(Text)
    met: Mapped[bool | None] = mapped_column(Boolean)

    screening: Mapped[Screening] = relationship(back_populates="answers")


class ScreenFailureReason(Base):
    """Why a screened patient was not enrolled (a failed criterion, or free text)."""

    __tablename__ = "screen_failure_reasons"

    id: Mapped[int] = mapped_column(primary_key=True)
    screening_id: Mapped[int] = mapped_column(ForeignKey("screenings.id"), index=True)
    criterion_code: Mapped[str | None] = mapped_column(String(60))
    reason: Mapped[str] = mapped_column(Text)

    screening: Mapped[Screening] = relationship(back_populates="failure_reasons")


class Subject(Base):
    """An enrolled subject; ``subject_code`` is the study subject id (``USUBJID``)."""

    __tablename__ = "subjects"
    __table_args__ = (UniqueConstraint("study_id", "subject_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    screening_id: Mapped[int | None] = mapped_column(ForeignKey("screenings.id"), unique=True)
    protocol_version_id: Mapped[int] = mapped_column(ForeignKey("protocol_versions.id"))
    subject_code: Mapped[str] = mapped_column(String(40))
    status: Mapped[SubjectStatus] = mapped_column(enum_type(SubjectStatus, "status"),
                                                  default=SubjectStatus.ENROLLED)
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime())
    enrolled_offset_min: Mapped[int] = mapped_column(SmallInteger)
    enrolled_by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    stroke_onset_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    stroke_onset_offset_min: Mapped[int | None] = mapped_column(SmallInteger)
    anchor_date: Mapped[date | None] = mapped_column(Date)
    strata: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    version: Mapped[int] = mapped_column(Integer, default=1)

    visits: Mapped[list[Visit]] = relationship(back_populates="subject",
                                               order_by="Visit.visit_number")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 (SQLAlchemy reads it)


class Visit(Base):
    """A scheduled visit: expected date from the anchor date, window, status."""

    __tablename__ = "visits"
    __table_args__ = (UniqueConstraint("subject_id", "visit_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"), index=True)
    protocol_version_id: Mapped[int] = mapped_column(ForeignKey("protocol_versions.id"))
    visit_code: Mapped[str] = mapped_column(String(20))
    visit_name: Mapped[str] = mapped_column(String(100))
    visit_number: Mapped[int] = mapped_column(Integer)
    expected_date: Mapped[date] = mapped_column(Date)
    window_before_days: Mapped[int] = mapped_column(SmallInteger)
    window_after_days: Mapped[int] = mapped_column(SmallInteger)
    actual_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[VisitStatus] = mapped_column(enum_type(VisitStatus, "status"),
                                                default=VisitStatus.SCHEDULED)
    version: Mapped[int] = mapped_column(Integer, default=1)

    subject: Mapped[Subject] = relationship(back_populates="visits")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 (SQLAlchemy reads it)
