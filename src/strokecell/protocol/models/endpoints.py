"""Endpoints: which instrument, at which visits, in what role and testing order."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from strokecell.protocol.codes import EndpointRole
from strokecell.protocol.models._base import (
    Code,
    InstrumentCode,
    Issues,
    NonEmptyStr,
    StrictModel,
)

__all__ = ["Endpoint"]

Variable = Literal[
    "change_from_baseline", "value", "percent_change_from_baseline", "responder", "incidence",
]


class Endpoint(StrictModel):
    """``order`` ranks primary and key secondary endpoints for fixed-sequence (hierarchical)
    testing: 1 is tested first, the next only if it was significant."""

    instrument: InstrumentCode
    visits: list[Code] = Field(min_length=1)
    role: EndpointRole
    variable: Variable = "value"
    order: int | None = Field(default=None, ge=1)
    label: NonEmptyStr | None = None

    @model_validator(mode="after")
    def _order_for_tested_endpoints(self) -> Endpoint:
        issues = Issues()
        if self.role in ("primary", "key_secondary") and self.order is None:
            issues.add("order", f"is required for a {self.role} endpoint (hierarchical "
                       "testing order)", None, "1 for the primary, 2, 3, ... after it")
        if self.role == "primary" and self.order not in (None, 1):
            issues.add("order", "the primary endpoint is tested first", self.order, "1")
        if len(set(self.visits)) != len(self.visits):
            issues.add("visits", "lists a visit twice", self.visits, "distinct visit codes")
        if self.instrument == "adverse_events" and self.variable not in ("incidence", "value"):
            issues.add("variable", "adverse events are counted, not changed from baseline",
                       self.variable, "incidence or value")
        issues.raise_if_any()
        return self
