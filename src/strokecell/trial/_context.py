"""Who is calling: the service context, resolved against the role assignments on every call.

A :class:`ServiceContext` names the user, the study, the role the user acts in and the UTC
offset of the user's clock. It carries no permissions of its own: each service call resolves
it inside its transaction (:func:`authorize`) into a :class:`Scope` with the sites the role
is held at, so that a revoked role stops working at once, not at the next sign-in.

Site isolation: a subject of a site outside the caller's scope is reported exactly like a
subject that does not exist (:class:`~strokecell.errors.NotFoundError` with the same words),
so that neither the error type nor its message tells a user at site A that site B enrolled a
given id. A wrong role, by contrast, is a :class:`~strokecell.errors.PermissionDeniedError`
naming the role and the action, which reveals nothing about subjects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import ColumnElement, bindparam, select, true
from sqlalchemy.orm import InstrumentedAttribute, Session

from strokecell.errors import InputError, NotFoundError, PermissionDeniedError, Problem
from strokecell.store import Actor, Role
from strokecell.store import models as m
from strokecell.trial._authz import Action, allowed, is_blinded, roles_for

__all__ = ["Scope", "ServiceContext", "authorize", "subject_not_found", "visible_subject"]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def given_or_now(now: datetime | None) -> datetime:
    """``now`` if given (it must be timezone-aware), else the wall clock in UTC."""
    moment = _utc_now() if now is None else now
    if not isinstance(moment, datetime) or moment.utcoffset() is None:
        raise InputError(Problem("now", "must be a timezone-aware datetime", moment,
                                 "e.g. datetime.now(UTC)"))
    return moment


@dataclass(frozen=True)
class ServiceContext:
    """The caller of a service: user, study, acting role, the clock's UTC offset.

    ``clock`` returns the current time (timezone-aware); the simulation layer passes a
    virtual clock, everything else keeps the default wall clock.
    """

    user_id: int
    study_id: int
    role: Role
    offset_minutes: int = 0
    clock: Callable[[], datetime] = field(default=_utc_now, compare=False, repr=False)

    def now(self) -> datetime:
        moment = self.clock()
        if moment.utcoffset() is None:
            raise InputError(Problem("clock", "returned a naive datetime", moment,
                                     "a timezone-aware datetime"))
        return moment.astimezone(UTC)

    def local_now(self) -> datetime:
        """Now on the user's clock (its date is "today" in date checks)."""
        return self.now().astimezone(timezone(timedelta(minutes=self.offset_minutes)))


@dataclass(frozen=True)
class Scope:
    """A context checked against the database: the user, role and the sites it covers."""

    ctx: ServiceContext
    username: str
    site_ids: frozenset[int] | None  # None = every site of the study

    @property
    def role(self) -> Role:
        return self.ctx.role

    @property
    def study_id(self) -> int:
        return self.ctx.study_id

    @property
    def blinded(self) -> bool:
        return is_blinded(self.ctx.role)

    @property
    def actor(self) -> Actor:
        return Actor(self.ctx.user_id, self.username, self.ctx.role.value,
                     self.ctx.offset_minutes)

    def covers(self, site_id: int) -> bool:
        return self.site_ids is None or site_id in self.site_ids

    def site_filter(self, column: InstrumentedAttribute[int]) -> ColumnElement[bool]:
        """A WHERE clause keeping rows of the sites in scope (``column`` is a site id)."""
        if self.site_ids is None:
            return true()
        return column.in_(sorted(self.site_ids))

    def require_site(self, site_id: int, what: str) -> None:
        """Writing at a site outside the scope: refused without naming what is there."""
        if not self.covers(site_id):
            raise PermissionDeniedError(f"{what}: your {self.role.value} role does not cover "
                                        "this site")


# The user and their active grants of the role in one query (a row per grant, or one row
# with no grant), resolved on every call so that a revocation applies at once. Built once,
# on the tables (not the mapped classes, whose statements cost twice as much to run): every
# service call runs it first, before it has changed anything.
_USERS = m.User.__table__
_GRANT_ROWS = m.RoleAssignment.__table__
_GRANTS = (select(_USERS.c.username, _USERS.c.active, _GRANT_ROWS.c.id, _GRANT_ROWS.c.site_id)
           .outerjoin(_GRANT_ROWS,
                      (_GRANT_ROWS.c.user_id == _USERS.c.id)
                      & (_GRANT_ROWS.c.study_id == bindparam("study_id"))
                      & (_GRANT_ROWS.c.role == bindparam("role"))
                      & _GRANT_ROWS.c.revoked_at.is_(None))
           .where(_USERS.c.id == bindparam("user_id")))


def authorize(session: Session, ctx: ServiceContext, action: Action,
              *, all_sites: bool = False) -> Scope:
    """Check that the caller's role may ``action`` and return the sites it covers.

    ``all_sites`` demands a study-wide assignment (set-up and user management).
    """
    if not isinstance(ctx, ServiceContext):
        raise PermissionDeniedError("no service context: sign in first")
    rows = session.execute(_GRANTS, {"study_id": ctx.study_id, "role": ctx.role,
                                      "user_id": ctx.user_id}).all()
    if not rows or not rows[0].active:
        raise PermissionDeniedError(f"user #{ctx.user_id} is unknown or inactive")
    username = str(rows[0].username)
    if not allowed(ctx.role, action):
        raise PermissionDeniedError(
            f"{action.value}: not allowed for role {ctx.role.value}; allowed roles: "
            f"{', '.join(roles_for(action))}")
    grants = [row.site_id for row in rows if row.id is not None]
    if not grants:
        raise PermissionDeniedError(
            f"{action.value}: {username} holds no active {ctx.role.value} role in this "
            "study")
    sites = _sites(grants)
    if all_sites and sites is not None:
        raise PermissionDeniedError(
            f"{action.value}: needs a study-wide {ctx.role.value} role (all sites)")
    return Scope(ctx, username, sites)


def _sites(grants: Iterable[int | None]) -> frozenset[int] | None:
    ids: set[int] = set()
    for site_id in grants:
        if site_id is None:
            return None
        ids.add(site_id)
    return frozenset(ids)


def subject_not_found(code: object) -> NotFoundError:
    """The one error for "no such subject" and "subject at a site you do not cover"."""
    return NotFoundError(f"subject_code: no subject {code!r} among the subjects you can see")


_SUBJECT = select(m.Subject).where(m.Subject.study_id == bindparam("study_id"),
                                   m.Subject.subject_code == bindparam("code"))
_SUBJECT_FOR_UPDATE = _SUBJECT.with_for_update()


def visible_subject(session: Session, scope: Scope, code: str, *,
                    for_update: bool = False) -> m.Subject:
    """The subject ``code`` of the scope's study and sites, or :func:`subject_not_found`."""
    if not isinstance(code, str) or not code:
        raise InputError(Problem("subject_code", "must be a non-empty string", code,
                                 "a study subject id such as STUDY-SITE-001"))
    stmt = _SUBJECT_FOR_UPDATE if for_update else _SUBJECT
    subject = session.scalars(stmt, {"study_id": scope.study_id,
                                     "code": code}).one_or_none()
    if subject is None or not scope.covers(subject.site_id):
        raise subject_not_found(code)
    return subject
