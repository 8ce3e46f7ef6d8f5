"""Eligibility: age, stroke type, time since onset, baseline severity, consent, free text."""

from __future__ import annotations

from pydantic import Field, model_validator

from strokecell.protocol.codes import Condition
from strokecell.protocol.models._base import InstrumentCode, Issues, NonEmptyStr, StrictModel

__all__ = ["Eligibility", "SeverityRange"]


class SeverityRange(StrictModel):
    """Baseline severity on one instrument, inclusive, e.g. NIHSS 6-20."""

    instrument: InstrumentCode
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _a_range(self) -> SeverityRange:
        issues = Issues()
        if self.min is None and self.max is None:
            issues.add("min", "give min, max or both", None, "numbers on the instrument's scale")
        elif self.min is not None and self.max is not None and self.min > self.max:
            issues.add("max", "is below min", self.max, f">= {self.min:g}")
        issues.raise_if_any()
        return self


class ExtraCriteria(StrictModel):
    inclusion: list[NonEmptyStr] = Field(default_factory=list)
    exclusion: list[NonEmptyStr] = Field(default_factory=list)


class Eligibility(StrictModel):
    age_min_years: int = Field(ge=0, le=120)
    age_max_years: int = Field(ge=0, le=120)
    stroke_types: list[Condition] = Field(min_length=1)
    onset_min_days: float = Field(ge=0)
    onset_max_days: float = Field(ge=0)
    baseline_severity: list[SeverityRange] = Field(default_factory=list)
    consent_required: bool = True  # False only for a deliberate, approved waiver
    extra_criteria: ExtraCriteria = Field(default_factory=ExtraCriteria)

    @model_validator(mode="after")
    def _ranges_ordered(self) -> Eligibility:
        issues = Issues()
        if self.age_min_years > self.age_max_years:
            issues.add("age_max_years", "is below age_min_years", self.age_max_years,
                       f">= {self.age_min_years}")
        if self.onset_min_days > self.onset_max_days:
            issues.add("onset_max_days", "is below onset_min_days", self.onset_max_days,
                       f">= {self.onset_min_days:g}")
        issues.raise_if_any()
        return self
