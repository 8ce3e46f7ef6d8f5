"""A product lot's page (cell lab): the lot, its release record and the release form.

The form lists the release tests the service says this lot needs (``release_criteria``),
each with its unit and the limit it is judged against; what is posted goes unchanged to
``record_release``, which validates every result, decides released or rejected and checks
the password again. Nothing is judged here. Blinded roles are refused by the services
(403): the page shows which subjects received a lot, i.e. who got cells.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from strokecell.errors import ConflictError, InputError, PermissionDeniedError
from strokecell.trial import get_lot, record_release, release_criteria
from strokecell.trial.product import DEFAULT_RELEASE_MEANING
from strokecell.web.core.deps import PageForm, page_form
from strokecell.web.pages._render import Page, problems_by_location, redirect

router = APIRouter()

#: Form field names of the release results: ``test__<test code>``.
TEST_PREFIX = "test__"
#: The other fields of the form; an error naming one of them ("password: ...") is shown
#: next to it.
OTHER_FIELDS = ("password", "meaning", "note")


def _lot_page(page: Page, lot_number: str, *, status_code: int = 200,
              values: dict[str, str] | None = None,
              errors: dict[str, list[str]] | None = None,
              general: list[str] | None = None) -> Response:
    # Both calls are refused (403) for every role but the cell lab, before anything is shown.
    lot = get_lot(page.db, page.ctx, lot_number)
    criteria = release_criteria(page.db, page.ctx, lot_number)
    errors = errors or {}
    # an error no field of the form shows (e.g. an unknown test code) goes on top
    fields = {c.test_code for c in criteria} | set(OTHER_FIELDS)
    general = [*(general or []), *(f"{loc}: {' '.join(msgs)}" for loc, msgs in errors.items()
                                   if loc not in fields)]
    return page.render("lot.html", status_code=status_code, lot=lot, criteria=criteria,
                       values=values or {}, errors=errors, general=general,
                       prefix=TEST_PREFIX, default_meaning=DEFAULT_RELEASE_MEANING,
                       lot_url=f"/lots/{quote(lot.lot_number, safe='')}")


@router.get("/lots/{lot_number}")
def lot_page(lot_number: str, request: Request) -> Response:
    return _lot_page(Page.of(request), lot_number)


def _located(message: str) -> tuple[str | None, str]:
    """``"password: wrong"`` -> (``"password"``, message): errors of the services start with
    the field they concern."""
    field, sep, _ = message.partition(":")
    return (field, message) if sep and field in OTHER_FIELDS else (None, message)


@router.post("/lots/{lot_number}/release")
def lot_release(lot_number: str, request: Request,
                form: Annotated[PageForm, Depends(page_form)]) -> Response:
    page = Page.of(request, form.session)
    # Every result field posted, as typed; an empty field is left out so that the service
    # names it as missing (it checks which tests this lot needs, and each value).
    results: dict[str, object] = {
        name.removeprefix(TEST_PREFIX): value for name, value in form.values().items()
        if name.startswith(TEST_PREFIX) and value.strip()}
    meaning = form.get("meaning").strip()
    extra: dict[str, Any] = {"meaning": meaning} if meaning else {}
    try:
        lot = record_release(page.db, page.ctx, lot_number, results,
                             password=form.get("password"), note=form.get("note") or None,
                             **extra)
    except (InputError, ConflictError, PermissionDeniedError) as exc:
        # the password is never sent back; everything else is kept for correction
        values = {k: v for k, v in form.values().items() if k != "password"}
        errors: dict[str, list[str]] = {}
        general: list[str] = []
        if isinstance(exc, InputError):
            errors, _ = problems_by_location(exc)
        else:
            field, message = _located(str(exc))
            if field is None:
                general.append(message)
            else:
                errors[field] = [message]
        code = 422 if isinstance(exc, InputError) else \
            409 if isinstance(exc, ConflictError) else 403
        return _lot_page(page, lot_number, status_code=code, values=values, errors=errors,
                         general=general)
    failed = [t.test_code for t in lot.tests if not t.passed]
    page.flash(f"Lot {lot.lot_number} {lot.status}"
               + (f" (failed: {', '.join(failed)})." if failed else "."))
    return redirect(f"/lots/{quote(lot.lot_number, safe='')}")
