"""The route of administration, its route-specific parameters and its limit overrides."""

from __future__ import annotations

from pydantic import Field, model_validator

from strokecell.protocol.codes import RouteKind, TargetVessel
from strokecell.protocol.models._base import (
    Count,
    DosePerKg,
    Issues,
    NonEmptyStr,
    Rate,
    StrictModel,
    Volume,
)

__all__ = ["Route", "RouteLimitsOverride"]


class RouteLimitsOverride(StrictModel):
    """Limits set by this protocol; each replaces the default in ``route_limits.yaml``.

    Cell numbers are per administration. ``source`` says where the protocol's numbers come
    from (an IMPD, a safety committee decision, a paper).
    """

    min_cells: Count | None = None
    max_cells: Count | None = None
    min_per_kg: DosePerKg | None = None
    max_per_kg: DosePerKg | None = None
    max_volume: Volume | None = None
    max_rate: Rate | None = None
    max_volume_per_deposit: Volume | None = None
    source: NonEmptyStr | None = None

    @model_validator(mode="after")
    def _min_below_max(self) -> RouteLimitsOverride:
        issues = Issues()
        for low, high in (("min_cells", "max_cells"), ("min_per_kg", "max_per_kg")):
            lo, hi = getattr(self, low), getattr(self, high)
            if lo is not None and hi is not None and lo.value > hi.value:
                issues.add(high, f"is below {low}", hi, f">= {lo.text}")
        issues.raise_if_any()
        return self


class Route(StrictModel):
    """How the cells reach the brain.

    ``intra_arterial`` needs the ``target_vessel``; ``intracerebral`` needs ``deposits`` and
    ``volume_per_deposit`` (stereotactic grafts are planned deposit by deposit). Those fields
    are refused for other routes, where they would mean nothing.
    """

    kind: RouteKind
    target_vessel: TargetVessel | None = None
    deposits: int | None = Field(default=None, ge=1, le=100)
    volume_per_deposit: Volume | None = None
    target: NonEmptyStr | None = None  # anatomical target in words, e.g. "ipsilateral putamen"
    limits: RouteLimitsOverride | None = None

    @model_validator(mode="after")
    def _route_specific_fields(self) -> Route:
        issues = Issues()
        if self.kind == "intra_arterial" and self.target_vessel is None:
            issues.add("target_vessel", "is required for an intra-arterial route", None,
                       "the artery catheterised, e.g. middle_cerebral_artery")
        if self.kind != "intra_arterial" and self.target_vessel is not None:
            issues.add("target_vessel", f"applies to intra_arterial only, not {self.kind}",
                       self.target_vessel, "leave it out")
        for name in ("deposits", "volume_per_deposit"):
            value = getattr(self, name)
            if self.kind == "intracerebral" and value is None:
                issues.add(name, "is required for an intracerebral route", None,
                           "deposits: a whole number; volume_per_deposit: e.g. '20 µL'")
            if self.kind != "intracerebral" and value is not None:
                issues.add(name, f"applies to intracerebral only, not {self.kind}", value,
                           "leave it out")
        issues.raise_if_any()
        return self
