"""Cell product lots: registration, the release record, the chain of identity.

A lot is registered in quarantine. Its release record (:func:`record_release`, cell lab
only, re-authenticated with the password like an e-signature, the meaning of the decision
recorded) holds one row per test, each judged against :data:`RELEASE_SPECS`:

- donor eligibility (allogeneic cells only; 21 CFR 1271 subpart C): ``eligible``;
- sterility and mycoplasma: ``negative``;
- endotoxin: ≤ 0.5 EU/mL (the release limit of this platform [A]; set your product's own
  limit from USP <85> and the dose volume with ``endotoxin_max_eu_per_ml``);
- viability: ≥ the protocol product's ``viability_min_percent`` (70 % when no protocol arm
  names one);
- identity, by the ISCT minimal criteria for MSC (Dominici M et al., Cytotherapy
  2006;8:315-317): CD73, CD90 and CD105 positive on ≥ 95 % of cells, CD34, CD45 and
  HLA-DR on ≤ 2 %. (The ISCT statement also asks for CD14 or CD11b and CD79α or CD19
  negative, plastic adherence and trilineage differentiation; those belong to the product's
  characterisation and are not release tests here.)

Every test must be given (a missing one is an input error, not a failure); a lot passing
all of them is ``released``, any failure makes it ``rejected``. Only a released lot, not
past its expiry, may be administered (:mod:`strokecell.trial.administration`). Every
administration links a lot to a subject: :func:`get_lot` lists them (chain of identity).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from strokecell.errors import (
    ConflictError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
    Problem,
)
from strokecell.store import DonorType, LotStatus, verify_password
from strokecell.store import models as m
from strokecell.trial._authz import Action
from strokecell.trial._context import Scope, ServiceContext, authorize
from strokecell.trial._design import current_version, design_of
from strokecell.trial._guards import ensure_writable
from strokecell.trial._tx import audit_insert, audit_update, reading, require_reason, writing
from strokecell.trial.views import (
    ChainLinkView,
    LotView,
    ReleaseCriterionView,
    ReleaseTestView,
)

__all__ = ["DEFAULT_RELEASE_MEANING", "ENDOTOXIN_MAX_EU_PER_ML", "ISCT_NEGATIVE_MAX_PCT",
           "ISCT_POSITIVE_MIN_PCT", "ISCT_SOURCE", "RELEASE_SPECS", "ReleaseSpec", "get_lot",
           "list_lots", "record_release", "register_lot", "release_criteria",
           "withdraw_lot"]

ISCT_SOURCE = "Dominici M et al. Cytotherapy 2006;8:315-317 (ISCT minimal criteria for MSC)"
ISCT_POSITIVE_MIN_PCT = 95.0
ISCT_NEGATIVE_MAX_PCT = 2.0
ENDOTOXIN_MAX_EU_PER_ML = 0.5
DEFAULT_VIABILITY_MIN_PCT = 70.0
DEFAULT_RELEASE_MEANING = ("I certify that this lot was tested against its release "
                           "specification and I take responsibility for this decision")


@dataclass(frozen=True)
class ReleaseSpec:
    """One release test: how its result is read and what passes."""

    code: str
    kind: str  # "word" (one of the passing/failing words) or "percent" / "number"
    specification: str
    unit: str | None = None
    passing: tuple[str, ...] = ()
    failing: tuple[str, ...] = ()
    min_value: float | None = None
    max_value: float | None = None
    allogeneic_only: bool = False


def _marker(code: str, positive: bool) -> ReleaseSpec:
    if positive:
        return ReleaseSpec(code, "percent", f">= {ISCT_POSITIVE_MIN_PCT:g} % positive "
                           f"({ISCT_SOURCE})", "%", min_value=ISCT_POSITIVE_MIN_PCT)
    return ReleaseSpec(code, "percent", f"<= {ISCT_NEGATIVE_MAX_PCT:g} % positive "
                       f"({ISCT_SOURCE})", "%", max_value=ISCT_NEGATIVE_MAX_PCT)


#: The release tests, in report order (viability's minimum comes from the protocol).
RELEASE_SPECS: Mapping[str, ReleaseSpec] = {s.code: s for s in (
    ReleaseSpec("donor_eligibility", "word", "eligible (21 CFR 1271 subpart C donor "
                "screening and testing)", passing=("eligible",), failing=("ineligible",),
                allogeneic_only=True),
    ReleaseSpec("sterility", "word", "negative (no growth)", passing=("negative",),
                failing=("positive",)),
    ReleaseSpec("mycoplasma", "word", "negative", passing=("negative",),
                failing=("positive",)),
    ReleaseSpec("endotoxin", "number", f"<= {ENDOTOXIN_MAX_EU_PER_ML:g} EU/mL", "EU/mL",
                min_value=0.0, max_value=ENDOTOXIN_MAX_EU_PER_ML),
    ReleaseSpec("viability", "percent", "", "%"),
    _marker("CD73", True), _marker("CD90", True), _marker("CD105", True),
    _marker("CD34", False), _marker("CD45", False), _marker("HLA-DR", False),
)}

_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")


def _lot(s: Session, study_id: int, lot_number: str, *, for_update: bool = False,
         ) -> m.ProductLot:
    stmt = select(m.ProductLot).where(m.ProductLot.study_id == study_id,
                                      m.ProductLot.lot_number == lot_number)
    if for_update:
        stmt = stmt.with_for_update()
    lot = s.scalars(stmt).one_or_none()
    if lot is None:
        raise NotFoundError(f"lot_number: no product lot {lot_number!r} in this study")
    return lot


def find_lot(s: Session, study_id: int, lot_number: str) -> m.ProductLot:
    """The lot ``lot_number`` of the study, locked for the caller's transaction."""
    return _lot(s, study_id, lot_number, for_update=True)


def _products(s: Session, study_id: int) -> list[tuple[str, str, str, float]]:
    """(cell type, source tissue, origin, viability minimum) of the cell-therapy arms."""
    protocol = design_of(current_version(s, study_id).yaml_text).protocol
    return [(a.product.cell_type, a.product.source_tissue, a.product.origin,
             a.product.viability_min_percent)
            for a in protocol.cell_therapy_arms if a.product is not None]


_LOT_NUMBER = re.compile(r"[^\s/\x00-\x1f\x7f](?:[^/\x00-\x1f\x7f]{0,58}[^\s/\x00-\x1f\x7f])?")


def register_lot(db: Engine, ctx: ServiceContext, lot_number: str, *, cell_type: str,
                 source_tissue: str, donor_type: str, donor_code: str | None = None,
                 manufactured_on: date | None = None, expires_at: datetime | None = None,
                 total_cells: float | None = None, volume_ml: float | None = None) -> LotView:
    """Register a lot (status ``quarantine``) of a product one of the protocol's arms uses."""
    with writing(db) as s:
        scope = authorize(s, ctx, Action.MANAGE_LOTS)
        ensure_writable(s, scope.study_id)
        problems: list[Problem] = []
        if not _LOT_NUMBER.fullmatch(lot_number if isinstance(lot_number, str) else ""):
            # Stored exactly as given (never trimmed), and it names the lot's web address.
            problems.append(Problem("lot_number", "must be 1-60 printable characters, with no "
                                    "space at either end and no '/'", lot_number,
                                    "e.g. UC-2026-014"))
        try:
            origin = DonorType(donor_type)
        except ValueError:
            problems.append(Problem("donor_type", "unknown donor type", donor_type,
                                    ", ".join(d.value for d in DonorType)))
            origin = DonorType.AUTOLOGOUS
        products = _products(s, scope.study_id)
        allowed = ", ".join(f"{c} from {t} ({o})" for c, t, o, _ in products)
        if not any((c, t, o) == (cell_type, source_tissue, origin.value)
                   for c, t, o, _ in products):
            problems.append(Problem("cell_type", "not the product of any cell-therapy arm: "
                                    f"{cell_type} from {source_tissue} ({donor_type})",
                                    cell_type, allowed or "none (no cell-therapy arm)"))
        if origin is DonorType.ALLOGENEIC and not (donor_code and donor_code.strip()):
            problems.append(Problem("donor_code", "is required for allogeneic cells (the "
                                    "start of the chain of identity)", donor_code,
                                    "the donor's code"))
        for name, value in (("total_cells", total_cells), ("volume_ml", volume_ml)):
            if value is not None and (not isinstance(value, int | float)
                                      or isinstance(value, bool) or not math.isfinite(value)
                                      or value <= 0):
                problems.append(Problem(name, "must be a positive number", value, "> 0"))
        if expires_at is not None and (not isinstance(expires_at, datetime)
                                       or expires_at.utcoffset() is None):
            problems.append(Problem("expires_at", "must be a timezone-aware datetime",
                                    expires_at, "e.g. 2026-06-01T00:00:00+00:00"))
        if problems:
            raise InputError(problems, context="product lot")
        if s.scalars(select(m.ProductLot.id).where(
                m.ProductLot.study_id == scope.study_id,
                m.ProductLot.lot_number == lot_number)).first() is not None:
            raise ConflictError(f"lot_number: lot {lot_number!r} is registered already")
        now = ctx.now()
        lot = m.ProductLot(study_id=scope.study_id, lot_number=lot_number,
                           cell_type=cell_type, source_tissue=source_tissue, donor_type=origin,
                           donor_code=donor_code, status=LotStatus.QUARANTINE,
                           manufactured_on=manufactured_on, expires_at=expires_at,
                           total_cells=total_cells, volume_ml=volume_ml, received_at=now,
                           received_offset_min=ctx.offset_minutes)
        audit_insert(s, scope, lot, "product_lots")
        return lot_view(s, lot, scope)


def _lot_specs(s: Session, study_id: int, lot: m.ProductLot,
               endotoxin_max_eu_per_ml: float | None = None) -> dict[str, ReleaseSpec]:
    """The release tests ``lot`` needs, in report order, with the limits they are judged
    against: the viability minimum of the protocol's product (the strictest arm using it),
    donor eligibility for allogeneic cells only, the endotoxin limit when one is given.

    One function for the release form (:func:`release_criteria`) and the decision
    (:func:`record_release`), so that the limits shown are the limits applied.
    """
    viability_min = max((v for c, t, o, v in _products(s, study_id)
                         if (c, t, o) == (lot.cell_type, lot.source_tissue,
                                          lot.donor_type.value)),
                        default=DEFAULT_VIABILITY_MIN_PCT)
    specs: dict[str, ReleaseSpec] = {}
    for code, spec in RELEASE_SPECS.items():
        if spec.allogeneic_only and lot.donor_type is not DonorType.ALLOGENEIC:
            continue
        if code == "viability":
            spec = ReleaseSpec("viability", "percent", f">= {viability_min:g} % (protocol "
                               "product viability_min_percent)", "%", min_value=viability_min)
        elif code == "endotoxin" and endotoxin_max_eu_per_ml is not None:
            spec = ReleaseSpec("endotoxin", "number", f"<= {endotoxin_max_eu_per_ml:g} EU/mL",
                               "EU/mL", min_value=0.0, max_value=endotoxin_max_eu_per_ml)
        specs[code] = spec
    return specs


def _judge(spec: ReleaseSpec, raw: object) -> tuple[ReleaseTestView | None, Problem | None]:
    if spec.kind == "word":
        words = (*spec.passing, *spec.failing)
        if not isinstance(raw, str) or raw not in words:
            return None, Problem(spec.code, "not a result of this test", raw, ", ".join(words))
        return ReleaseTestView(spec.code, raw, None, None, spec.specification,
                               raw in spec.passing), None
    value: float | None = None
    numeric = isinstance(raw, int | float) and not isinstance(raw, bool)
    if numeric or (isinstance(raw, str) and _NUMBER.fullmatch(raw)):
        value = float(raw)  # type: ignore[arg-type]
    upper = 100.0 if spec.kind == "percent" else math.inf
    if value is None or not math.isfinite(value) or not 0 <= value <= upper:
        allowed = "a percentage 0-100" if spec.kind == "percent" else f"a number in {spec.unit}"
        return None, Problem(spec.code, "not a result of this test", raw, allowed)
    passed = (spec.min_value is None or value >= spec.min_value) and \
        (spec.max_value is None or value <= spec.max_value)
    text = raw if isinstance(raw, str) else repr(raw)
    return ReleaseTestView(spec.code, text, value, spec.unit, spec.specification, passed), None


def record_release(db: Engine, ctx: ServiceContext, lot_number: str,
                   results: Mapping[str, object], *, password: str,
                   meaning: str = DEFAULT_RELEASE_MEANING, note: str | None = None,
                   endotoxin_max_eu_per_ml: float | None = None) -> LotView:
    """Record the release tests of a quarantined lot and decide: released or rejected.

    The decision is signed: the caller re-enters the password (argon2id check) and the
    ``meaning`` of the decision is kept with it.
    """
    with writing(db) as s:
        scope = authorize(s, ctx, Action.MANAGE_LOTS)
        lot = _lot(s, scope.study_id, lot_number, for_update=True)
        ensure_writable(s, scope.study_id)
        _reauthenticate(s, ctx.user_id, password, "release decision")
        text = require_reason(meaning, "the meaning of the release decision")
        if lot.status is not LotStatus.QUARANTINE:
            raise ConflictError(f"lot_number: lot {lot_number} is {lot.status.value}; only a "
                                "lot in quarantine can be released or rejected")
        specs = _lot_specs(s, scope.study_id, lot, endotoxin_max_eu_per_ml)
        needed = list(specs)
        problems = [Problem(c, "release test result missing", None, specs[c].specification)
                    for c in needed if c not in results]
        problems += [Problem(c, "not a release test of this lot", c, ", ".join(needed))
                     for c in results if c not in needed]
        tests: list[ReleaseTestView] = []
        for code in needed:
            if code in results:
                view, problem = _judge(specs[code], results[code])
                if problem is not None:
                    problems.append(problem)
                elif view is not None:
                    tests.append(view)
        if problems:
            raise InputError(problems, context=f"release of lot {lot_number}")
        decision = LotStatus.RELEASED if all(t.passed for t in tests) else LotStatus.REJECTED
        now = ctx.now()
        failed = [t.test_code for t in tests if not t.passed]
        release = m.LotRelease(lot_id=lot.id, decision=decision, decided_at=now,
                               decided_offset_min=ctx.offset_minutes,
                               decided_by_user_id=ctx.user_id,
                               note=_note(text, note))
        audit_insert(s, scope, release, "lot_releases")
        for t in tests:
            audit_insert(s, scope, m.ReleaseTest(
                release_id=release.id, test_code=t.test_code, raw_text=t.raw_text,
                value=t.value, unit=t.unit, specification=t.specification, passed=t.passed),
                "release_tests")
        lot.status = decision
        why = "release tests passed" if not failed else f"failed: {', '.join(failed)}"
        audit_update(s, scope, lot, "product_lots", f"release decision ({why})")
        return lot_view(s, lot, scope)


def withdraw_lot(db: Engine, ctx: ServiceContext, lot_number: str, status: str, *,
                 reason: str) -> LotView:
    """Take a lot out of use: ``expired`` or ``rejected`` (e.g. a recall), with a reason."""
    text = require_reason(reason, f"the status of lot {lot_number}")
    with writing(db) as s:
        scope = authorize(s, ctx, Action.MANAGE_LOTS)
        lot = _lot(s, scope.study_id, lot_number, for_update=True)
        ensure_writable(s, scope.study_id)
        if status not in (LotStatus.EXPIRED.value, LotStatus.REJECTED.value):
            raise InputError(Problem("status", "a lot is withdrawn as expired or rejected",
                                     status, "expired, rejected"))
        if lot.status is not LotStatus.RELEASED and lot.status is not LotStatus.QUARANTINE:
            raise ConflictError(f"lot_number: lot {lot_number} is {lot.status.value} already")
        lot.status = LotStatus(status)
        audit_update(s, scope, lot, "product_lots", text)
        return lot_view(s, lot, scope)


def _note(meaning: str, note: str | None) -> str:
    return f"meaning: {meaning}" + (f"\nnote: {note.strip()}" if note and note.strip() else "")


def _reauthenticate(s: Session, user_id: int, password: str, what: str) -> None:
    user = s.get(m.User, user_id)
    if user is None or not isinstance(password, str) or not verify_password(
            user.password_hash, password):
        raise PermissionDeniedError(f"password: re-authentication for the {what} failed "
                                    "(wrong password); nothing was recorded")


def reauthenticate(s: Session, user_id: int, password: str, what: str) -> None:
    """Check ``password`` against the user's argon2id hash (e-signature re-authentication)."""
    _reauthenticate(s, user_id, password, what)


def lot_view(s: Session, lot: m.ProductLot, scope: Scope | None = None) -> LotView:
    """The view of a lot; the chain lists the subjects of ``scope``'s sites only."""
    release = s.scalars(select(m.LotRelease).where(m.LotRelease.lot_id == lot.id)
                        .order_by(m.LotRelease.id.desc()).limit(1)).first()
    decided_by = meaning = None
    tests: tuple[ReleaseTestView, ...] = ()
    if release is not None:
        user = s.get(m.User, release.decided_by_user_id)
        decided_by = user.username if user else "?"
        first = (release.note or "").split("\n", 1)[0]
        meaning = first.removeprefix("meaning: ") if first.startswith("meaning: ") else None
        tests = tuple(ReleaseTestView(t.test_code, t.raw_text, t.value, t.unit,
                                      t.specification, t.passed) for t in release.tests)
    chain = []
    for adm, subject_code, site_id, username in s.execute(
            select(m.Administration, m.Subject.subject_code, m.Subject.site_id,
                   m.User.username)
            .join(m.Subject, m.Subject.id == m.Administration.subject_id)
            .join(m.User, m.User.id == m.Administration.operator_user_id)
            .where(m.Administration.lot_id == lot.id).order_by(m.Administration.id)).all():
        if scope is not None and not scope.covers(site_id):
            continue
        chain.append(ChainLinkView(subject_code, adm.administration_number,
                                   adm.administered_at, username))
    return LotView(lot.lot_number, lot.cell_type, lot.source_tissue, lot.donor_type.value,
                   lot.donor_code, lot.status.value, lot.manufactured_on, lot.expires_at,
                   lot.total_cells, lot.volume_ml, lot.version,
                   release.decision.value if release else None,
                   release.decided_at if release else None, decided_by, meaning, tests,
                   tuple(chain))


def get_lot(db: Engine, ctx: ServiceContext, lot_number: str) -> LotView:
    """A lot with its release record and every subject it was given to (cell lab only)."""
    with reading(db) as s:
        scope = authorize(s, ctx, Action.MANAGE_LOTS)
        return lot_view(s, _lot(s, scope.study_id, lot_number), scope)


def release_criteria(db: Engine, ctx: ServiceContext, lot_number: str,
                     ) -> tuple[ReleaseCriterionView, ...]:
    """The release tests lot ``lot_number`` needs, each with its unit and the limit
    :func:`record_release` judges it against (cell lab only), for the release form."""
    with reading(db) as s:
        scope = authorize(s, ctx, Action.MANAGE_LOTS)
        lot = _lot(s, scope.study_id, lot_number)
        return tuple(ReleaseCriterionView(sp.code, sp.kind, sp.unit, sp.specification,
                                          (*sp.passing, *sp.failing), sp.min_value,
                                          sp.max_value)
                     for sp in _lot_specs(s, scope.study_id, lot).values())


def list_lots(db: Engine, ctx: ServiceContext) -> list[LotView]:
    """Every lot of the study (cell lab only: administrations reveal allocations)."""
    with reading(db) as s:
        scope: Scope = authorize(s, ctx, Action.MANAGE_LOTS)
        lots = s.scalars(select(m.ProductLot).where(m.ProductLot.study_id == scope.study_id)
                         .order_by(m.ProductLot.lot_number)).all()
        return [lot_view(s, lot, scope) for lot in lots]
