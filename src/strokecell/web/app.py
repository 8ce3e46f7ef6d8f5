"""The application factory: ``create_app(settings, db)``.

``db`` is an engine from :func:`strokecell.store.make_engine` on a database migrated to the
newest schema (``strokecell serve`` does both). The JSON API lives under ``/api/v1`` with
one OpenAPI document at ``/openapi.json``; the server-rendered pages everywhere else;
``/static`` serves the package's own CSS and JavaScript (no CDN).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, RedirectResponse, Response

from strokecell.errors import StrokecellError
from strokecell.web.api import API_PREFIX, api_router
from strokecell.web.core.config import Settings
from strokecell.web.core.deps import WebState
from strokecell.web.core.errors import AuthError, CsrfError, error_body, status_of
from strokecell.web.core.headers import SecurityHeaders
from strokecell.web.core.security import LoginThrottle, SessionStore, ThrottleError, TokenCache
from strokecell.web.pages import pages_router
from strokecell.web.pages._render import render_error

__all__ = ["create_app"]

HERE = Path(__file__).resolve().parent



def _templates() -> Jinja2Templates:
    env = Environment(loader=FileSystemLoader(HERE / "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["pathseg"] = lambda value: quote(str(value), safe="")
    return Jinja2Templates(env=env)


def _is_api(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIX)


async def _render_error(request: Request, exc: Exception, code: int,
                        headers: dict[str, str] | None = None) -> Response:
    # In a thread: rendering may read (or, once a minute, refresh) the session in the
    # database, which must not block the event loop.
    return await run_in_threadpool(render_error, request, exc, code, headers)


def create_app(settings: Settings, db: Engine) -> FastAPI:
    """The web application over the trial record in ``db``."""
    app = FastAPI(title="strokecell", version="1",
                  summary="Stem-cell therapy trials in stroke: the trial record's API",
                  docs_url=None, redoc_url=None, openapi_url="/openapi.json")
    app.state.web = WebState(settings, db, SessionStore(settings, db),
                             LoginThrottle(settings, db), TokenCache(settings), _templates())
    app.include_router(api_router)
    app.include_router(pages_router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    app.add_middleware(SecurityHeaders, https=settings.https)

    async def _error(request: Request, exc: Exception) -> Response:
        code = status_of(exc)
        if _is_api(request):
            headers = {"WWW-Authenticate": "Bearer"} if code == 401 else None
            return JSONResponse(error_body(exc), status_code=code, headers=headers)
        if isinstance(exc, AuthError):
            target = request.url.path
            if request.url.query:
                target += "?" + request.url.query
            return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
        return await _render_error(request, exc, code)

    async def _throttled(request: Request, exc: Exception) -> Response:
        retry = str(exc.retry_after) if isinstance(exc, ThrottleError) else "60"
        if _is_api(request):
            return JSONResponse({"error": "TooManyRequests", "detail": str(exc),
                                 "problems": []}, status_code=429,
                                headers={"Retry-After": retry})
        return await _render_error(request, exc, 429, headers={"Retry-After": retry})

    async def _invalid(request: Request, exc: Exception) -> Response:
        errors = exc.errors() if isinstance(exc, RequestValidationError) else []
        problems = [{"location": ".".join(str(p) for p in e.get("loc", ())[1:]) or "body",
                     "message": str(e.get("msg", "invalid")), "value": None,
                     "allowed": None} for e in errors]
        body = {"error": "InputError", "context": "request", "problems": problems,
                "detail": "; ".join(f"{p['location']}: {p['message']}" for p in problems)}
        return JSONResponse(body, status_code=422)

    async def _crash(request: Request, exc: Exception) -> Response:
        if _is_api(request):
            return JSONResponse({"error": "ServerError", "detail": "internal error; the "
                                 "change, if any, was rolled back", "problems": []},
                                status_code=500)
        return await _render_error(request, exc, 500)

    for kind in (StrokecellError, AuthError, CsrfError):
        app.add_exception_handler(kind, _error)
    app.add_exception_handler(ThrottleError, _throttled)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(Exception, _crash)
    return app
