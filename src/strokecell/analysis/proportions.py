"""Two-arm comparisons of a proportion: risk difference and risk ratio with CIs.

- Risk difference: Newcombe's hybrid score interval (Newcombe 1998, Stat Med 17:873-890,
  method 10), built from the two Wilson score intervals (Wilson 1927). It stays inside
  [-1, 1] and is defined with zero cells, unlike the Wald interval.
- Risk ratio: Wald interval on the log scale (Katz et al. 1978, Biometrics 34:469),
  :math:`\\operatorname{SE}(\\log RR) = \\sqrt{1/a - 1/n_1 + 1/c - 1/n_2}`. With a zero count
  in either arm, 0.5 is added to every cell (Haldane 1956; Pagano & Gauvreau) and the result
  says so; with zero events in both arms the ratio is not estimable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from scipy import stats

from strokecell.errors import InputError, Problem

__all__ = ["TwoProportions", "compare_proportions", "wilson_interval"]


def wilson_interval(events: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion (Wilson 1927)."""
    if n <= 0:
        return math.nan, math.nan
    z = float(stats.norm.ppf(0.5 + level / 2.0))
    p = events / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class TwoProportions:
    """``events1/n1`` (treatment) against ``events2/n2`` (control)."""

    events1: int
    n1: int
    events2: int
    n2: int
    rd: float
    rd_lower: float
    rd_upper: float
    rr: float
    rr_lower: float
    rr_upper: float
    note: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def compare_proportions(events1: int, n1: int, events2: int, n2: int,
                        level: float = 0.95) -> TwoProportions:
    problems = []
    for name, e, n in (("arm 1", events1, n1), ("arm 2", events2, n2)):
        if n < 0 or e < 0 or e > n:
            problems.append(Problem(name, "needs 0 <= events <= n", (e, n), "0 <= events <= n"))
    if problems:
        raise InputError(problems, context="two proportions")
    if n1 == 0 or n2 == 0:
        empty = "arm 1" if n1 == 0 else "arm 2"
        nan = math.nan
        return TwoProportions(events1, n1, events2, n2, nan, nan, nan, nan, nan, nan,
                              f"{empty} has no subjects: not estimable")
    p1, p2 = events1 / n1, events2 / n2
    l1, u1 = wilson_interval(events1, n1, level)
    l2, u2 = wilson_interval(events2, n2, level)
    rd = p1 - p2
    rd_lo = rd - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    rd_hi = rd + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    z = float(stats.norm.ppf(0.5 + level / 2.0))
    notes = []
    a, b, c, d = float(events1), float(n1 - events1), float(events2), float(n2 - events2)
    if events1 == 0 and events2 == 0:
        rr = rr_lo = rr_hi = math.nan
        notes.append("no events in either arm: risk ratio not estimable")
    else:
        if min(a, c) == 0 or min(b, d) == 0:
            a, b, c, d = a + 0.5, b + 0.5, c + 0.5, d + 0.5
            notes.append("a zero cell: 0.5 added to every cell for the risk ratio "
                         "(Haldane continuity correction)")
        rr = (a / (a + b)) / (c / (c + d))
        se = math.sqrt(1 / a - 1 / (a + b) + 1 / c - 1 / (c + d))
        rr_lo, rr_hi = rr * math.exp(-z * se), rr * math.exp(z * se)
    return TwoProportions(events1, n1, events2, n2, rd, rd_lo, rd_hi, rr, rr_lo, rr_hi,
                          "; ".join(notes))
