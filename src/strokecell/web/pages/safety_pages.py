"""Adverse events (log and form) and cell administrations (form with the computed dose and
the deviations from the protocol's plan), through their own services."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from strokecell.errors import ConflictError, InputError, NotFoundError
from strokecell.trial import (
    AdministrationView,
    AdverseEventView,
    get_administration,
    get_adverse_event,
    get_form,
    get_subject,
    list_adverse_events,
    record_administration,
    report_adverse_event,
    update_adverse_event,
)
from strokecell.trial.formspec_view import FormLayout, get_form_layout
from strokecell.web.core.deps import PageForm, page_form
from strokecell.web.pages._render import Page, redirect
from strokecell.web.pages.form_pages import _form_page

router = APIRouter()
Form = Annotated[PageForm, Depends(page_form)]


def _items(layout: FormLayout, form: PageForm) -> tuple[dict[str, str], dict[str, object]]:
    submitted = {f.code: form.get(f"item__{f.code}") for f in layout.fields}
    return submitted, {k: v for k, v in submitted.items() if v != ""}


def _ae_info(ae: AdverseEventView) -> list[tuple[str, str]]:
    due = "not required"
    if ae.expedited_report_required:
        due = f"within {ae.expedited_report_days} days, by {ae.expedited_report_due}" + (
            f"; sent {ae.expedited_reported_at:%Y-%m-%d}" if ae.expedited_reported_at
            else "; NOT SENT YET")
    return [("AE", f"#{ae.ae_number} {ae.term}"), ("CTCAE grade", str(ae.ctcae_grade)),
            ("Serious", ", ".join(ae.serious_criteria) if ae.serious else "no"),
            ("Related", "yes" if ae.related else "no"),
            ("Expedited report", due)]


@router.get("/adverse-events")
def ae_log(request: Request) -> Response:
    page = Page.of(request)
    events = list_adverse_events(page.db, page.ctx)
    return page.render("ae_log.html", events=events)


@router.get("/subjects/{code}/adverse-events/new")
def ae_new(code: str, request: Request) -> Response:
    page = Page.of(request)
    get_subject(page.db, page.ctx, code)
    layout = get_form_layout(page.db, page.ctx, "adverse_event")
    return _form_page(page, code, layout, None, 1, None, show_assessment=False,
                      action=f"/subjects/{code}/adverse-events")


@router.post("/subjects/{code}/adverse-events")
def ae_report(code: str, request: Request, form: Form) -> Response:
    page = Page.of(request, form.session)
    layout = get_form_layout(page.db, page.ctx, "adverse_event")
    submitted, items = _items(layout, form)
    try:
        ae = report_adverse_event(page.db, page.ctx, code, items)
    except (InputError, ConflictError) as exc:
        return _form_page(page, code, layout, None, 1, None, status_code=_status(exc),
                          values=submitted, exc=exc, show_assessment=False,
                          action=f"/subjects/{code}/adverse-events")
    page.flash(f"Adverse event #{ae.ae_number} reported" + (
        f"; EXPEDITED REPORT due by {ae.expedited_report_due}"
        if ae.expedited_report_required else "") + ".")
    return redirect(f"/subjects/{code}/adverse-events/{ae.ae_number}")


def _ae_page(page: Page, code: str, number: int, **kw: object) -> Response:
    ae = get_adverse_event(page.db, page.ctx, code, number)
    layout = get_form_layout(page.db, page.ctx, "adverse_event")
    saved = get_form(page.db, page.ctx, code, "adverse_event", repeat_index=number)
    return _form_page(page, code, layout, None, number, saved, show_assessment=False,
                      action=f"/subjects/{code}/adverse-events/{number}", version=ae.version,
                      info=_ae_info(ae), info_title="Adverse event", **kw)  # type: ignore[arg-type]


@router.get("/subjects/{code}/adverse-events/{number}")
def ae_page(code: str, number: int, request: Request) -> Response:
    return _ae_page(Page.of(request), code, number)


@router.post("/subjects/{code}/adverse-events/{number}")
def ae_update(code: str, number: int, request: Request, form: Form) -> Response:
    page = Page.of(request, form.session)
    layout = get_form_layout(page.db, page.ctx, "adverse_event")
    submitted, items = _items(layout, form)
    version = form.get("version")
    try:
        update_adverse_event(page.db, page.ctx, code, number, items,
                             version=int(version) if version.isdigit() else -1,
                             reason=form.get("reason"))
    except (InputError, ConflictError) as exc:
        return _ae_page(page, code, number, status_code=_status(exc), values=submitted,
                        exc=exc, reason=form.get("reason"))
    page.flash(f"Adverse event #{number} updated.")
    return redirect(f"/subjects/{code}/adverse-events/{number}")


def _adm_info(a: AdministrationView) -> tuple[list[tuple[str, str]], list[str]]:
    info = [("Lot", a.lot_number), ("Given", f"{a.administered_at:%Y-%m-%d %H:%M} UTC"),
            ("Weight", f"{a.weight_kg:g} kg"), ("Cells", f"{a.cell_count:.3g}"),
            ("Dose (computed)", f"{a.dose_cells_per_kg:.3g} cells/kg"),
            ("Volume", f"{a.volume_ml:g} mL"), ("Route", a.route + (
                f", {a.vessel}" if a.vessel else "")),
            ("Time since onset", f"{a.days_since_onset:.1f} days")]
    info += [(f"Planned {k.replace('_', ' ')}", str(v)) for k, v in a.planned.items()]
    return info, [str(getattr(d, "description", d)) for d in a.deviations]


@router.get("/subjects/{code}/administrations/new")
def adm_new(code: str, request: Request) -> Response:
    page = Page.of(request)
    get_subject(page.db, page.ctx, code)
    layout = get_form_layout(page.db, page.ctx, "administration")
    return _form_page(page, code, layout, None, 1, None, show_assessment=False,
                      action=f"/subjects/{code}/administrations")


@router.post("/subjects/{code}/administrations")
def adm_record(code: str, request: Request, form: Form) -> Response:
    page = Page.of(request, form.session)
    layout = get_form_layout(page.db, page.ctx, "administration")
    submitted, items = _items(layout, form)
    try:
        view = record_administration(page.db, page.ctx, code, items)
    except (InputError, ConflictError) as exc:
        return _form_page(page, code, layout, None, 1, None, status_code=_status(exc),
                          values=submitted, exc=exc, show_assessment=False,
                          action=f"/subjects/{code}/administrations")
    page.flash(f"Administration #{view.administration_number} recorded: "
               f"{view.dose_cells_per_kg:.3g} cells/kg"
               + (f"; {len(view.deviations)} deviation(s)" if view.deviations else "") + ".")
    return redirect(f"/subjects/{code}/administrations/{view.administration_number}")


@router.get("/subjects/{code}/administrations/{number}")
def adm_page(code: str, number: int, request: Request) -> Response:
    page = Page.of(request)
    try:
        view = get_administration(page.db, page.ctx, code, number)
    except InputError as exc:
        raise NotFoundError(str(exc)) from None
    layout = get_form_layout(page.db, page.ctx, "administration")
    saved = get_form(page.db, page.ctx, code, "administration", repeat_index=number)
    info, deviations = _adm_info(view)
    return _form_page(page, code, layout, None, number, saved, show_assessment=False,
                      action=f"/subjects/{code}/administrations", info=info,
                      info_title="Administration (dose computed from the weight)",
                      info_deviations=deviations, readonly=True)


def _status(exc: Exception) -> int:
    return 422 if isinstance(exc, InputError) else 409
