"""Time points a user asks for (``6mo``, ``90d``, ``24wk``, ``1y``) and the rule that matches
them against the rows of ``trials.csv``.

A request matches a row when the row's time point (converted to days, a month being
365.25/12 days) lies within the **tolerance** of the requested time: by default one month
(30.44 days), narrowed to a quarter of the requested time for short follow-ups, so that
``6mo`` matches 152-213 days (24 weeks, 180 days, 6 months) and ``1mo`` 23-38 days. When a
comparison has several rows inside the window, the one closest to the requested time is
used and the others are listed as left out. Without a time (``latest``) each comparison
contributes its longest follow-up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from strokecell.errors import InputError, Problem
from strokecell.evidence._vocab import DAYS_PER_UNIT, TimeUnit

__all__ = ["DEFAULT_TOLERANCE_DAYS", "TIME_UNITS", "TimeWindow", "parse_time"]

DAYS_PER_MONTH: Final = DAYS_PER_UNIT[TimeUnit.MONTHS]
#: The default tolerance: one month, at most a quarter of the requested time.
DEFAULT_TOLERANCE_DAYS: Final = DAYS_PER_MONTH
_TOLERANCE_FRACTION: Final = 0.25

#: Unit spellings accepted after the number.
TIME_UNITS: Final[dict[str, TimeUnit]] = {
    **dict.fromkeys(("d", "day", "days"), TimeUnit.DAYS),
    **dict.fromkeys(("w", "wk", "wks", "week", "weeks"), TimeUnit.WEEKS),
    **dict.fromkeys(("mo", "mos", "mon", "month", "months"), TimeUnit.MONTHS),
    **dict.fromkeys(("y", "yr", "yrs", "year", "years"), TimeUnit.YEARS),
}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]+)\s*$")
_ALLOWED = "a number and a unit: 90d, 24wk, 6mo, 12mo, 1y (or 'latest')"


@dataclass(frozen=True)
class TimeWindow:
    """A requested time point in days and the window of days it matches."""

    text: str
    value: float
    unit: TimeUnit
    days: float
    tolerance_days: float

    @property
    def low(self) -> float:
        return self.days - self.tolerance_days

    @property
    def high(self) -> float:
        return self.days + self.tolerance_days

    @property
    def label(self) -> str:
        unit = self.unit.value[:-1] if self.value == 1 else self.unit.value
        return f"{self.value:g} {unit}"

    def contains(self, days: float | None) -> bool:
        return days is not None and self.low <= days <= self.high

    def describe(self) -> str:
        return (f"{self.label} (+/- {self.tolerance_days:.1f} days: "
                f"{self.low:.0f}-{self.high:.0f} days)")

    def to_dict(self) -> dict[str, Any]:
        return {"requested": self.text, "label": self.label, "days": self.days,
                "tolerance_days": self.tolerance_days, "low_days": self.low,
                "high_days": self.high}


def parse_time(text: str, *, tolerance_days: float | None = None) -> TimeWindow:
    """Parse ``6mo``, ``90d``, ``24 weeks``, ``1y`` into a :class:`TimeWindow`."""
    match = _PATTERN.match(str(text))
    unit = TIME_UNITS.get(match.group(2).lower()) if match else None
    if match is None or unit is None:
        raise InputError(Problem("time", "not a time point", text, _ALLOWED))
    value = float(match.group(1))
    if value <= 0:
        raise InputError(Problem("time", "must be after 0", text, _ALLOWED))
    days = value * DAYS_PER_UNIT[unit]
    if tolerance_days is None:
        tol = min(DEFAULT_TOLERANCE_DAYS, _TOLERANCE_FRACTION * days)
    elif tolerance_days < 0:
        raise InputError(Problem("tolerance_days", "must not be negative", tolerance_days,
                                 "a number of days >= 0"))
    else:
        tol = float(tolerance_days)
    return TimeWindow(text=str(text).strip(), value=value, unit=unit, days=days,
                      tolerance_days=tol)
