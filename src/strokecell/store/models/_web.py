"""Web plumbing kept in the database: sign-in sessions and the sign-in throttle.

These tables are not part of the trial record. They hold who is signed in to the web
application and the counters that slow down password guessing, so that every server
process over one database shares them and they survive a restart. Rows are short-lived,
deleted when they end (no audit rows: signing in is not a change of the record, and every
service call still checks the caller's role against ``role_assignments``).

Nothing here lets a reader of the database act as someone else: a session is stored by the
SHA-256 of its id (the id itself is only in the browser's cookie), and a user name in the
throttle by the SHA-256 of its lower-cased text (a password typed into the user-name field,
a common slip, is then not kept in clear).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from strokecell.store._types import Role, UTCDateTime, enum_type
from strokecell.store.models._base import Base

__all__ = ["WEB_PLUMBING_TABLES", "LoginAttempt", "LoginFailure", "WebSession"]


class WebSession(Base):
    """A signed-in web session: who, in which study and role, since when, last seen when.

    ``key_sha256`` is the hex SHA-256 of the session id held in the browser's cookie (a
    256-bit random value, so an unsalted hash cannot be reversed). ``flash`` is a JSON list
    of the one-time notices waiting to be shown on the next page (NULL: none).
    """

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"))
    role: Mapped[Role] = mapped_column(enum_type(Role, "role"))
    offset_min: Mapped[int] = mapped_column(SmallInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    flash: Mapped[str | None] = mapped_column(Text)


class LoginAttempt(Base):
    """One sign-in attempt from a client address (kept for a minute: the rate window)."""

    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_address_attempted_at", "address",
                            "attempted_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(100))
    # Indexed alone too: every attempt deletes the rows older than a minute.
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class LoginFailure(Base):
    """Failed sign-ins in a row for one user name, and the lockout they led to.

    ``username_sha256`` is the hex SHA-256 of the user name as typed, stripped and
    lower-cased (names that do not exist are counted too, so a lockout tells nothing about
    which names exist).
    """

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    username_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    failures: Mapped[int] = mapped_column(Integer)
    # Indexed: every attempt deletes the lockouts that are over.
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


#: Tables outside the trial record (web plumbing): a refused request may still count a
#: sign-in attempt in them, and they are not exported.
WEB_PLUMBING_TABLES: frozenset[str] = frozenset(
    {WebSession.__tablename__, LoginAttempt.__tablename__, LoginFailure.__tablename__})
