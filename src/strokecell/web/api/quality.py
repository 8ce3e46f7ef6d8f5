"""Data quality: query threads on a form or an item, record locks, e-signatures, and the
analysis datasets."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status

from strokecell.trial import (
    answer_query,
    build_datasets,
    close_query,
    get_query,
    list_locks,
    list_queries,
    list_signatures,
    lock_records,
    open_query,
    reopen_query,
    sign,
    unlock_records,
)
from strokecell.web.api._common import ERRORS, RowId
from strokecell.web.api._views import JsonObject, as_json, as_json_list
from strokecell.web.core.deps import ApiCaller, state_of
from strokecell.web.schemas.requests import (
    LockRequest,
    MessageRequest,
    QueryOpenRequest,
    ReasonRequest,
    SignRequest,
)

router = APIRouter(tags=["data quality"], responses=ERRORS)
SubjectFilter = Annotated[str | None, Query(max_length=80)]


@router.get("/queries", response_model=list[JsonObject])
def queries(caller: ApiCaller, request: Request, subject_code: SubjectFilter = None,
            status_: Annotated[str | None, Query(alias="status", max_length=20)] = None,
            ) -> list[JsonObject]:
    return as_json_list(list_queries(state_of(request).db, caller.ctx, subject_code,
                                     status=status_))


@router.post("/queries", response_model=JsonObject, status_code=status.HTTP_201_CREATED)
def new_query(body: QueryOpenRequest, caller: ApiCaller, request: Request) -> JsonObject:
    """Open a query on a form or one of its items (monitor, data manager)."""
    return as_json(open_query(state_of(request).db, caller.ctx, body.subject_code,
                              body.form_code, message=body.message, item_code=body.item_code,
                              visit_code=body.visit_code, repeat_index=body.repeat_index))


@router.get("/queries/{query_id}", response_model=JsonObject)
def query(query_id: RowId, caller: ApiCaller, request: Request) -> JsonObject:
    return as_json(get_query(state_of(request).db, caller.ctx, query_id))


@router.post("/queries/{query_id}/answer", response_model=JsonObject)
def answer(query_id: RowId, body: MessageRequest, caller: ApiCaller,
           request: Request) -> JsonObject:
    return as_json(answer_query(state_of(request).db, caller.ctx, query_id, body.message))


@router.post("/queries/{query_id}/close", response_model=JsonObject)
def close(query_id: RowId, body: MessageRequest, caller: ApiCaller,
          request: Request) -> JsonObject:
    return as_json(close_query(state_of(request).db, caller.ctx, query_id, body.message))


@router.post("/queries/{query_id}/reopen", response_model=JsonObject)
def reopen(query_id: RowId, body: MessageRequest, caller: ApiCaller,
           request: Request) -> JsonObject:
    return as_json(reopen_query(state_of(request).db, caller.ctx, query_id, body.message))


@router.get("/locks", response_model=list[JsonObject])
def locks(caller: ApiCaller, request: Request, subject_code: SubjectFilter = None,
          include_released: bool = False) -> list[JsonObject]:
    return as_json_list(list_locks(state_of(request).db, caller.ctx, subject_code,
                                   include_released=include_released))


@router.post("/locks", response_model=JsonObject, status_code=status.HTTP_201_CREATED)
def lock(body: LockRequest, caller: ApiCaller, request: Request) -> JsonObject:
    """Lock a form, visit, subject or the study (data manager)."""
    return as_json(lock_records(state_of(request).db, caller.ctx, body.scope,
                                subject_code=body.subject_code, visit_code=body.visit_code,
                                form_code=body.form_code, repeat_index=body.repeat_index))


@router.post("/locks/{lock_id}/unlock", response_model=JsonObject)
def unlock(lock_id: RowId, body: ReasonRequest, caller: ApiCaller,
           request: Request) -> JsonObject:
    return as_json(unlock_records(state_of(request).db, caller.ctx, lock_id,
                                  reason=body.reason))


@router.get("/subjects/{subject_code}/signatures", response_model=list[JsonObject])
def signatures(subject_code: str, caller: ApiCaller, request: Request) -> list[JsonObject]:
    return as_json_list(list_signatures(state_of(request).db, caller.ctx, subject_code))


@router.post("/signatures", response_model=JsonObject, status_code=status.HTTP_201_CREATED)
def e_sign(body: SignRequest, caller: ApiCaller, request: Request) -> JsonObject:
    """Electronic signature by the investigator, re-authenticated with the password."""
    return as_json(sign(state_of(request).db, caller.ctx, password=body.password,
                        subject_code=body.subject_code, scope=body.scope,
                        meaning=body.meaning, visit_code=body.visit_code,
                        form_code=body.form_code, repeat_index=body.repeat_index))


@router.get("/datasets", response_model=dict[str, list[dict[str, Any]]])
def datasets(caller: ApiCaller, request: Request, unblinded: bool = False,
             ) -> dict[str, list[dict[str, Any]]]:
    """The analysis datasets (statistician, data manager; unblinded only where allowed)."""
    data = build_datasets(state_of(request).db, caller.ctx, unblinded=unblinded)
    return {name: [as_json(row) for row in rows] for name, rows in data.items()}
