"""Sign-in and sign-out pages."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from strokecell.errors import PermissionDeniedError
from strokecell.web.core.auth import ROLES, sign_in_session
from strokecell.web.core.cookies import clear_session_cookie, set_session_cookie
from strokecell.web.core.deps import PageForm, client_address, page_form, session_of, state_of
from strokecell.web.core.security import ThrottleError
from strokecell.web.pages._render import redirect

router = APIRouter()


def _safe_next(target: str | None) -> str:
    """Only a local path (no scheme, no host, no //): no open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/dashboard"
    return target


@router.get("/")
def home(request: Request) -> Response:
    session = session_of(request)
    return redirect("/dashboard" if session and session.principal else "/login")


def _login_page(request: Request, *, status_code: int = 200, error: str | None = None,
                values: dict[str, str] | None = None, next_url: str = "/dashboard",
                ) -> Response:
    web = state_of(request)
    session = session_of(request)
    fresh = session is None
    if session is None:
        session = web.sessions.new()
    given = values or {}
    context: dict[str, Any] = {"request": request, "me": None, "blinded": True, "flashes": [],
               "can": lambda _a: False, "csrf": web.csrf_for(session), "roles": ROLES,
               "error": error, "values": given, "next": next_url,
               "study": given.get("study_code") or web.settings.default_study or ""}
    response = web.templates.TemplateResponse(request, "login.html", context,
                                              status_code=status_code)
    if fresh:
        set_session_cookie(response, session.sid, web.settings)
    return response


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:
    return _login_page(request, next_url=_safe_next(next))


@router.post("/login")
def login(request: Request, form: Annotated[PageForm, Depends(page_form)]) -> Response:
    web = state_of(request)
    values = {k: form.get(k) for k in ("username", "study_code", "role", "offset_minutes")}
    next_url = _safe_next(form.get("next"))
    try:
        offset = int(form.get("offset_minutes") or "0")
    except ValueError:
        offset = 0
    try:
        session = sign_in_session(web, form.session, username=form.get("username"),
                                  password=form.get("password"),
                                  study_code=form.get("study_code"), role=form.get("role"),
                                  offset_minutes=max(-840, min(840, offset)),
                                  address=client_address(request))
    except ThrottleError as exc:
        return _login_page(request, status_code=429, error=str(exc), values=values,
                           next_url=next_url)
    except PermissionDeniedError as exc:
        return _login_page(request, status_code=403, error=str(exc), values=values,
                           next_url=next_url)
    response = redirect(next_url)
    set_session_cookie(response, session.sid, web.settings)
    return response


@router.post("/logout")
def logout(request: Request, form: Annotated[PageForm, Depends(page_form)]) -> Response:
    web = state_of(request)
    web.sessions.drop(form.session.sid)
    response = redirect("/login")
    clear_session_cookie(response, web.settings)
    return response
