"""The cell product: lots and their release, administrations with the computed dose and
deviations (cell lab; blinded roles are refused by the services)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, status

from strokecell.trial import (
    get_administration,
    get_lot,
    list_administrations,
    list_deviations,
    list_lots,
    record_administration,
    record_release,
    register_lot,
    withdraw_lot,
)
from strokecell.web.api._common import ERRORS, SmallNumber
from strokecell.web.api._views import JsonObject, as_json, as_json_list
from strokecell.web.core.deps import ApiCaller, state_of
from strokecell.web.schemas.requests import (
    ItemsRequest,
    LotRegisterRequest,
    LotReleaseRequest,
    LotWithdrawRequest,
)

router = APIRouter(tags=["cell product"], responses=ERRORS)


@router.get("/lots", response_model=list[JsonObject])
def lots(caller: ApiCaller, request: Request) -> list[JsonObject]:
    return as_json_list(list_lots(state_of(request).db, caller.ctx))


@router.post("/lots", response_model=JsonObject, status_code=status.HTTP_201_CREATED)
def new_lot(body: LotRegisterRequest, caller: ApiCaller, request: Request) -> JsonObject:
    return as_json(register_lot(state_of(request).db, caller.ctx, body.lot_number,
                                cell_type=body.cell_type, source_tissue=body.source_tissue,
                                donor_type=body.donor_type, donor_code=body.donor_code,
                                manufactured_on=body.manufactured_on,
                                expires_at=body.expires_at, total_cells=body.total_cells,
                                volume_ml=body.volume_ml))


@router.get("/lots/{lot_number}", response_model=JsonObject)
def lot(lot_number: str, caller: ApiCaller, request: Request) -> JsonObject:
    return as_json(get_lot(state_of(request).db, caller.ctx, lot_number))


@router.post("/lots/{lot_number}/release", response_model=JsonObject)
def release(lot_number: str, body: LotReleaseRequest, caller: ApiCaller,
            request: Request) -> JsonObject:
    """Record the release tests and decision (re-authenticated with the password)."""
    db = state_of(request).db
    if body.meaning:
        return as_json(record_release(db, caller.ctx, lot_number, body.results,
                                      password=body.password, note=body.note,
                                      meaning=body.meaning))
    return as_json(record_release(db, caller.ctx, lot_number, body.results,
                                  password=body.password, note=body.note))


@router.post("/lots/{lot_number}/withdraw", response_model=JsonObject)
def withdraw(lot_number: str, body: LotWithdrawRequest, caller: ApiCaller,
             request: Request) -> JsonObject:
    return as_json(withdraw_lot(state_of(request).db, caller.ctx, lot_number, body.status,
                                reason=body.reason))


@router.get("/subjects/{subject_code}/administrations", response_model=list[JsonObject])
def administrations(subject_code: str, caller: ApiCaller, request: Request,
                    ) -> list[JsonObject]:
    return as_json_list(list_administrations(state_of(request).db, caller.ctx, subject_code))


@router.post("/subjects/{subject_code}/administrations", response_model=JsonObject,
             status_code=status.HTTP_201_CREATED)
def administer(subject_code: str, body: ItemsRequest, caller: ApiCaller,
               request: Request) -> JsonObject:
    """Record a cell administration (the administration CRF items); the dose per kg is
    computed from the weight and checked against the protocol's plan (deviations)."""
    return as_json(record_administration(state_of(request).db, caller.ctx, subject_code,
                                         body.items))


@router.get("/subjects/{subject_code}/administrations/{number}", response_model=JsonObject)
def administration(subject_code: str, number: SmallNumber, caller: ApiCaller,
                   request: Request) -> JsonObject:
    return as_json(get_administration(state_of(request).db, caller.ctx, subject_code, number))


@router.get("/deviations", response_model=list[JsonObject])
def deviations(caller: ApiCaller, request: Request,
               subject_code: Annotated[str | None, Query(max_length=80)] = None,
               ) -> list[JsonObject]:
    return as_json_list(list_deviations(state_of(request).db, caller.ctx, subject_code))

