"""Server-rendered pages (Jinja2, autoescaped), one module per area."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from strokecell.web.core.deps import serialized_writes
from strokecell.web.pages import (
    admin_pages,
    auth_pages,
    form_pages,
    lot_pages,
    outcome_pages,
    quality_pages,
    safety_pages,
    study_pages,
    subject_pages,
)

__all__ = ["pages_router"]

pages_router = APIRouter(include_in_schema=False, dependencies=[Depends(serialized_writes)])
for _module in (auth_pages, study_pages, subject_pages, form_pages, safety_pages,
                quality_pages, outcome_pages, admin_pages, lot_pages):
    pages_router.include_router(_module.router)
