"""Dashboard, subject list, screening and enrolment pages."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from strokecell.errors import ConflictError, InputError, PermissionDeniedError
from strokecell.trial import enrol, get_screening, list_sites, list_subjects, screen
from strokecell.trial.design_view import get_design
from strokecell.trial.formspec_view import form_layout
from strokecell.web.core.deps import PageForm, page_form
from strokecell.web.pages._render import Page, problems_by_location, redirect
from strokecell.web.presenters import dashboard

router = APIRouter()


@router.get("/dashboard")
def dashboard_page(request: Request) -> Response:
    page = Page.of(request)
    return page.render("dashboard.html", dash=dashboard(page.db, page.ctx))


@router.get("/subjects")
def subjects_page(request: Request) -> Response:
    page = Page.of(request)
    return page.render("subjects.html", subjects=list_subjects(page.db, page.ctx))


def _screening_page(page: Page, *, status_code: int = 200, values: dict[str, str] | None = None,
                    exc: InputError | None = None, error: str | None = None) -> Response:
    design = get_design(page.db, page.ctx)
    severity = [(s, form_layout(s.instrument)) for s in design.severity]
    by, _ = problems_by_location(exc) if exc else ({}, [])
    general = [f"{loc}: {' '.join(msgs)}" if loc else " ".join(msgs)
               for loc, msgs in by.items() if not _shown_by_field(loc)]
    if error:
        general.append(error)
    return page.render("screening.html", status_code=status_code, design=design,
                       severity=severity, sites=list_sites(page.db, page.ctx),
                       values=values or {}, errors=by, general=general)


def _shown_by_field(location: str) -> bool:
    return location in {"screening_number", "age_years", "stroke_type", "stroke_onset_at",
                        "consent_date", "inclusion", "exclusion"} \
        or location.startswith("severity.")


@router.get("/screening")
def screening_form(request: Request) -> Response:
    page = Page.of(request)
    return _screening_page(page)


def _int_or_text(text: str) -> Any:
    return int(text) if text.isdigit() and (text == "0" or not text.startswith("0")) else text


def _moment(text: str) -> Any:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return text  # refused by the service, which names the field and what is allowed


@router.post("/screening")
def screening_submit(request: Request,
                     form: Annotated[PageForm, Depends(page_form)]) -> Response:
    page = Page.of(request, form.session)
    design = get_design(page.db, page.ctx)
    severity = {s.instrument: {f.code: form.get(f"sev__{s.instrument}__{f.code}")
                               for f in form_layout(s.instrument).fields
                               if form.get(f"sev__{s.instrument}__{f.code}") != ""}
                for s in design.severity}
    number = form.get("screening_number")
    try:
        screen(page.db, page.ctx, form.get("site_code"), number,
               age_years=_int_or_text(form.get("age_years")),
               stroke_type=form.get("stroke_type"),
               stroke_onset_at=_moment(form.get("stroke_onset_at")),
               consent_date=form.get("consent_date") or None, severity=severity,
               inclusion=[form.get(f"inc_{i}") == "true" for i in range(len(design.inclusion))],
               exclusion=[form.get(f"exc_{i}") == "true" for i in range(len(design.exclusion))])
    except InputError as exc:
        return _screening_page(page, status_code=422, values=form.values(), exc=exc)
    except (ConflictError, PermissionDeniedError) as exc:
        return _screening_page(page, status_code=409 if isinstance(exc, ConflictError) else 403,
                               values=form.values(), error=str(exc))
    return redirect(f"/screenings/{quote(number, safe='')}")


def _screening_result(page: Page, number: str, *, status_code: int = 200,
                      error: str | None = None) -> Response:
    view = get_screening(page.db, page.ctx, number)
    design = get_design(page.db, page.ctx)
    return page.render("screening_result.html", status_code=status_code, screening=view,
                       design=design, error=error, today=page.ctx.local_now().date())


@router.get("/screenings/{number}")
def screening_result(number: str, request: Request) -> Response:
    return _screening_result(Page.of(request), number)


@router.post("/screenings/{number}/enrol")
def enrol_submit(number: str, request: Request,
                 form: Annotated[PageForm, Depends(page_form)]) -> Response:
    page = Page.of(request, form.session)
    design = get_design(page.db, page.ctx)
    strata = {s.factor: form.get(f"stratum__{s.factor}") for s in design.strata}
    try:
        subject = enrol(page.db, page.ctx, number,
                        anchor_date=form.get("anchor_date") or None, strata=strata or None)
    except (InputError, ConflictError) as exc:
        return _screening_result(page, number, status_code=422
                                 if isinstance(exc, InputError) else 409, error=str(exc))
    page.flash(f"Enrolled as {subject.subject_code}; visits scheduled from "
               f"{subject.anchor_date}.")
    return redirect(f"/subjects/{subject.subject_code}")
