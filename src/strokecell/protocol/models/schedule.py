"""The visit schedule: visits with target days and windows, one of them the baseline."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from strokecell.protocol.models._base import (
    Issues,
    ShortCode,
    StrictModel,
    Text100,
)

__all__ = ["DAYS_PER_MONTH", "Schedule", "Visit"]

# A month-based visit is due on round(month × 365.25 / 12) days: month 12 is day 365.
DAYS_PER_MONTH = 365.25 / 12


class Visit(StrictModel):
    """A visit due on ``day`` (or ``month``) after day 0, accepted from target - minus to
    target + plus days."""

    code: ShortCode  # visits.visit_code
    label: Text100  # visits.visit_name
    day: int | None = Field(default=None, ge=-60, le=3650)
    month: float | None = Field(default=None, ge=0, le=120)
    window_minus_days: int = Field(default=0, ge=0, le=365)
    window_plus_days: int = Field(default=0, ge=0, le=365)
    baseline: bool = False

    @property
    def target_day(self) -> int:
        if self.day is not None:
            return self.day
        return round((self.month or 0.0) * DAYS_PER_MONTH)

    @property
    def window(self) -> tuple[int, int]:
        return self.target_day - self.window_minus_days, self.target_day + self.window_plus_days

    @model_validator(mode="after")
    def _one_target(self) -> Visit:
        issues = Issues()
        if (self.day is None) == (self.month is None):
            issues.add("day", "give exactly one of day and month",
                       None if self.day is None else self.day, "day: N or month: N")
        issues.raise_if_any()
        return self


class Schedule(StrictModel):
    """``day_zero`` is the event visit days count from."""

    day_zero: Literal["randomisation", "first_administration"] = "randomisation"
    visits: list[Visit] = Field(min_length=2)

    @model_validator(mode="after")
    def _ordered_and_disjoint(self) -> Schedule:
        # Overlapping windows would let one assessment date count for two visits.
        issues = Issues()
        for i in range(1, len(self.visits)):
            before, visit = self.visits[i - 1], self.visits[i]
            if visit.target_day <= before.target_day:
                issues.add(f"visits[{i}]", f"is due on day {visit.target_day}, not after "
                           f"{before.code} (day {before.target_day})", visit.code,
                           "visits in time order")
            elif visit.window[0] <= before.window[1]:
                issues.add(f"visits[{i}].window_minus_days", f"window {visit.window} overlaps "
                           f"{before.code}'s window {before.window}", visit.window_minus_days,
                           "windows that do not overlap")
        baselines = [v for v in self.visits if v.baseline]
        if len(baselines) != 1:
            issues.add("visits", f"{len(baselines)} visits are marked baseline",
                       [v.code for v in baselines], "exactly one visit with baseline: true")
        issues.raise_if_any()
        return self

    @property
    def baseline(self) -> Visit:
        return next(v for v in self.visits if v.baseline)
