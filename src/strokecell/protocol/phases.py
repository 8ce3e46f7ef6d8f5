"""Stroke recovery phases, derived from days after onset.

Boundaries from the Stroke Recovery and Rehabilitation Roundtable consensus: Bernhardt J,
Hayward KS, Kwakkel G, et al. "Agreed definitions and a shared vision for new standards in
stroke recovery research: the Stroke Recovery and Rehabilitation Roundtable taskforce."
Int J Stroke 2017;12(5):444-450, doi:10.1177/1747493017711816 (its time-line figure):

    hyperacute      0-24 h
    acute           1-7 days
    early subacute  7 days-3 months
    late subacute   3-6 months
    chronic         > 6 months

Months are counted as 30 days (3 months = 90 d, 6 months = 180 d), and a boundary day
belongs to the earlier phase (day 7 is acute, day 180 late subacute), matching "acute ≤ 7 d"
and "chronic > 6 months". The coarse phase a protocol names (acute / subacute / chronic)
folds hyperacute into acute and the two subacute phases into subacute.
"""

from __future__ import annotations

from typing import Final, Literal

__all__ = ["PHASE_BOUNDARIES_DAYS", "PHASE_SOURCE", "CoarsePhase", "Phase", "coarse_phase",
           "phase_of_day", "phases_of_window"]

Phase = Literal["hyperacute", "acute", "early_subacute", "late_subacute", "chronic"]
CoarsePhase = Literal["acute", "subacute", "chronic"]

PHASE_SOURCE: Final = (
    "Bernhardt et al., Int J Stroke 2017;12(5):444-450 (SRRR), doi:10.1177/1747493017711816"
)

# (phase, last day included); the last phase is open-ended.
PHASE_BOUNDARIES_DAYS: Final[tuple[tuple[Phase, float], ...]] = (
    ("hyperacute", 1.0),
    ("acute", 7.0),
    ("early_subacute", 90.0),
    ("late_subacute", 180.0),
)

_COARSE: Final[dict[Phase, CoarsePhase]] = {
    "hyperacute": "acute", "acute": "acute", "early_subacute": "subacute",
    "late_subacute": "subacute", "chronic": "chronic",
}


def phase_of_day(day: float) -> Phase:
    """The recovery phase of ``day`` days after onset (a boundary day is the earlier phase)."""
    for phase, last_day in PHASE_BOUNDARIES_DAYS:
        # Hyperacute is the first 24 h only: day 1.0 itself starts the acute phase.
        if day < last_day or (day == last_day and phase != "hyperacute"):
            return phase
    return "chronic"


def phases_of_window(min_days: float, max_days: float) -> tuple[Phase, ...]:
    """Every phase a treatment window [min_days, max_days] touches, in time order."""
    first, last = phase_of_day(min_days), phase_of_day(max_days)
    order = [p for p, _ in PHASE_BOUNDARIES_DAYS] + ["chronic"]
    return tuple(order[order.index(first): order.index(last) + 1])


def coarse_phase(phase: Phase) -> CoarsePhase:
    return _COARSE[phase]
