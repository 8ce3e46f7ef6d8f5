"""The JSON API under ``/api/v1``: one router per area, every handler a thin call of a
service (authorization, site isolation and blinding are the services')."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from strokecell.web.api import audit, auth, forms, product, quality, safety, study, subjects
from strokecell.web.core.deps import serialized_writes

__all__ = ["API_PREFIX", "api_router"]

API_PREFIX = "/api/v1"

api_router = APIRouter(prefix=API_PREFIX, dependencies=[Depends(serialized_writes)])
# Routes are tried in order, and form saves are most of the traffic: their router first
# (no two routes of different routers match the same path, so the order changes nothing else).
for _module in (forms, auth, study, subjects, audit, safety, quality, product):
    api_router.include_router(_module.router)
