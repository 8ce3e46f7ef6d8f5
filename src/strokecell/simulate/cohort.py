"""The one model behind both outputs: a cohort of virtual patients as arrays.

:func:`simulate_cohort` draws ``n_trials`` trials of eligible patients at once (patients in
trial order, arms in blocks within each trial), their visit days, treatment, latent
trajectories with the scenario's effect, rated totals and item values on each scale's grid,
deaths, dropout and missed visits. :func:`strokecell.simulate.simulate_trials` (power) and
:func:`strokecell.simulate.simulate_patients` (trial driver) both call it, so they agree.

Eligibility on baseline severity (e.g. MBI ≤ 60) is applied to the *rated* baseline (the item
sum the site would enter) by drawing candidates until enough are eligible.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import special

from strokecell.errors import InputError, Problem
from strokecell.simulate.assumptions import Assumptions, Barthel, FuglMeyer, Nihss
from strokecell.simulate.design import ArmDesign, Design
from strokecell.simulate.events import DEAD, death_days, visit_status
from strokecell.simulate.grids import ItemBlock, item_map, map_items
from strokecell.simulate.natural_history import LatentPatients, draw_latent, lesion_volume
from strokecell.simulate.scenario import Scenario, aspect_multiplier

__all__ = ["ITEM_INSTRUMENTS", "MAXIMA", "Cohort", "SeedRecord", "seed_record",
           "simulate_cohort"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
MAXIMA = {"mbi": 100.0, "fma_ue": 66.0, "fma_le": 34.0, "nihss": 42.0}
ITEM_INSTRUMENTS = tuple(MAXIMA)


@dataclass(frozen=True)
class SeedRecord:
    """Where the random numbers came from: the seed (SeedSequence entropy) and the
    generator state when the simulation started (enough to reproduce it exactly)."""

    entropy: int | None
    spawn_key: tuple[int, ...]
    state: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"seed": self.entropy, "spawn_key": list(self.spawn_key),
                "state": {k: (str(v) if isinstance(v, int) else v)
                          for k, v in self.state.get("state", {}).items()},
                "bit_generator": self.state.get("bit_generator")}


def seed_record(rng: np.random.Generator) -> SeedRecord:
    seq = getattr(rng.bit_generator, "seed_seq", None)
    entropy = getattr(seq, "entropy", None)
    spawn_key = tuple(getattr(seq, "spawn_key", ()))
    return SeedRecord(entropy if isinstance(entropy, int) else None, spawn_key,
                      dict(rng.bit_generator.state))


@dataclass
class Cohort:
    """P = n_trials × n patients; arrays of shape (P,) or (P, V) (V visits of the design)."""

    design: Design
    n_trials: int
    arm_counts: tuple[int, ...]
    arm: IntArray
    onset_day: IntArray  # relative to day 0 (negative)
    randomisation_day: IntArray  # relative to day 0 (0 unless day 0 is the administration)
    admin_day: IntArray  # first administration, relative to day 0; -1 in untreated arms
    visit_day: IntArray
    status: NDArray[np.int8]
    death_day: FloatArray
    dropout_day: FloatArray
    age: FloatArray
    male: NDArray[np.bool_]
    weight_kg: FloatArray
    effect_multiplier: FloatArray
    latent: LatentPatients
    scores: dict[str, FloatArray]  # latent totals incl. the effect, before rating noise
    totals: dict[str, FloatArray]  # rated totals (every visit, whatever its status)
    items: dict[str, ItemBlock] = field(default_factory=dict)

    @property
    def n_per_trial(self) -> int:
        return sum(self.arm_counts)


def _truncated_normal(mean: float, sd: float, low: float, high: float, n: int,
                      rng: np.random.Generator) -> FloatArray:
    a, b = special.ndtr((low - mean) / sd), special.ndtr((high - mean) / sd)
    out: FloatArray = mean + sd * special.ndtri(a + (b - a) * rng.random(n))
    return np.clip(out, low, high)


def _randomisation_days(design: Design) -> tuple[int, int]:
    low, high = math.ceil(design.onset_range[0]), math.floor(design.onset_range[1])
    ends = [math.floor(a.timing_days[1]) for a in design.arms if a.timing_days]
    if ends:
        high = min(high, min(ends))
    if high < low:
        raise InputError(Problem("eligibility.onset_max_days", "no randomisation day after "
                                 "onset leaves time to treat inside the arms' windows",
                                 design.onset_range, f"an onset window reaching day {low}"))
    return low, high


def _uniform_int(low: IntArray, high: IntArray, rng: np.random.Generator) -> IntArray:
    out: IntArray = low + np.floor(rng.random(low.shape) * (high - low + 1)).astype(np.int64)
    return out


def _admin_days(arm: ArmDesign, rand_after_onset: IntArray,
                rng: np.random.Generator) -> IntArray:
    """Administration day after onset, inside the arm's window and not before randomisation."""
    if arm.timing_days is None:
        return rand_after_onset.copy()
    low = np.maximum(rand_after_onset, math.ceil(arm.timing_days[0]))
    high = np.full(low.shape, math.floor(arm.timing_days[1]))
    return _uniform_int(low, np.maximum(high, low), rng)


def _visit_days(design: Design, n: int, a: Assumptions, rng: np.random.Generator) -> IntArray:
    days = np.empty((n, len(design.visits)), dtype=np.int64)
    for k, visit in enumerate(design.visits):
        lo, hi = visit.window
        if a.visits.jitter == "none" or lo == hi:
            days[:, k] = visit.target_day
        elif a.visits.jitter == "uniform" or visit.baseline:
            days[:, k] = _uniform_int(np.full(n, lo), np.full(n, hi), rng)
        else:
            mode = min(max(visit.target_day, lo), hi)
            days[:, k] = np.rint(rng.triangular(lo - 0.5, mode, hi + 0.5, n)).clip(lo, hi)
    return days


def _select_latent(latent: LatentPatients, keep: NDArray[np.bool_] | IntArray) -> LatentPatients:
    return LatentPatients(**{f.name: getattr(latent, f.name)[keep] for f in fields(latent)})


def _concat_latent(parts: Sequence[LatentPatients]) -> LatentPatients:
    return LatentPatients(**{f.name: np.concatenate([getattr(p, f.name) for p in parts])
                             for f in fields(LatentPatients)})


def _noise_sd(instrument: str, a: Assumptions) -> tuple[float, float, float]:
    """(rating SD on the total, item offset SD, item visit SD)."""
    g: Barthel | Nihss | FuglMeyer = a.fugl_meyer
    if instrument == "mbi":
        g = a.barthel
    elif instrument == "nihss":
        g = a.nihss
    return g.measurement_sd, g.item_offset_sd, g.item_visit_sd


@dataclass
class _Draws:
    """One instrument's rating draws of P patients that the baseline visit must reuse: the
    rating noise on the baseline total, the persistent item offsets, the baseline item noise.
    So the baseline a site enters is the one that was screened for eligibility."""

    noise0: FloatArray
    persistent: NDArray[np.float32]
    visit0: NDArray[np.float32]

    def select(self, keep: NDArray[np.bool_] | IntArray) -> _Draws:
        return _Draws(self.noise0[keep], self.persistent[keep], self.visit0[keep])

    @staticmethod
    def concat(parts: Sequence[_Draws]) -> _Draws:
        return _Draws(*(np.concatenate([getattr(p, f) for p in parts])
                        for f in ("noise0", "persistent", "visit0")))


def _n_items(instrument: str, a: Assumptions) -> int:
    return len(item_map(instrument, a).items)


def _draw_rating(instrument: str, n: int, a: Assumptions, rng: np.random.Generator) -> _Draws:
    sd, offset_sd, visit_sd = _noise_sd(instrument, a)
    j = _n_items(instrument, a)
    return _Draws(sd * rng.standard_normal(n),
                  offset_sd * rng.standard_normal((n, j), dtype=np.float32),
                  visit_sd * rng.standard_normal((n, j), dtype=np.float32))


def _rate(instrument: str, latent: FloatArray, left: NDArray[np.bool_], a: Assumptions,
          rng: np.random.Generator, draws: _Draws, baseline: int) -> tuple[FloatArray, ItemBlock]:
    """Rated items of ``instrument`` for latent totals of shape (P, V)."""
    top = MAXIMA[instrument]
    sd, _, visit_sd = _noise_sd(instrument, a)
    j = draws.persistent.shape[1]
    noise = sd * rng.standard_normal(latent.shape)
    noise[:, baseline] = draws.noise0
    visit = visit_sd * rng.standard_normal((*latent.shape, j), dtype=np.float32)
    visit[:, baseline] = draws.visit0
    offsets = draws.persistent[:, None, :] + visit
    theta = np.clip(latent + noise, 0.0, top) / top
    if instrument != "nihss":
        block = map_items(item_map(instrument, a), theta, offsets)
    else:
        left_block = map_items(item_map("nihss", a, "left"), theta, offsets)
        right_block = map_items(item_map("nihss", a, "right"), theta, offsets)
        values = {code: np.where(left[:, None], v, right_block.values[code])
                  for code, v in left_block.values.items()}
        block = ItemBlock("nihss", values)
    return block.total().astype(float), block


def _components(instrument: str) -> tuple[str, ...]:
    return ("fma_ue", "fma_le") if instrument == "fma_total" else (instrument,)


def _eligible_mask(design: Design, latent: LatentPatients, draws: dict[str, _Draws],
                   a: Assumptions, rng: np.random.Generator) -> NDArray[np.bool_]:
    ok = np.ones(latent.severity.shape, dtype=bool)
    for instrument, low, high in design.severity:
        if instrument in MAXIMA or instrument == "fma_total":
            value = sum(_rate(part, _baseline_latent(part, latent)[:, None],
                              latent.left_hemisphere, a, rng, draws[part], 0)[0][:, 0]
                        for part in _components(instrument))
        else:
            value = _baseline_latent(instrument, latent)
        if low is not None:
            ok &= value >= low
        if high is not None:
            ok &= value <= high
    return ok


def _baseline_latent(instrument: str, latent: LatentPatients) -> FloatArray:
    return {"mbi": latent.mbi0, "fma_ue": latent.ue0, "fma_le": latent.le0,
            "nihss": latent.nihss0, "lesion_volume": latent.lesion_onset_ml,
            "mrs": np.clip(5.0 - latent.mbi0 / 20.0, 0, 5)}.get(instrument, latent.mbi0)


def _eligible_latent(n: int, design: Design, a: Assumptions, ich: bool,
                     rng: np.random.Generator) -> tuple[LatentPatients, dict[str, _Draws]]:
    """Latent patients whose rated baseline meets the protocol's severity criteria, with the
    rating draws of the screened instruments (reused for the baseline visit)."""
    screened = [part for instrument, _, _ in design.severity if instrument in MAXIMA
                or instrument == "fma_total" for part in _components(instrument)]
    screened = list(dict.fromkeys(screened))
    if not design.severity:
        return draw_latent(n, a, ich, rng), {}
    parts: list[tuple[LatentPatients, dict[str, _Draws]]] = []
    have, accept = 0, 1.0
    for _ in range(60):
        m = int((n - have) / accept * 1.1) + 16
        candidates = draw_latent(m, a, ich, rng)
        draws = {code: _draw_rating(code, m, a, rng) for code in screened}
        ok = _eligible_mask(design, candidates, draws, a, rng)
        accept = max(float(ok.mean()), 0.01)
        parts.append((_select_latent(candidates, ok),
                      {code: d.select(ok) for code, d in draws.items()}))
        have += int(ok.sum())
        if have >= n:
            keep = np.arange(n)
            latent = _select_latent(_concat_latent([p[0] for p in parts]), keep)
            merged = {code: _Draws.concat([p[1][code] for p in parts]).select(keep)
                      for code in screened}
            return latent, merged
    raise InputError(Problem("eligibility.baseline_severity", "almost no simulated patient "
                             "meets the baseline severity criteria", list(design.severity),
                             "ranges that the natural-history model's baselines reach"))


def simulate_cohort(design: Design, arm_counts: Sequence[int], n_trials: int,
                    rng: np.random.Generator, scenario: Scenario | None = None,
                    assumptions: Assumptions | None = None,
                    instruments: Sequence[str] = ("mbi",), keep_items: bool = False) -> Cohort:
    """Draw ``n_trials`` trials with ``arm_counts[i]`` patients in ``design.arms[i]``."""
    a = assumptions or Assumptions()
    scenario = scenario or Scenario()
    counts = tuple(int(c) for c in arm_counts)
    if len(counts) != len(design.arms) or min(counts, default=0) < 0 or sum(counts) < 1:
        raise InputError(Problem("n_per_arm", "needs one non-negative count per arm, at least "
                                 "one patient", list(arm_counts), f"{len(design.arms)} counts"))
    n = n_trials * sum(counts)
    ich = design.condition == "intracerebral_haemorrhage"
    latent, screened = _eligible_latent(n, design, a, ich, rng)
    arm = np.tile(np.repeat(np.arange(len(counts)), counts), n_trials)
    pop = a.population

    # Time line: onset, randomisation, administration, visits (all relative to day 0).
    r_low, r_high = _randomisation_days(design)
    rand_after_onset = _uniform_int(np.full(n, r_low), np.full(n, r_high), rng)
    admin_after_onset = np.full(n, -1, dtype=np.int64)
    for i, spec in enumerate(design.arms):
        # Drawn for every patient, so that the random stream (and so every patient's course)
        # does not depend on the arm sizes: the same seed gives each patient's course under
        # each arm (simulate_patients relies on this).
        if spec.cell_therapy:
            days = _admin_days(spec, rand_after_onset, rng)
            admin_after_onset = np.where(arm == i, days, admin_after_onset)
    zero_after_onset = rand_after_onset.copy()
    if design.day_zero == "first_administration":
        zero_after_onset = np.where(admin_after_onset >= 0, admin_after_onset,
                                    rand_after_onset)
    onset_day = -zero_after_onset
    admin_day = np.where(admin_after_onset >= 0, admin_after_onset - zero_after_onset, -1)
    visit_day = _visit_days(design, n, a, rng)
    b = design.baseline_index
    dt = (visit_day - visit_day[:, [b]]).astype(float)

    age = _truncated_normal(pop.age_mean_years, pop.age_sd_years, design.age_range[0],
                            design.age_range[1] + 0.999, n, rng)
    male = rng.random(n) < pop.male_fraction
    weight = np.round(_truncated_normal(pop.weight_mean_kg, pop.weight_sd_kg, pop.weight_min_kg,
                                        pop.weight_max_kg, n, rng), 1)

    # Latent curves and the treatment effect.
    fm = a.fugl_meyer
    scores: dict[str, FloatArray] = {
        "mbi": latent.mbi(dt),
        "fma_ue": latent.fma("fma_ue", dt, 7.0 * fm.tau_weeks),
        "fma_le": latent.fma("fma_le", dt, 7.0 * fm.tau_weeks),
        "nihss": latent.nihss(dt, 7.0 * a.nihss.tau_weeks),
    }
    multiplier = np.zeros(n)
    primary_day = design.visits[design.primary_index].target_day
    for i, spec in enumerate(design.arms):
        if not scenario.receives(spec) or scenario.is_null:
            continue
        rows = np.flatnonzero(arm == i)
        mult = aspect_multiplier(spec, a.effect_modifiers,
                                 admin_after_onset[rows].astype(float), weight[rows])
        multiplier[rows] = mult
        since = (visit_day[rows] - np.maximum(admin_day[rows], 0)[:, None]).astype(float)
        ref = primary_day - _typical_admin_day(design, spec)
        shape = scenario.shape(since, ref)
        for instrument in scores:
            effect = scenario.effect_on(instrument)
            if effect:
                scores[instrument][rows] += effect * mult[:, None] * shape
    for instrument, top in MAXIMA.items():
        scores[instrument] = np.clip(scores[instrument], 0.0, top)

    # Ratings on the grids: one random stream per instrument, always split off, so that an
    # instrument's values do not depend on which others are rated (power rates one, the
    # trial driver all of them, and both see the same numbers for the same seed).
    names = (*ITEM_INSTRUMENTS, "mrs", "lesion_volume")
    streams = dict(zip(names, (np.random.default_rng(int(s)) for s in rng.integers(
        0, 2 ** 63, len(names))), strict=True))
    wanted = set(instruments)
    if "fma_total" in wanted:
        wanted |= {"fma_ue", "fma_le"}
    if a.dropout.mechanism == "mar":
        wanted.add("mbi")  # dropout depends on the MBI as rated
    totals: dict[str, FloatArray] = {}
    items: dict[str, ItemBlock] = {}
    for instrument in ITEM_INSTRUMENTS:
        if instrument in wanted:
            stream = streams[instrument]
            draws = screened.get(instrument) or _draw_rating(instrument, n, a, stream)
            totals[instrument], block = _rate(instrument, scores[instrument],
                                              latent.left_hemisphere, a, stream, draws, b)
            if keep_items:
                items[instrument] = block
    if "fma_total" in wanted:
        totals["fma_total"] = totals["fma_ue"] + totals["fma_le"]

    # Deaths, dropout, missed visits.
    death = death_days(latent.severity, a.deaths, rng)
    status, dropout = visit_status(visit_day, b, death, totals.get("mbi", scores["mbi"]),
                                   scores["mbi"], a.dropout, rng)
    if "mrs" in wanted:
        totals["mrs"] = _rankin(scores, status, a, streams["mrs"])
    if "lesion_volume" in wanted:
        volume = lesion_volume(latent.lesion_onset_ml, (visit_day - onset_day[:, None]).astype(
            float), a, ich)
        noise = streams["lesion_volume"].standard_normal(volume.shape)
        noisy = volume * (1.0 + a.lesion.measurement_cv * noise)
        totals["lesion_volume"] = np.round(np.clip(noisy, 0.0, 500.0), 1).astype(np.float64)
    return Cohort(design=design, n_trials=n_trials, arm_counts=counts, arm=arm,
                  onset_day=onset_day, randomisation_day=rand_after_onset - zero_after_onset,
                  admin_day=admin_day, visit_day=visit_day,
                  status=status, death_day=death, dropout_day=dropout, age=age, male=male,
                  weight_kg=weight, effect_multiplier=multiplier, latent=latent, scores=scores,
                  totals=totals, items=items)


def _typical_admin_day(design: Design, arm: ArmDesign) -> float:
    """Mean first administration day (relative to day 0) of ``arm``, for the effect scale."""
    if design.day_zero == "first_administration" or arm.timing_days is None:
        return 0.0
    r_low, r_high = _randomisation_days(design)
    t_low, t_high = math.ceil(arm.timing_days[0]), math.floor(arm.timing_days[1])
    delays = []
    for r in range(r_low, r_high + 1):
        low = max(r, t_low)
        delays.append((low + max(t_high, low)) / 2.0 - r)
    return float(np.mean(delays))


def _rankin(scores: dict[str, FloatArray], status: NDArray[np.int8], a: Assumptions,
            rng: np.random.Generator) -> FloatArray:
    r = a.rankin
    s = scores["mbi"] + r.noise_sd * rng.standard_normal(scores["mbi"].shape)
    mrs = np.select([s < r.cut_5_below, s < r.cut_4_below, s < r.cut_3_below,
                     s < r.cut_2_below, s < r.cut_1_below], [5.0, 4.0, 3.0, 2.0, 1.0], 0.0)
    mrs = np.where((mrs == 0.0) & (scores["nihss"] >= 0.5), 1.0, mrs)
    out: FloatArray = np.where(status == DEAD, 6.0, mrs)
    return out
