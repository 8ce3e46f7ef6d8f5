"""Screening, enrolment, subjects, randomization, unblinding, visits."""

from __future__ import annotations

from fastapi import APIRouter, Request, status

from strokecell.trial import (
    enrol,
    get_allocation,
    get_screening,
    get_subject,
    list_subjects,
    list_visits,
    randomize,
    record_visit,
    screen,
    unblind,
)
from strokecell.web.api._common import ERRORS
from strokecell.web.core.deps import ApiCaller, state_of
from strokecell.web.schemas.requests import (
    EnrolRequest,
    RandomizeRequest,
    ScreeningRequest,
    UnblindRequest,
    VisitDateRequest,
)
from strokecell.web.schemas.responses import (
    AllocationOut,
    ScreeningOut,
    SubjectOut,
    UnblindingOut,
    VisitOut,
)

router = APIRouter(tags=["subjects"], responses=ERRORS)


@router.post("/screenings", response_model=ScreeningOut, status_code=status.HTTP_201_CREATED)
def new_screening(body: ScreeningRequest, caller: ApiCaller, request: Request) -> ScreeningOut:
    """Screen a patient against every eligibility criterion (failures are recorded)."""
    view = screen(state_of(request).db, caller.ctx, body.site_code, body.screening_number,
                  age_years=body.age_years, stroke_type=body.stroke_type,
                  stroke_onset_at=body.stroke_onset_at, consent_date=body.consent_date,
                  severity=body.severity, inclusion=body.inclusion, exclusion=body.exclusion)
    return ScreeningOut.model_validate(view)


@router.get("/screenings/{screening_number}", response_model=ScreeningOut)
def screening(screening_number: str, caller: ApiCaller, request: Request) -> ScreeningOut:
    return ScreeningOut.model_validate(get_screening(state_of(request).db, caller.ctx,
                                                     screening_number))


@router.post("/screenings/{screening_number}/enrol", response_model=SubjectOut,
             status_code=status.HTTP_201_CREATED)
def enrol_screened(screening_number: str, body: EnrolRequest, caller: ApiCaller,
                   request: Request) -> SubjectOut:
    """Enrol an eligible screened patient; the visits are scheduled from day 0."""
    return SubjectOut.model_validate(enrol(state_of(request).db, caller.ctx, screening_number,
                                           anchor_date=body.anchor_date, strata=body.strata))


@router.get("/subjects", response_model=list[SubjectOut])
def subjects(caller: ApiCaller, request: Request) -> list[SubjectOut]:
    """The subjects of the caller's sites (arm masked for blinded roles)."""
    return [SubjectOut.model_validate(s)
            for s in list_subjects(state_of(request).db, caller.ctx)]


@router.get("/subjects/{subject_code}", response_model=SubjectOut)
def subject(subject_code: str, caller: ApiCaller, request: Request) -> SubjectOut:
    return SubjectOut.model_validate(get_subject(state_of(request).db, caller.ctx,
                                                 subject_code))


@router.post("/subjects/{subject_code}/randomization", response_model=AllocationOut,
             status_code=status.HTTP_201_CREATED)
def randomize_subject(subject_code: str, body: RandomizeRequest, caller: ApiCaller,
                      request: Request) -> AllocationOut:
    """Allocate the subject through the concealed list (blinded roles see no arm)."""
    return AllocationOut.model_validate(randomize(state_of(request).db, caller.ctx,
                                                  subject_code, body.strata))


@router.get("/subjects/{subject_code}/allocation", response_model=AllocationOut)
def allocation(subject_code: str, caller: ApiCaller, request: Request) -> AllocationOut:
    return AllocationOut.model_validate(get_allocation(state_of(request).db, caller.ctx,
                                                       subject_code))


@router.post("/subjects/{subject_code}/unblinding", response_model=UnblindingOut,
             status_code=status.HTTP_201_CREATED)
def unblind_subject(subject_code: str, body: UnblindRequest, caller: ApiCaller,
                    request: Request) -> UnblindingOut:
    """Emergency unblinding of one subject (investigator; reason required; audited)."""
    return UnblindingOut.model_validate(unblind(state_of(request).db, caller.ctx,
                                                subject_code, body.reason))


@router.get("/subjects/{subject_code}/visits", response_model=list[VisitOut])
def visits(subject_code: str, caller: ApiCaller, request: Request) -> list[VisitOut]:
    """Visits with expected dates, windows, status and the forms of each."""
    return [VisitOut.model_validate(v)
            for v in list_visits(state_of(request).db, caller.ctx, subject_code)]


@router.put("/subjects/{subject_code}/visits/{visit_code}", response_model=VisitOut)
def visit_date(subject_code: str, visit_code: str, body: VisitDateRequest, caller: ApiCaller,
               request: Request) -> VisitOut:
    """Set (or, with the version read and a reason, correct) the date of a visit."""
    return VisitOut.model_validate(record_visit(state_of(request).db, caller.ctx, subject_code,
                                                visit_code, body.actual_date,
                                                version=body.version, reason=body.reason))
