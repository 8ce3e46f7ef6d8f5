"""StrokecellError → HTTP: the one mapping, for the API (JSON) and the pages (HTML).

InputError → 422 with every problem; PermissionDeniedError → 403; NotFoundError → 404 (the
service's words, which are the same for another site's subject and a missing one);
ConflictError → 409. Authentication problems of the web layer itself: 401 (not signed in),
403 (CSRF), 429 (sign-in throttled).
"""

from __future__ import annotations

from typing import Any

from strokecell.errors import (
    ConflictError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
    StrokecellError,
)

__all__ = ["AuthError", "CsrfError", "error_body", "status_of"]


class AuthError(Exception):
    """Not signed in (401), or a bad API token."""


class CsrfError(Exception):
    """A state-changing request without the session's CSRF token (403)."""


def status_of(exc: BaseException) -> int:
    if isinstance(exc, InputError):
        return 422
    if isinstance(exc, PermissionDeniedError | CsrfError):
        return 403
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, ConflictError):
        return 409
    if isinstance(exc, AuthError):
        return 401
    return 500


def error_body(exc: BaseException) -> dict[str, Any]:
    """The JSON body of an error response (``problems`` for input errors)."""
    if isinstance(exc, InputError):
        body = exc.to_dict()
        body["detail"] = str(exc)
        body["problems"] = [{**p, "value": _jsonable(p["value"])} for p in body["problems"]]
        return body
    name = type(exc).__name__ if isinstance(exc, StrokecellError | AuthError | CsrfError) \
        else "Error"
    return {"error": name, "detail": str(exc), "problems": []}


def _jsonable(value: object) -> object:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)
