"""Many trials at once, as arrays, for power: the primary endpoint per trial, patient, visit.

``simulate_trials(protocol, n_per_arm, n_trials, rng, scenario)`` returns a
:class:`TrialArrays`: dense arrays of shape (n_trials, n, V) (NaN where a visit was missed,
the patient dropped out or died; for mRS a death is 6) plus the CDISC long form
(:meth:`TrialArrays.long`, :meth:`TrialArrays.to_frame`) with USUBJID, ARMCD, AVISIT, AVISITN,
AVAL, BASE, CHG for the post-baseline visits. Work is chunked over trials to bound memory.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from strokecell.errors import InputError, Problem
from strokecell.protocol import Protocol
from strokecell.simulate.assumptions import Assumptions
from strokecell.simulate.cohort import SeedRecord, seed_record, simulate_cohort
from strokecell.simulate.design import SIMULATED_INSTRUMENTS, Design, as_design
from strokecell.simulate.events import DEAD, DONE, STATUS_NAMES
from strokecell.simulate.scenario import Scenario

__all__ = ["TrialArrays", "arm_counts", "simulate_trials"]

FloatArray = NDArray[np.float64]
_CHUNK_PATIENTS = 100_000


@dataclass(frozen=True)
class TrialArrays:
    """The primary (or chosen) endpoint of ``n_trials`` simulated trials."""

    study_id: str
    instrument: str
    arm_codes: tuple[str, ...]
    visit_codes: tuple[str, ...]
    visit_days: tuple[int, ...]  # target days
    baseline_index: int
    primary_index: int
    arm: NDArray[np.int64]  # (n,): arm index of each patient (same in every trial)
    aval: FloatArray  # (n_trials, n, V), every visit incl. baseline
    status: NDArray[np.int8]  # (n_trials, n, V): 0 done, 1 missed, 2 dropped out, 3 dead
    seed: SeedRecord
    scenario: Scenario
    assumptions: Assumptions

    @property
    def n_trials(self) -> int:
        return int(self.aval.shape[0])

    @property
    def n_per_trial(self) -> int:
        return int(self.aval.shape[1])

    @property
    def base(self) -> FloatArray:
        out: FloatArray = self.aval[:, :, self.baseline_index]
        return out

    @property
    def chg(self) -> FloatArray:
        out: FloatArray = self.aval - self.base[:, :, None]
        return out

    def usubjid(self, trial: int, patient: int) -> str:
        return f"{self.study_id}-{trial + 1:05d}-{patient + 1:04d}"

    def long(self, *, drop_missing: bool = True) -> dict[str, NDArray[Any]]:
        """CDISC long form of the post-baseline visits; integer codes plus the code lists.

        Keys: TRIAL, SUBJ (index in trial), ARM (index into arm_codes), AVISITN (index into
        visit_codes), AVAL, BASE, CHG. ``drop_missing`` leaves out rows without a value.
        """
        t, n, v = self.aval.shape
        post = [k for k in range(v) if k != self.baseline_index]
        trial, subj, visit = np.meshgrid(np.arange(t), np.arange(n), np.array(post),
                                         indexing="ij")
        aval = self.aval[:, :, post]
        base = np.broadcast_to(self.base[:, :, None], aval.shape)
        out: dict[str, NDArray[Any]] = {
            "TRIAL": trial.ravel(), "SUBJ": subj.ravel(), "ARM": self.arm[subj.ravel()],
            "AVISITN": visit.ravel(), "AVAL": aval.ravel(), "BASE": base.ravel(),
            "CHG": (aval - base).ravel()}
        if drop_missing:
            keep = ~np.isnan(out["AVAL"])
            out = {k: col[keep] for k, col in out.items()}
        return out

    def to_frame(self, *, drop_missing: bool = True) -> Any:
        """The long form as a pandas DataFrame with CDISC names and string codes."""
        import pandas as pd

        cols = self.long(drop_missing=drop_missing)
        arm_codes = np.array(self.arm_codes, dtype=object)
        visit_codes = np.array(self.visit_codes, dtype=object)
        usubjid = np.char.add(np.char.add(
            np.char.add(f"{self.study_id}-", np.char.zfill((cols["TRIAL"] + 1).astype(str), 5)),
            "-"), np.char.zfill((cols["SUBJ"] + 1).astype(str), 4))
        return pd.DataFrame({
            "TRIAL": cols["TRIAL"], "USUBJID": usubjid, "ARMCD": arm_codes[cols["ARM"]],
            "AVISIT": visit_codes[cols["AVISITN"]], "AVISITN": cols["AVISITN"],
            "PARAMCD": self.instrument.upper(), "AVAL": cols["AVAL"], "BASE": cols["BASE"],
            "CHG": cols["CHG"]})

    def settings(self) -> dict[str, Any]:
        """What produced these arrays (seed included), for a report's ``settings``."""
        return {"seed": self.seed.to_dict(), "instrument": self.instrument,
                "n_trials": self.n_trials, "arms": dict(zip(self.arm_codes, np.bincount(
                    self.arm, minlength=len(self.arm_codes)).tolist(), strict=True)),
                "visits": dict(zip(self.visit_codes, self.visit_days, strict=True)),
                "scenario": self.scenario.model_dump(mode="json"),
                "assumptions": self.assumptions.model_dump(mode="json"),
                "status_codes": dict(enumerate(STATUS_NAMES))}


def arm_counts(design: Design, n_per_arm: int | Mapping[str, int] | Sequence[int]) -> list[int]:
    """Patients per arm: one number for every arm, a mapping by arm code, or a list."""
    if isinstance(n_per_arm, int):
        return [n_per_arm] * len(design.arms)
    if isinstance(n_per_arm, Mapping):
        unknown = sorted(set(n_per_arm) - set(design.arm_codes))
        if unknown:
            raise InputError(Problem("n_per_arm", "names arms the design does not have",
                                     unknown, ", ".join(design.arm_codes)))
        return [int(n_per_arm.get(code, 0)) for code in design.arm_codes]
    counts = [int(c) for c in n_per_arm]
    if len(counts) != len(design.arms):
        raise InputError(Problem("n_per_arm", "needs one count per arm", counts,
                                 f"{len(design.arms)} counts ({', '.join(design.arm_codes)})"))
    return counts


def simulate_trials(design: Design | Protocol, n_per_arm: int | Mapping[str, int] | Sequence[int],
                    n_trials: int, rng: np.random.Generator, scenario: Scenario | None = None,
                    assumptions: Assumptions | None = None,
                    instrument: str | None = None) -> TrialArrays:
    """Simulate ``n_trials`` trials of the design's primary endpoint (or ``instrument``)."""
    d = as_design(design)
    scenario = scenario or Scenario()
    a = assumptions or Assumptions()
    code = instrument or d.primary_instrument
    if code not in SIMULATED_INSTRUMENTS:
        raise InputError(Problem("instrument", "is not simulated", code,
                                 ", ".join(SIMULATED_INSTRUMENTS)))
    if not isinstance(n_trials, int) or n_trials < 1:
        raise InputError(Problem("n_trials", "must be a whole number of at least 1", n_trials,
                                 "1, 2, ..."))
    if not isinstance(rng, np.random.Generator):
        raise InputError(Problem("rng", "must be a seeded numpy Generator", type(rng).__name__,
                                 "numpy.random.default_rng(seed)"))
    counts = arm_counts(d, n_per_arm)
    seed = seed_record(rng)
    n = sum(counts)
    chunk = max(1, _CHUNK_PATIENTS // max(n, 1))
    avals, statuses = [], []
    for start in range(0, n_trials, chunk):
        cohort = simulate_cohort(d, counts, min(chunk, n_trials - start), rng, scenario, a,
                                 instruments=(code,))
        shape = (cohort.n_trials, n, len(d.visits))
        value = cohort.totals[code]
        observed = cohort.status == DONE
        if code == "mrs":
            observed |= cohort.status == DEAD
        avals.append(np.where(observed, value, np.nan).reshape(shape))
        statuses.append(cohort.status.reshape(shape))
    return TrialArrays(
        study_id=d.study_id, instrument=code, arm_codes=d.arm_codes,
        visit_codes=tuple(v.code for v in d.visits),
        visit_days=tuple(v.target_day for v in d.visits), baseline_index=d.baseline_index,
        primary_index=d.primary_index,
        arm=np.repeat(np.arange(len(counts)), counts), aval=np.concatenate(avals),
        status=np.concatenate(statuses), seed=seed, scenario=scenario, assumptions=a)
