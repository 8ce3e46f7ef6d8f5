"""Cell administration: the bedside record, the dose per kg, and automatic deviations.

:func:`record_administration` (cell lab only) takes the complete ``administration`` CRF page
and, in one transaction, saves the page, the typed ``administrations`` row (linked to the
page by ``form_instance_id`` and to the lot: the chain of identity) and one
``protocol_deviations`` row per departure from the protocol, each audited.

Refused (nothing written): a subject not randomized, withdrawn or dead; a subject of an arm
that receives no cells (the cell lab is unblinded, so the message may name the arm; a
blinded caller never gets this far); a lot that is not ``released``, is past its expiry, or
failed a release test, or is of another product than the arm's; an administration time in
the future, before the stroke or before randomization.

Recorded as deviations (the administration itself is kept; ``major`` as marked):

| category | rule |
|---|---|
| ``dose`` | cells outside the plan ± ``dose_tolerance`` (default 20 %); major beyond twice it |
| ``volume`` | volume outside the plan ± tolerance; major above the route's ``max_volume`` |
| ``rate`` | infusion rate above the plan's rate + tolerance; major above ``max_rate`` |
| ``route`` | route or (intra-arterial) vessel other than the protocol's (major) |
| ``timing`` | days since onset outside the arm's ``timing`` window (major) |
| ``viability`` | bedside viability below the product's ``viability_min_percent`` (major) |
| ``administration_count`` | more administrations than the regimen's (major) |
| ``interval`` | days since the previous administration off ``interval_days`` by > 1 day |
| ``safety_imaging`` | intra-arterial delivery without post-procedure imaging |

The plan is :func:`strokecell.protocol.compute_dose` for the arm and the recorded weight;
the dose per kg is ``cell_count / weight_kg`` and the concentration ``cell_count /
volume_ml``, both computed, never typed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from strokecell.errors import ConflictError, InputError, Problem
from strokecell.protocol import compute_dose
from strokecell.protocol.models import Arm as ProtocolArm
from strokecell.store import LotStatus, SubjectStatus
from strokecell.store import models as m
from strokecell.trial._authz import Action
from strokecell.trial._context import Scope, ServiceContext, authorize, visible_subject
from strokecell.trial._design import design_of
from strokecell.trial._formspec import form_spec
from strokecell.trial._guards import ensure_writable
from strokecell.trial._tx import audit_insert, reading, writing
from strokecell.trial.forms import write_form
from strokecell.trial.product import find_lot
from strokecell.trial.views import AdministrationView, DeviationView
from strokecell.trial.visits import schedule_visits

__all__ = ["DOSE_TOLERANCE", "get_administration", "list_administrations", "list_deviations",
           "record_administration"]

#: Relative tolerance on cells, volume and rate before a departure is a deviation.
DOSE_TOLERANCE = 0.20

_FORM = "administration"


def _norm(text: str | None) -> str:
    return (text or "").strip().lower().replace(" ", "_").replace("-", "_")


def record_administration(db: Engine, ctx: ServiceContext, subject_code: str,
                          items: Mapping[str, object], *,
                          dose_tolerance: float = DOSE_TOLERANCE) -> AdministrationView:
    """Record one administration from the complete ``administration`` page (cell lab)."""
    if isinstance(dose_tolerance, bool) or not isinstance(dose_tolerance, int | float) \
            or not 0 < dose_tolerance < 1:
        raise InputError(Problem("dose_tolerance", "must be a fraction", dose_tolerance,
                                 "0 < tolerance < 1, e.g. 0.2 for ±20 %"))
    with writing(db) as s:
        scope = authorize(s, ctx, Action.ADMINISTER)
        subject = visible_subject(s, scope, subject_code, for_update=True)
        ensure_writable(s, scope.study_id, subject)
        typed = {k: v.value for k, v in form_spec(_FORM).check(items, partial=False).items()}
        arm, allocation = _cell_arm(s, scope, subject)
        when: datetime = typed["administered_at"]
        _check_time(subject, allocation, when, ctx, typed.get("post_imaging_at"))
        lot = find_lot(s, scope.study_id, str(typed["lot_number"]))
        _check_lot(s, lot, arm, when)
        previous = list(s.scalars(select(m.Administration).where(
            m.Administration.subject_id == subject.id)
            .order_by(m.Administration.administration_number)).all())
        number = len(previous) + 1
        inst = write_form(s, scope, subject, _FORM, items, repeat_index=number)
        pv = s.get(m.ProtocolVersion, subject.protocol_version_id)
        assert pv is not None  # a foreign key
        protocol = design_of(pv.yaml_text).protocol
        p_arm = protocol.arm(arm.code)
        weight, cells, volume = typed["weight_kg"], typed["cell_count"], typed["volume_ml"]
        if volume <= 0:
            raise InputError(Problem("volume_ml", "cells need a volume", volume, "> 0 mL"))
        plan = compute_dose(protocol, arm.code, weight)
        onset = subject.stroke_onset_at
        assert onset is not None  # checked in _check_time
        hours = (when - onset).total_seconds() / 3600
        row = m.Administration(
            subject_id=subject.id, lot_id=lot.id, visit_id=None, form_instance_id=inst.id,
            protocol_version_id=pv.id, administration_number=number, administered_at=when,
            administered_offset_min=_offset(when), operator_user_id=ctx.user_id,
            weight_kg=weight, cell_count=cells, viability_pct=typed["viability_pct"],
            dose_cells_per_kg=cells / weight, concentration_cells_per_ml=cells / volume,
            volume_ml=volume, route=typed["route"], vessel=typed.get("vessel"),
            infusion_rate_ml_per_min=typed.get("infusion_rate"), hours_since_onset=hours,
            post_imaging_done=typed["post_imaging_done"],
            post_imaging_at=typed.get("post_imaging_at"),
            new_dwi_lesions=typed.get("new_dwi_lesions"))
        audit_insert(s, scope, row, "administrations")
        found = _deviations(p_arm, plan, row, previous, dose_tolerance)
        now = ctx.now()
        for category, text, major in found:
            audit_insert(s, scope, m.ProtocolDeviation(
                study_id=scope.study_id, subject_id=subject.id, administration_id=row.id,
                visit_id=None, protocol_version_id=pv.id, category=category,
                description=text, major=major, detected_at=now,
                detected_offset_min=ctx.offset_minutes, detected_by_user_id=None),
                "protocol_deviations")
        if number == 1 and protocol.schedule.day_zero == "first_administration":
            local = when.astimezone(timezone(timedelta(minutes=ctx.offset_minutes))).date()
            schedule_visits(s, scope, subject, local,
                            reason="day 0 is the first administration (protocol schedule)")
        return _view(s, row, subject.subject_code, scope, dose_tolerance)


def _offset(moment: datetime) -> int:
    delta = moment.utcoffset()
    return int(delta.total_seconds() // 60) if delta is not None else 0


def _cell_arm(s: Session, scope: Scope, subject: m.Subject,
              ) -> tuple[m.Arm, m.SubjectAllocation]:
    found = s.execute(select(m.SubjectAllocation, m.Arm)
                      .join(m.Arm, m.Arm.id == m.SubjectAllocation.arm_id)
                      .where(m.SubjectAllocation.subject_id == subject.id)).first()
    code = subject.subject_code
    if found is None:
        raise ConflictError(f"subject_code: {code} is not randomized; cells are given only "
                            "to a subject allocated to a cell-therapy arm")
    if subject.status in (SubjectStatus.WITHDRAWN, SubjectStatus.DIED, SubjectStatus.LOST):
        raise ConflictError(f"subject_code: {code} is {subject.status.value}; no "
                            "administration can be recorded")
    allocation, arm = found[0], found[1]
    if not arm.receives_cells:
        cell_arms = s.scalars(select(m.Arm.code).where(m.Arm.study_id == scope.study_id,
                                                       m.Arm.receives_cells)).all()
        # Only unblinded roles reach this point (ADMINISTER is cell lab only); a blinded
        # caller would get a message that does not name the arm.
        what = (f"is allocated to arm {arm.code!r}, which receives no cells"
                if not scope.blinded else "cannot receive cells")
        raise InputError(Problem("subject_code", f"{code} {what}", code,
                                 "a subject allocated to a cell-therapy arm ("
                                 + ", ".join(cell_arms) + ")" if not scope.blinded
                                 else "a subject of a cell-therapy arm"))
    return arm, allocation


def _check_time(subject: m.Subject, allocation: m.SubjectAllocation, when: datetime,
                ctx: ServiceContext, imaged: datetime | None = None) -> None:
    problems: list[Problem] = []
    if imaged is not None and imaged < when:
        problems.append(Problem("post_imaging_at", "is before the administration",
                                imaged.isoformat(), f"{when.isoformat()} or later"))
    now = ctx.now()
    if when > now + timedelta(minutes=5):
        problems.append(Problem("administered_at", "is in the future", when.isoformat(),
                                f"{now.isoformat()} or earlier"))
    if subject.stroke_onset_at is None:
        problems.append(Problem("administered_at", "the subject has no stroke onset time, so "
                                "the time since onset cannot be computed", None,
                                "a subject enrolled with its onset time"))
    elif when <= subject.stroke_onset_at:
        problems.append(Problem("administered_at", "is not after the stroke onset "
                                f"({subject.stroke_onset_at.isoformat()})", when.isoformat(),
                                "after the onset"))
    if when < allocation.allocated_at:
        problems.append(Problem("administered_at", "is before randomization "
                                f"({allocation.allocated_at.isoformat()})", when.isoformat(),
                                "after randomization"))
    if problems:
        raise InputError(problems, context=subject.subject_code)


def _check_lot(s: Session, lot: m.ProductLot, arm: m.Arm, when: datetime) -> None:
    number = lot.lot_number
    if lot.status is not LotStatus.RELEASED:
        raise ConflictError(f"lot_number: lot {number} is {lot.status.value}; only a released "
                            "lot can be administered")
    if lot.expires_at is not None and when > lot.expires_at:
        raise ConflictError(f"lot_number: lot {number} expired at "
                            f"{lot.expires_at.isoformat()}, before the administration "
                            f"({when.isoformat()})")
    release = s.scalars(select(m.LotRelease).where(m.LotRelease.lot_id == lot.id)
                        .order_by(m.LotRelease.id.desc()).limit(1)).first()
    failed = [t.test_code for t in release.tests if not t.passed] if release else ["release"]
    if failed:
        raise ConflictError(f"lot_number: lot {number} failed release tests "
                            f"({', '.join(failed)}); it cannot be administered")
    pv = s.get(m.ProtocolVersion, arm.protocol_version_id)
    product = design_of(pv.yaml_text).protocol.arm(arm.code).product if pv else None
    if product is not None and (lot.cell_type, lot.source_tissue, lot.donor_type.value) != (
            product.cell_type, product.source_tissue, product.origin):
        raise ConflictError(f"lot_number: lot {number} holds {lot.cell_type} from "
                            f"{lot.source_tissue} ({lot.donor_type.value}); arm {arm.code} "
                            f"uses {product.cell_type} from {product.source_tissue} "
                            f"({product.origin})")


def _deviations(arm: ProtocolArm, plan: Any, row: m.Administration,
                previous: list[m.Administration], tol: float) -> list[tuple[str, str, bool]]:
    out: list[tuple[str, str, bool]] = []
    pct = f"±{tol * 100:g} %"
    planned = plan.cells_per_administration
    if planned > 0:
        ratio = row.cell_count / planned
        if abs(ratio - 1) > tol:
            out.append(("dose", f"{row.cell_count:.3g} cells given, plan {planned:.3g} cells "
                        f"for {row.weight_kg:g} kg ({ratio * 100:.0f} % of plan; tolerance "
                        f"{pct})", abs(ratio - 1) > 2 * tol))
    limit = plan.limits.get("max_volume")
    if limit is not None and row.volume_ml > limit.value:
        out.append(("volume", f"{row.volume_ml:g} mL given, above the route limit "
                    f"{limit.value:g} mL ({limit.source})", True))
    elif plan.volume_ml and abs(row.volume_ml / plan.volume_ml - 1) > tol:
        out.append(("volume", f"{row.volume_ml:g} mL given, plan {plan.volume_ml:.3g} mL "
                    f"(tolerance {pct})", False))
    rate = row.infusion_rate_ml_per_min
    limit = plan.limits.get("max_rate")
    if rate is not None and limit is not None and rate > limit.value:
        out.append(("rate", f"infusion at {rate:g} mL/min, above the route limit "
                    f"{limit.value:g} mL/min ({limit.source})", True))
    elif rate is not None and plan.rate_ml_per_min and rate > plan.rate_ml_per_min * (1 + tol):
        out.append(("rate", f"infusion at {rate:g} mL/min, plan {plan.rate_ml_per_min:g} "
                    f"mL/min (tolerance {pct})", False))
    route = arm.route
    if route is not None and row.route != route.kind:
        out.append(("route", f"given {row.route}, the protocol's route is {route.kind}", True))
    elif route is not None and route.kind == "intra_arterial" and route.target_vessel \
            and _norm(row.vessel) != _norm(route.target_vessel):
        out.append(("route", f"vessel {row.vessel!r}, the protocol's target vessel is "
                    f"{route.target_vessel}", True))
    timing = arm.timing
    days = row.hours_since_onset / 24
    if timing is not None and not timing.min_days <= days <= timing.max_days:
        out.append(("timing", f"given {days:.1f} days after onset, outside the window "
                    f"{timing.min_days:g}-{timing.max_days:g} days", True))
    product = arm.product
    if product is not None and row.viability_pct < product.viability_min_percent:
        out.append(("viability", f"viability {row.viability_pct:g} % at the bedside, below "
                    f"the product's minimum {product.viability_min_percent:g} %", True))
    dose = arm.dose
    if dose is not None and row.administration_number > dose.administrations:
        out.append(("administration_count", f"administration {row.administration_number} of "
                    f"a regimen of {dose.administrations}", True))
    if previous and dose is not None and dose.interval_days:
        gap = (row.administered_at - previous[-1].administered_at).total_seconds() / 86400
        if abs(gap - dose.interval_days) > 1:
            out.append(("interval", f"{gap:.1f} days after the previous administration, plan "
                        f"{dose.interval_days:g} days", False))
    if row.route == "intra_arterial" and row.post_imaging_done is False:
        out.append(("safety_imaging", "no post-procedure imaging after intra-arterial "
                    "delivery (new DWI lesions not assessed)", False))
    return out


def _deviation_view(d: m.ProtocolDeviation, subject_code: str | None,
                    number: int | None) -> DeviationView:
    return DeviationView(d.id, subject_code, d.category, d.description, d.major,
                         d.detected_at, number)


def _view(s: Session, row: m.Administration, subject_code: str, scope: Scope,
          tol: float = DOSE_TOLERANCE) -> AdministrationView:
    lot = s.get(m.ProductLot, row.lot_id)
    user = s.get(m.User, row.operator_user_id)
    pv = s.get(m.ProtocolVersion, row.protocol_version_id)
    arm_code = s.scalars(select(m.Arm.code).join(
        m.SubjectAllocation, m.SubjectAllocation.arm_id == m.Arm.id)
        .where(m.SubjectAllocation.subject_id == row.subject_id)).one()
    planned: dict[str, Any] = {"tolerance": tol}
    if pv is not None:
        protocol = design_of(pv.yaml_text).protocol
        plan = compute_dose(protocol, arm_code, row.weight_kg).to_dict()
        planned.update({k: plan[k] for k in (
            "arm", "route", "cells_per_administration", "cells_per_kg",
            "concentration_cells_per_ml", "volume_ml", "rate_ml_per_min", "administrations")})
        p_arm = protocol.arm(arm_code)
        planned["target_vessel"] = p_arm.route.target_vessel if p_arm.route else None
        planned["window_days"] = ((p_arm.timing.min_days, p_arm.timing.max_days)
                                  if p_arm.timing else None)
    devs = s.scalars(select(m.ProtocolDeviation).where(
        m.ProtocolDeviation.administration_id == row.id)
        .order_by(m.ProtocolDeviation.id)).all()
    form = s.get(m.FormInstance, row.form_instance_id) if row.form_instance_id else None
    return AdministrationView(
        subject_code, row.administration_number, lot.lot_number if lot else "?",
        row.administered_at, row.weight_kg, row.cell_count, row.viability_pct,
        row.dose_cells_per_kg, row.concentration_cells_per_ml, row.volume_ml, row.route,
        row.vessel, row.infusion_rate_ml_per_min, row.hours_since_onset,
        row.hours_since_onset / 24, row.post_imaging_done, row.new_dwi_lesions,
        user.username if user else "?", planned,
        tuple(_deviation_view(d, subject_code, row.administration_number) for d in devs),
        form.version if form else 0, row.version, row.post_imaging_at)


def list_administrations(db: Engine, ctx: ServiceContext,
                         subject_code: str) -> list[AdministrationView]:
    """A subject's administrations (cell lab only: they reveal the arm)."""
    with reading(db) as s:
        scope = authorize(s, ctx, Action.ADMINISTER)
        subject = visible_subject(s, scope, subject_code)
        rows = s.scalars(select(m.Administration).where(
            m.Administration.subject_id == subject.id)
            .order_by(m.Administration.administration_number)).all()
        return [_view(s, r, subject_code, scope) for r in rows]


def get_administration(db: Engine, ctx: ServiceContext, subject_code: str,
                       administration_number: int = 1) -> AdministrationView:
    """One administration of a subject (cell lab only)."""
    for view in list_administrations(db, ctx, subject_code):
        if view.administration_number == administration_number:
            return view
    raise InputError(Problem("administration_number", f"{subject_code} has no administration "
                             f"{administration_number}", administration_number,
                             "a recorded administration number"))


def list_deviations(db: Engine, ctx: ServiceContext,
                    subject_code: str | None = None) -> list[DeviationView]:
    """Protocol deviations of the caller's sites (or one subject).

    Deviations of an administration reveal the arm: blinded roles do not see them.
    """
    with reading(db) as s:
        scope = authorize(s, ctx, Action.READ_SUBJECTS)
        stmt = (select(m.ProtocolDeviation, m.Subject.subject_code,
                       m.Administration.administration_number)
                .join(m.Subject, m.Subject.id == m.ProtocolDeviation.subject_id)
                .outerjoin(m.Administration,
                           m.Administration.id == m.ProtocolDeviation.administration_id)
                .where(m.ProtocolDeviation.study_id == scope.study_id,
                       scope.site_filter(m.Subject.site_id))
                .order_by(m.ProtocolDeviation.id))
        if subject_code is not None:
            subject = visible_subject(s, scope, subject_code)
            stmt = stmt.where(m.ProtocolDeviation.subject_id == subject.id)
        if scope.blinded:
            stmt = stmt.where(m.ProtocolDeviation.administration_id.is_(None))
        return [_deviation_view(d, code, number) for d, code, number in s.execute(stmt).all()]

