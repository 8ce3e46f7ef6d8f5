"""Adverse events (the AE log and form) and the safety signals of the stopping rules."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, status

from strokecell.trial import (
    acknowledge_signal,
    get_adverse_event,
    list_adverse_events,
    list_safety_signals,
    mark_expedited_reported,
    report_adverse_event,
    update_adverse_event,
)
from strokecell.web.api._common import ERRORS, RowId, RowNumber
from strokecell.web.api._views import JsonObject, as_json, as_json_list
from strokecell.web.core.deps import ApiCaller, state_of
from strokecell.web.schemas.requests import (
    AdverseEventUpdateRequest,
    ExpeditedReportRequest,
    ItemsRequest,
)

router = APIRouter(tags=["safety"], responses=ERRORS)


@router.get("/adverse-events", response_model=list[JsonObject])
def adverse_events(caller: ApiCaller, request: Request,
                   subject_code: Annotated[str | None, Query(max_length=80)] = None,
                   ) -> list[JsonObject]:
    """The AE log of the caller's sites (or of one subject)."""
    return as_json_list(list_adverse_events(state_of(request).db, caller.ctx, subject_code))


@router.post("/subjects/{subject_code}/adverse-events", response_model=JsonObject,
             status_code=status.HTTP_201_CREATED)
def report(subject_code: str, body: ItemsRequest, caller: ApiCaller,
           request: Request) -> JsonObject:
    """Report an adverse event (the adverse_event CRF items); seriousness, expedited
    reporting and stopping rules are evaluated by the service."""
    return as_json(report_adverse_event(state_of(request).db, caller.ctx, subject_code,
                                        body.items))


@router.get("/subjects/{subject_code}/adverse-events/{ae_number}", response_model=JsonObject)
def adverse_event(subject_code: str, ae_number: RowNumber, caller: ApiCaller,
                  request: Request) -> JsonObject:
    return as_json(get_adverse_event(state_of(request).db, caller.ctx, subject_code,
                                     ae_number))


@router.put("/subjects/{subject_code}/adverse-events/{ae_number}", response_model=JsonObject)
def update(subject_code: str, ae_number: RowNumber, body: AdverseEventUpdateRequest,
           caller: ApiCaller, request: Request) -> JsonObject:
    """Follow-up of an adverse event (version read and reason required)."""
    return as_json(update_adverse_event(state_of(request).db, caller.ctx, subject_code,
                                        ae_number, body.items, version=body.version,
                                        reason=body.reason))


@router.post("/subjects/{subject_code}/adverse-events/{ae_number}/expedited-report",
             response_model=JsonObject)
def expedited(subject_code: str, ae_number: RowNumber, body: ExpeditedReportRequest,
              caller: ApiCaller, request: Request) -> JsonObject:
    """Record that the expedited (SUSAR) report was sent."""
    return as_json(mark_expedited_reported(state_of(request).db, caller.ctx, subject_code,
                                           ae_number, version=body.version,
                                           reported_at=body.reported_at))


@router.get("/safety-signals", response_model=list[JsonObject])
def signals(caller: ApiCaller, request: Request) -> list[JsonObject]:
    return as_json_list(list_safety_signals(state_of(request).db, caller.ctx))


@router.post("/safety-signals/{signal_id}/acknowledge", response_model=JsonObject)
def acknowledge(signal_id: RowId, caller: ApiCaller, request: Request) -> JsonObject:
    return as_json(acknowledge_signal(state_of(request).db, caller.ctx, signal_id))
