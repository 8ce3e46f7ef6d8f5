"""Sessions, CSRF tokens, sign-in throttling and lockout, API tokens.

* **Sessions** live on the server (:class:`SessionStore`); the browser holds only a random
  256-bit id in the ``sc_session`` cookie (HttpOnly, SameSite=Lax, Secure behind TLS). The
  id is replaced at sign-in (no session fixation) and forgotten at sign-out; sessions end
  after :attr:`Settings.session_idle_minutes` without use and
  :attr:`Settings.session_max_hours` after sign-in. A server restart signs everyone out.
* **CSRF**: every state-changing request made with the session cookie must carry the
  session's token (form field ``csrf_token``, or header ``X-CSRF-Token`` for the JSON API),
  HMAC-SHA256 of the session id under the secret key, compared in constant time. Requests
  authenticated by an API token (``Authorization: Bearer``) carry no ambient credential
  and need none.
* **Sign-in throttling**: at most ``login_attempts_per_minute`` attempts per client
  address; after ``login_max_failures`` failures in a row a user name is locked for
  ``login_lockout_minutes`` (the right password is refused too while locked).
* **API tokens** are service accounts of the trial record: a token is issued by an admin
  as a new user holding exactly one role in one study (at one site or all), whose password
  is the token's random secret, so that it is stored as an argon2id hash like any password,
  its scope is enforced by the same service checks, revoking its role ends it at once, and
  both are audited. The token text names the study, role and account; the secret is shown
  once. Verified tokens are kept in memory for ``token_cache_seconds`` (by SHA-256) to
  spare an argon2 verification per request; every service call still checks the role.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field

from strokecell.trial import ServiceContext
from strokecell.web.core.config import Settings

__all__ = ["CSRF_FORM_FIELD", "CSRF_HEADER", "SESSION_COOKIE", "TOKEN_PREFIX",
           "LoginThrottle", "Principal", "SessionData", "SessionStore", "ThrottleError",
           "TokenCache", "csrf_ok", "csrf_token", "format_token", "parse_token"]

SESSION_COOKIE = "sc_session"
CSRF_FORM_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
TOKEN_PREFIX = "sct1"
TOKEN_USER_PREFIX = "api-"
_MAX_SESSIONS = 20_000


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
    sid: str
    created: float
    last_seen: float
    principal: Principal | None = None
    flash: list[str] = field(default_factory=list)


def csrf_token(key: bytes, sid: str) -> str:
    """The CSRF token of session ``sid``."""
    return hmac.new(key, b"csrf:" + sid.encode("ascii"), hashlib.sha256).hexdigest()


def csrf_ok(key: bytes, sid: str, given: str | None) -> bool:
    if not given or not isinstance(given, str):
        return False
    return hmac.compare_digest(csrf_token(key, sid), given)


class SessionStore:
    """Server-side sessions by random id, with idle and absolute expiry (thread-safe)."""

    def __init__(self, settings: Settings) -> None:
        self._idle = settings.session_idle_minutes * 60
        self._max = settings.session_max_hours * 3600
        self._data: OrderedDict[str, SessionData] = OrderedDict()
        self._lock = threading.Lock()

    def new(self) -> SessionData:
        now = time.time()
        data = SessionData(secrets.token_urlsafe(32), now, now)
        with self._lock:
            self._data[data.sid] = data
            while len(self._data) > _MAX_SESSIONS:  # oldest first
                self._data.popitem(last=False)
        return data

    def get(self, sid: str | None) -> SessionData | None:
        if not sid:
            return None
        now = time.time()
        with self._lock:
            data = self._data.get(sid)
            if data is None:
                return None
            if now - data.last_seen > self._idle or now - data.created > self._max:
                del self._data[sid]
                return None
            data.last_seen = now
            self._data.move_to_end(sid)
            return data

    def sign_in(self, old: SessionData | None, principal: Principal) -> SessionData:
        """A new session id for the signed-in user; the old one is forgotten."""
        if old is not None:
            self.drop(old.sid)
        data = self.new()
        data.principal = principal
        return data

    def drop(self, sid: str) -> None:
        with self._lock:
            self._data.pop(sid, None)


class ThrottleError(Exception):
    """Too many sign-in attempts (from one address) or a locked user name."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class LoginThrottle:
    """Per-address rate limit and per-user lockout after repeated failures."""

    def __init__(self, settings: Settings) -> None:
        self._per_minute = settings.login_attempts_per_minute
        self._max_failures = settings.login_max_failures
        self._lockout = settings.login_lockout_minutes * 60
        self._attempts: dict[str, deque[float]] = {}
        self._failures: dict[str, int] = {}
        self._locked_until: dict[str, float] = {}
        self._lock = threading.Lock()

    def check(self, username: str, address: str) -> None:
        """Count an attempt; raise :class:`ThrottleError` if it must not be tried."""
        now = time.time()
        user = username.strip().lower()
        with self._lock:
            attempts = self._attempts.setdefault(address, deque())
            while attempts and now - attempts[0] > 60:
                attempts.popleft()
            if len(attempts) >= self._per_minute:
                raise ThrottleError("too many sign-in attempts from your address; wait a "
                                    "minute", int(61 - (now - attempts[0])))
            attempts.append(now)
            until = self._locked_until.get(user, 0.0)
            if until > now:
                raise ThrottleError(
                    f"this account is locked after {self._max_failures} failed sign-ins; "
                    f"try again in {int((until - now) // 60) + 1} minutes or ask an admin",
                    int(until - now) + 1)

    def failed(self, username: str) -> None:
        user = username.strip().lower()
        with self._lock:
            count = self._failures.get(user, 0) + 1
            self._failures[user] = count
            if count >= self._max_failures:
                self._locked_until[user] = time.time() + self._lockout
                self._failures[user] = 0

    def succeeded(self, username: str) -> None:
        user = username.strip().lower()
        with self._lock:
            self._failures.pop(user, None)


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
