"""When the cells are given: a window in days after stroke onset, and its recovery phase."""

from __future__ import annotations

from pydantic import Field, model_validator

from strokecell.protocol.models._base import Issues, StrictModel
from strokecell.protocol.phases import (
    PHASE_SOURCE,
    CoarsePhase,
    Phase,
    coarse_phase,
    phases_of_window,
)

__all__ = ["Timing"]


class Timing(StrictModel):
    """Treatment window ``[min_days, max_days]`` after onset (fractions allowed: 1.5 = 36 h).

    The phase is derived from the window (see :mod:`strokecell.protocol.phases`). A protocol
    may also state ``phase``; it is then checked against the derived one, which catches a
    "subacute" label on a 1-3 day window.
    """

    min_days: float = Field(ge=0)
    max_days: float = Field(ge=0)
    phase: CoarsePhase | None = None

    @property
    def phases(self) -> tuple[Phase, ...]:
        """Every fine-grained phase the window touches, in time order."""
        return phases_of_window(self.min_days, self.max_days)

    @property
    def coarse_phases(self) -> tuple[CoarsePhase, ...]:
        return tuple(dict.fromkeys(coarse_phase(p) for p in self.phases))

    @property
    def derived_phase(self) -> str:
        """``subacute``, or ``acute-subacute`` for a window across a boundary."""
        return "-".join(self.coarse_phases)

    @model_validator(mode="after")
    def _window_is_ordered(self) -> Timing:
        issues = Issues()
        if self.min_days > self.max_days:
            issues.add("max_days", "the window ends before it starts", self.max_days,
                       f">= min_days ({self.min_days:g})")
        elif self.phase is not None and self.coarse_phases != (self.phase,):
            issues.add("phase", f"the window {self.min_days:g}-{self.max_days:g} days is "
                       f"{self.derived_phase}, not {self.phase}", self.phase,
                       f"{self.derived_phase} (phases per {PHASE_SOURCE}), or leave it out")
        issues.raise_if_any()
        return self
