"""From curated rows to the raw columns an effect-size calculation needs.

Continuous rows give metafor's ``m1i, sd1i, n1i, m2i, sd2i, n2i``; event rows give
``ai, n1i, ci, n2i`` (and ``bi = n1i - ai``, ``di = n2i - ci``). Arm 1 is the cell-therapy arm,
so a positive mean difference means "higher with cells"; whether that is good depends on the
outcome, which ``higher_is_better`` and ``sign`` (+1 or -1) carry along so that
``sign * yi`` reads "benefit of cells" for every outcome. Rows without complete numbers are
not guessed at: they are left out and their ``row_id`` listed in ``dropped``.

Nothing here depends on the meta-analysis engine; the frame is plain pandas.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from strokecell.errors import InputError, Problem
from strokecell.evidence._model import TrialRecord
from strokecell.evidence._vocab import OUTCOMES, Outcome, OutcomeKind

__all__ = ["CONTINUOUS_COLUMNS", "EVENT_COLUMNS", "EffectSizeInputs", "effect_size_inputs"]

Kind = Literal["continuous", "events"]

#: Role columns, in metafor's names.
CONTINUOUS_COLUMNS = ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i")
EVENT_COLUMNS = ("ai", "bi", "ci", "di", "n1i", "n2i")

# Study-level columns carried along for subgroups and meta-regression.
_MODERATORS = ("trial_id", "trial_label", "comparison", "outcome", "measure", "time_days",
               "stroke_type", "cell_type", "cell_source", "donor", "route", "route_2",
               "phase", "days_from_onset", "dose_per_kg", "dose_total", "n_doses",
               "randomized", "blinding", "control", "verification")


@dataclass(frozen=True)
class EffectSizeInputs:
    """The rows that can enter an effect-size calculation, and the ones that cannot."""

    kind: Kind
    frame: Any  # pandas.DataFrame, one row per usable record, indexed 0..k-1
    dropped: tuple[str, ...]  # row_ids of matching records without complete numbers

    @property
    def k(self) -> int:
        """Number of usable rows."""
        return len(self.frame)


def _value(record: TrialRecord, name: str) -> Any:
    value = getattr(record, name)
    return value.value if hasattr(value, "value") else value


def _row(record: TrialRecord, kind: Kind) -> dict[str, Any]:
    info = OUTCOMES[record.outcome]
    row: dict[str, Any] = {"row_id": record.row_id}
    row.update({name: _value(record, name) for name in _MODERATORS})
    row["higher_is_better"] = info.higher_is_better
    row["sign"] = info.sign
    if kind == "continuous":
        row.update(m1i=record.mean1, sd1i=record.sd1, n1i=record.n1,
                   m2i=record.mean2, sd2i=record.sd2, n2i=record.n2)
    else:
        e1, n1, e2, n2 = record.events1, record.n1, record.events2, record.n2
        if e1 is None or n1 is None or e2 is None or n2 is None:  # callers check has_events
            raise ValueError(f"{record.row_id}: incomplete event counts")
        row.update(ai=e1, bi=n1 - e1, n1i=n1, ci=e2, di=n2 - e2, n2i=n2)
    return row


def effect_size_inputs(records: Iterable[TrialRecord], kind: Kind, *,
                       outcome: Outcome | str | None = None,
                       time_days: tuple[float, float] | None = None) -> EffectSizeInputs:
    """The metafor role columns of every record of ``kind`` (optionally one outcome and a
    window of ``time_days`` (low, high), both inclusive), plus moderators and direction.

    Records of the other kind are ignored; records of this kind whose numbers are incomplete
    are listed in ``dropped``. Several comparisons of one trial that share a control arm are
    flagged in the column ``shared_control`` (their control patients would count twice).
    """
    import pandas as pd

    if kind not in ("continuous", "events"):
        raise InputError(Problem("kind", "unknown kind of effect size", kind,
                                 "continuous, events"))
    wanted = OutcomeKind(kind)
    if outcome is not None:
        try:
            outcome = Outcome(outcome)
        except ValueError:
            raise InputError(Problem("outcome", "unknown outcome", outcome,
                                     ", ".join(o.value for o in Outcome))) from None
        if OUTCOMES[outcome].kind is not wanted:
            raise InputError(Problem("outcome", f"not a {kind} outcome", outcome.value,
                                     ", ".join(o.value for o, i in OUTCOMES.items()
                                               if i.kind is wanted)))
    rows: list[dict[str, Any]] = []
    dropped: list[str] = []
    for record in records:
        if OUTCOMES[record.outcome].kind is not wanted:
            continue
        if outcome is not None and record.outcome is not outcome:
            continue
        if time_days is not None:
            days = record.time_days
            if days is None or not time_days[0] <= days <= time_days[1]:
                continue
        complete = record.has_continuous if kind == "continuous" else record.has_events
        if complete:
            rows.append(_row(record, kind))
        else:
            dropped.append(record.row_id)
    roles = CONTINUOUS_COLUMNS if kind == "continuous" else EVENT_COLUMNS
    columns = ["row_id", *_MODERATORS, "higher_is_better", "sign", *roles]
    frame = pd.DataFrame(rows, columns=columns)
    key = ["trial_id", "outcome", "time_days"]
    frame["shared_control"] = (
        frame.groupby(key, dropna=False)["comparison"].transform("nunique") > 1
        if len(frame) else pd.Series(dtype=bool)
    )
    return EffectSizeInputs(kind=kind, frame=frame, dropped=tuple(dropped))
