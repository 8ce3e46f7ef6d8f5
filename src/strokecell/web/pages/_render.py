"""Rendering pages: the signed-in caller, the CSRF token, permissions for showing buttons.

Buttons are shown by the permission matrix (``trial.allowed``), but nothing is decided
here: every action a button posts is checked again by its service.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Request
from sqlalchemy import Engine
from starlette.responses import RedirectResponse, Response

from strokecell.errors import InputError, Problem
from strokecell.trial import ServiceContext, allowed, is_blinded
from strokecell.web.core.deps import WebState, session_of, state_of
from strokecell.web.core.errors import AuthError
from strokecell.web.core.security import Principal, SessionData

__all__ = ["Page", "problems_by_location", "readable", "redirect", "render_error"]

#: Bookkeeping columns left out of the audit pages unless every field is asked for (they
#: are in the trail all the same; the API returns every row).
BOOKKEEPING = frozenset({
    "id", "subject_id", "visit_id", "protocol_version_id", "form_instance_id", "study_id",
    "site_id", "screening_id", "list_id", "created_at", "created_offset_min",
    "created_by_user_id", "updated_at", "updated_offset_min", "updated_by_user_id",
    "computed_at", "instrument_code", "instrument_version", "repeat_index", "form_code",
    "engine", "item_code", "param_code", "value_type", "visit_number", "visit_name",
    "window_before_days", "window_after_days", "enrolled_offset_min",
    "enrolled_by_user_id", "allocated_offset_min", "allocated_by_user_id"})


def readable(rows: Sequence[T], *, every_field: bool) -> list[T]:
    """The audit rows a person reads: without bookkeeping columns unless asked."""
    if every_field:
        return list(rows)
    return [r for r in rows if getattr(r, "field", None) not in BOOKKEEPING]


T = TypeVar("T")


@dataclass
class Page:
    request: Request
    web: WebState
    session: SessionData
    principal: Principal

    @classmethod
    def of(cls, request: Request, session: SessionData | None = None) -> Page:
        """The signed-in caller of a page (AuthError → redirect to sign-in)."""
        session = session or session_of(request)
        if session is None or session.principal is None:
            raise AuthError("not signed in")
        return cls(request, state_of(request), session, session.principal)

    @property
    def db(self) -> Engine:
        return self.web.db

    @property
    def ctx(self) -> ServiceContext:
        return self.principal.ctx

    def can(self, action: str) -> bool:
        return allowed(self.principal.role, action)

    def flash(self, message: str) -> None:
        """A notice for the next page (kept with the session in the database)."""
        self.web.sessions.flash(self.session, message)

    def render(self, template: str, status_code: int = 200, **values: Any) -> Response:
        flashes = self.web.sessions.pop_flashes(self.session)
        context = {"request": self.request, "me": self.principal,
                   "blinded": is_blinded(self.principal.role),
                   "csrf": self.web.csrf_for(self.session), "can": self.can,
                   "flashes": flashes, **values}
        return self.web.templates.TemplateResponse(self.request, template, context,
                                                   status_code=status_code)


def redirect(url: str) -> RedirectResponse:
    """After a successful POST: see the result with a GET (no resubmission on reload)."""
    return RedirectResponse(url, status_code=303)


def problems_by_location(exc: InputError) -> tuple[dict[str, list[str]], list[str]]:
    """Problems keyed by their location (item code, field), and the rest."""
    by: dict[str, list[str]] = {}
    for p in exc.problems:
        by.setdefault(p.location, []).append(_text(p))
    return by, [str(p) for p in exc.problems]


def _text(p: Problem) -> str:
    text = p.message
    if p.value is not None and repr(p.value) not in text:
        text += f" (got {p.value!r})"
    if p.allowed:
        text += f"; allowed: {p.allowed}"
    return text


def render_error(request: Request, exc: BaseException, code: int,
                 headers: dict[str, str] | None = None) -> Response:
    web = state_of(request)
    session = session_of(request)
    principal = session.principal if session else None
    message = str(exc) if code < 500 else "internal error; nothing was changed"
    context: dict[str, Any] = {"request": request, "me": principal, "code": code,
               "message": message,
               "blinded": True if principal is None else is_blinded(principal.role),
               "csrf": web.csrf_for(session) if session else "", "flashes": [],
               "can": (lambda _a: False) if principal is None
               else (lambda a: allowed(principal.role, a))}
    return web.templates.TemplateResponse(request, "error.html", context, status_code=code,
                                          headers=headers)
