"""Form instances and their item values (one row per item), plus derived totals."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
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

from strokecell.store._types import FormStatus, UTCDateTime, ValueType, enum_type
from strokecell.store.models._base import Base


class FormInstance(Base):
    """One filled (or partly filled) form: a scale or a CRF page, at a visit or unscheduled.

    ``version`` is the optimistic lock: a writer holding an old version gets a conflict.
    ``repeat_index`` numbers repeating forms (adverse events, concomitant medications).
    """

    __tablename__ = "form_instances"
    __table_args__ = (UniqueConstraint("subject_id", "visit_id", "form_code", "repeat_index"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"), index=True)
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id"), index=True)
    protocol_version_id: Mapped[int] = mapped_column(ForeignKey("protocol_versions.id"))
    form_code: Mapped[str] = mapped_column(String(40))
    instrument_code: Mapped[str | None] = mapped_column(String(40))
    instrument_version: Mapped[str | None] = mapped_column(String(200))
    repeat_index: Mapped[int] = mapped_column(SmallInteger, default=1)
    status: Mapped[FormStatus] = mapped_column(enum_type(FormStatus, "status"),
                                               default=FormStatus.INCOMPLETE)
    assessment_date: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_offset_min: Mapped[int] = mapped_column(SmallInteger)
    created_by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_offset_min: Mapped[int] = mapped_column(SmallInteger)
    updated_by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)

    items: Mapped[list[ItemValue]] = relationship(
        back_populates="form", cascade="all, delete-orphan", order_by="ItemValue.id")
    derived: Mapped[list[DerivedValue]] = relationship(
        back_populates="form", cascade="all, delete-orphan", order_by="DerivedValue.id")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 (SQLAlchemy reads it)


class ItemValue(Base):
    """One item of a form: the text exactly as entered and the validated typed value.

    Exactly one ``value_*`` column is set, the one ``value_type`` names; all are NULL when
    the item is missing with a ``missing_reason`` (not done, unknown, not applicable).
    """

    __tablename__ = "item_values"
    __table_args__ = (UniqueConstraint("form_instance_id", "item_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    form_instance_id: Mapped[int] = mapped_column(ForeignKey("form_instances.id"), index=True)
    item_code: Mapped[str] = mapped_column(String(60))
    raw_text: Mapped[str | None] = mapped_column(Text)
    value_type: Mapped[ValueType] = mapped_column(enum_type(ValueType, "value_type"))
    value_int: Mapped[int | None] = mapped_column(BigInteger)
    value_num: Mapped[float | None] = mapped_column(Double)
    value_text: Mapped[str | None] = mapped_column(Text)
    value_date: Mapped[date | None] = mapped_column(Date)
    value_datetime: Mapped[datetime | None] = mapped_column(UTCDateTime())
    value_bool: Mapped[bool | None] = mapped_column(Boolean)
    unit: Mapped[str | None] = mapped_column(String(40))
    missing_reason: Mapped[str | None] = mapped_column(String(40))

    form: Mapped[FormInstance] = relationship(back_populates="items")


class DerivedValue(Base):
    """A value computed by an engine from the items (scale totals, bands): never typed.

    ``param_code`` is the CDISC PARAMCD (``MBI``, ``FMATOT``, ``NIHSS`` ...).
    """

    __tablename__ = "derived_values"
    __table_args__ = (UniqueConstraint("form_instance_id", "param_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    form_instance_id: Mapped[int] = mapped_column(ForeignKey("form_instances.id"), index=True)
    param_code: Mapped[str] = mapped_column(String(40))
    value_num: Mapped[float | None] = mapped_column(Double)
    value_text: Mapped[str | None] = mapped_column(String(200))
    engine: Mapped[str] = mapped_column(String(250))  # "<scale code> <version>"
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())

    form: Mapped[FormInstance] = relationship(back_populates="derived")
