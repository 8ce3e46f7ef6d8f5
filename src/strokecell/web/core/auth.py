"""Signing in (pages and API alike): throttle, check the password through the trial
service, open a fresh session. Issuing and revoking API tokens (service accounts)."""

from __future__ import annotations

import secrets

from strokecell.errors import (
    InputError,
    NotFoundError,
    PermissionDeniedError,
    Problem,
    StrokecellError,
)
from strokecell.trial import (
    PERMISSIONS,
    Action,
    create_user,
    grant_role,
    list_sites,
    list_users,
    revoke_role,
    sign_in,
)
from strokecell.web.core.deps import WebState
from strokecell.web.core.security import (
    TOKEN_USER_PREFIX,
    Principal,
    SessionData,
    format_token,
)

__all__ = ["ROLES", "issue_token", "revoke_token", "sign_in_session"]

#: Every role of the trial record, in the order of the permission matrix's documentation.
ROLES: tuple[str, ...] = tuple(sorted(r.value for r in PERMISSIONS[Action.READ_STUDY]))


def sign_in_session(web: WebState, old: SessionData | None, *, username: str, password: str,
                    study_code: str, role: str, offset_minutes: int,
                    address: str) -> SessionData:
    """Check the credentials and return the new signed-in session.

    Raises ThrottleError (rate limit or lockout) or PermissionDeniedError (the same words
    for an unknown user, a wrong password and a role the user does not hold).
    """
    web.throttle.check(username, address)
    if username.startswith(TOKEN_USER_PREFIX):
        web.throttle.failed(username)
        raise PermissionDeniedError("sign in: unknown user or wrong password")
    try:
        ctx = sign_in(web.db, username, password, study_code=study_code, role=role,
                      offset_minutes=offset_minutes)
    except StrokecellError:
        web.throttle.failed(username)
        raise PermissionDeniedError("sign in: unknown user, wrong password, or a role or "
                                    "study you do not hold") from None
    web.throttle.succeeded(username)
    principal = Principal(ctx, username, study_code, ctx.role.value, "session")
    return web.sessions.sign_in(old, principal)


def issue_token(web: WebState, caller: Principal, *, label: str, role: str,
                site_code: str | None) -> tuple[str, str]:
    """A new API token for ``role`` at ``site_code`` (None: all sites) in the caller's
    study: (token text, service-account user name). Admin only (the services check)."""
    problems = []
    if role not in ROLES:
        problems.append(Problem("role", "unknown role", role, ", ".join(ROLES)))
    if not label.strip():
        problems.append(Problem("label", "must not be empty", label))
    if problems:
        raise InputError(problems, context="API token")
    if site_code is not None and site_code not in {s.code for s in
                                                  list_sites(web.db, caller.ctx)}:
        raise InputError(Problem("site_code", "no such site", site_code))
    username = TOKEN_USER_PREFIX + secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    create_user(web.db, caller.ctx, username, f"API token: {label.strip()}", secret)
    grant_role(web.db, caller.ctx, username, role, site_code)
    return format_token(caller.study_code, role, username, secret), username


def revoke_token(web: WebState, caller: Principal, username: str, reason: str) -> None:
    """End every role of the token's service account (audited, with ``reason``)."""
    if not username.startswith(TOKEN_USER_PREFIX):
        raise InputError(Problem("username", "not an API token account", username,
                                 f"a name starting with {TOKEN_USER_PREFIX}"))
    users = {u.username: u for u in list_users(web.db, caller.ctx)}
    user = users.get(username)
    if user is None or not user.roles:
        raise NotFoundError(f"username: no active API token account {username!r}")
    for role, site in user.roles:
        revoke_role(web.db, caller.ctx, username, role, site, reason=reason)
    web.tokens.forget_user(username)
