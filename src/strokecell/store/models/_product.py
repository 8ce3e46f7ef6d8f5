"""Cell product lots, their release records and tests, administrations, deviations."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    Double,
    ForeignKey,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from strokecell.store._types import DonorType, LotStatus, UTCDateTime, enum_type
from strokecell.store.models._base import Base


class ProductLot(Base):
    """A lot of the cell product; only a ``released`` lot may be administered.

    ``donor_code`` with ``lot_number`` is the start of the chain of identity; each
    administration links a lot to a subject.
    """

    __tablename__ = "product_lots"
    __table_args__ = (UniqueConstraint("study_id", "lot_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    lot_number: Mapped[str] = mapped_column(String(60))
    cell_type: Mapped[str] = mapped_column(String(80))
    source_tissue: Mapped[str] = mapped_column(String(80))
    donor_type: Mapped[DonorType] = mapped_column(enum_type(DonorType, "donor_type"))
    donor_code: Mapped[str | None] = mapped_column(String(60))
    status: Mapped[LotStatus] = mapped_column(enum_type(LotStatus, "status"),
                                              default=LotStatus.QUARANTINE)
    manufactured_on: Mapped[date | None] = mapped_column(Date)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    total_cells: Mapped[float | None] = mapped_column(Double)
    volume_ml: Mapped[float | None] = mapped_column(Double)
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    received_offset_min: Mapped[int | None] = mapped_column(SmallInteger)
    version: Mapped[int] = mapped_column(Integer, default=1)

    releases: Mapped[list[LotRelease]] = relationship(back_populates="lot",
                                                      order_by="LotRelease.id")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 (SQLAlchemy reads it)


class LotRelease(Base):
    """A release decision on a lot, signed by its author, with one row per test."""

    __tablename__ = "lot_releases"

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("product_lots.id"), index=True)
    decision: Mapped[LotStatus] = mapped_column(enum_type(LotStatus, "decision"))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_offset_min: Mapped[int] = mapped_column(SmallInteger)
    decided_by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str | None] = mapped_column(Text)

    lot: Mapped[ProductLot] = relationship(back_populates="releases")
    tests: Mapped[list[ReleaseTest]] = relationship(
        back_populates="release", cascade="all, delete-orphan", order_by="ReleaseTest.id")


class ReleaseTest(Base):
    """One release test: sterility, endotoxin, mycoplasma, viability, donor eligibility,
    or an ISCT identity marker (CD73, CD90, CD105 positive; CD34, CD45, HLA-DR negative).
    """

    __tablename__ = "release_tests"
    __table_args__ = (UniqueConstraint("release_id", "test_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("lot_releases.id"), index=True)
    test_code: Mapped[str] = mapped_column(String(40))
    raw_text: Mapped[str] = mapped_column(Text)
    value: Mapped[float | None] = mapped_column(Double)
    unit: Mapped[str | None] = mapped_column(String(40))
    specification: Mapped[str] = mapped_column(String(200))
    passed: Mapped[bool] = mapped_column(Boolean)

    release: Mapped[LotRelease] = relationship(back_populates="tests")


class Administration(Base):
    """One administration of cells to a subject (the end of the chain of identity).

    ``dose_cells_per_kg`` is computed from ``cell_count`` and ``weight_kg`` by the service,
    never typed; raw entries are kept in the form that recorded them.
    """

    __tablename__ = "administrations"
    __table_args__ = (UniqueConstraint("subject_id", "administration_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"), index=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("product_lots.id"), index=True)
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id"))
    form_instance_id: Mapped[int | None] = mapped_column(ForeignKey("form_instances.id"))
    protocol_version_id: Mapped[int] = mapped_column(ForeignKey("protocol_versions.id"))
    administration_number: Mapped[int] = mapped_column(SmallInteger)
    administered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    administered_offset_min: Mapped[int] = mapped_column(SmallInteger)
    operator_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    weight_kg: Mapped[float] = mapped_column(Double)
    cell_count: Mapped[float] = mapped_column(Double)
    viability_pct: Mapped[float] = mapped_column(Double)
    dose_cells_per_kg: Mapped[float] = mapped_column(Double)
    concentration_cells_per_ml: Mapped[float] = mapped_column(Double)
    volume_ml: Mapped[float] = mapped_column(Double)
    route: Mapped[str] = mapped_column(String(40))
    vessel: Mapped[str | None] = mapped_column(String(80))
    infusion_rate_ml_per_min: Mapped[float | None] = mapped_column(Double)
    hours_since_onset: Mapped[float] = mapped_column(Double)
    post_imaging_done: Mapped[bool | None] = mapped_column(Boolean)
    post_imaging_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    new_dwi_lesions: Mapped[int | None] = mapped_column(SmallInteger)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 (SQLAlchemy reads it)


class ProtocolDeviation(Base):
    """A departure from the protocol: dose plan, timing window, visit window, eligibility."""

    __tablename__ = "protocol_deviations"

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("subjects.id"), index=True)
    administration_id: Mapped[int | None] = mapped_column(ForeignKey("administrations.id"))
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id"))
    protocol_version_id: Mapped[int] = mapped_column(ForeignKey("protocol_versions.id"))
    category: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(Text)
    major: Mapped[bool] = mapped_column(Boolean, default=False)
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime())
    detected_offset_min: Mapped[int] = mapped_column(SmallInteger)
    detected_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
