"""Shared bits of the API routers: documented error responses."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path

from strokecell.web.schemas.responses import ErrorOut

__all__ = ["ERRORS", "INTEGER_MAX", "SMALLINT_MAX", "RowId", "RowNumber", "SmallNumber"]

#: The largest INTEGER / SMALLINT of PostgreSQL (ids and numbers are INTEGER columns,
#: administration numbers SMALLINT). A path parameter beyond the column's range would make the
#: database refuse the query (a 500); bounded here, it is a 422 naming the parameter.
INTEGER_MAX = 2**31 - 1
SMALLINT_MAX = 2**15 - 1

#: A row id in a path (``/queries/{query_id}``, ``/locks/{lock_id}``...).
RowId = Annotated[int, Path(ge=1, le=INTEGER_MAX)]
#: A per-subject number stored as INTEGER (``ae_number``).
RowNumber = Annotated[int, Path(ge=1, le=INTEGER_MAX)]
#: A per-subject number stored as SMALLINT (``administration_number``).
SmallNumber = Annotated[int, Path(ge=1, le=SMALLINT_MAX)]

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "not signed in, or a bad API token"},
    403: {"model": ErrorOut, "description": "role not allowed, or CSRF token missing"},
    404: {"model": ErrorOut, "description": "not found (or at a site you do not cover)"},
    409: {"model": ErrorOut, "description": "conflicts with the record (stale version...)"},
    422: {"model": ErrorOut, "description": "input refused: every problem listed"},
}
