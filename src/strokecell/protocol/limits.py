"""Route limits: the defaults of ``route_limits.yaml`` merged with a protocol's overrides."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any, Final

import yaml

from strokecell.protocol.models.route import Route, RouteLimitsOverride
from strokecell.protocol.units import Measured, parse_quantity

__all__ = ["LIMIT_KINDS", "Limit", "PublishedDose", "RouteLimits", "default_limits",
           "effective_limits"]

# Each limit and the kind of quantity it holds; cell numbers are per administration.
LIMIT_KINDS: Final[dict[str, str]] = {
    "min_cells": "count",
    "max_cells": "count",
    "min_per_kg": "dose_per_kg",
    "max_per_kg": "dose_per_kg",
    "max_volume": "volume",
    "max_rate": "rate",
    "max_volume_per_deposit": "volume",
}

PROTOCOL_SOURCE: Final = "protocol route.limits"


@dataclass(frozen=True)
class Limit:
    name: str
    quantity: Measured
    source: str

    @property
    def value(self) -> float:
        return self.quantity.value

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "unit": self.quantity.unit, "source": self.source}


@dataclass(frozen=True)
class PublishedDose:
    study: str
    source: str
    cells: float | None = None  # per administration
    per_kg: float | None = None


@dataclass(frozen=True)
class RouteLimits:
    route: str
    limits: dict[str, Limit] = field(default_factory=dict)
    published: tuple[PublishedDose, ...] = ()
    notes: tuple[str, ...] = ()
    required_protocol_limits: tuple[str, ...] = ()

    def get(self, name: str) -> Limit | None:
        return self.limits.get(name)

    def lowest_published_cells(self) -> PublishedDose | None:
        fixed = [d for d in self.published if d.cells is not None]
        return min(fixed, key=lambda d: d.cells or 0.0) if fixed else None


@lru_cache(maxsize=1)
def _defaults() -> dict[str, RouteLimits]:
    text = resources.files("strokecell.protocol").joinpath("route_limits.yaml").read_text(
        encoding="utf-8")
    raw = yaml.safe_load(text)
    return {route: _route_defaults(route, entry) for route, entry in raw.items()}


def _route_defaults(route: str, entry: dict[str, Any]) -> RouteLimits:
    limits = {}
    for name, spec in (entry.get("limits") or {}).items():
        where = f"route_limits.yaml:{route}.limits.{name}"
        limits[name] = Limit(name, parse_quantity(spec["value"], LIMIT_KINDS[name], where),
                             spec["source"])
    published = tuple(
        PublishedDose(
            d["study"], d["source"],
            cells=parse_quantity(d["cells"], "count", route).value if "cells" in d else None,
            per_kg=(parse_quantity(d["per_kg"], "dose_per_kg", route).value
                    if "per_kg" in d else None))
        for d in entry.get("published_doses") or [])
    return RouteLimits(route, limits, published, tuple(entry.get("notes") or ()),
                       tuple(entry.get("required_protocol_limits") or ()))


def default_limits(route_kind: str) -> RouteLimits:
    """The shipped defaults for one route (every route kind has an entry)."""
    return _defaults()[route_kind]


def effective_limits(route: Route) -> RouteLimits:
    """Defaults with the protocol's ``route.limits`` laid over them, entry by entry."""
    return apply_overrides(default_limits(route.kind), route.limits)


def apply_overrides(base: RouteLimits, override: RouteLimitsOverride | None) -> RouteLimits:
    if override is None:
        return base
    limits = dict(base.limits)
    source = override.source or PROTOCOL_SOURCE
    for name in LIMIT_KINDS:
        quantity = getattr(override, name)
        if quantity is not None:
            limits[name] = Limit(name, quantity, source)
    return RouteLimits(base.route, limits, base.published, base.notes,
                       base.required_protocol_limits)
