"""Form entry for every instrument and CRF page, and the audit trail of a form.

Item by item with the allowed values as choices (from the form's layout), the running
total in the browser (``static/form.js``) and the engine's total on save, errors next to
their item, a reason-for-change field on edits, partial saves. Values go to
``save_form`` exactly as the browser sent them: the engines judge them.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from strokecell.errors import ConflictError, InputError, NotFoundError
from strokecell.trial import (
    FormView,
    get_form,
    get_subject,
    list_locks,
    list_queries,
    save_form,
)
from strokecell.trial.audit_view import form_audit
from strokecell.trial.formspec_view import FormLayout, get_form_layout
from strokecell.web.core.deps import PageForm, page_form
from strokecell.web.pages._render import Page, problems_by_location, readable, redirect

router = APIRouter()

VisitCode = Annotated[str | None, Query(max_length=40)]
Repeat = Annotated[int, Query(ge=1, le=10_000)]


def _url(code: str, form_code: str, visit_code: str | None, repeat: int,
         suffix: str = "") -> str:
    query = {k: v for k, v in (("visit_code", visit_code),
                               ("repeat_index", str(repeat) if repeat != 1 else None)) if v}
    return f"/subjects/{code}/forms/{form_code}{suffix}" + \
        (f"?{urlencode(query)}" if query else "")


def _saved(page: Page, code: str, form_code: str, visit_code: str | None,
           repeat: int) -> FormView | None:
    try:
        return get_form(page.db, page.ctx, code, form_code, visit_code=visit_code,
                        repeat_index=repeat)
    except NotFoundError:
        return None  # not saved yet (subject and form visibility were checked before)


def _form_page(page: Page, code: str, layout: FormLayout, visit_code: str | None,
               repeat: int, saved: FormView | None, *, status_code: int = 200,
               values: dict[str, str] | None = None, exc: Exception | None = None,
               reason: str = "", assessment_date: str | None = None,
               action: str | None = None, version: int | None = None,
               show_assessment: bool = True, **extra: Any) -> Response:
    """The entry page of a form; ``action`` and ``version`` for forms saved through their
    own service (adverse events, administrations)."""
    subject = get_subject(page.db, page.ctx, code)
    errors: dict[str, list[str]] = {}
    general: list[str] = []
    if isinstance(exc, InputError):
        by, _ = problems_by_location(exc)
        fields = {f.code for f in layout.fields} | {"reason", "assessment_date"}
        for loc, msgs in by.items():
            if loc in fields:
                errors[loc] = msgs
            else:
                general.extend(f"{loc}: {m}" if loc else m for m in msgs)
    elif exc is not None:
        general.append(str(exc))
    raw = dict(saved.raw) if saved else {}
    shown: dict[str, Any] = {**{k: v or "" for k, v in raw.items()}, **(values or {})}
    sections: list[tuple[str | None, list[Any]]] = []
    for f in layout.fields:
        if not sections or sections[-1][0] != f.section:
            sections.append((f.section, []))
        sections[-1][1].append(f)
    when = assessment_date if assessment_date is not None else \
        (saved.assessment_date.isoformat() if saved and saved.assessment_date else "")
    queries = []
    if saved is not None:
        queries = [q for q in list_queries(page.db, page.ctx, code)
                   if q.form_code == layout.code and q.visit_code == visit_code
                   and (q.repeat_index or 1) == repeat]
    locks = [lk for lk in list_locks(page.db, page.ctx, code)
             if lk.scope == "form" and lk.form_code == layout.code
             and lk.visit_code == visit_code]
    here = _url(code, layout.code, visit_code, repeat)
    return page.render(
        "form.html", status_code=status_code, subject=subject, layout=layout,
        sections=sections, saved=saved, raw=raw, shown=shown, errors=errors,
        general=general, reason=reason, visit_code=visit_code, repeat=repeat,
        assessment_date=when, show_assessment=show_assessment,
        action=action or here, here=here,
        version=version if version is not None else (saved.version if saved else None),
        audit_url=_url(code, layout.code, visit_code, repeat, "/audit"),
        queries=queries, locks=locks, **extra)


@router.get("/subjects/{code}/forms/{form_code}")
def form_page(code: str, form_code: str, request: Request, visit_code: VisitCode = None,
              repeat_index: Repeat = 1) -> Response:
    page = Page.of(request)
    get_subject(page.db, page.ctx, code)  # 404 first for a subject the caller cannot see
    layout = get_form_layout(page.db, page.ctx, form_code)
    saved = _saved(page, code, form_code, visit_code, repeat_index)
    return _form_page(page, code, layout, visit_code, repeat_index, saved)


@router.post("/subjects/{code}/forms/{form_code}")
def form_submit(code: str, form_code: str, request: Request,
                form: Annotated[PageForm, Depends(page_form)], visit_code: VisitCode = None,
                repeat_index: Repeat = 1) -> Response:
    page = Page.of(request, form.session)
    get_subject(page.db, page.ctx, code)
    layout = get_form_layout(page.db, page.ctx, form_code)
    saved = _saved(page, code, form_code, visit_code, repeat_index)
    submitted = {f.code: form.get(f"item__{f.code}") for f in layout.fields}
    items: dict[str, object] = {}
    for key, value in submitted.items():
        if value != "":
            items[key] = value
        elif saved is not None and key in saved.raw:
            items[key] = None  # emptied: clears the saved item (needs a reason)
    version = form.get("version")
    reason = form.get("reason")
    when = form.get("assessment_date")
    try:
        view = save_form(page.db, page.ctx, code, form_code, items, visit_code=visit_code,
                         repeat_index=repeat_index,
                         version=int(version) if version.isdigit() else None,
                         reason=reason or None, assessment_date=when or None)
    except (InputError, ConflictError) as exc:
        return _form_page(page, code, layout, visit_code, repeat_index, saved,
                          status_code=422 if isinstance(exc, InputError) else 409,
                          values=submitted, exc=exc, reason=reason, assessment_date=when)
    totals = ", ".join(f"{k} = {v:g}" if isinstance(v, float) else f"{k} = {v}"
                       for k, v in view.derived.items())
    page.flash(f"Saved {layout.name}: {view.status}" + (f"; {totals}" if totals else "")
               + f" (version {view.version}).")
    return redirect(_url(code, form_code, visit_code, repeat_index))


@router.get("/subjects/{code}/forms/{form_code}/audit")
def form_audit_page(code: str, form_code: str, request: Request,
                    visit_code: VisitCode = None, repeat_index: Repeat = 1,
                    all: bool = False) -> Response:
    page = Page.of(request)
    rows = form_audit(page.db, page.ctx, code, form_code, visit_code=visit_code,
                      repeat_index=repeat_index)
    where = f" at {visit_code}" if visit_code else ""
    here = _url(code, form_code, visit_code, repeat_index, "/audit")
    return page.render("audit.html", title=f"Audit trail of {form_code}{where}, {code}",
                       subject_code=code, rows=readable(rows, every_field=all),
                       total=len(rows), every_field=all,
                       toggle=here + ("&" if "?" in here else "?") + "all=1",
                       back=_url(code, form_code, visit_code, repeat_index))
