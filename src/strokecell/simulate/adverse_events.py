"""Adverse events of one virtual patient: route events per administration, background
events over follow-up, and the fatal event of a death.

Rates, seriousness, CTCAE grades, onset windows and relatedness come from
:class:`~strokecell.simulate.assumptions.AdverseEvents` (each with its source or [A]).
Events after death or dropout are not observed and are not returned.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from strokecell.simulate.assumptions import AdverseEvents, AdverseEventSpec

__all__ = ["AdverseEvent", "background_events", "death_event", "route_events"]


@dataclass(frozen=True)
class AdverseEvent:
    term: str
    onset_day: int  # relative to day 0
    onset_date: date
    serious: bool
    grade: int  # CTCAE 1-5
    related: str  # related, possibly_related, unlikely_related, not_related
    source: str  # the assumption it was drawn from

    def to_dict(self) -> dict[str, object]:
        return {"term": self.term, "onset_day": self.onset_day,
                "onset_date": self.onset_date.isoformat(), "serious": self.serious,
                "grade": self.grade, "related": self.related, "source": self.source}


def _draw(spec: AdverseEventSpec, start_day: int, day0: date, rng: np.random.Generator,
          probability: float) -> AdverseEvent | None:
    if rng.random() >= min(probability, 1.0):
        return None
    low, high = spec.onset_days
    onset = start_day + int(rng.integers(low, high + 1))
    grades = sorted(spec.grades)
    weights = np.array([spec.grades[g] for g in grades], dtype=float)
    grade = int(rng.choice(grades, p=weights / weights.sum()))
    serious = bool(rng.random() < spec.serious_fraction)
    return AdverseEvent(spec.term, onset, day0 + timedelta(days=onset), serious, grade,
                        spec.related, spec.source)


def route_events(route: str, cell_type: str | None, admin_days: list[int], day0: date,
                 end_day: float, settings: AdverseEvents,
                 rng: np.random.Generator) -> list[AdverseEvent]:
    """Events of the route (scaled by the cell-type multiplier) after each administration."""
    factor = settings.cell_type_multiplier.get(cell_type or "", 1.0)
    out = []
    for day in admin_days:
        for spec in settings.by_route.get(route, []):
            event = _draw(spec, day, day0, rng, spec.probability * factor)
            if event is not None and event.onset_day < end_day:
                out.append(event)
    return out


def background_events(follow_up_days: int, day0: date, end_day: float,
                      settings: AdverseEvents, rng: np.random.Generator) -> list[AdverseEvent]:
    """Events of any arm; probabilities are per year, scaled to the follow-up."""
    out = []
    for spec in settings.background:
        low, high = spec.onset_days
        span = min(high, follow_up_days)
        probability = 1.0 - (1.0 - spec.probability) ** (max(follow_up_days, 1) / 365.0)
        scaled = spec.model_copy(update={"onset_days": (low, max(low, span))})
        event = _draw(scaled, 0, day0, rng, probability)
        if event is not None and event.onset_day < end_day:
            out.append(event)
    return out


def death_event(death_day: int, day0: date) -> AdverseEvent:
    return AdverseEvent("Death NOS", death_day, day0 + timedelta(days=death_day), True, 5,
                        "not_related", "death model (assumptions.deaths)")
