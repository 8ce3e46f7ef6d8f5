"""Signing in and out, who am I, API tokens."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from strokecell.trial import is_blinded
from strokecell.web.api._common import ERRORS
from strokecell.web.core.auth import issue_token, revoke_token, sign_in_session
from strokecell.web.core.cookies import clear_session_cookie, set_session_cookie
from strokecell.web.core.deps import ApiCaller, client_address, session_of, state_of
from strokecell.web.schemas.requests import LoginRequest, TokenCreateRequest, TokenRevokeRequest
from strokecell.web.schemas.responses import MeOut, TokenOut

router = APIRouter(tags=["session"], responses=ERRORS)


@router.post("/session", response_model=MeOut, status_code=status.HTTP_201_CREATED)
def create_session(body: LoginRequest, request: Request, response: Response) -> MeOut:
    """Sign in: sets the session cookie; send the returned ``csrf_token`` as the
    ``X-CSRF-Token`` header on every state-changing request made with the cookie."""
    web = state_of(request)
    session = sign_in_session(web, session_of(request), username=body.username,
                              password=body.password, study_code=body.study_code,
                              role=body.role, offset_minutes=body.offset_minutes,
                              address=client_address(request))
    set_session_cookie(response, session.sid, web.settings)
    p = session.principal
    if p is None:  # pragma: no cover - sign_in_session always sets it
        raise RuntimeError("signed-in session without a principal")
    return MeOut(username=p.username, study_code=p.study_code, role=p.role,
                 blinded=is_blinded(p.role), via=p.via, csrf_token=web.csrf_for(session))


@router.delete("/session", status_code=status.HTTP_204_NO_CONTENT)
def delete_session(caller: ApiCaller, request: Request, response: Response) -> None:
    """Sign out (forgets the session on the server)."""
    web = state_of(request)
    session = session_of(request)
    if session is not None:
        web.sessions.drop(session.sid)
    clear_session_cookie(response, web.settings)


@router.get("/me", response_model=MeOut)
def me(caller: ApiCaller, request: Request) -> MeOut:
    """The caller: user, study, role, whether blinded (and the CSRF token of a session)."""
    web = state_of(request)
    session = session_of(request)
    csrf = web.csrf_for(session) if session is not None and caller.via == "session" else None
    return MeOut(username=caller.username, study_code=caller.study_code, role=caller.role,
                 blinded=is_blinded(caller.role), via=caller.via, csrf_token=csrf)


@router.post("/tokens", response_model=TokenOut, status_code=status.HTTP_201_CREATED)
def create_token(body: TokenCreateRequest, caller: ApiCaller, request: Request) -> TokenOut:
    """Issue an API token for one role (at one site or all) in the caller's study (admin).
    The token is shown once; only its argon2id hash is stored."""
    token, username = issue_token(state_of(request), caller, label=body.label, role=body.role,
                                  site_code=body.site_code)
    return TokenOut(token=token, username=username, study_code=caller.study_code,
                    role=body.role, site_code=body.site_code,
                    note="shown once: store it safely; send it as 'Authorization: Bearer "
                         "<token>'")


@router.post("/tokens/{username}/revoke", status_code=status.HTTP_204_NO_CONTENT)
def delete_token(username: str, body: TokenRevokeRequest, caller: ApiCaller,
                 request: Request) -> None:
    """Revoke an API token (its service account's roles end at once; audited)."""
    revoke_token(state_of(request), caller, username, body.reason)
