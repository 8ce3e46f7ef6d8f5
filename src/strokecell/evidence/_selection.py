"""Which rows of ``trials.csv`` enter a synthesis of one outcome at one time point, and why
the others do not.

Steps, each leaving out rows with a stated reason (:class:`LeftOut`):

1. ``time``: the row's time point is outside the requested window (or not reported);
2. ``numbers``: the row lacks complete numbers for its kind (means, SDs and n of both arms,
   or events and n of both arms); nothing is ever filled in;
3. ``time``: a comparison with several usable rows in the window keeps the one closest to
   the requested time (without a window: its longest follow-up);
4. shared control: when k > 1 comparisons of one trial remain, they share that trial's
   control arm, which would otherwise count k times. Following the Cochrane Handbook
   (Higgins et al., version 6.4, 2023, section 23.3.4, option "split the shared group"), the
   control arm's n (and its events) are divided evenly among the comparisons, its mean and
   SD kept; the comparisons stay apart so that dose arms can enter dose subgroups and the
   dose meta-regression. (The Handbook's first choice, combining the cell arms, would lose
   exactly that contrast; the remaining correlation between the split comparisons is ignored,
   as the Handbook accepts for this option.)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from strokecell.errors import InputError, Problem
from strokecell.evidence._aspects import format_time
from strokecell.evidence._model import TrialRecord
from strokecell.evidence._timepoint import TimeWindow
from strokecell.evidence._vocab import OUTCOMES, Outcome, OutcomeKind

__all__ = [
    "EvidenceSelectionError",
    "LeftOut",
    "Selection",
    "Study",
    "available_time_points",
    "check_kind",
    "select_rows",
    "usable",
]

HANDBOOK_SHARED_CONTROL = (
    "Cochrane Handbook for Systematic Reviews of Interventions, version 6.4 (2023), "
    "section 23.3.4"
)


class EvidenceSelectionError(InputError):
    """A request (outcome, time point) that no row of the data set matches."""


@dataclass(frozen=True)
class LeftOut:
    """A row that did not enter (a part of) the synthesis, and why."""

    row_id: str
    trial_label: str
    stage: str
    reason: str
    reported: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"row_id": self.row_id, "trial_label": self.trial_label, "stage": self.stage,
                "reason": self.reason, "reported": self.reported}


@dataclass(frozen=True)
class Study:
    """One comparison entering the synthesis: its row and how its control arm is counted."""

    record: TrialRecord
    label: str
    control_split: int = 1  # number of comparisons sharing this control arm (1: not shared)

    @property
    def n2(self) -> float:
        n2 = self.record.n2
        if n2 is None:  # pragma: no cover - guarded by usable()
            raise ValueError(f"{self.record.row_id}: n2 missing")
        return n2 / self.control_split

    def roles(self) -> dict[str, float]:
        """metafor's role columns (cell arm first) after any shared-control split."""
        r = self.record
        if OUTCOMES[r.outcome].kind is OutcomeKind.CONTINUOUS:
            values = {"m1i": r.mean1, "sd1i": r.sd1, "n1i": r.n1, "m2i": r.mean2,
                      "sd2i": r.sd2, "n2i": self.n2}
        else:
            e2 = None if r.events2 is None else r.events2 / self.control_split
            values = {"ai": r.events1, "n1i": r.n1, "ci": e2, "n2i": self.n2}
        return {k: float(v) for k, v in values.items() if v is not None}


@dataclass(frozen=True)
class Selection:
    """The studies selected for one outcome and time point, and every row left out."""

    outcome: Outcome
    window: TimeWindow | None
    studies: tuple[Study, ...]
    left_out: tuple[LeftOut, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)
    available: tuple[str, ...] = field(default_factory=tuple)


def usable(record: TrialRecord) -> bool:
    """The row has complete numbers for its outcome kind."""
    if OUTCOMES[record.outcome].kind is OutcomeKind.CONTINUOUS:
        return record.has_continuous
    return record.has_events


def _missing_numbers(record: TrialRecord) -> str:
    if OUTCOMES[record.outcome].kind is OutcomeKind.EVENTS:
        return "event counts of both arms not reported (never estimated)"
    if record.mean1 is None and record.mean2 is None:
        return "means and SDs not reported (never estimated)"
    if record.sd1 is None or record.sd2 is None:
        return "SDs not reported (never estimated)"
    return "n per arm not reported (never estimated)"


def _reported(record: TrialRecord) -> str | None:
    parts = [record.reported_text or ""]
    if record.p_reported and record.p_reported not in parts[0]:
        parts.append(f"p = {record.p_reported}")
    text = "; ".join(p for p in parts if p)
    return text or None


def available_time_points(records: Iterable[TrialRecord], outcome: Outcome) -> tuple[str, ...]:
    """``"3 months: Yuan et al. [no numbers]"``-style lines, one per time point of ``outcome``."""
    by_time: dict[tuple[float, str], list[str]] = {}
    for r in records:
        if r.outcome is not outcome:
            continue
        key = (r.time_days if r.time_days is not None else float("inf"), format_time(r))
        mark = "" if usable(r) else " [no numbers]"
        by_time.setdefault(key, []).append(f"{r.trial_label}{mark}")
    return tuple(f"{label}: {', '.join(dict.fromkeys(names))}"
                 for (_, label), names in sorted(by_time.items()))


def _pick(rows: list[TrialRecord], window: TimeWindow | None) -> TrialRecord:
    if window is None:
        return max(rows, key=lambda r: r.time_days or 0.0)
    return min(rows, key=lambda r: abs((r.time_days or 0.0) - window.days))


def select_rows(records: Sequence[TrialRecord], outcome: Outcome,
                window: TimeWindow | None) -> Selection:
    """Select the rows of ``outcome`` at ``window`` (None: each comparison's longest
    follow-up), raising :class:`EvidenceSelectionError` when no row matches at all."""
    rows = [r for r in records if r.outcome is outcome]
    if not rows:
        present = sorted({r.outcome.value for r in records})
        raise EvidenceSelectionError(Problem(
            "outcome", f"no rows for outcome {outcome.value} in the data set", outcome.value,
            "outcomes present: " + ", ".join(present)))
    available = available_time_points(rows, outcome)
    left: list[LeftOut] = []
    in_time: list[TrialRecord] = []
    for r in rows:
        if r.time_days is None:
            left.append(LeftOut(r.row_id, r.trial_label, "time", "time point not reported",
                                _reported(r)))
        elif window is not None and not window.contains(r.time_days):
            left.append(LeftOut(r.row_id, r.trial_label, "time",
                                f"time point {format_time(r)} outside {window.describe()}",
                                _reported(r)))
        else:
            in_time.append(r)
    if not in_time:
        where = f"at {window.describe()}" if window is not None else "with a time point"
        raise EvidenceSelectionError(Problem(
            "time", f"no rows for outcome {outcome.value} {where}; available: "
            + "; ".join(available), window.text if window is not None else None,
            "a time point near one of: " + ", ".join(a.split(":")[0] for a in available)))
    complete: dict[tuple[str, str], list[TrialRecord]] = {}
    for r in in_time:
        if usable(r):
            complete.setdefault((r.trial_id, r.comparison), []).append(r)
        else:
            left.append(LeftOut(r.row_id, r.trial_label, "numbers", _missing_numbers(r),
                                _reported(r)))
    chosen: list[TrialRecord] = []
    for group in complete.values():
        best = _pick(group, window)
        chosen.append(best)
        for other in group:
            if other is not best:
                left.append(LeftOut(other.row_id, other.trial_label, "time",
                                    f"another time point of the same comparison is used "
                                    f"({format_time(best)}, row {best.row_id})"))
    per_trial: dict[str, list[TrialRecord]] = {}
    for r in chosen:
        per_trial.setdefault(r.trial_id, []).append(r)
    studies: list[Study] = []
    notes: list[str] = []
    for trial_rows in per_trial.values():
        m = len(trial_rows)
        first = trial_rows[0]
        if m > 1:
            notes.append(
                f"{first.trial_label}: {m} cell arms share one control arm (n = {first.n2}); "
                f"its n and events are split evenly among the {m} comparisons "
                f"({HANDBOOK_SHARED_CONTROL})")
        for r in trial_rows:
            label = r.trial_label if m == 1 else f"{r.trial_label}: {r.comparison}"
            studies.append(Study(r, label, control_split=m))
    order = {r.row_id: i for i, r in enumerate(records)}
    studies.sort(key=lambda s: order[s.record.row_id])
    left.sort(key=lambda x: order.get(x.row_id, 0))
    return Selection(outcome, window, tuple(studies), tuple(left), tuple(notes), available)


def check_kind(outcome: Outcome, measure: str) -> None:
    """Raise when ``measure`` does not fit the outcome's kind."""
    kind = OUTCOMES[outcome].kind
    allowed = ("MD", "SMD") if kind is OutcomeKind.CONTINUOUS else ("RR", "OR", "RD")
    if measure not in allowed:
        raise InputError(Problem("measure", f"not a measure for {kind.value} outcome "
                                 f"{outcome.value}", measure, ", ".join(allowed)))
