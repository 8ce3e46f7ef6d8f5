"""Signed-in web sessions, kept in the database so that every server process shares them.

A session is a row of ``web_sessions`` found by the SHA-256 of its id; the id itself (256
random bits, URL-safe) exists only in the browser's cookie and in the return value of
:func:`start_web_session`, so that a reader of the database cannot take a session over.
The row holds what a :class:`~strokecell.trial.ServiceContext` needs (user, study, role, the
user's UTC offset); every service call still checks that role against the current role
assignments, so a revoked role stops working at once, also in an open session.

Expiry (:class:`SessionPolicy`): a session ends ``idle`` after it was last seen and
``max_age`` after it began. To keep writes rare (SQLite has one writer), ``last_seen_at`` is
refreshed only when it is older than :attr:`SessionPolicy.touch_after` (a minute, less for
very short idle limits): idle expiry therefore has that granularity and may end a session
up to a minute *earlier* than ``idle`` after its last use, never later. Expired rows grant
nothing (expiry is decided on every read) and are deleted at the next sign-in.

Session rows are web plumbing, not the trial record: they are written through
:func:`~strokecell.trial._tx.writing` (``BEGIN IMMEDIATE`` on SQLite) but not audited row
by row. Flash notices (one-time messages for the next page) are kept on the row as JSON.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, or_, select, update
from sqlalchemy.orm import Session

from strokecell.errors import InputError, NotFoundError, Problem
from strokecell.store import models as m
from strokecell.trial._authz import Action
from strokecell.trial._context import ServiceContext, authorize, given_or_now
from strokecell.trial._tx import reading, writing

__all__ = ["MAX_FLASHES", "NewWebSession", "SessionPolicy", "WebSessionView",
           "end_web_session", "get_web_session", "pop_flashes", "push_flash",
           "start_web_session"]

#: ``secrets.token_urlsafe(32)``: 43 characters of the URL-safe base64 alphabet.
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{43}")
#: At most this many notices wait on one session (the oldest are dropped), each at most
#: _MAX_FLASH_CHARS long: a flash is pushed after the change it reports has committed, so
#: it is trimmed rather than refused.
MAX_FLASHES = 20
_MAX_FLASH_CHARS = 1000
_TOUCH_AFTER = timedelta(minutes=1)


def _positive(name: str, value: object) -> None:
    if not isinstance(value, timedelta) or value <= timedelta(0):
        raise InputError(Problem(name, "must be a positive duration", value,
                                 "a timedelta greater than zero"))


@dataclass(frozen=True)
class SessionPolicy:
    """How long sessions live: ``idle`` after last use, ``max_age`` after sign-in."""

    idle: timedelta
    max_age: timedelta

    def __post_init__(self) -> None:
        _positive("idle", self.idle)
        _positive("max_age", self.max_age)

    @property
    def touch_after(self) -> timedelta:
        """``last_seen_at`` is refreshed only when older than this (a minute; half the
        idle limit when that is shorter, so that a session in use never lapses)."""
        return min(_TOUCH_AFTER, self.idle / 2)

    def expired(self, created_at: datetime, last_seen_at: datetime, now: datetime) -> bool:
        return now - last_seen_at > self.idle or now - created_at > self.max_age


@dataclass(frozen=True)
class WebSessionView:
    """A live session: who acts (``ctx``), as which user in which study, and since when."""

    ctx: ServiceContext
    username: str
    study_code: str
    created_at: datetime
    last_seen_at: datetime
    flashes: tuple[str, ...]  # notices waiting when the session was read


@dataclass(frozen=True)
class NewWebSession:
    """A session just begun: ``session_id`` is the secret for the browser's cookie only."""

    session_id: str
    view: WebSessionView


def _key(session_id: object) -> str | None:
    """The stored key of a session id; None for anything that is not a session id (a
    malformed cookie is no session, not an error)."""
    if not isinstance(session_id, str) or not _SESSION_ID.fullmatch(session_id):
        return None
    return hashlib.sha256(session_id.encode("ascii")).hexdigest()


def _flashes(text: str | None) -> tuple[str, ...]:
    if not text:
        return ()
    stored = json.loads(text)
    return tuple(str(item) for item in stored) if isinstance(stored, list) else ()


def _purge_expired(s: Session, policy: SessionPolicy, now: datetime) -> None:
    s.execute(delete(m.WebSession).where(or_(m.WebSession.last_seen_at < now - policy.idle,
                                             m.WebSession.created_at < now - policy.max_age)))


def start_web_session(db: Engine, ctx: ServiceContext, *, policy: SessionPolicy,
                      replaces: str | None = None, now: datetime | None = None,
                      ) -> NewWebSession:
    """Begin a session for ``ctx`` (a user already authenticated, e.g. by ``sign_in``).

    ``replaces`` is the id of the browser's previous session, ended in the same transaction
    (a new id at every sign-in: no session fixation). Expired sessions of anyone are
    deleted here too. Refuses a user who is inactive or does not hold the role.
    """
    moment = given_or_now(now)
    session_id = secrets.token_urlsafe(32)
    with writing(db) as s:
        scope = authorize(s, ctx, Action.READ_STUDY)
        study_code = s.scalar(select(m.Study.code).where(m.Study.id == ctx.study_id))
        if study_code is None:  # pragma: no cover - authorize found a grant in the study
            raise NotFoundError(f"study: no study #{ctx.study_id}")
        _purge_expired(s, policy, moment)
        old = _key(replaces)
        if old is not None:
            s.execute(delete(m.WebSession).where(m.WebSession.key_sha256 == old))
        s.add(m.WebSession(key_sha256=_key(session_id), user_id=ctx.user_id,
                           study_id=ctx.study_id, role=ctx.role,
                           offset_min=ctx.offset_minutes, created_at=moment,
                           last_seen_at=moment, flash=None))
    view = WebSessionView(ServiceContext(ctx.user_id, ctx.study_id, ctx.role,
                                         ctx.offset_minutes),
                          scope.username, study_code, moment, moment, ())
    return NewWebSession(session_id, view)


_READ = (select(m.WebSession, m.User.username, m.Study.code)
         .join(m.User, m.User.id == m.WebSession.user_id)
         .join(m.Study, m.Study.id == m.WebSession.study_id))


def get_web_session(db: Engine, session_id: str | None, *, policy: SessionPolicy,
                    now: datetime | None = None) -> WebSessionView | None:
    """The live session of ``session_id``, or None (unknown, malformed, ended, expired).

    A read only, except when ``last_seen_at`` is older than ``policy.touch_after``: then
    it is moved to now (one small write transaction, about once a minute per session).
    """
    key = _key(session_id)
    if key is None:
        return None
    moment = given_or_now(now)
    with reading(db) as s:
        found = s.execute(_READ.where(m.WebSession.key_sha256 == key)).first()
    if found is None:
        return None
    row, username, study_code = found
    if policy.expired(row.created_at, row.last_seen_at, moment):
        return None
    last_seen = row.last_seen_at
    if moment - last_seen >= policy.touch_after:
        with writing(db) as s:
            touched = s.scalar(update(m.WebSession).where(m.WebSession.id == row.id)
                               .values(last_seen_at=moment).returning(m.WebSession.id)
                               .execution_options(synchronize_session=False))
        if touched is None:  # signed out (or replaced) since it was read
            return None
        last_seen = moment
    ctx = ServiceContext(row.user_id, row.study_id, row.role, row.offset_min)
    return WebSessionView(ctx, username, study_code, row.created_at, last_seen,
                          _flashes(row.flash))


def end_web_session(db: Engine, session_id: str | None) -> None:
    """Sign out: the session's row is deleted (a malformed or unknown id: nothing to do)."""
    key = _key(session_id)
    if key is None:
        return
    with writing(db) as s:
        s.execute(delete(m.WebSession).where(m.WebSession.key_sha256 == key))


def _locked_row(s: Session, key: str) -> m.WebSession | None:
    return s.scalars(select(m.WebSession).where(m.WebSession.key_sha256 == key)
                     .with_for_update()).first()


def push_flash(db: Engine, session_id: str | None, message: str) -> bool:
    """Queue a one-time notice for the session's next page; False if there is no such
    session. Over-long notices are shortened and only the newest :data:`MAX_FLASHES`
    are kept (the change a notice reports has already been committed)."""
    if not isinstance(message, str) or not message.strip():
        raise InputError(Problem("message", "must be non-empty text", message,
                                 "e.g. 'Visit baseline date saved.'"))
    if len(message) > _MAX_FLASH_CHARS:
        message = message[:_MAX_FLASH_CHARS - 1] + "…"
    key = _key(session_id)
    if key is None:
        return False
    with writing(db) as s:
        row = _locked_row(s, key)
        if row is None:
            return False
        row.flash = json.dumps([*_flashes(row.flash), message][-MAX_FLASHES:])
    return True


def pop_flashes(db: Engine, session_id: str | None) -> tuple[str, ...]:
    """The session's waiting notices, oldest first, removed in the same transaction (a
    notice pushed meanwhile by another request is either returned here or kept)."""
    key = _key(session_id)
    if key is None:
        return ()
    with writing(db) as s:
        row = _locked_row(s, key)
        if row is None or row.flash is None:
            return ()
        flashes = _flashes(row.flash)
        row.flash = None
    return flashes
