"""The study, its sites, users and roles, and the design in force."""

from __future__ import annotations

from fastapi import APIRouter, Request, status

from strokecell.trial import (
    add_site,
    create_user,
    get_study,
    grant_role,
    list_sites,
    list_users,
    revoke_role,
)
from strokecell.trial.design_view import get_design
from strokecell.web.api._common import ERRORS
from strokecell.web.core.deps import ApiCaller, state_of
from strokecell.web.presenters import dashboard
from strokecell.web.schemas.requests import (
    RoleGrantRequest,
    RoleRevokeRequest,
    SiteCreateRequest,
    UserCreateRequest,
)
from strokecell.web.schemas.responses import DashboardOut, DesignOut, SiteOut, StudyOut, UserOut

router = APIRouter(tags=["study"], responses=ERRORS)


@router.get("/study", response_model=StudyOut)
def study(caller: ApiCaller, request: Request) -> StudyOut:
    """The study, the protocol version in force and the arms."""
    return StudyOut.model_validate(get_study(state_of(request).db, caller.ctx))


@router.get("/study/design", response_model=DesignOut)
def design(caller: ApiCaller, request: Request) -> DesignOut:
    """Eligibility criteria, strata and the visit schedule of the protocol in force."""
    return DesignOut.model_validate(get_design(state_of(request).db, caller.ctx))


@router.get("/dashboard", response_model=DashboardOut)
def study_dashboard(caller: ApiCaller, request: Request) -> DashboardOut:
    """Enrolment by site (and by arm for unblinded roles), visits due and overdue."""
    return DashboardOut.model_validate(dashboard(state_of(request).db, caller.ctx))


@router.get("/sites", response_model=list[SiteOut])
def sites(caller: ApiCaller, request: Request) -> list[SiteOut]:
    return [SiteOut.model_validate(s) for s in list_sites(state_of(request).db, caller.ctx)]


@router.post("/sites", response_model=SiteOut, status_code=status.HTTP_201_CREATED)
def new_site(body: SiteCreateRequest, caller: ApiCaller, request: Request) -> SiteOut:
    """Add a site (admin)."""
    return SiteOut.model_validate(add_site(state_of(request).db, caller.ctx, body.code,
                                           body.name, country=body.country,
                                           timezone=body.timezone))


@router.get("/users", response_model=list[UserOut])
def users(caller: ApiCaller, request: Request) -> list[UserOut]:
    """Users with their roles (admin)."""
    return [UserOut.model_validate(u) for u in list_users(state_of(request).db, caller.ctx)]


@router.post("/users", response_model=UserOut, status_code=status.HTTP_201_CREATED)
def new_user(body: UserCreateRequest, caller: ApiCaller, request: Request) -> UserOut:
    """Create a user (admin); the password is stored as an argon2id hash."""
    return UserOut.model_validate(create_user(state_of(request).db, caller.ctx, body.username,
                                              body.full_name, body.password, email=body.email))


@router.post("/users/{username}/roles", response_model=UserOut,
             status_code=status.HTTP_201_CREATED)
def grant(username: str, body: RoleGrantRequest, caller: ApiCaller,
          request: Request) -> UserOut:
    """Grant a role at a site (or all sites) (admin)."""
    return UserOut.model_validate(grant_role(state_of(request).db, caller.ctx, username,
                                             body.role, body.site_code))


@router.post("/users/{username}/roles/revoke", response_model=UserOut)
def revoke(username: str, body: RoleRevokeRequest, caller: ApiCaller,
           request: Request) -> UserOut:
    """End a role assignment, with the reason (admin)."""
    return UserOut.model_validate(revoke_role(state_of(request).db, caller.ctx, username,
                                              body.role, body.site_code, reason=body.reason))
