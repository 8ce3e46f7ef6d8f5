"""The dose engine: cells, volume, concentration and infusion time for one patient.

Arithmetic is done on values already converted by pint to plain units (cells, mL, mL/min,
cells/kg, kg), so every variable below is in the unit its name says. The result is checked
against the route's limits (``route_limits.yaml`` with the protocol's overrides): doses
outside every published range, volumes and rates above the limits, and intra-arterial
parameters the protocol must set are *warnings* with the reason, the range and its source.
Only impossible input (no weight for a per-kg dose, an implausible body weight) is an error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final, cast

from pydantic import ValidationError

from strokecell.errors import InputError, Problem, UnitError
from strokecell.protocol.codes import ROUTE_KINDS, RouteKind
from strokecell.protocol.dose_checks import DoseWarning, check_dose
from strokecell.protocol.limits import Limit, effective_limits
from strokecell.protocol.models import DoseRegimen, Protocol, Route, RouteLimitsOverride
from strokecell.protocol.units import parse_quantity

__all__ = ["REFERENCE_WEIGHTS_KG", "WEIGHT_RANGE_KG", "DosePlan", "DoseWarning",
           "compute_adhoc_dose", "compute_dose", "dose_for_regimen", "dose_plan"]

# Plausible adult body weight. Outside it the weight is far more likely a typing error
# (7 for 70, pounds for kg) than a patient, and a per-kg dose would be wrong by as much.
WEIGHT_RANGE_KG: Final = (30.0, 250.0)
REFERENCE_WEIGHTS_KG: Final = (50.0, 70.0, 90.0)


def _plain(x: float | None) -> float | None:
    # 12 significant digits: hides binary noise (2.9999999999e7) and nothing a clinic needs.
    return None if x is None else float(f"{x:.12g}")


@dataclass(frozen=True)
class DosePlan:
    """One patient's dose on one arm; every number in the unit its name says."""

    route: str
    regimen: str  # "per_kg" or "fixed"
    cells_per_administration: float
    administrations: int
    total_cells: float
    arm: str | None = None
    weight_kg: float | None = None
    interval_days: float | None = None
    cells_per_kg: float | None = None
    concentration_cells_per_ml: float | None = None
    volume_ml: float | None = None
    rate_ml_per_min: float | None = None
    infusion_minutes: float | None = None
    deposits: int | None = None
    volume_per_deposit_ml: float | None = None
    warnings: tuple[DoseWarning, ...] = ()
    notes: tuple[str, ...] = ()
    limits: Mapping[str, Limit] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "arm": self.arm, "route": self.route, "regimen": self.regimen,
            "weight_kg": self.weight_kg,
            "cells_per_administration": _plain(self.cells_per_administration),
            "cells_per_kg": _plain(self.cells_per_kg),
            "administrations": self.administrations, "interval_days": self.interval_days,
            "total_cells": _plain(self.total_cells),
            "concentration_cells_per_ml": _plain(self.concentration_cells_per_ml),
            "volume_ml": _plain(self.volume_ml),
            "rate_ml_per_min": _plain(self.rate_ml_per_min),
            "infusion_minutes": _plain(self.infusion_minutes),
            "deposits": self.deposits,
            "volume_per_deposit_ml": _plain(self.volume_per_deposit_ml),
            "warnings": [w.to_dict() for w in self.warnings],
            "notes": list(self.notes),
            "limits": {name: limit.to_dict() for name, limit in self.limits.items()},
        }


def check_weight(weight_kg: float | None, *, field_name: str = "weight_kg") -> None:
    if weight_kg is None:
        return
    low, high = WEIGHT_RANGE_KG
    if not (low <= weight_kg <= high):  # also false for NaN
        raise InputError(Problem(field_name, "is outside the plausible adult body weight",
                                 weight_kg, f"{low:g}-{high:g} kg"))


def compute_dose(protocol: Protocol, arm_code: str, weight_kg: float | None) -> DosePlan:
    """The dose of arm ``arm_code`` for a patient of ``weight_kg`` (needed for per-kg doses;
    optional for fixed ones, which then have no per-kg figure)."""
    arm = protocol.arm(arm_code)
    if arm.route is None or arm.dose is None:
        raise InputError(Problem("arm", "is a control arm: it receives no cells", arm_code,
                                 ", ".join(a.code for a in protocol.cell_therapy_arms)))
    return dose_for_regimen(arm.route, arm.dose, weight_kg, arm_code=arm.code)


def dose_plan(protocol: Protocol,
              weights: Iterable[float] = REFERENCE_WEIGHTS_KG) -> list[DosePlan]:
    """Doses of every cell-therapy arm at each reference weight (for ``protocol check``)."""
    weights = tuple(weights)
    return [compute_dose(protocol, arm.code, w)
            for arm in protocol.cell_therapy_arms for w in weights]


def dose_for_regimen(route: Route, dose: DoseRegimen, weight_kg: float | None, *,
                     arm_code: str | None = None) -> DosePlan:
    """Compute and check one dose; the core used by :func:`compute_dose` and ad hoc doses."""
    check_weight(weight_kg)
    conc = dose.concentration.value if dose.concentration else None
    volume = dose.volume.value if dose.volume else None
    if dose.per_kg is not None:
        if weight_kg is None:
            raise InputError(Problem("weight_kg", "is required for a per-kg dose", None,
                                     f"{WEIGHT_RANGE_KG[0]:g}-{WEIGHT_RANGE_KG[1]:g} kg"))
        cells = dose.per_kg.value * weight_kg
    elif dose.total_cells is not None:
        cells = dose.total_cells.value
    else:
        cells = (conc or 0.0) * (volume or 0.0)  # the model requires both here
    if volume is None and conc is not None:
        volume = cells / conc  # volume at the protocol concentration
    elif conc is None and volume is not None:
        conc = cells / volume  # concentration needed for the fixed volume
    rate = dose.rate.value if dose.rate else None
    limits = effective_limits(route)
    plan = DosePlan(
        route=route.kind, regimen="per_kg" if dose.per_kg is not None else "fixed",
        cells_per_administration=cells, administrations=dose.administrations,
        total_cells=cells * dose.administrations, arm=arm_code, weight_kg=weight_kg,
        interval_days=dose.interval_days,
        cells_per_kg=cells / weight_kg if weight_kg else None,
        concentration_cells_per_ml=conc, volume_ml=volume, rate_ml_per_min=rate,
        infusion_minutes=volume / rate if volume is not None and rate else None,
        deposits=route.deposits,
        volume_per_deposit_ml=route.volume_per_deposit.value if route.volume_per_deposit
        else None,
        notes=limits.notes, limits=limits.limits)
    warnings = check_dose(plan, limits, dose.concentration)
    return replace(plan, warnings=tuple(warnings))


_ADHOC_FIELDS: Final = ("per_kg", "total_cells", "concentration", "volume", "rate",
                        "administrations", "interval_days")


def compute_adhoc_dose(route_kind: str, *, weight_kg: float | None = None,
                       limits: Mapping[str, str] | None = None,
                       deposits: int | None = None, volume_per_deposit: str | None = None,
                       **regimen: Any) -> DosePlan:
    """A dose outside any protocol: ``regimen`` holds the DoseRegimen fields as text
    (``concentration="2e7 cells/mL"``, ``volume="1.5 mL"``, ...), ``limits`` overrides."""
    from strokecell.protocol.loading import problems_from_validation

    if route_kind not in ROUTE_KINDS:
        raise InputError(Problem("route", "is not a route of administration", route_kind,
                                 ", ".join(ROUTE_KINDS)))
    unknown = sorted(set(regimen) - set(_ADHOC_FIELDS))
    if unknown:
        raise TypeError(f"unknown dose fields {unknown}")
    data = {k: v for k, v in regimen.items() if v is not None}
    problems: list[Problem] = []
    try:
        check_weight(weight_kg)
    except InputError as exc:
        problems += exc.problems
    try:
        dose = DoseRegimen.model_validate(data)
    except ValidationError as exc:
        problems += problems_from_validation(exc, data)
    try:
        override = RouteLimitsOverride.model_validate(dict(limits or {}))
    except ValidationError as exc:
        problems += [Problem(f"limits.{p.location}", p.message, p.value, p.allowed)
                     for p in problems_from_validation(exc, dict(limits or {}))]
    per_deposit = None
    if volume_per_deposit is not None:
        try:
            per_deposit = parse_quantity(volume_per_deposit, "volume", "volume_per_deposit")
        except UnitError as exc:
            problems += exc.problems
    if problems:
        raise InputError(problems, context="ad hoc dose")
    # No vessel or target for an ad hoc dose: they do not change the arithmetic or the
    # checks, so the route is built without its protocol-level requirements.
    route = Route.model_construct(kind=cast(RouteKind, route_kind), target_vessel=None,
                                  deposits=deposits, volume_per_deposit=per_deposit,
                                  target=None, limits=override)
    return dose_for_regimen(route, dose, weight_kg)
