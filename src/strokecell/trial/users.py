"""Users, their roles per site, and signing in (argon2id via ``strokecell.store.passwords``).

Only an admin with a study-wide role manages users. A role is granted at one site or at all
sites (``site_code=None``); revoking keeps the row with ``revoked_at`` so that who could do
what, when, stays on record.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from strokecell.errors import (
    ConflictError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
    Problem,
)
from strokecell.store import Role, hash_password, verify_password
from strokecell.store import models as m
from strokecell.trial._authz import Action
from strokecell.trial._context import ServiceContext, _utc_now, authorize
from strokecell.trial._tx import audit_insert, audit_update, reading, require_reason, writing
from strokecell.trial.views import UserView

__all__ = ["context_for", "create_user", "grant_role", "list_users", "revoke_role", "sign_in"]

_USERNAME = re.compile(r"[a-z0-9][a-z0-9._@-]{1,79}")
_ROLES = ", ".join(r.value for r in Role)


@functools.cache
def _dummy_hash() -> str:
    return hash_password("no such user: timing equaliser")


def _role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise InputError(Problem("role", "unknown role", role, _ROLES)) from None


def _user(s: Session, username: str) -> m.User:
    user = s.scalars(select(m.User).where(m.User.username == username)).first()
    if user is None:
        raise NotFoundError(f"username: no user {username!r}")
    return user


def _site_id(s: Session, study_id: int, site_code: str | None) -> int | None:
    if site_code is None:
        return None
    site = s.scalars(select(m.Site.id).where(m.Site.study_id == study_id,
                                             m.Site.code == site_code)).first()
    if site is None:
        codes = s.scalars(select(m.Site.code).where(m.Site.study_id == study_id)).all()
        raise NotFoundError(f"site_code: no site {site_code!r}; sites: {', '.join(codes)}")
    return site


def create_user(db: Engine, ctx: ServiceContext, username: str, full_name: str, password: str,
                *, email: str | None = None) -> UserView:
    """A new user with an argon2id password hash (the password itself is never stored)."""
    problems: list[Problem] = []
    if not isinstance(username, str) or not _USERNAME.fullmatch(username):
        problems.append(Problem("username", "2-80 lower-case letters, digits, . _ @ -",
                                username, "e.g. j.smith"))
    if not isinstance(full_name, str) or not full_name.strip():
        problems.append(Problem("full_name", "must not be empty", full_name))
    elif len(full_name.strip()) > 200:  # users.full_name
        problems.append(Problem("full_name", f"{len(full_name.strip())} characters long",
                                full_name[:40] + "...", "at most 200 characters"))
    if email is not None and (not isinstance(email, str) or len(email) > 254):  # users.email
        problems.append(Problem("email", "an address of at most 254 characters",
                                str(email)[:40], "e.g. j.smith@example.org"))
    if problems:
        raise InputError(problems, context="user")
    password_hash = hash_password(password)  # InputError for a short password
    with writing(db) as s:
        scope = authorize(s, ctx, Action.MANAGE_USERS, all_sites=True)
        if s.scalars(select(m.User.id).where(m.User.username == username)).first():
            raise ConflictError(f"username: {username!r} is taken")
        user = m.User(username=username, full_name=full_name.strip(), email=email,
                      password_hash=password_hash, active=True, created_at=ctx.now(),
                      created_offset_min=ctx.offset_minutes)
        audit_insert(s, scope, user, "users", exclude=("password_hash",))
        return UserView(user.username, user.full_name, user.email, True, ())


def grant_role(db: Engine, ctx: ServiceContext, username: str, role: Role | str,
               site_code: str | None = None) -> UserView:
    """Give ``username`` ``role`` at ``site_code`` (None: every site of the study)."""
    chosen = _role(role)
    with writing(db) as s:
        scope = authorize(s, ctx, Action.MANAGE_USERS, all_sites=True)
        user = _user(s, username)
        site_id = _site_id(s, ctx.study_id, site_code)
        for held in _active(s, ctx.study_id, user.id):
            if held.role is chosen and held.site_id == site_id:
                raise ConflictError(f"role: {username} already holds {chosen.value} "
                                    f"at {site_code or 'all sites'}")
        audit_insert(s, scope, m.RoleAssignment(
            user_id=user.id, study_id=ctx.study_id, site_id=site_id, role=chosen,
            granted_at=ctx.now(), granted_offset_min=ctx.offset_minutes,
            granted_by_user_id=ctx.user_id), "role_assignments")
        return _view(s, ctx.study_id, user)


def revoke_role(db: Engine, ctx: ServiceContext, username: str, role: Role | str,
                site_code: str | None = None, *, reason: str) -> UserView:
    """End a role assignment (the row stays, with ``revoked_at``)."""
    chosen = _role(role)
    text = require_reason(reason, f"revoke {chosen.value} from {username}")
    with writing(db) as s:
        scope = authorize(s, ctx, Action.MANAGE_USERS, all_sites=True)
        user = _user(s, username)
        site_id = _site_id(s, ctx.study_id, site_code)
        held = [r for r in _active(s, ctx.study_id, user.id)
                if r.role is chosen and r.site_id == site_id]
        if not held:
            raise NotFoundError(f"role: {username} holds no active {chosen.value} role at "
                                f"{site_code or 'all sites'}")
        for row in held:
            row.revoked_at = ctx.now()
            row.revoked_offset_min = ctx.offset_minutes
            audit_update(s, scope, row, "role_assignments", text)
        return _view(s, ctx.study_id, user)


def list_users(db: Engine, ctx: ServiceContext) -> list[UserView]:
    """Every user holding a role in the study, with the roles (admin only)."""
    with reading(db) as s:
        authorize(s, ctx, Action.MANAGE_USERS, all_sites=True)
        ids = s.scalars(select(m.RoleAssignment.user_id)
                        .where(m.RoleAssignment.study_id == ctx.study_id).distinct()).all()
        users = s.scalars(select(m.User).where(m.User.id.in_(ids))
                          .order_by(m.User.username)).all()
        return [_view(s, ctx.study_id, u) for u in users]


def _active(s: Session, study_id: int, user_id: int) -> list[m.RoleAssignment]:
    return list(s.scalars(select(m.RoleAssignment).where(
        m.RoleAssignment.study_id == study_id, m.RoleAssignment.user_id == user_id,
        m.RoleAssignment.revoked_at.is_(None)).order_by(m.RoleAssignment.id)).all())


def _view(s: Session, study_id: int, user: m.User) -> UserView:
    codes = {site_id: code for site_id, code in s.execute(
        select(m.Site.id, m.Site.code).where(m.Site.study_id == study_id)).all()}
    roles = tuple((r.role.value, codes.get(r.site_id) if r.site_id is not None else None)
                  for r in _active(s, study_id, user.id))
    return UserView(user.username, user.full_name, user.email, user.active, roles)


def _study_id(s: Session, study_code: str) -> int:
    study = s.scalars(select(m.Study.id).where(m.Study.code == study_code)).first()
    if study is None:
        raise NotFoundError(f"study: no study {study_code!r}")
    return study


def context_for(db: Engine, username: str, *, study_code: str, role: Role | str,
                offset_minutes: int = 0,
                clock: Callable[[], datetime] = _utc_now) -> ServiceContext:
    """A context for a user already authenticated by the caller (web session, CLI, tests).

    Checks that the user exists, is active and holds ``role`` in the study; every service
    call checks the role again.
    """
    chosen = _role(role)
    with reading(db) as s:
        user = _user(s, username)
        ctx = ServiceContext(user.id, _study_id(s, study_code), chosen, offset_minutes, clock)
        authorize(s, ctx, Action.READ_STUDY)
        return ctx


def sign_in(db: Engine, username: str, password: str, *, study_code: str, role: Role | str,
            offset_minutes: int = 0, clock: Callable[[], datetime] = _utc_now,
            ) -> ServiceContext:
    """Check the password (argon2id) and return the user's context for ``role``.

    A wrong password and an unknown user give the same error (no user enumeration).
    """
    with reading(db) as s:
        user = s.scalars(select(m.User).where(m.User.username == username)).first()
        # An unknown user costs one argon2 verification too, so timing does not tell.
        stored = user.password_hash if user is not None else _dummy_hash()
        ok = verify_password(stored, password) and user is not None and user.active
    if not ok:
        raise PermissionDeniedError("sign in: unknown user or wrong password")
    return context_for(db, username, study_code=study_code, role=role,
                       offset_minutes=offset_minutes, clock=clock)
