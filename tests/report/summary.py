"""Test and bench helper: a protocol as the report's :class:`ProtocolSummary`.

``report/`` may not import ``protocol/``; this glue belongs to a layer that may import both
(the CLI): ``strokecell report`` can use the same function.
"""

from __future__ import annotations

from strokecell.analysis import PARAMS, paramcd_for
from strokecell.protocol import Protocol
from strokecell.report import (
    ArmSummary,
    CellTherapy,
    EndpointSummary,
    ProtocolSummary,
    VisitSummary,
)


def _words(code: object) -> str:
    return str(code).replace("_", " ") if code is not None else ""


def _therapy(arm: object) -> CellTherapy | None:
    product = getattr(arm, "product", None)
    if product is None:
        return None
    timing, route, dose = arm.timing, arm.route, arm.dose  # type: ignore[attr-defined]
    kind = f"{_words(product.cell_type)} from {_words(product.source_tissue)}, " \
           f"{_words(product.origin)}"
    if product.viability_min_percent:
        kind += f" (viability ≥ {product.viability_min_percent:g}%)"
    when = f"{timing.min_days:g} to {timing.max_days:g} days after onset" if timing else ""
    where = _words(route.kind)
    if getattr(route, "target_vessel", None):
        where += f", {_words(route.target_vessel)}"
    if getattr(route, "target", None):
        where += f", {_words(route.target)}"
    parts = []
    for name in ("per_kg", "total_cells", "concentration", "volume", "rate"):
        value = getattr(dose, name, None)
        if value:
            parts.append(f"{name.replace('_', ' ')} {getattr(value, 'text', value)}")
    conc, vol = getattr(dose, "concentration", None), getattr(dose, "volume", None)
    if conc is not None and vol is not None:
        mantissa, exponent = f"{conc.value * vol.value:.1e}".split("e")
        sup = str(int(exponent)).translate(str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"))
        parts.append(f"{mantissa}×10{sup} cells per administration")
    n = dose.administrations
    parts.append(f"{n} administration{'s' if n != 1 else ''}"
                 + (f", every {dose.interval_days:g} days" if dose.interval_days else ""))
    return CellTherapy(kind, when, where, "; ".join(parts))


def summary_from_protocol(protocol: Protocol) -> ProtocolSummary:
    arms = tuple(ArmSummary(a.code, a.name, str(a.type), a.planned_n, a.description or "",
                            _therapy(a)) for a in protocol.arms)
    visits = []
    for v in protocol.schedule.visits:
        when = f"day {v.day}" if v.day is not None else f"month {v.month:g}"
        if v.window_minus_days or v.window_plus_days:
            when += f" (window -{v.window_minus_days or 0}/+{v.window_plus_days or 0} days)"
        visits.append(VisitSummary(v.code, v.label or v.code, when, bool(v.baseline)))
    endpoints = []
    for e in protocol.endpoints:
        code = "AE" if e.instrument == "adverse_events" else paramcd_for(e.instrument)
        name = PARAMS[code].label if code in PARAMS else "Adverse events"
        endpoints.append(EndpointSummary(e.label or name, e.role, code, tuple(e.visits),
                                         e.order))
    s = protocol.study
    return ProtocolSummary(s.id, s.title, s.version, _words(s.condition), arms, tuple(visits),
                           tuple(endpoints), s.planned_n, s.sponsor or "", s.source or "")
