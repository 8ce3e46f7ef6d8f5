"""Studies, protocol versions, arms, sites, users and their roles."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from strokecell.store._types import Role, StudyStatus, UTCDateTime, enum_type
from strokecell.store.models._base import Base


class Study(Base):
    """A trial (CDISC ``STUDYID`` = ``code``)."""

    __tablename__ = "studies"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    title: Mapped[str] = mapped_column(String(400))
    status: Mapped[StudyStatus] = mapped_column(enum_type(StudyStatus, "status"),
                                                default=StudyStatus.SETUP)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_offset_min: Mapped[int] = mapped_column(SmallInteger)

    protocol_versions: Mapped[list[ProtocolVersion]] = relationship(
        back_populates="study", order_by="ProtocolVersion.id")
    sites: Mapped[list[Site]] = relationship(back_populates="study", order_by="Site.code")
    arms: Mapped[list[Arm]] = relationship(back_populates="study", order_by="Arm.id")


class ProtocolVersion(Base):
    """One version of the protocol, kept as the YAML text it was loaded from.

    A protocol amendment is a new row; clinical rows point at the version they were
    collected under. ``sha256`` is the hex digest of ``yaml_text`` encoded as UTF-8.
    """

    __tablename__ = "protocol_versions"
    __table_args__ = (
        UniqueConstraint("study_id", "version_label"),
        UniqueConstraint("study_id", "sha256"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    version_label: Mapped[str] = mapped_column(String(40))
    yaml_text: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime())
    effective_offset_min: Mapped[int] = mapped_column(SmallInteger)
    note: Mapped[str | None] = mapped_column(Text)

    study: Mapped[Study] = relationship(back_populates="protocol_versions")


class Arm(Base):
    """A treatment arm (CDISC ``ARMCD`` = ``code``) with its allocation weight."""

    __tablename__ = "arms"
    __table_args__ = (UniqueConstraint("study_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    protocol_version_id: Mapped[int] = mapped_column(ForeignKey("protocol_versions.id"))
    code: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    ratio_weight: Mapped[int] = mapped_column(SmallInteger)
    receives_cells: Mapped[bool] = mapped_column(Boolean)

    study: Mapped[Study] = relationship(back_populates="arms")


class Site(Base):
    """A trial site (CDISC ``SITEID`` = ``code``); ``timezone`` is an IANA name."""

    __tablename__ = "sites"
    __table_args__ = (UniqueConstraint("study_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    code: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str | None] = mapped_column(String(2))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    study: Mapped[Study] = relationship(back_populates="sites")


class User(Base):
    """A person who signs in; ``password_hash`` is an argon2id hash (never the password)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_offset_min: Mapped[int] = mapped_column(SmallInteger)

    roles: Mapped[list[RoleAssignment]] = relationship(
        back_populates="user", foreign_keys="RoleAssignment.user_id")


class RoleAssignment(Base):
    """A role held by a user in a study, at one site (``site_id``) or all (NULL).

    Revoking sets ``revoked_at``; the row stays, so that who could do what, when, is kept.
    """

    __tablename__ = "role_assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"))
    role: Mapped[Role] = mapped_column(enum_type(Role, "role"))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    granted_offset_min: Mapped[int] = mapped_column(SmallInteger)
    granted_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_offset_min: Mapped[int | None] = mapped_column(SmallInteger)

    user: Mapped[User] = relationship(back_populates="roles", foreign_keys=[user_id])
