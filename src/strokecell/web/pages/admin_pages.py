"""Administration pages: users and their roles, sites, API tokens (admin) and product
lots (cell lab). Each page calls the same services as the API; the services decide who may
do what (a non-admin gets 403 from ``list_users``; the sites page, whose list every role
may read, asks the permission matrix for ``manage_study`` first)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from strokecell.errors import ConflictError, InputError, PermissionDeniedError
from strokecell.trial import (
    add_site,
    create_user,
    grant_role,
    list_lots,
    list_sites,
    list_users,
    register_lot,
    revoke_role,
    roles_for,
    withdraw_lot,
)
from strokecell.web.core.auth import ROLES, issue_token, revoke_token
from strokecell.web.core.deps import PageForm, page_form
from strokecell.web.core.security import TOKEN_USER_PREFIX
from strokecell.web.pages._render import Page, redirect

router = APIRouter()

_Refused = (InputError, ConflictError)


def _status(exc: Exception) -> int:
    return 409 if isinstance(exc, ConflictError) else 422


def _users_page(page: Page, *, status_code: int = 200, error: str | None = None,
                values: dict[str, Any] | None = None) -> Response:
    users = [u for u in list_users(page.db, page.ctx)
             if not u.username.startswith(TOKEN_USER_PREFIX)]
    return page.render("admin_users.html", status_code=status_code, users=users,
                       sites=list_sites(page.db, page.ctx), roles=ROLES, error=error,
                       values=values or {})


@router.get("/admin/users")
def users_page(request: Request) -> Response:
    return _users_page(Page.of(request))


@router.post("/admin/users")
def user_create(request: Request, form: Annotated[PageForm, Depends(page_form)]) -> Response:
    page = Page.of(request, form.session)
    try:
        user = create_user(page.db, page.ctx, form.get("username"), form.get("full_name"),
                           form.get("password"), email=form.get("email") or None)
    except _Refused as exc:
        values = {k: v for k, v in form.values().items() if k != "password"}
        return _users_page(page, status_code=_status(exc), error=str(exc), values=values)
    page.flash(f"User {user.username} created.")
    # The users list shows those holding a role in the study: the form grants the first.
    return _grant(page, user.username, form) if form.get("role") else redirect("/admin/users")


def _grant(page: Page, username: str, form: PageForm) -> Response:
    try:
        grant_role(page.db, page.ctx, username, form.get("role"),
                   form.get("site_code") or None)
    except _Refused as exc:
        return _users_page(page, status_code=_status(exc), error=str(exc))
    page.flash(f"Role {form.get('role')} granted to {username}.")
    return redirect("/admin/users")


@router.post("/admin/users/{username}/roles")
def role_grant(username: str, request: Request,
               form: Annotated[PageForm, Depends(page_form)]) -> Response:
    return _grant(Page.of(request, form.session), username, form)


@router.post("/admin/users/{username}/roles/revoke")
def role_revoke(username: str, request: Request,
                form: Annotated[PageForm, Depends(page_form)]) -> Response:
    page = Page.of(request, form.session)
    try:
        revoke_role(page.db, page.ctx, username, form.get("role"),
                    form.get("site_code") or None, reason=form.get("reason"))
    except _Refused as exc:
        return _users_page(page, status_code=_status(exc), error=str(exc))
    page.flash(f"Role {form.get('role')} of {username} revoked.")
    return redirect("/admin/users")


def _sites_page(page: Page, *, status_code: int = 200, error: str | None = None,
                values: dict[str, Any] | None = None) -> Response:
    if not page.can("manage_study"):  # the list is readable by all; the page is the admin's
        raise PermissionDeniedError("manage sites: the role "
                                    f"{page.principal.role} may not (allowed: "
                                    f"{', '.join(roles_for('manage_study'))})")
    return page.render("admin_sites.html", status_code=status_code,
                       sites=list_sites(page.db, page.ctx), error=error, values=values or {})


@router.get("/admin/sites")
def sites_page(request: Request) -> Response:
    return _sites_page(Page.of(request))


@router.post("/admin/sites")
def site_create(request: Request, form: Annotated[PageForm, Depends(page_form)]) -> Response:
    page = Page.of(request, form.session)
    try:
        site = add_site(page.db, page.ctx, form.get("code"), form.get("name"),
                        country=form.get("country") or None,
                        timezone=form.get("timezone") or "UTC")
    except _Refused as exc:
        return _sites_page(page, status_code=_status(exc), error=str(exc),
                           values=form.values())
    page.flash(f"Site {site.code} added.")
    return redirect("/admin/sites")


def _tokens_page(page: Page, *, status_code: int = 200, error: str | None = None,
                 token: str | None = None) -> Response:
    accounts = [u for u in list_users(page.db, page.ctx)
                if u.username.startswith(TOKEN_USER_PREFIX)]
    return page.render("admin_tokens.html", status_code=status_code, accounts=accounts,
                       sites=list_sites(page.db, page.ctx), roles=ROLES, error=error,
                       token=token)


@router.get("/admin/tokens")
def tokens_page(request: Request) -> Response:
    return _tokens_page(Page.of(request))


@router.post("/admin/tokens")
def token_create(request: Request, form: Annotated[PageForm, Depends(page_form)]) -> Response:
    page = Page.of(request, form.session)
    try:
        token, _account = issue_token(page.web, page.principal, label=form.get("label"),
                                      role=form.get("role"),
                                      site_code=form.get("site_code") or None)
    except _Refused as exc:
        return _tokens_page(page, status_code=_status(exc), error=str(exc))
    # shown once, on this response only (not redirected: the token is not stored anywhere)
    return _tokens_page(page, status_code=201, token=token)


@router.post("/admin/tokens/{username}/revoke")
def token_revoke(username: str, request: Request,
                 form: Annotated[PageForm, Depends(page_form)]) -> Response:
    page = Page.of(request, form.session)
    try:
        revoke_token(page.web, page.principal, username, form.get("reason"))
    except _Refused as exc:
        return _tokens_page(page, status_code=_status(exc), error=str(exc))
    page.flash(f"Token {username} revoked.")
    return redirect("/admin/tokens")


def _lots_page(page: Page, *, status_code: int = 200, error: str | None = None,
               values: dict[str, Any] | None = None) -> Response:
    return page.render("lots.html", status_code=status_code,
                       lots=list_lots(page.db, page.ctx), error=error, values=values or {})


@router.get("/lots")
def lots_page(request: Request) -> Response:
    return _lots_page(Page.of(request))


def _number(text: str) -> Any:
    try:
        return float(text) if text else None
    except ValueError:
        return text  # refused by the service, which names the field


def _day(text: str) -> Any:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return text


@router.post("/lots")
def lot_register(request: Request, form: Annotated[PageForm, Depends(page_form)]) -> Response:
    page = Page.of(request, form.session)
    try:
        lot = register_lot(page.db, page.ctx, form.get("lot_number"),
                           cell_type=form.get("cell_type"),
                           source_tissue=form.get("source_tissue"),
                           donor_type=form.get("donor_type"),
                           donor_code=form.get("donor_code") or None,
                           manufactured_on=_day(form.get("manufactured_on")),
                           total_cells=_number(form.get("total_cells")),
                           volume_ml=_number(form.get("volume_ml")))
    except _Refused as exc:
        return _lots_page(page, status_code=_status(exc), error=str(exc),
                          values=form.values())
    page.flash(f"Lot {lot.lot_number} registered (quarantine).")
    return redirect(f"/lots#lot-{quote(lot.lot_number, safe='')}")


@router.post("/lots/{lot_number}/withdraw")
def lot_withdraw(lot_number: str, request: Request,
                 form: Annotated[PageForm, Depends(page_form)]) -> Response:
    page = Page.of(request, form.session)
    try:
        withdraw_lot(page.db, page.ctx, lot_number, form.get("status"),
                     reason=form.get("reason"))
    except _Refused as exc:
        return _lots_page(page, status_code=_status(exc), error=str(exc))
    page.flash(f"Lot {lot_number} withdrawn.")
    return redirect("/lots")
