"""Fixed-sequence (hierarchical) testing of the protocol's primary and key secondary
endpoints.

The primary endpoint at its primary visit is the confirmatory test at level alpha. The key
secondary endpoints follow in the protocol's declared ``order``, each at the full alpha, but
only while every earlier test was significant: at the first non-significant test the
procedure stops and every later hypothesis is "not tested" (Maurer, Hothorn & Lehmacher 1995;
EMA Guideline on multiplicity issues in clinical trials, 2017, §5.3). The family-wise error
rate is controlled at alpha in the strong sense.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from strokecell.analysis.result import AnalysisResult
from strokecell.errors import InputError, Problem

__all__ = ["FIXED_SEQUENCE_COLUMNS", "Hypothesis", "fixed_sequence"]

FIXED_SEQUENCE_COLUMNS = ["order", "hypothesis", "PARAMCD", "AVISIT", "estimate", "p",
                          "alpha", "status", "confirmatory"]


@dataclass(frozen=True)
class Hypothesis:
    order: int
    label: str
    paramcd: str
    visit: str
    p: float  # two-sided; NaN when the analysis could not be done
    estimate: float = math.nan


def fixed_sequence(hypotheses: Sequence[Hypothesis], alpha: float = 0.05) -> AnalysisResult:
    """Status of each hypothesis: ``significant``, ``not significant``, ``not tested``
    (after an earlier non-significant one) or ``not estimable`` (which also stops the
    sequence)."""
    if not 0 < alpha < 1:
        raise InputError(Problem("alpha", "must lie in (0, 1)", alpha, "e.g. 0.05"))
    orders = [h.order for h in hypotheses]
    if len(set(orders)) != len(orders):
        raise InputError(Problem("order", "two hypotheses share an order", orders,
                                 "distinct orders 1, 2, 3, ..."))
    rows, messages = [], []
    going = True
    for h in sorted(hypotheses, key=lambda h: h.order):
        if not going:
            status = "not tested"
        elif h.p is None or math.isnan(h.p):
            status, going = "not estimable", False
            messages.append(f"{h.label}: no p-value; the sequence stops here")
        elif h.p <= alpha:
            status = "significant"
        else:
            status, going = "not significant", False
        rows.append({"order": h.order, "hypothesis": h.label, "PARAMCD": h.paramcd,
                     "AVISIT": h.visit, "estimate": h.estimate, "p": h.p, "alpha": alpha,
                     "status": status, "confirmatory": h.order == 1})
    return AnalysisResult("fixed_sequence", pd.DataFrame(rows, columns=FIXED_SEQUENCE_COLUMNS),
                          messages, {"alpha": alpha, "procedure": "fixed sequence"})
