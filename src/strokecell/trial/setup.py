"""Study set-up from a protocol: the study, its protocol versions, arms, sites, the list.

:func:`init_study` is the bootstrap (no caller yet): it creates the study from a protocol
text, the first protocol version (YAML text and SHA-256), the arms, the first admin with a
study-wide admin role, and the concealed randomization list. Everything after that goes
through a :class:`~strokecell.trial.ServiceContext` with the admin role.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from strokecell.errors import ConflictError, InputError, NotFoundError, Problem
from strokecell.store import (
    AuditAction,
    Role,
    StudyStatus,
    changes_of,
    hash_password,
    record_changes,
)
from strokecell.store import models as m
from strokecell.trial._authz import Action
from strokecell.trial._context import Scope, ServiceContext, _utc_now, authorize
from strokecell.trial._design import current_version, design_of, sha256_text
from strokecell.trial._tx import audit_insert, reading, writing
from strokecell.trial.randomization_service import create_randomization_list
from strokecell.trial.views import ArmView, SiteView, StudyView

__all__ = ["add_site", "amend_protocol", "get_study", "init_study", "list_sites"]


def init_study(db: Engine, protocol_text: str, *, admin_username: str, admin_password: str,
               admin_full_name: str = "Study administrator", admin_email: str | None = None,
               seed: int | str | None = None, offset_minutes: int = 0,
               clock: Callable[[], datetime] = _utc_now) -> ServiceContext:
    """Create the study of ``protocol_text`` and its first admin; return the admin's context.

    ``seed`` seeds the randomization list (a random 128-bit seed when None); it is kept in
    the concealed state, never in a public table or the audit trail.
    """
    design = design_of(protocol_text)  # validates the protocol (ProtocolError) first
    protocol = design.protocol
    password_hash = hash_password(admin_password)
    with writing(db) as s:
        if s.scalars(select(m.Study.id).where(m.Study.code == protocol.study.id)).first():
            raise ConflictError(f"study: {protocol.study.id} exists already; amend its "
                                "protocol instead")
        user = s.scalars(select(m.User).where(m.User.username == admin_username)).first()
        now = clock()
        study = m.Study(code=protocol.study.id, title=protocol.study.title,
                        status=StudyStatus.ACTIVE, created_at=now,
                        created_offset_min=offset_minutes)
        s.add(study)
        s.flush()
        if user is None:
            user = m.User(username=admin_username, full_name=admin_full_name,
                          email=admin_email, password_hash=password_hash, created_at=now,
                          created_offset_min=offset_minutes)
            s.add(user)
            s.flush()
            new_user = True
        else:
            new_user = False
        ctx = ServiceContext(user.id, study.id, Role.ADMIN, offset_minutes, clock)
        scope = Scope(ctx, admin_username, None)
        record_changes(s, scope.actor, table="studies", row_key=study.id,
                       action=AuditAction.INSERT, changes=changes_of(study, inserted=True),
                       study_id=study.id, at=ctx.now())
        if new_user:
            record_changes(s, scope.actor, table="users", row_key=user.id,
                           action=AuditAction.INSERT,
                           changes=[c for c in changes_of(user, inserted=True)
                                    if c.field != "password_hash"],
                           study_id=study.id, at=ctx.now())
        audit_insert(s, scope, m.RoleAssignment(
            user_id=user.id, study_id=study.id, site_id=None, role=Role.ADMIN,
            granted_at=now, granted_offset_min=offset_minutes), "role_assignments")
        pv = m.ProtocolVersion(study_id=study.id, version_label=protocol.study.version,
                               yaml_text=protocol_text, sha256=sha256_text(protocol_text),
                               effective_at=now, effective_offset_min=offset_minutes)
        audit_insert(s, scope, pv, "protocol_versions", exclude=("yaml_text",))
        for arm in protocol.arms:
            audit_insert(s, scope, m.Arm(study_id=study.id, protocol_version_id=pv.id,
                                         code=arm.code, name=arm.name, ratio_weight=arm.ratio,
                                         receives_cells=arm.is_cell_therapy), "arms")
        if protocol.randomization is not None:
            create_randomization_list(s, scope, pv, protocol, seed)
    return ctx


def amend_protocol(db: Engine, ctx: ServiceContext, protocol_text: str, *,
                   note: str | None = None) -> StudyView:
    """A protocol amendment: a new protocol version; data keep the version they were
    collected under. The study id and the arms (codes and ratios) must stay the same,
    because the randomization list was generated for them."""
    protocol = design_of(protocol_text).protocol
    with writing(db) as s:
        scope = authorize(s, ctx, Action.MANAGE_STUDY, all_sites=True)
        study = s.get(m.Study, ctx.study_id)
        if study is None:
            raise NotFoundError(f"study #{ctx.study_id} does not exist")
        problems: list[Problem] = []
        if protocol.study.id != study.code:
            problems.append(Problem("study.id", "an amendment must keep the study id",
                                    protocol.study.id, study.code))
        arms = {(a.code, a.ratio_weight) for a in study.arms}
        new_arms = {(a.code, a.ratio) for a in protocol.arms}
        if arms != new_arms:
            problems.append(Problem("arms", "an amendment may not change the arms or their "
                                    "ratio (the randomization list depends on them)",
                                    sorted(new_arms), str(sorted(arms))))
        labels = {pv.version_label: pv for pv in study.protocol_versions}
        digest = sha256_text(protocol_text)
        if protocol.study.version in labels:
            problems.append(Problem("study.version", "this version label exists already",
                                    protocol.study.version,
                                    f"a new label (existing: {', '.join(labels)})"))
        if any(pv.sha256 == digest for pv in study.protocol_versions):
            problems.append(Problem("protocol", "this exact text is already a version",
                                    digest[:12], "a changed protocol"))
        if problems:
            raise InputError(problems, context="protocol amendment")
        now = ctx.now()
        pv = m.ProtocolVersion(study_id=study.id, version_label=protocol.study.version,
                               yaml_text=protocol_text, sha256=digest, effective_at=now,
                               effective_offset_min=ctx.offset_minutes, note=note)
        audit_insert(s, scope, pv, "protocol_versions", exclude=("yaml_text",))
        return _study_view(s, study)


def get_study(db: Engine, ctx: ServiceContext) -> StudyView:
    """The study, its protocol version in force and its arms (the arms are public)."""
    with reading(db) as s:
        authorize(s, ctx, Action.READ_STUDY)
        study = s.get(m.Study, ctx.study_id)
        if study is None:
            raise NotFoundError(f"study #{ctx.study_id} does not exist")
        return _study_view(s, study)


def _study_view(s: Session, study: m.Study) -> StudyView:
    pv = current_version(s, study.id)
    method = s.scalars(select(m.RandomizationList.method)
                       .where(m.RandomizationList.study_id == study.id)).first()
    return StudyView(study.code, study.title, study.status.value, pv.version_label, pv.sha256,
                     tuple(ArmView(a.code, a.name, a.ratio_weight, a.receives_cells)
                           for a in study.arms), method)


def add_site(db: Engine, ctx: ServiceContext, code: str, name: str, *,
             country: str | None = None, timezone: str = "UTC") -> SiteView:
    """A new site (SITEID ``code``); ``timezone`` is an IANA name such as Asia/Shanghai."""
    problems: list[Problem] = []
    if not isinstance(code, str) or not code.isalnum() or len(code) > 20:
        problems.append(Problem("code", "a site code is 1-20 letters or digits", code,
                                "e.g. S01"))
    if not isinstance(name, str) or not name.strip():
        problems.append(Problem("name", "must not be empty", name))
    elif len(name.strip()) > 200:  # sites.name
        problems.append(Problem("name", f"{len(name.strip())} characters long", name[:40] + "...",
                                "at most 200 characters"))
    if country is not None and (len(country) != 2 or not country.isalpha()):
        problems.append(Problem("country", "an ISO 3166 two-letter code", country, "e.g. CN"))
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(Problem("timezone", "not an IANA time zone", timezone,
                                "e.g. UTC, Europe/Berlin, Asia/Shanghai"))
    if problems:
        raise InputError(problems, context="site")
    with writing(db) as s:
        scope = authorize(s, ctx, Action.MANAGE_STUDY, all_sites=True)
        exists = s.scalars(select(m.Site.id).where(m.Site.study_id == ctx.study_id,
                                                   m.Site.code == code)).first()
        if exists:
            raise ConflictError(f"code: site {code!r} exists already in this study")
        site = m.Site(study_id=ctx.study_id, code=code, name=name.strip(), country=country,
                      timezone=timezone, active=True)
        audit_insert(s, scope, site, "sites")
        return SiteView(site.code, site.name, site.country, site.timezone, site.active)


def list_sites(db: Engine, ctx: ServiceContext) -> list[SiteView]:
    """Every site of the study (site names are not confidential; their subjects are)."""
    with reading(db) as s:
        authorize(s, ctx, Action.READ_STUDY)
        sites = s.scalars(select(m.Site).where(m.Site.study_id == ctx.study_id)
                          .order_by(m.Site.code)).all()
        return [SiteView(x.code, x.name, x.country, x.timezone, x.active) for x in sites]
