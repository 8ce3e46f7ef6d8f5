"""One row of ``trials.csv`` as a typed record, and the checks that span several columns.

Arm 1 is always the cell-therapy arm and arm 2 the control arm (metafor's ``m1i``/``m2i``
convention). Field-level rules (types, ranges, vocabularies) live in the pydantic model; rules
that involve several columns of one row are in :func:`cross_check`, which returns every finding
instead of stopping at the first, so that a curator sees all of a row's mistakes at once.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from strokecell.evidence._vocab import (
    DAYS_PER_UNIT,
    OUTCOMES,
    Blinding,
    CellSource,
    CellType,
    Control,
    Donor,
    DoseStatistic,
    Measure,
    Outcome,
    OutcomeKind,
    Phase,
    Randomized,
    Route,
    StrokeType,
    TimeFrom,
    TimeUnit,
    Verification,
    phase_for_day,
)

__all__ = ["CITATION_PATTERN", "Finding", "TrialRecord", "cross_check"]

Code = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_]*$", max_length=60)]
Text = Annotated[str, Field(min_length=1)]
Cells = Annotated[float, Field(gt=0)]
Days = Annotated[float, Field(ge=0)]
Count = Annotated[int, Field(ge=1)]
Events = Annotated[int, Field(ge=0)]
Sd = Annotated[float, Field(gt=0)]

_ID = r"(doi:10\.\d{4,9}/\S+|pmid:\d+|nct:NCT\d{8}|url:https?://\S+)"
#: One or more identifiers separated by ``; ``: ``doi:10.x/y``, ``pmid:123``,
#: ``nct:NCT01234567`` or, when a source has none of these, ``url:https://...``.
CITATION_PATTERN = rf"^{_ID}(; {_ID})*$"
Citation = Annotated[str, Field(pattern=CITATION_PATTERN)]
Url = Annotated[str, Field(pattern=r"^https?://\S+$")]

#: A finding of :func:`cross_check`: (column, message, offending value, what is allowed).
Finding = tuple[str, str, object, str | None]


class TrialRecord(BaseModel):
    """One trial comparison x outcome x time point, with where its numbers came from."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    # identity
    row_id: Code
    trial_id: Code
    trial_label: Text
    reference: Text
    comparison: Code
    # the four aspects and the population
    stroke_type: StrokeType
    cell_type: CellType
    cell_source: CellSource
    donor: Donor
    route: Route
    route_2: Route | None = None
    dose_per_kg: Cells | None = None
    dose_per_kg_min: Cells | None = None
    dose_per_kg_max: Cells | None = None
    dose_total: Cells | None = None
    dose_total_min: Cells | None = None
    dose_total_max: Cells | None = None
    dose_statistic: DoseStatistic | None = None
    n_doses: Count | None = None
    days_from_onset_min: Days | None = None
    days_from_onset_max: Days | None = None
    days_from_onset_mean: Days | None = None
    days_from_onset_median: Days | None = None
    phase: Phase | None = None
    timing_note: Text | None = None
    # design
    randomized: Randomized
    blinding: Blinding | None = None
    control: Control
    n_rand_total: Count | None = None
    n_rand1: Count | None = None
    n_rand2: Count | None = None
    # outcome and numbers
    outcome: Outcome
    measure: Measure | None = None
    time_value: Annotated[float, Field(gt=0)] | None = None
    time_unit: TimeUnit | None = None
    time_from: TimeFrom | None = None
    n1: Count | None = None
    n2: Count | None = None
    mean1: float | None = None
    sd1: Sd | None = None
    mean2: float | None = None
    sd2: Sd | None = None
    events1: Events | None = None
    events2: Events | None = None
    p_reported: Text | None = None
    reported_text: Text | None = None
    # provenance
    citation: Citation
    numbers_source: Citation | None = None
    numbers_locator: Text | None = None
    verification: Verification
    verification_url: Url | None = None
    notes: Text | None = None

    # derived views ---------------------------------------------------------------------
    @property
    def time_days(self) -> float | None:
        """The time point in days (months of 365.25/12 days), or None when not given."""
        if self.time_value is None or self.time_unit is None:
            return None
        return self.time_value * DAYS_PER_UNIT[self.time_unit]

    @property
    def days_from_onset(self) -> float | None:
        """The day that decides the phase: mean, else median, else midpoint of min and max."""
        if self.days_from_onset_mean is not None:
            return self.days_from_onset_mean
        if self.days_from_onset_median is not None:
            return self.days_from_onset_median
        lo, hi = self.days_from_onset_min, self.days_from_onset_max
        if lo is not None and hi is not None:
            return (lo + hi) / 2
        return None

    @property
    def has_continuous(self) -> bool:
        """Means, SDs and n of both arms are all present."""
        values = (self.mean1, self.sd1, self.n1, self.mean2, self.sd2, self.n2)
        return all(v is not None for v in values)

    @property
    def has_events(self) -> bool:
        """Events and n of both arms are all present."""
        return all(v is not None for v in (self.events1, self.n1, self.events2, self.n2))

    @property
    def has_numbers(self) -> bool:
        """Any outcome number at all (means, SDs or event counts) is filled in."""
        numeric = (self.mean1, self.sd1, self.mean2, self.sd2, self.events1, self.events2)
        return any(v is not None for v in numeric)


def _filled(record: TrialRecord, *names: str) -> list[str]:
    return [n for n in names if getattr(record, n) is not None]


def _missing(record: TrialRecord, *names: str) -> list[str]:
    return [n for n in names if getattr(record, n) is None]


def _check_dose(r: TrialRecord) -> list[Finding]:
    out: list[Finding] = []
    per_kg = _filled(r, "dose_per_kg", "dose_per_kg_min", "dose_per_kg_max")
    total = _filled(r, "dose_total", "dose_total_min", "dose_total_max")
    if per_kg and total:
        out.append((total[0], "a dose is either per kg or total, not both", getattr(
            r, total[0]), f"empty when {per_kg[0]} is given"))
    for base in ("dose_per_kg", "dose_total"):
        value = getattr(r, base)
        lo, hi = getattr(r, f"{base}_min"), getattr(r, f"{base}_max")
        if lo is not None and hi is not None and lo > hi:
            out.append((f"{base}_min", f"greater than {base}_max ({hi:g})", lo,
                        f"<= {hi:g}"))
        if value is not None and lo is not None and value < lo:
            out.append((base, f"below {base}_min ({lo:g})", value, f">= {lo:g}"))
        if value is not None and hi is not None and value > hi:
            out.append((base, f"above {base}_max ({hi:g})", value, f"<= {hi:g}"))
    has_value = r.dose_per_kg is not None or r.dose_total is not None
    if has_value and r.dose_statistic is None:
        out.append(("dose_statistic", "required when dose_per_kg or dose_total is given",
                    None, "fixed, mean, median"))
    if not has_value and r.dose_statistic is not None:
        out.append(("dose_statistic", "given without dose_per_kg or dose_total",
                    r.dose_statistic.value, "empty"))
    return out


def _check_timing(r: TrialRecord) -> list[Finding]:
    out: list[Finding] = []
    lo, hi = r.days_from_onset_min, r.days_from_onset_max
    if lo is not None and hi is not None and lo > hi:
        out.append(("days_from_onset_min", f"greater than days_from_onset_max ({hi:g})", lo,
                    f"<= {hi:g}"))
    for name in ("days_from_onset_mean", "days_from_onset_median"):
        value = getattr(r, name)
        if value is None:
            continue
        if lo is not None and value < lo:
            out.append((name, f"below days_from_onset_min ({lo:g})", value, f">= {lo:g}"))
        if hi is not None and value > hi:
            out.append((name, f"above days_from_onset_max ({hi:g})", value, f"<= {hi:g}"))
    day = r.days_from_onset
    if day is not None:
        expected = phase_for_day(day)
        if r.phase is None:
            out.append(("phase", f"required: day {day:g} from onset gives {expected}", None,
                        expected.value))
        elif r.phase is not expected:
            out.append(("phase", f"does not agree with day {day:g} from onset "
                        "(acute <= 7 < subacute <= 180 < chronic)", r.phase.value,
                        expected.value))
    if (r.time_value is None) != (r.time_unit is None):
        name = "time_unit" if r.time_unit is None else "time_value"
        out.append((name, "time_value and time_unit go together", None,
                    "both or neither"))
    return out


def _check_design(r: TrialRecord) -> list[Finding]:
    out: list[Finding] = []
    if r.route_2 is not None and r.route_2 is r.route:
        out.append(("route_2", "repeats route", r.route_2.value, f"a route other than {r.route}"))
    if r.randomized is Randomized.YES:
        per_arm = r.n_rand1 is not None and r.n_rand2 is not None
        if not per_arm and r.n_rand_total is None:
            out.append(("n_rand1", "a randomized trial needs n randomized per arm "
                        "(n_rand1, n_rand2) or at least n_rand_total", None,
                        "counts >= 1"))
    if (r.n_rand1 is None) != (r.n_rand2 is None):
        name = "n_rand2" if r.n_rand2 is None else "n_rand1"
        out.append((name, "n_rand1 and n_rand2 go together", None, "both or neither"))
    if r.n_rand_total is not None and r.n_rand1 is not None and r.n_rand2 is not None:
        arms = r.n_rand1 + r.n_rand2
        if arms > r.n_rand_total:
            out.append(("n_rand_total", f"smaller than n_rand1 + n_rand2 ({arms})",
                        r.n_rand_total, f">= {arms}"))
    return out


def _check_numbers(r: TrialRecord) -> list[Finding]:
    out: list[Finding] = []
    kind = OUTCOMES[r.outcome].kind
    continuous = _filled(r, "mean1", "sd1", "mean2", "sd2")
    events = _filled(r, "events1", "events2")
    if continuous and events:
        out.append((events[0], "a row holds means and SDs or event counts, not both",
                    getattr(r, events[0]), "empty when means are given"))
    if continuous:
        for name in _missing(r, "mean1", "sd1", "n1", "mean2", "sd2", "n2"):
            out.append((name, "a row with means needs mean, SD and n of both arms", None,
                        "a number"))
        if kind is not OutcomeKind.CONTINUOUS:
            out.append(("outcome", "means and SDs given for an event outcome", r.outcome.value,
                        "a continuous outcome (bi, mbi, nihss, mrs, fma...)"))
        if r.measure not in (Measure.FINAL, Measure.CHANGE):
            out.append(("measure", "means and SDs need measure final or change",
                        r.measure.value if r.measure else None, "final, change"))
    if events:
        for name in _missing(r, "events1", "n1", "events2", "n2"):
            out.append((name, "a row with events needs events and n of both arms", None,
                        "a count"))
        if kind is not OutcomeKind.EVENTS:
            out.append(("outcome", "event counts given for a continuous outcome",
                        r.outcome.value, "an event outcome (death, sae, mrs_0_2...)"))
        if r.measure is not Measure.EVENTS:
            out.append(("measure", "event counts need measure events",
                        r.measure.value if r.measure else None, "events"))
    for arm in ("1", "2"):
        e, n = getattr(r, f"events{arm}"), getattr(r, f"n{arm}")
        if e is not None and n is not None and e > n:
            out.append((f"events{arm}", f"more events than patients (n{arm} = {n})", e,
                        f"<= {n}"))
    if r.measure is Measure.EVENTS and kind is not OutcomeKind.EVENTS:
        out.append(("measure", f"{r.outcome.value} is a continuous outcome", "events",
                    "final, change"))
    if r.measure in (Measure.FINAL, Measure.CHANGE) and kind is OutcomeKind.EVENTS:
        out.append(("measure", f"{r.outcome.value} is an event outcome", r.measure.value,
                    "events"))
    if r.has_numbers:
        for name in _missing(r, "measure", "time_value", "time_unit"):
            out.append((name, "required when the row holds numbers", None, "a value"))
    return out


def _check_provenance(r: TrialRecord) -> list[Finding]:
    out: list[Finding] = []
    sourced = r.has_numbers or r.p_reported is not None or r.reported_text is not None
    if sourced:
        for name in _missing(r, "numbers_source", "numbers_locator"):
            out.append((name, "say where the reported numbers or text were read", None,
                        "doi:/pmid:/nct:/url: and a table, page or section"))
    if r.verification is Verification.V and r.verification_url is None:
        out.append(("verification_url", "a [V] row needs the URL where it was seen", None,
                    "https://..."))
    if r.p_reported is not None and not re.fullmatch(r"[<>=]?\s?\d*\.?\d+(\s.*)?|NS",
                                                      r.p_reported):
        out.append(("p_reported", "not a p-value as reported", r.p_reported,
                    "e.g. 0.92, <0.01, NS"))
    return out


def cross_check(record: TrialRecord) -> list[Finding]:
    """Every rule of the row that involves more than one column; empty when the row is sound."""
    return [
        *_check_dose(record),
        *_check_timing(record),
        *_check_design(record),
        *_check_numbers(record),
        *_check_provenance(record),
    ]
