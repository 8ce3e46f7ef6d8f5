"""Setting and clearing the session cookie (HttpOnly, SameSite=Lax, Secure behind TLS)."""

from __future__ import annotations

from starlette.responses import Response

from strokecell.web.core.config import Settings
from strokecell.web.core.security import SESSION_COOKIE

__all__ = ["clear_session_cookie", "set_session_cookie"]


def set_session_cookie(response: Response, sid: str, settings: Settings) -> None:
    response.set_cookie(SESSION_COOKIE, sid, httponly=True, samesite="lax",
                        secure=settings.cookie_secure, path="/")


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax",
                           secure=settings.cookie_secure)
