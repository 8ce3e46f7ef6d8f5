"""One line per trial comparison: design, n, the four aspects, outcomes with time points and
whether each has usable numbers, verification and citation (``strokecell evidence summary``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from strokecell.evidence._aspects import dose_category, format_time, short_time
from strokecell.evidence._model import TrialRecord
from strokecell.evidence._selection import usable

__all__ = ["ComparisonSummary", "OutcomeEntry", "summarize_trials"]


@dataclass(frozen=True)
class OutcomeEntry:
    """One outcome row of a comparison: code, time point, usable numbers or not."""

    row_id: str
    outcome: str
    time: str
    usable: bool
    time_short: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"row_id": self.row_id, "outcome": self.outcome, "time": self.time,
                "usable": self.usable}

    def __str__(self) -> str:
        return f"{self.outcome} {self.time}{'' if self.usable else ' (no numbers)'}"


@dataclass(frozen=True)
class ComparisonSummary:
    """A trial comparison (cell arm vs control) as the summary table shows it."""

    first: TrialRecord
    outcomes: tuple[OutcomeEntry, ...]
    verification: tuple[str, ...]

    @property
    def trial_id(self) -> str:
        return self.first.trial_id

    @property
    def label(self) -> str:
        return self.first.trial_label

    @property
    def outcomes_short(self) -> list[str]:
        """``bi: 3mo, 6mo*, 12mo`` per outcome (``*``: usable numbers)."""
        grouped: dict[str, list[str]] = {}
        for o in self.outcomes:
            grouped.setdefault(o.outcome, []).append(o.time_short + ("*" if o.usable else ""))
        return [f"{name}: {', '.join(times)}" for name, times in grouped.items()]

    @property
    def design(self) -> str:
        r = self.first
        rand = {"yes": "randomised", "no": "not randomised", "unclear": "randomisation unclear"}
        parts = [rand[r.randomized.value]]
        if r.blinding is not None:
            parts.append({"open": "open-label", "assessor": "assessor-blinded",
                          "double": "double-blind"}[r.blinding.value])
        parts.append(f"vs {r.control.value.replace('_', ' ')}")
        return ", ".join(parts)

    @property
    def n_text(self) -> str:
        r = self.first
        if r.n_rand1 is not None and r.n_rand2 is not None:
            text = f"{r.n_rand1} vs {r.n_rand2}"
            return text + (f" (of {r.n_rand_total})" if r.n_rand_total else "")
        if r.n_rand_total is not None:
            return f"{r.n_rand_total} in total"
        return "not reported"

    @property
    def dose_text(self) -> str:
        r = self.first
        if r.dose_per_kg is not None:
            text = f"{r.dose_per_kg:.3g}/kg"
        elif r.dose_total is not None:
            text = f"{r.dose_total:.3g} cells"
        else:
            return "not reported"
        if r.n_doses and r.n_doses > 1:
            text += f" x {r.n_doses}"
        return text

    @property
    def timing_text(self) -> str:
        r = self.first
        day = r.days_from_onset
        phase = r.phase.value if r.phase else "phase not coded"
        return phase + (f" (day {day:g})" if day is not None else "")

    def to_dict(self) -> dict[str, Any]:
        r = self.first
        return {
            "trial_id": r.trial_id, "trial_label": r.trial_label, "comparison": r.comparison,
            "reference": r.reference, "stroke_type": r.stroke_type.value,
            "randomized": r.randomized.value,
            "blinding": r.blinding.value if r.blinding else None,
            "control": r.control.value, "design": self.design,
            "n_rand1": r.n_rand1, "n_rand2": r.n_rand2, "n_rand_total": r.n_rand_total,
            "cell_type": r.cell_type.value, "cell_source": r.cell_source.value,
            "donor": r.donor.value, "route": r.route.value,
            "route_2": r.route_2.value if r.route_2 else None,
            "phase": r.phase.value if r.phase else None,
            "days_from_onset": r.days_from_onset,
            "dose_per_kg": r.dose_per_kg, "dose_total": r.dose_total, "n_doses": r.n_doses,
            "dose_category": dose_category(r),
            "outcomes": [o.to_dict() for o in self.outcomes],
            "verification": list(self.verification), "citation": r.citation,
        }


def summarize_trials(records: Sequence[TrialRecord]) -> list[ComparisonSummary]:
    """One :class:`ComparisonSummary` per (trial, comparison), in file order."""
    groups: dict[tuple[str, str], list[TrialRecord]] = {}
    for r in records:
        groups.setdefault((r.trial_id, r.comparison), []).append(r)
    out = []
    for rows in groups.values():
        entries = tuple(OutcomeEntry(r.row_id, r.outcome.value, format_time(r), usable(r),
                                     short_time(r))
                        for r in rows)
        ver = tuple(sorted({r.verification.value for r in rows}, reverse=True))
        out.append(ComparisonSummary(rows[0], entries, ver))
    return out
