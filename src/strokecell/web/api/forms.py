"""Form layouts, form entry (save, read, list) and the subject's scores over time."""

from __future__ import annotations

import functools
from typing import Annotated

from fastapi import APIRouter, Query, Request

from strokecell.trial import get_form, get_subject, list_forms, save_form
from strokecell.trial.formspec_view import get_form_layout, list_form_layouts
from strokecell.web.api._common import ERRORS
from strokecell.web.core.deps import ApiCaller, run_write, state_of
from strokecell.web.core.writes import group_committed
from strokecell.web.presenters import score_series
from strokecell.web.schemas.requests import FormSaveRequest
from strokecell.web.schemas.responses import FormLayoutOut, FormOut, ScoreSeriesOut

router = APIRouter(tags=["forms"], responses=ERRORS)

VisitCode = Annotated[str | None, Query(max_length=40, description="none: outside visits")]
Repeat = Annotated[int, Query(ge=1, le=10_000)]


@router.get("/forms", response_model=list[FormLayoutOut])
def layouts(caller: ApiCaller, request: Request) -> list[FormLayoutOut]:
    """Every form the caller may see: items, allowed values, units, totals."""
    return [FormLayoutOut.model_validate(x)
            for x in list_form_layouts(state_of(request).db, caller.ctx)]


@router.get("/forms/{form_code}", response_model=FormLayoutOut)
def layout(form_code: str, caller: ApiCaller, request: Request) -> FormLayoutOut:
    return FormLayoutOut.model_validate(get_form_layout(state_of(request).db, caller.ctx,
                                                        form_code))


@router.get("/subjects/{subject_code}/forms", response_model=list[FormOut])
def subject_forms(subject_code: str, caller: ApiCaller, request: Request) -> list[FormOut]:
    """Every saved form of the subject the caller may see."""
    return [FormOut.model_validate(f)
            for f in list_forms(state_of(request).db, caller.ctx, subject_code)]


@router.get("/subjects/{subject_code}/forms/{form_code}", response_model=FormOut)
def subject_form(subject_code: str, form_code: str, caller: ApiCaller, request: Request,
                 visit_code: VisitCode = None, repeat_index: Repeat = 1) -> FormOut:
    """One saved form: items as entered and typed, derived values, status, version."""
    return FormOut.model_validate(get_form(state_of(request).db, caller.ctx, subject_code,
                                           form_code, visit_code=visit_code,
                                           repeat_index=repeat_index))


@router.put("/subjects/{subject_code}/forms/{form_code}", response_model=FormOut)
@group_committed
async def save(subject_code: str, form_code: str, body: FormSaveRequest, caller: ApiCaller,
               request: Request, visit_code: VisitCode = None,
               repeat_index: Repeat = 1) -> FormOut:
    """Save items (partial saves allowed). Later saves give the version read; changing a
    saved item needs a reason. Totals are computed by the engine when complete."""
    web = state_of(request)
    view = await run_write(web, functools.partial(
        save_form, web.db, caller.ctx, subject_code, form_code, body.items,
        visit_code=visit_code, repeat_index=repeat_index, version=body.version,
        reason=body.reason, assessment_date=body.assessment_date))
    return FormOut.model_validate(view)


@router.get("/subjects/{subject_code}/scores", response_model=list[ScoreSeriesOut])
def scores(subject_code: str, caller: ApiCaller, request: Request) -> list[ScoreSeriesOut]:
    """The subject's scale totals (PARAMCD) by visit, from complete forms."""
    db = state_of(request).db
    subject = get_subject(db, caller.ctx, subject_code)
    return [ScoreSeriesOut.model_validate(s, from_attributes=True)
            for s in score_series(db, caller.ctx, subject)]
