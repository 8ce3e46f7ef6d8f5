"""The sign-in throttle, kept in the database so that every server process counts alike.

Two rules (:class:`ThrottlePolicy`), as the web application has always applied them:

* **per client address**: at most ``attempts_per_minute`` sign-in attempts in any 60
  seconds (``login_attempts``, one row per attempt, deleted once older than a minute);
* **per user name**: after ``max_failures`` failed sign-ins in a row the name is locked for
  ``lockout`` and even the right password is refused until then (``login_failures``). A
  success resets the count. Names that do not exist are counted like the others, so a
  lockout tells nothing about which names exist. Names are kept as the SHA-256 of their
  stripped, lower-cased text (a password typed into the name field is not kept in clear).

Each call is one write transaction (:func:`~strokecell.trial._tx.writing`: ``BEGIN
IMMEDIATE`` on SQLite, so concurrent processes are serialised by the database). On
PostgreSQL the attempts of one address are serialised with a transaction-scoped advisory
lock, so that two processes cannot both let the last allowed attempt through, and a
failure is counted with one ``INSERT ... ON CONFLICT DO UPDATE`` (atomic without a lock).
These rows are web plumbing, not the trial record: they are not audited.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from strokecell.errors import InputError, Problem
from strokecell.store import models as m
from strokecell.trial._context import given_or_now
from strokecell.trial._tx import writing

__all__ = ["RATE_WINDOW", "SignInRefusal", "ThrottlePolicy", "check_sign_in",
           "record_sign_in_failure", "record_sign_in_success"]

RATE_WINDOW = timedelta(seconds=60)
_MAX_ADDRESS = 100  # login_attempts.address
#: First key of the PostgreSQL advisory locks taken here (the second is the address's hash).
_PG_LOCK_SPACE = 0x5C1061


@dataclass(frozen=True)
class ThrottlePolicy:
    """The limits: attempts per address and minute, failures in a row, lockout length."""

    attempts_per_minute: int
    max_failures: int
    lockout: timedelta

    def __post_init__(self) -> None:
        for name in ("attempts_per_minute", "max_failures"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(Problem(name, "must be a whole number of at least 1", value))
        if not isinstance(self.lockout, timedelta) or self.lockout <= timedelta(0):
            raise InputError(Problem("lockout", "must be a positive duration", self.lockout,
                                     "a timedelta greater than zero"))


@dataclass(frozen=True)
class SignInRefusal:
    """Why an attempt may not be tried now, and in how many seconds to try again."""

    reason: str
    retry_after: int


def _user_key(username: object) -> str:
    if not isinstance(username, str):
        raise InputError(Problem("username", "must be text", username))
    return hashlib.sha256(username.strip().lower().encode("utf-8")).hexdigest()


def _address(address: object) -> str:
    if not isinstance(address, str) or not address or len(address) > _MAX_ADDRESS:
        raise InputError(Problem("address", f"must be 1 to {_MAX_ADDRESS} characters",
                                 address, "the client's IP address"))
    return address


def _serialize_address(s: Session, address: str) -> None:
    """PostgreSQL: one attempt of ``address`` at a time until commit (SQLite already has
    one writer at a time)."""
    if s.get_bind().dialect.name != "postgresql":
        return
    digest = hashlib.sha256(address.encode("utf-8")).digest()
    s.execute(select(func.pg_advisory_xact_lock(
        _PG_LOCK_SPACE, int.from_bytes(digest[:4], "big", signed=True))))


def check_sign_in(db: Engine, username: str, address: str, *, policy: ThrottlePolicy,
                  now: datetime | None = None) -> SignInRefusal | None:
    """Count a sign-in attempt of ``username`` from ``address``; a refusal if it must not
    be tried (too many attempts from the address: not counted; a locked name: counted)."""
    key, client, moment = _user_key(username), _address(address), given_or_now(now)
    with writing(db) as s:
        _serialize_address(s, client)
        s.execute(delete(m.LoginAttempt).where(m.LoginAttempt.attempted_at
                                               < moment - RATE_WINDOW))
        s.execute(delete(m.LoginFailure).where(m.LoginFailure.failures == 0,
                                               m.LoginFailure.locked_until < moment))
        count, oldest = s.execute(
            select(func.count(), func.min(m.LoginAttempt.attempted_at))
            .where(m.LoginAttempt.address == client)).one()
        if count >= policy.attempts_per_minute and oldest is not None:
            waited = (moment - oldest).total_seconds()
            return SignInRefusal("too many sign-in attempts from your address; wait a "
                                 "minute", max(1, int(61 - waited)))
        s.add(m.LoginAttempt(address=client, attempted_at=moment))
        until = s.scalar(select(m.LoginFailure.locked_until)
                         .where(m.LoginFailure.username_sha256 == key))
        if until is not None and until > moment:
            left = (until - moment).total_seconds()
            return SignInRefusal(
                f"this account is locked after {policy.max_failures} failed sign-ins; "
                f"try again in {int(left // 60) + 1} minutes or ask an admin", int(left) + 1)
    return None


def _count_failure(s: Session, key: str, moment: datetime) -> int:
    """Add one failure to ``key``'s count (a new row for the first) and return the count."""
    values = {"username_sha256": key, "failures": 1, "updated_at": moment}
    again = {"failures": m.LoginFailure.failures + 1, "updated_at": moment}
    # Both dialects spell the upsert alike; each has its own insert() for it.
    dialect_insert = (postgresql.insert if s.get_bind().dialect.name == "postgresql"
                      else sqlite.insert)
    upsert = dialect_insert(m.LoginFailure).values(values).on_conflict_do_update(
        index_elements=[m.LoginFailure.username_sha256], set_=again)
    return int(s.execute(upsert.returning(m.LoginFailure.failures)).scalar_one())


def record_sign_in_failure(db: Engine, username: str, *, policy: ThrottlePolicy,
                           now: datetime | None = None) -> None:
    """One more failed sign-in of ``username`` in a row; the last one allowed locks it for
    ``policy.lockout`` (and the count starts again from zero)."""
    key, moment = _user_key(username), given_or_now(now)
    with writing(db) as s:
        if _count_failure(s, key, moment) >= policy.max_failures:
            s.execute(update(m.LoginFailure).where(m.LoginFailure.username_sha256 == key)
                      .values(failures=0, locked_until=moment + policy.lockout,
                              updated_at=moment))


def record_sign_in_success(db: Engine, username: str) -> None:
    """A successful sign-in of ``username``: its count of failures in a row is reset."""
    key = _user_key(username)
    with writing(db) as s:
        s.execute(delete(m.LoginFailure).where(m.LoginFailure.username_sha256 == key))
