"""Column types and enumerations shared by the models.

Time is stored as a timezone-aware UTC timestamp (``timestamptz`` on PostgreSQL, ISO text
in UTC on SQLite) beside a ``*_offset_min`` column with the user's UTC offset in minutes.
A naive datetime is refused rather than guessed.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Dialect, Enum
from sqlalchemy.types import TypeDecorator

from strokecell.errors import InputError, Problem

__all__ = [
    "UNBLINDED_ROLES",
    "AuditAction",
    "DonorType",
    "FormStatus",
    "LockScope",
    "LotStatus",
    "QueryStatus",
    "Role",
    "ScreeningOutcome",
    "StudyStatus",
    "SubjectStatus",
    "UTCDateTime",
    "ValueType",
    "VisitStatus",
    "enum_type",
]


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime stored in UTC; naive values are rejected."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.utcoffset() is None:
            raise InputError(Problem("time", "must be a timezone-aware datetime", value,
                                     "a datetime with tzinfo, e.g. datetime.now(UTC)"))
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            value = datetime.fromisoformat(str(value))
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Role(enum.StrEnum):
    """Roles per study and site (issue 4)."""

    INVESTIGATOR = "investigator"
    COORDINATOR = "coordinator"
    BLINDED_ASSESSOR = "blinded_assessor"
    CELL_LAB = "cell_lab"
    MONITOR = "monitor"
    STATISTICIAN = "statistician"
    DATA_MANAGER = "data_manager"
    ADMIN = "admin"


#: Roles that may see allocations and the concealed randomization state.
UNBLINDED_ROLES: frozenset[Role] = frozenset({Role.CELL_LAB})


class StudyStatus(enum.StrEnum):
    SETUP = "setup"
    ACTIVE = "active"
    CLOSED = "closed"
    LOCKED = "locked"


class ScreeningOutcome(enum.StrEnum):
    PENDING = "pending"
    ELIGIBLE = "eligible"
    SCREEN_FAILED = "screen_failed"
    ENROLLED = "enrolled"


class SubjectStatus(enum.StrEnum):
    ENROLLED = "enrolled"
    RANDOMIZED = "randomized"
    COMPLETED = "completed"
    WITHDRAWN = "withdrawn"
    LOST = "lost_to_follow_up"
    DIED = "died"


class VisitStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    DONE = "done"
    MISSED = "missed"
    OUT_OF_WINDOW = "out_of_window"


class FormStatus(enum.StrEnum):
    INCOMPLETE = "incomplete"
    COMPLETE = "complete"


class ValueType(enum.StrEnum):
    INTEGER = "integer"
    DECIMAL = "decimal"
    TEXT = "text"
    CODE = "code"
    DATE = "date"
    DATETIME = "datetime"
    BOOLEAN = "boolean"


class DonorType(enum.StrEnum):
    AUTOLOGOUS = "autologous"
    ALLOGENEIC = "allogeneic"


class LotStatus(enum.StrEnum):
    QUARANTINE = "quarantine"
    RELEASED = "released"
    REJECTED = "rejected"
    EXPIRED = "expired"


class QueryStatus(enum.StrEnum):
    OPEN = "open"
    ANSWERED = "answered"
    CLOSED = "closed"


class LockScope(enum.StrEnum):
    FORM = "form"
    VISIT = "visit"
    SUBJECT = "subject"
    STUDY = "study"


class AuditAction(enum.StrEnum):
    INSERT = "insert"
    UPDATE = "update"
    DELETE = "delete"


def enum_type(cls: type[enum.StrEnum], name: str) -> Enum:
    """A portable enum column: VARCHAR plus a named CHECK constraint (no native PG enum)."""
    return Enum(cls, name=name, native_enum=False, create_constraint=True,
                values_callable=lambda e: [m.value for m in e],
                length=max(len(m.value) for m in cls))
