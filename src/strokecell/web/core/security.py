"""Sessions, CSRF tokens, sign-in throttling and lockout, API tokens.

* **Sessions** are kept in the database (:class:`SessionStore` over
  :mod:`strokecell.trial.web_sessions`), so that every server process over one database
  knows every session and a restart signs nobody out; the browser holds only a random
  256-bit id in the ``sc_session`` cookie (HttpOnly, SameSite=Lax, Secure behind TLS) and
  the database only its SHA-256. The id is replaced at sign-in (no session fixation) and
  its row deleted at sign-out; sessions end after :attr:`Settings.session_idle_minutes`
  without use and :attr:`Settings.session_max_hours` after sign-in. ``last_seen_at`` is
  written at most once a minute per session (SQLite has one writer), so idle expiry has
  one-minute granularity (a session may end up to a minute early, never late).
  Before sign-in the browser gets an *anonymous* id (``anon.`` + 256 random bits) that is
  stored nowhere: it carries no identity and serves only to bind the sign-in form's CSRF
  token to the browser, so that serving the sign-in page writes nothing.
* **CSRF**: every state-changing request made with the session cookie must carry the
  session's token (form field ``csrf_token``, or header ``X-CSRF-Token`` for the JSON API),
  HMAC-SHA256 of the session id under the secret key, compared in constant time. Requests
  authenticated by an API token (``Authorization: Bearer``) carry no ambient credential
  and need none.
* **Sign-in throttling** (in the database too, :mod:`strokecell.trial.login_throttle`, so
  that every process counts alike): at most ``login_attempts_per_minute`` attempts per
  client address; after ``login_max_failures`` failures in a row a user name is locked for
  ``login_lockout_minutes`` (the right password is refused too while locked).
* **API tokens** are service accounts of the trial record: a token is issued by an admin
  as a new user holding exactly one role in one study (at one site or all), whose password
  is the token's random secret, so that it is stored as an argon2id hash like any password,
  its scope is enforced by the same service checks, revoking its role ends it at once, and
  both are audited. The token text names the study, role and account; the secret is shown
  once. Verified tokens are kept in memory for ``token_cache_seconds`` (by SHA-256) to
  spare an argon2 verification per request; every service call still checks the role (the
  cache is per process: a revoked token is forgotten at once by the process that revoked
  it, and refused by every service call in the others).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from strokecell.trial import (
    ServiceContext,
    SessionPolicy,
    ThrottlePolicy,
    WebSessionView,
    check_sign_in,
    end_web_session,
    get_web_session,
    pop_flashes,
    push_flash,
    record_sign_in_failure,
    record_sign_in_success,
    start_web_session,
)
from strokecell.web.core.config import Settings

__all__ = ["ANONYMOUS_PREFIX", "CSRF_FORM_FIELD", "CSRF_HEADER", "SESSION_COOKIE",
           "TOKEN_PREFIX", "Clock", "LoginThrottle", "Principal", "SessionData",
           "SessionStore", "ThrottleError", "TokenCache", "csrf_ok", "csrf_token",
           "format_token", "parse_token"]

SESSION_COOKIE = "sc_session"
CSRF_FORM_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
TOKEN_PREFIX = "sct1"
TOKEN_USER_PREFIX = "api-"
ANONYMOUS_PREFIX = "anon."
_ANONYMOUS_ID = re.compile(re.escape(ANONYMOUS_PREFIX) + r"[A-Za-z0-9_-]{43}")

#: The current time (timezone-aware); tests pass a clock of their own.
Clock = Callable[[], datetime]


def _wall_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Principal:
    """Who is signed in: the service context and what the pages show about it."""

    ctx: ServiceContext
    username: str
    study_code: str
    role: str
    via: str  # "session" or "token"


@dataclass
class SessionData:
    """A session as one request sees it: ``principal`` None for an anonymous session
    (before sign-in); ``flash`` the notices waiting when it was read or pushed since."""

    sid: str
    created_at: datetime
    last_seen_at: datetime
    principal: Principal | None = None
    flash: list[str] = field(default_factory=list)


def csrf_token(key: bytes, sid: str) -> str:
    """The CSRF token of session ``sid``."""
    return hmac.new(key, b"csrf:" + sid.encode("ascii"), hashlib.sha256).hexdigest()


def csrf_ok(key: bytes, sid: str, given: str | None) -> bool:
    if not given or not isinstance(given, str):
        return False
    return hmac.compare_digest(csrf_token(key, sid), given)


def _session(sid: str, view: WebSessionView) -> SessionData:
    principal = Principal(view.ctx, view.username, view.study_code, view.ctx.role.value,
                          "session")
    return SessionData(sid, view.created_at, view.last_seen_at, principal,
                       list(view.flashes))


class SessionStore:
    """Sessions in the database (shared by every server process), with idle and absolute
    expiry: a thin layer over :mod:`strokecell.trial.web_sessions`."""

    def __init__(self, settings: Settings, db: Engine, *, clock: Clock = _wall_clock,
                 ) -> None:
        self._db = db
        self._clock = clock
        self.policy = SessionPolicy(idle=timedelta(minutes=settings.session_idle_minutes),
                                    max_age=timedelta(hours=settings.session_max_hours))

    def new(self) -> SessionData:
        """An anonymous session for a browser that has none: stored nowhere (it holds no
        identity; its id only binds the sign-in form's CSRF token to the browser)."""
        now = self._clock()
        return SessionData(ANONYMOUS_PREFIX + secrets.token_urlsafe(32), now, now)

    def get(self, sid: str | None) -> SessionData | None:
        """The live session of cookie value ``sid``, or None (unknown, ended, expired)."""
        if not sid:
            return None
        if sid.startswith(ANONYMOUS_PREFIX):
            if not _ANONYMOUS_ID.fullmatch(sid):
                return None
            now = self._clock()
            return SessionData(sid, now, now)
        view = get_web_session(self._db, sid, policy=self.policy, now=self._clock())
        return None if view is None else _session(sid, view)

    def sign_in(self, old: SessionData | None, principal: Principal) -> SessionData:
        """A new session id for the signed-in user; the old session ends."""
        replaces = old.sid if old is not None and old.principal is not None else None
        begun = start_web_session(self._db, principal.ctx, policy=self.policy,
                                  replaces=replaces, now=self._clock())
        return SessionData(begun.session_id, begun.view.created_at, begun.view.last_seen_at,
                           principal)

    def drop(self, sid: str) -> None:
        """Sign out: the session ends for every server process."""
        if not sid.startswith(ANONYMOUS_PREFIX):
            end_web_session(self._db, sid)

    def flash(self, session: SessionData, message: str) -> None:
        """A one-time notice for the session's next page (kept with the session, so the
        next page may be served by another process)."""
        if session.principal is not None and push_flash(self._db, session.sid, message):
            session.flash.append(message)

    def pop_flashes(self, session: SessionData) -> list[str]:
        """The session's waiting notices, removed (no database access when there were
        none when the session was read and none was pushed since)."""
        if not session.flash or session.principal is None:
            return []
        session.flash.clear()
        return list(pop_flashes(self._db, session.sid))


class ThrottleError(Exception):
    """Too many sign-in attempts (from one address) or a locked user name."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class LoginThrottle:
    """Per-address rate limit and per-user lockout after repeated failures, counted in the
    database (shared by every server process): over :mod:`strokecell.trial.login_throttle`."""

    def __init__(self, settings: Settings, db: Engine, *, clock: Clock = _wall_clock,
                 ) -> None:
        self._db = db
        self._clock = clock
        self.policy = ThrottlePolicy(
            attempts_per_minute=settings.login_attempts_per_minute,
            max_failures=settings.login_max_failures,
            lockout=timedelta(minutes=settings.login_lockout_minutes))

    def check(self, username: str, address: str) -> None:
        """Count an attempt; raise :class:`ThrottleError` if it must not be tried."""
        refusal = check_sign_in(self._db, username, address, policy=self.policy,
                                now=self._clock())
        if refusal is not None:
            raise ThrottleError(refusal.reason, refusal.retry_after)

    def failed(self, username: str) -> None:
        record_sign_in_failure(self._db, username, policy=self.policy, now=self._clock())

    def succeeded(self, username: str) -> None:
        record_sign_in_success(self._db, username)


def format_token(study_code: str, role: str, username: str, secret: str) -> str:
    """The text of an API token (shown once to its creator)."""
    head = json.dumps({"s": study_code, "r": role, "u": username}, separators=(",", ":"))
    encoded = base64.urlsafe_b64encode(head.encode("utf-8")).decode("ascii").rstrip("=")
    return f"{TOKEN_PREFIX}.{encoded}.{secret}"


def parse_token(token: str) -> tuple[str, str, str, str] | None:
    """(study code, role, username, secret) of a token text, or None if malformed."""
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX or not parts[2]:
        return None
    try:
        padded = parts[1] + "=" * (-len(parts[1]) % 4)
        head = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError):
        return None
    if not isinstance(head, dict) or not all(isinstance(head.get(k), str) for k in "sru"):
        return None
    if not str(head["u"]).startswith(TOKEN_USER_PREFIX):
        return None
    return str(head["s"]), str(head["r"]), str(head["u"]), parts[2]


class TokenCache:
    """Verified API tokens by SHA-256, for a short time."""

    def __init__(self, settings: Settings) -> None:
        self._ttl = settings.token_cache_seconds
        self._data: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _key(token: str) -> str:
        return hashlib.sha256(token.encode("utf-8")).hexdigest()

    def get(self, token: str) -> Principal | None:
        key = self._key(token)
        with self._lock:
            hit = self._data.get(key)
            if hit is None or hit[0] < time.time():
                self._data.pop(key, None)
                return None
            return hit[1]

    def put(self, token: str, principal: Principal) -> None:
        if self._ttl <= 0:
            return
        with self._lock:
            if len(self._data) > 10_000:
                self._data.clear()
            self._data[self._key(token)] = (time.time() + self._ttl, principal)

    def forget_user(self, username: str) -> None:
        with self._lock:
            for key in [k for k, (_, p) in self._data.items() if p.username == username]:
                del self._data[key]
