"""How many cells, in what volume, how fast, how often."""

from __future__ import annotations

from pydantic import Field, model_validator

from strokecell.protocol.models._base import (
    Concentration,
    Count,
    DosePerKg,
    Issues,
    Rate,
    StrictModel,
    Volume,
)

__all__ = ["DoseRegimen"]

# Two ways of writing one fixed dose (total_cells, and concentration × volume) must agree to
# this relative tolerance: enough for rounding in a protocol, not for a unit slip.
AGREEMENT_TOLERANCE = 0.01


class DoseRegimen(StrictModel):
    """The cell number per administration is given in exactly one way:

    - ``per_kg`` (cells/kg, times the patient's weight), with ``concentration`` (the volume
      then follows) or a fixed ``volume`` (the concentration then follows), not both;
    - ``total_cells`` (a fixed number), with ``concentration`` or ``volume`` or both (they
      must then agree);
    - neither: ``concentration`` × ``volume`` is the fixed number.
    """

    per_kg: DosePerKg | None = None
    total_cells: Count | None = None
    concentration: Concentration | None = None
    volume: Volume | None = None
    rate: Rate | None = None  # infusion or injection rate
    administrations: int = Field(default=1, ge=1, le=20)
    interval_days: float | None = Field(default=None, gt=0)

    @property
    def is_per_kg(self) -> bool:
        return self.per_kg is not None

    @model_validator(mode="after")
    def _one_way_to_the_dose(self) -> DoseRegimen:
        issues = Issues()
        conc, vol = self.concentration, self.volume
        if self.per_kg is not None and self.total_cells is not None:
            issues.add("total_cells", "give per_kg or total_cells, not both", self.total_cells,
                       "exactly one of per_kg, total_cells (or concentration × volume)")
        elif self.per_kg is not None:
            if conc is not None and vol is not None:
                issues.add("volume", "with a per-kg dose, give concentration or volume, not "
                           "both: the other follows from the weight", vol,
                           "concentration (volume varies) or volume (concentration varies)")
            elif conc is None and vol is None:
                issues.add("concentration", "a per-kg dose needs a concentration or a fixed "
                           "volume to be prepared", None, "e.g. '2.0e7 cells/mL'")
        elif self.total_cells is not None:
            if conc is None and vol is None:
                issues.add("concentration", "a fixed cell number needs a concentration or a "
                           "volume to be prepared", None, "e.g. '2.0e7 cells/mL'")
            elif conc is not None and vol is not None:
                implied = conc.value * vol.value
                if abs(implied - self.total_cells.value) > AGREEMENT_TOLERANCE * implied:
                    issues.add("total_cells", f"disagrees with concentration × volume "
                               f"({implied:.3g} cells)", self.total_cells,
                               f"{implied:.3g} cells, or leave one of the three out")
        elif conc is None or vol is None:
            issues.add("per_kg", "no cell number: give per_kg, total_cells, or both "
                       "concentration and volume", None,
                       "exactly one of per_kg, total_cells (or concentration × volume)")
        if self.administrations > 1 and self.interval_days is None:
            issues.add("interval_days", "is required when there is more than one "
                       "administration", None, "days between administrations, e.g. 7")
        if self.administrations == 1 and self.interval_days is not None:
            issues.add("interval_days", "means nothing with a single administration",
                       self.interval_days, "leave it out, or administrations > 1")
        issues.raise_if_any()
        return self
