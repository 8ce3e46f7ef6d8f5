"""Adverse events and safety signals (stopping-rule evaluations)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from strokecell.store._types import UTCDateTime
from strokecell.store.models._base import Base


class AdverseEvent(Base):
    """An adverse event (term, body system, CTCAE grade, seriousness, relatedness ...).

    Relatedness uses the WHO-UMC scale words (``not_related``, ``unlikely``, ``possible``,
    ``probable``, ``definite``); ``serious_criteria`` lists the ICH E2A criteria met
    (death, life_threatening, hospitalisation, disability, congenital_anomaly,
    important_medical_event). A serious event sets ``expedited_report_required``.
    """

    __tablename__ = "adverse_events"
    __table_args__ = (
        UniqueConstraint("subject_id", "ae_number"),
        CheckConstraint("ctcae_grade BETWEEN 1 AND 5", name="ctcae_grade"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"), index=True)
    form_instance_id: Mapped[int | None] = mapped_column(ForeignKey("form_instances.id"))
    protocol_version_id: Mapped[int] = mapped_column(ForeignKey("protocol_versions.id"))
    ae_number: Mapped[int] = mapped_column(Integer)
    term: Mapped[str] = mapped_column(String(200))
    body_system: Mapped[str] = mapped_column(String(120))
    onset_date: Mapped[date] = mapped_column(Date)
    resolution_date: Mapped[date | None] = mapped_column(Date)
    ongoing: Mapped[bool] = mapped_column(Boolean, default=True)
    ctcae_grade: Mapped[int] = mapped_column(SmallInteger)
    serious: Mapped[bool] = mapped_column(Boolean)
    serious_criteria: Mapped[list[Any]] = mapped_column(JSON, default=list)
    related_to_product: Mapped[str] = mapped_column(String(20))
    related_to_procedure: Mapped[str] = mapped_column(String(20))
    expected: Mapped[bool] = mapped_column(Boolean)
    action_taken: Mapped[str] = mapped_column(String(40))
    outcome: Mapped[str] = mapped_column(String(40))
    expedited_report_required: Mapped[bool] = mapped_column(Boolean, default=False)
    expedited_reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reported_offset_min: Mapped[int] = mapped_column(SmallInteger)
    reported_by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 (SQLAlchemy reads it)


class SafetySignal(Base):
    """A stopping rule of the protocol that fired (evaluated on each adverse-event entry)."""

    __tablename__ = "safety_signals"

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    protocol_version_id: Mapped[int] = mapped_column(ForeignKey("protocol_versions.id"))
    rule_code: Mapped[str] = mapped_column(String(60))
    description: Mapped[str] = mapped_column(Text)
    observed: Mapped[int] = mapped_column(Integer)
    threshold: Mapped[int] = mapped_column(Integer)
    adverse_event_id: Mapped[int | None] = mapped_column(ForeignKey("adverse_events.id"))
    triggered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
