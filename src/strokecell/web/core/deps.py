"""Request-level plumbing: the application's state, who is calling, CSRF checks."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from strokecell.errors import PermissionDeniedError, StrokecellError
from strokecell.trial import sign_in
from strokecell.web.core.config import Settings
from strokecell.web.core.errors import AuthError, CsrfError
from strokecell.web.core.security import (
    CSRF_FORM_FIELD,
    CSRF_HEADER,
    SESSION_COOKIE,
    LoginThrottle,
    Principal,
    SessionData,
    SessionStore,
    TokenCache,
    csrf_ok,
    csrf_token,
    parse_token,
)
from strokecell.web.core.writes import GroupCommit, is_group_committed

__all__ = ["ApiCaller", "PageForm", "WebState", "api_principal", "client_address",
           "page_form", "run_write", "serialized_writes", "session_of", "state_of"]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
T = TypeVar("T")


@dataclass
class WebState:
    """What every request needs: settings, the database engine, the security stores
    (sessions and the sign-in throttle live in the database, so that several server
    processes over one database share them; only the API token cache is per process)."""

    settings: Settings
    db: Engine
    sessions: SessionStore
    throttle: LoginThrottle
    tokens: TokenCache
    templates: Jinja2Templates
    _write_lock: asyncio.Lock | None = None
    _group_commit: GroupCommit | None = None
    _token_locks: dict[str, threading.Lock] = field(default_factory=dict)
    _token_locks_guard: threading.Lock = field(default_factory=threading.Lock)

    @property
    def serialize_writes(self) -> bool:
        """SQLite has one writer at a time: queue writers here, in arrival order, rather
        than in SQLite's busy handler (which sleeps and retries, unfairly)."""
        return self.db.dialect.name == "sqlite"

    def write_lock(self) -> asyncio.Lock:
        if self._write_lock is None:
            self._write_lock = asyncio.Lock()
        return self._write_lock

    def token_lock(self, token: str) -> threading.Lock:
        """One argon2 verification per token at a time: concurrent first requests with the
        same token wait for it (and then find it cached) instead of each verifying."""
        key = hashlib.sha256(token.encode("utf-8")).hexdigest()
        with self._token_locks_guard:
            if len(self._token_locks) > 10_000:
                self._token_locks.clear()
            return self._token_locks.setdefault(key, threading.Lock())

    def group_commit(self) -> GroupCommit:
        """Form saves on SQLite: grouped into one transaction per commit (see writes.py)."""
        if self._group_commit is None:
            self._group_commit = GroupCommit(self.db, self.write_lock)
        return self._group_commit

    @property
    def key(self) -> bytes:
        return self.settings.key_bytes()

    def csrf_for(self, session: SessionData) -> str:
        return csrf_token(self.key, session.sid)


async def serialized_writes(request: Request) -> AsyncIterator[None]:
    """Router dependency: one state-changing request at a time on SQLite (waiting costs no
    thread, so a queue of writers cannot starve the thread pool); none on PostgreSQL."""
    web = state_of(request)
    if request.method in SAFE_METHODS or not web.serialize_writes \
            or is_group_committed(request.scope.get("endpoint")):
        yield
        return
    async with web.write_lock():
        yield


async def run_write(web: WebState, call: Callable[[], T]) -> T:
    """Run a service call that writes: on SQLite through group commit (its result comes
    back once its group has committed), on PostgreSQL directly in the thread pool."""
    if web.serialize_writes:
        return await web.group_commit().run(call)
    return await run_in_threadpool(call)


def state_of(request: Request) -> WebState:
    web: WebState = request.app.state.web
    return web


#: Where :func:`session_of` keeps the session it looked up, for the rest of the request.
_SESSION_KEY = "strokecell_session"
_UNSET = object()


def session_of(request: Request) -> SessionData | None:
    """The caller's live session (from the cookie), or None.

    Looked up in the database once per request (blocking: call it from a worker thread,
    as sync handlers are), then kept on the request for the dependencies, the handler and
    the error pages of the same request.
    """
    cached = getattr(request.state, _SESSION_KEY, _UNSET)
    if cached is _UNSET:
        cached = state_of(request).sessions.get(request.cookies.get(SESSION_COOKIE))
        setattr(request.state, _SESSION_KEY, cached)
    return cached if isinstance(cached, SessionData) else None


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _token_principal(web: WebState, token: str) -> Principal:
    cached = web.tokens.get(token)
    if cached is not None:
        return cached
    with web.token_lock(token):
        cached = web.tokens.get(token)
        if cached is not None:
            return cached
        return _verify_token(web, token)


def _verify_token(web: WebState, token: str) -> Principal:
    parsed = parse_token(token)
    if parsed is None:
        raise AuthError("API token: malformed (expected sct1.<scope>.<secret>)")
    study, role, username, secret = parsed
    try:
        ctx = sign_in(web.db, username, secret, study_code=study, role=role)
    except StrokecellError:
        raise AuthError("API token: unknown, revoked or out of scope") from None
    principal = Principal(ctx, username, study, role, "token")
    web.tokens.put(token, principal)
    return principal


async def api_principal(request: Request) -> Principal:
    """The caller of an API request: a Bearer token, else a signed-in session cookie
    (then a state-changing request must carry the ``X-CSRF-Token`` header).

    A known token is found in memory without a thread hop; a token's first verification
    (argon2) and a session (a database read) are looked up in the thread pool."""
    web = state_of(request)
    auth = request.headers.get("authorization", "")
    if auth:
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError("Authorization: expected 'Bearer <API token>'")
        cached = web.tokens.get(token.strip())
        if cached is not None:
            return cached
        return await run_in_threadpool(_token_principal, web, token.strip())
    session = await run_in_threadpool(session_of, request)
    if session is None or session.principal is None:
        raise AuthError("not signed in: sign in (POST /api/v1/session) or send an API token")
    if request.method not in SAFE_METHODS and \
            not csrf_ok(web.key, session.sid, request.headers.get(CSRF_HEADER)):
        raise CsrfError(f"CSRF: missing or invalid {CSRF_HEADER} header")
    return session.principal


ApiCaller = Annotated[Principal, Depends(api_principal)]


@dataclass
class PageForm:
    """A posted page form whose CSRF token was checked, with the session it belongs to."""

    session: SessionData
    data: FormData

    def get(self, name: str, default: str = "") -> str:
        value = self.data.get(name)
        return value if isinstance(value, str) else default

    def values(self) -> dict[str, Any]:
        return {k: v for k, v in self.data.items() if isinstance(v, str)}


async def page_form(request: Request) -> PageForm:
    """Parse a posted page form and check its CSRF token (403 otherwise)."""
    web = state_of(request)
    session = await run_in_threadpool(session_of, request)
    data = await request.form()
    given = data.get(CSRF_FORM_FIELD)
    if session is None or not csrf_ok(web.key, session.sid,
                                      given if isinstance(given, str) else None):
        raise CsrfError("CSRF: missing or invalid form token; reload the page and try again")
    return PageForm(session, data)


def require_principal(session: SessionData | None) -> Principal:
    if session is None or session.principal is None:
        raise AuthError("not signed in")
    return session.principal


def check_role_text(role: str) -> None:
    if not role:
        raise PermissionDeniedError("role: choose the role you act in")
