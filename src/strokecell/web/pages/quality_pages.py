"""Query threads, record locks and e-signatures (forms posted from the form and subject
pages; each goes back where it came from with the outcome)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from strokecell.errors import StrokecellError
from strokecell.trial import (
    answer_query,
    close_query,
    lock_records,
    open_query,
    reopen_query,
    sign,
    unlock_records,
)
from strokecell.web.core.deps import PageForm, page_form
from strokecell.web.pages._render import Page, redirect

router = APIRouter()
Form = Annotated[PageForm, Depends(page_form)]


def back_of(form: PageForm) -> str:
    """Where to return: a local path only."""
    target = form.get("back")
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/dashboard"
    return target


def _do(request: Request, form: PageForm, done: str, call: Callable[[Page], object],
        ) -> Response:
    page = Page.of(request, form.session)
    try:
        call(page)
    except StrokecellError as exc:
        page.flash(f"Not done: {exc}")
    else:
        page.flash(done)
    return redirect(back_of(form))


@router.post("/queries")
def query_open(request: Request, form: Form) -> Response:
    def run(p: Page) -> object:
        repeat = form.get("repeat_index")
        return open_query(p.db, p.ctx, form.get("subject_code"), form.get("form_code"),
                          message=form.get("message"), item_code=form.get("item_code") or None,
                          visit_code=form.get("visit_code") or None,
                          repeat_index=int(repeat) if repeat.isdigit() else 1)
    return _do(request, form, "Query opened.", run)


@router.post("/queries/{query_id}/answer")
def query_answer(query_id: int, request: Request, form: Form) -> Response:
    return _do(request, form, f"Query #{query_id} answered.",
               lambda p: answer_query(p.db, p.ctx, query_id, form.get("message")))


@router.post("/queries/{query_id}/close")
def query_close(query_id: int, request: Request, form: Form) -> Response:
    return _do(request, form, f"Query #{query_id} closed.",
               lambda p: close_query(p.db, p.ctx, query_id, form.get("message") or "resolved"))


@router.post("/queries/{query_id}/reopen")
def query_reopen(query_id: int, request: Request, form: Form) -> Response:
    return _do(request, form, f"Query #{query_id} reopened.",
               lambda p: reopen_query(p.db, p.ctx, query_id, form.get("message")))


@router.post("/locks")
def lock(request: Request, form: Form) -> Response:
    def run(p: Page) -> object:
        return lock_records(p.db, p.ctx, form.get("scope"),
                            subject_code=form.get("subject_code") or None,
                            visit_code=form.get("visit_code") or None,
                            form_code=form.get("form_code") or None)
    return _do(request, form, f"Locked ({form.get('scope')}).", run)


@router.post("/locks/{lock_id}/unlock")
def unlock(lock_id: int, request: Request, form: Form) -> Response:
    return _do(request, form, f"Lock #{lock_id} released.",
               lambda p: unlock_records(p.db, p.ctx, lock_id, reason=form.get("reason")))


@router.post("/subjects/{code}/sign")
def e_sign(code: str, request: Request, form: Form) -> Response:
    def run(p: Page) -> object:
        return sign(p.db, p.ctx, password=form.get("password"), subject_code=code,
                    meaning=form.get("meaning") or None)
    return _do(request, form, f"Signed the case book of {code}.", run)
