"""Shared bits of the API routers: documented error responses."""

from __future__ import annotations

from typing import Any

from strokecell.web.schemas.responses import ErrorOut

__all__ = ["ERRORS"]

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "not signed in, or a bad API token"},
    403: {"model": ErrorOut, "description": "role not allowed, or CSRF token missing"},
    404: {"model": ErrorOut, "description": "not found (or at a site you do not cover)"},
    409: {"model": ErrorOut, "description": "conflicts with the record (stale version...)"},
    422: {"model": ErrorOut, "description": "input refused: every problem listed"},
}
