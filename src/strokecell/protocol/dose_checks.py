"""Checks of a computed dose against route limits: warnings, never errors.

A clinical team may have reasons to go outside published ranges; the platform's job is to
make sure it is deliberate, so each warning says what was found, the range, and its source.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from strokecell.protocol.limits import Limit, RouteLimits
from strokecell.protocol.units import Measured, format_count

if TYPE_CHECKING:
    from strokecell.protocol.dose import DosePlan

__all__ = ["DoseWarning", "check_dose"]

ROUTE_LABELS: Final = {
    "intravenous": "intravenous", "intra_arterial": "intra-arterial",
    "intracerebral": "intracerebral", "intraventricular": "intraventricular",
    "intrathecal": "intrathecal", "intranasal": "intranasal",
}

# How the unit of a concentration as written relates to cells/mL: a number written per
# litre is 1000× the per-mL value, per µL 1/1000×. Those are the slips worth suggesting.
_SLIP_UNITS: Final = {1000.0: "per litre", 0.001: "per µL"}


@dataclass(frozen=True)
class DoseWarning:
    code: str
    message: str
    value: float | None = None
    unit: str | None = None
    low: float | None = None
    high: float | None = None
    source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "value": self.value,
                "unit": self.unit, "range": [self.low, self.high], "source": self.source}


def _outside(value: float, low: Limit | None, high: Limit | None) -> bool | None:
    """True/False, or None when the route has no such range to judge by."""
    if low is None and high is None:
        return None
    return (low is not None and value < low.value) or (high is not None and value > high.value)


def _range_text(low: Limit | None, high: Limit | None, unit: str) -> str:
    lo = format_count(low.value) if low else "-"
    hi = format_count(high.value) if high else "-"
    return f"{lo}–{hi} {unit}"


def _sources(*limits: Limit | None) -> str:
    return "; ".join(dict.fromkeys(limit.source for limit in limits if limit is not None))


def check_dose(plan: DosePlan, limits: RouteLimits,
               concentration: Measured | None) -> list[DoseWarning]:
    warnings = _plausibility(plan, limits, concentration)
    warnings += _volume_and_rate(plan, limits)
    return warnings


def _plausibility(plan: DosePlan, limits: RouteLimits,
                  concentration: Measured | None) -> list[DoseWarning]:
    cells = plan.cells_per_administration
    min_c, max_c = limits.get("min_cells"), limits.get("max_cells")
    min_k, max_k = limits.get("min_per_kg"), limits.get("max_per_kg")
    by_cells = _outside(cells, min_c, max_c)
    by_kg = _outside(plan.cells_per_kg, min_k, max_k) if plan.cells_per_kg else None
    judged = [v for v in (by_cells, by_kg) if v is not None]
    # Plausible if it fits at least one published convention (fixed number or per kg).
    if not judged or not all(judged):
        return []
    route = ROUTE_LABELS[plan.route]
    per_kg = plan.cells_per_kg or 0.0
    below = (min_c is not None and cells < min_c.value) if by_cells else (
        min_k is not None and per_kg < min_k.value)
    direction = "below" if below else "above"
    message = (f"{format_count(cells)} cells per administration is {direction} the "
               f"plausible {route} range")
    if by_cells:
        message += f" {_range_text(min_c, max_c, 'cells')}"
    if by_kg:
        kg_direction = "below" if min_k is not None and per_kg < min_k.value else "above"
        # The per-kg value itself is in the plan; leaving it out keeps the message the same
        # at every weight for a fixed dose.
        message += (f" and {kg_direction} the per-kg range "
                    f"{_range_text(min_k, max_k, 'cells/kg')}")
    lowest = limits.lowest_published_cells()
    if below and lowest is not None and lowest.cells:
        factor = lowest.cells / cells
        message += (f"; ≈{_round_factor(factor)}× below the lowest published {route} dose "
                    f"({format_count(lowest.cells)} cells, {lowest.study})")
    message += _slip_hint(cells, concentration, min_c, max_c)
    relevant = (min_c, min_k) if below else (max_c, max_k)
    return [DoseWarning("implausible_dose", message, cells, "cells",
                        min_c.value if min_c else None, max_c.value if max_c else None,
                        _sources(*relevant))]


def _round_factor(factor: float) -> str:
    # Two significant digits: "730", "33", "1.5".
    if factor >= 10:
        digits = 10 ** (math.floor(math.log10(factor)) - 1)
        return f"{round(factor / digits) * digits:,.0f}"
    return f"{factor:.2g}"


def _slip_hint(cells: float, concentration: Measured | None, low: Limit | None,
               high: Limit | None) -> str:
    if concentration is None:
        return ""
    factor = concentration.conversion_factor
    for slip_factor, written_as in _SLIP_UNITS.items():
        if not math.isclose(factor, slip_factor, rel_tol=1e-9):
            continue
        per_ml = cells * slip_factor
        if _outside(per_ml, low, high):
            return ""
        return (f". Likely unit slip: the concentration {concentration.text!r} is read "
                f"literally as {written_as} ({format_count(concentration.value)} cells/mL); "
                f"if 'per mL' was meant ({format_count(concentration.written or 0)} cells/mL), "
                f"the dose is {format_count(per_ml)} cells, within the published range. "
                f"Check the source and write the unit explicitly, e.g. "
                f"'{format_count(concentration.written or 0)} cells/mL'")
    return ""


def _volume_and_rate(plan: DosePlan, limits: RouteLimits) -> list[DoseWarning]:
    warnings: list[DoseWarning] = []
    route = ROUTE_LABELS[plan.route]
    for name in limits.required_protocol_limits:
        if limits.get(name) is None:
            warnings.append(DoseWarning(
                "missing_protocol_limit", f"no {name.replace('_', ' ')} for the {route} route:"
                f" none is published (§7 of the domain notes), so the protocol must set "
                f"route.limits.{name} (ad hoc: --limit {name}=VALUE)",
                source="domain/README.md §7"))
    if "max_rate" in limits.required_protocol_limits and plan.rate_ml_per_min is None:
        warnings.append(DoseWarning(
            "missing_rate", f"no infusion rate: the {route} rate bears on microembolism "
            "(Cui 2015, doi:10.1186/scrt544); set dose.rate (ad hoc: --rate), e.g. '0.5 mL/min'",
            source="Cui et al., Stem Cell Res Ther 2015, doi:10.1186/scrt544"))
    checks = (("max_volume", plan.volume_ml, "mL", "volume"),
              ("max_rate", plan.rate_ml_per_min, "mL/min", "rate"),
              ("max_volume_per_deposit", plan.volume_per_deposit_ml, "mL",
               "volume per deposit"))
    for name, value, unit, what in checks:
        limit = limits.get(name)
        if limit is not None and value is not None and value > limit.value * (1 + 1e-9):
            warnings.append(DoseWarning(
                f"{what.replace(' ', '_')}_above_limit",
                f"{what} {value:.4g} {unit} is above the {route} limit "
                f"{limit.value:.4g} {unit} ({limit.source})",
                value, unit, None, limit.value, limit.source))
    return warnings
