"""Pocock-Simon imbalance scores over marginal totals, exact for any allocation ratio."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from math import lcm
from typing import Literal

from strokecell.trial._allocation import AllocationRatio


def _imbalance(values: Sequence[int], measure: Literal["range", "variance"]) -> int:
    """Range, or n² times the population variance (an integer with the same ordering)."""
    if measure == "range":
        return max(values) - min(values)
    n = len(values)
    return n * sum(v * v for v in values) - sum(values) ** 2


def imbalance_scores(ratio: AllocationRatio, rows: Sequence[tuple[Mapping[str, int], float]],
                     measure: Literal["range", "variance"],
                     ) -> tuple[dict[str, float], tuple[str, ...]]:
    """Total weighted imbalance if the next subject went to each arm, and the minimizing arms.

    ``rows`` holds, per factor, the counts per arm among earlier subjects at this subject's
    level, and the factor's weight. Counts are divided by the arm's ratio weight (scaled by
    the least common multiple of the weights to stay in integers), so that a 2:1 design aims
    at ``n_A / 2 == n_B``.
    """
    scale = lcm(*(w for _, w in ratio.arms))
    mult = {a: scale // w for a, w in ratio.arms}
    exact: dict[str, float] = {}
    for arm in ratio.codes:
        total = 0.0
        for counts, weight in rows:
            adjusted = [(counts[a] + (a == arm)) * mult[a] for a in ratio.codes]
            total += weight * _imbalance(adjusted, measure)
        exact[arm] = total
    best = min(exact.values())
    preferred = tuple(a for a in ratio.codes if exact[a] <= best + 1e-9)
    k = len(ratio.codes)
    norm = float(scale) if measure == "range" else float(scale * scale * k * k)
    return {a: v / norm for a, v in exact.items()}, preferred
