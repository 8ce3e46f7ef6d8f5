"""The audit trail of a record (monitor, data manager, admin; concealed rows hidden from
blinded readers by the service)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from strokecell.trial.audit_view import form_audit, subject_audit
from strokecell.web.api._common import ERRORS
from strokecell.web.core.deps import ApiCaller, state_of
from strokecell.web.schemas.responses import AuditRowOut

router = APIRouter(tags=["audit"], responses=ERRORS)


@router.get("/subjects/{subject_code}/audit", response_model=list[AuditRowOut])
def subject_trail(subject_code: str, caller: ApiCaller, request: Request) -> list[AuditRowOut]:
    """Who changed the subject record (subject, visits, allocation), when and why."""
    return [AuditRowOut.model_validate(r)
            for r in subject_audit(state_of(request).db, caller.ctx, subject_code)]


@router.get("/subjects/{subject_code}/forms/{form_code}/audit",
            response_model=list[AuditRowOut])
def form_trail(subject_code: str, form_code: str, caller: ApiCaller, request: Request,
               visit_code: Annotated[str | None, Query(max_length=40)] = None,
               repeat_index: Annotated[int, Query(ge=1, le=10_000)] = 1,
               ) -> list[AuditRowOut]:
    """Who changed which item of the form, old and new value, when and why."""
    return [AuditRowOut.model_validate(r)
            for r in form_audit(state_of(request).db, caller.ctx, subject_code, form_code,
                                visit_code=visit_code, repeat_index=repeat_index)]
