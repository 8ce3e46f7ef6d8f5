"""The subject page (timeline, forms, allocation, scores), randomization, visit dates,
emergency unblinding, and the audit trail of the subject record."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from strokecell.errors import ConflictError, InputError, NotFoundError, PermissionDeniedError
from strokecell.trial import (
    get_subject,
    list_administrations,
    list_adverse_events,
    list_forms,
    list_locks,
    list_queries,
    list_signatures,
    list_visits,
    randomize,
    record_visit,
    unblind,
)
from strokecell.trial.audit_view import subject_audit
from strokecell.trial.design_view import get_design
from strokecell.trial.formspec_view import list_form_layouts
from strokecell.web.core.deps import PageForm, page_form
from strokecell.web.pages._render import Page, readable, redirect
from strokecell.web.presenters import score_series, scores_svg

router = APIRouter()
T = TypeVar("T")


def _subject_page(page: Page, code: str, *, status_code: int = 200,
                  error: str | None = None) -> Response:
    subject = get_subject(page.db, page.ctx, code)
    visits = list_visits(page.db, page.ctx, code)
    layouts = {x.code: x for x in list_form_layouts(page.db, page.ctx)}
    design = get_design(page.db, page.ctx)
    saved = [f for f in list_forms(page.db, page.ctx, code) if f.visit_code is None]
    unscheduled = [c for c in design.unscheduled_forms if c in layouts]
    series = score_series(page.db, page.ctx, subject)
    svg = scores_svg(series, {v.number: v.label for v in visits})
    return page.render("subject.html", status_code=status_code, subject=subject,
                       visits=visits, layouts=layouts, unscheduled=unscheduled,
                       saved_unscheduled=saved, plot_svg=svg, error=error,
                       aes=_maybe(lambda: list_adverse_events(page.db, page.ctx, code)),
                       administrations=_maybe(lambda: list_administrations(
                           page.db, page.ctx, code)) if page.can("administer") else None,
                       queries=_maybe(lambda: list_queries(page.db, page.ctx, code)) or [],
                       locks=_maybe(lambda: list_locks(page.db, page.ctx, code)) or [],
                       signatures=_maybe(lambda: list_signatures(page.db, page.ctx, code)),
                       here=f"/subjects/{code}", saved=None, layout=None)


def _maybe(call: Callable[[], list[T]]) -> list[T] | None:
    """What the caller's role may see, else None (the section is left out)."""
    try:
        return call()
    except PermissionDeniedError:
        return None


@router.get("/subjects/{code}")
def subject_page(code: str, request: Request) -> Response:
    return _subject_page(Page.of(request), code)


@router.post("/subjects/{code}/randomize")
def randomize_submit(code: str, request: Request,
                     form: Annotated[PageForm, Depends(page_form)]) -> Response:
    page = Page.of(request, form.session)
    try:
        allocation = randomize(page.db, page.ctx, code)
    except (InputError, ConflictError, PermissionDeniedError) as exc:
        return _subject_page(page, code, status_code=_code(exc), error=str(exc))
    page.flash(f"{code} randomized: {allocation.label}.")
    return redirect(f"/subjects/{code}")


@router.post("/subjects/{code}/visits/{visit_code}")
def visit_submit(code: str, visit_code: str, request: Request,
                 form: Annotated[PageForm, Depends(page_form)]) -> Response:
    page = Page.of(request, form.session)
    version = form.get("version")
    try:
        record_visit(page.db, page.ctx, code, visit_code, form.get("actual_date"),
                     version=int(version) if version.isdigit() else None,
                     reason=form.get("reason") or None)
    except (InputError, ConflictError, PermissionDeniedError) as exc:
        return _subject_page(page, code, status_code=_code(exc), error=str(exc))
    page.flash(f"Visit {visit_code} date saved.")
    return redirect(f"/subjects/{code}")


@router.post("/subjects/{code}/unblind")
def unblind_submit(code: str, request: Request,
                   form: Annotated[PageForm, Depends(page_form)]) -> Response:
    page = Page.of(request, form.session)
    try:
        event = unblind(page.db, page.ctx, code, form.get("reason"))
    except (InputError, ConflictError, PermissionDeniedError, NotFoundError) as exc:
        if isinstance(exc, NotFoundError) and "subject_code: no subject" in str(exc):
            raise
        return _subject_page(page, code, status_code=_code(exc), error=str(exc))
    page.flash(f"EMERGENCY UNBLINDING of {code}: arm {event.arm} (recorded with your "
               "reason in the audit trail).")
    return redirect(f"/subjects/{code}")


@router.get("/subjects/{code}/audit")
def subject_audit_page(code: str, request: Request,
                       all: bool = False) -> Response:
    page = Page.of(request)
    rows = subject_audit(page.db, page.ctx, code)
    return page.render("audit.html", title=f"Audit trail of {code}", subject_code=code,
                       rows=readable(rows, every_field=all), total=len(rows),
                       every_field=all, toggle=f"/subjects/{code}/audit?all=1",
                       back=f"/subjects/{code}")


def _code(exc: Exception) -> int:
    if isinstance(exc, InputError):
        return 422
    if isinstance(exc, ConflictError):
        return 409
    if isinstance(exc, NotFoundError):
        return 404
    return 403
