"""Monte-Carlo power of a protocol's primary analysis (``strokecell power``).

For each total sample size: split it by the protocol's allocation ratio, simulate
``sims`` trials of the primary endpoint from the virtual-patient model
(:func:`~strokecell.simulate.simulate_trials`, no database), and analyse every trial with
the primary analysis: MMRM on the change from baseline, ``CHG ~ ARM * VISIT + BASE``,
unstructured covariance, REML, Satterthwaite df, the contrast cell-therapy arm - control at
the primary visit, two-sided at ``alpha``. The fits are vectorised over trials
(:func:`~strokecell.stats.mmrm.fit_mmrm_vectorized`) and spread over processes (or Dask).

A trial whose design is not estimable, or whose fit does not converge from either of the
engine's two starting values (by the engine's criterion: largest gradient entry below 1e-3
and a positive definite Hessian), is a failed fit: counted (``n_failed_fits``), left out of
every rate, never used. The protocol's covariance fallbacks and Kenward-Roger df (its
``analysis`` block) are recorded in the settings but not applied: issue 7 asks for the
unstructured MMRM with Satterthwaite df.

When a scenario has an effect, the same trials are also simulated without it (same seed,
so the same virtual patients: common random numbers) to report the type I error.

The true effect against which bias and coverage are measured is the scenario's effect on
the analysed instrument at the primary visit (the model scales its time course to 1 there),
times the mean aspect multiplier of the treated arm (1 with the default assumptions). It is
defined on the latent scale: ceiling and floor, rounding to the item grid and each patient's
visit-day jitter make the observed difference slightly different, which shows as bias.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from typing import Protocol as TypingProtocol

import numpy as np
import numpy.typing as npt

from strokecell.errors import InputError, Problem
from strokecell.protocol import Protocol
from strokecell.simulate.assumptions import Assumptions, EffectModifiers
from strokecell.simulate.cohort import simulate_cohort
from strokecell.simulate.design import Design, as_design
from strokecell.simulate.scenario import EFFECT_INSTRUMENTS, Scenario
from strokecell.simulate.trials import _CHUNK_PATIENTS, TrialArrays, simulate_trials

__all__ = ["PowerResult", "SampleSizeResult", "clopper_pearson", "parse_sample_sizes",
           "power_plot", "run_power", "split_by_ratio", "true_effect"]

Array = npt.NDArray[np.float64]
Part = dict[str, npt.NDArray[Any]]   # one task's per-trial estimate, se, df, ok
FORMULA = "CHG ~ ARMCD * AVISIT + BASE + us(AVISIT | USUBJID)"
_SUBJECTS_PER_TASK = 22_500   # trials per task = this / subjects per trial (500 at n = 45)
_MIN_PER_ARM = 2


# ---- inputs ----------------------------------------------------------------------------------

def parse_sample_sizes(text: str, *, option: str = "--n") -> list[int]:
    """``"45"``, ``"20,45,90"`` or ``"20:200:20"`` (start:stop:step, stop included)."""
    allowed = "N, N1,N2,... or START:STOP:STEP with whole numbers, START <= STOP, STEP >= 1"
    raw = text.strip()
    try:
        parts = [int(p) for p in raw.split(":")] if ":" in raw else None
        values = [int(p) for p in raw.split(",") if p.strip()] if parts is None else []
    except ValueError:
        raise InputError(Problem(option, "is not a sample size or range", text,
                                 allowed)) from None
    if parts is not None:
        if len(parts) != 3:
            raise InputError(Problem(option, "a range needs three parts", text, allowed))
        start, stop, step = parts
        if step < 1:
            raise InputError(Problem(option, "the step must be at least 1", text, allowed))
        if start > stop:
            raise InputError(Problem(option, "the start is larger than the stop", text,
                                     allowed))
        values = list(range(start, stop + 1, step))
    if any(v < 1 for v in values):
        raise InputError(Problem(option, "sample sizes must be positive", text, allowed))
    if not values:
        raise InputError(Problem(option, "gives no sample size", text, allowed))
    return sorted(set(values))


def split_by_ratio(n_total: int, design: Design) -> dict[str, int]:
    """Patients per arm for ``n_total`` randomised in the protocol's allocation ratio.

    Largest remainders; ties go to control arms first (45 at 1:1 is 23 control, 22 treated,
    as in the reference trial), then to the protocol's order.
    """
    ratios = [a.ratio for a in design.arms]
    total = sum(ratios)
    exact = [n_total * r / total for r in ratios]
    counts = [math.floor(e) for e in exact]
    order = sorted(range(len(ratios)), key=lambda i: (-(exact[i] - counts[i]),
                                                      design.arms[i].cell_therapy, i))
    for i in order[: n_total - sum(counts)]:
        counts[i] += 1
    return dict(zip(design.arm_codes, counts, strict=True))


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) binomial confidence interval for k successes in n."""
    from scipy import stats

    if n <= 0:
        return (math.nan, math.nan)
    a = 1.0 - level
    lo = 0.0 if k == 0 else float(stats.beta.ppf(a / 2.0, k, n - k + 1))
    hi = 1.0 if k == n else float(stats.beta.ppf(1.0 - a / 2.0, k + 1, n - k))
    return lo, hi


def _modifiers_trivial(m: EffectModifiers) -> bool:
    return (not any(v != 1.0 for v in m.cell_type.values())
            and not any(v != 1.0 for v in m.phase.values())
            and not any(v != 1.0 for v in m.route.values()) and m.dose_exponent == 0.0)


def true_effect(design: Design, scenario: Scenario, assumptions: Assumptions, instrument: str,
                treated: str, seed: int = 0) -> float | None:
    """The effect (treated - control) the primary contrast estimates, from the scenario.

    ``Scenario.effects`` at the primary visit (the time course is scaled to 1 there) on the
    analysed instrument (``fma_total`` = UE + LE), times the mean aspect multiplier of the
    treated arm: exactly 1 with the default assumptions, otherwise averaged over 20,000
    patients of the model (seeded with ``seed``). ``None`` for an instrument the scenario
    cannot shift directly (mRS, lesion volume).
    """
    if instrument == "fma_total":
        base = scenario.effect_on("fma_ue") + scenario.effect_on("fma_le")
    elif instrument in EFFECT_INSTRUMENTS:
        base = scenario.effect_on(instrument)
    else:
        return None if not scenario.is_null else 0.0
    arm = design.arm(treated)
    if base == 0.0 or not scenario.receives(arm):
        return 0.0
    if _modifiers_trivial(assumptions.effect_modifiers):
        return float(base)
    counts = [20_000 if a.code == treated else 0 for a in design.arms]
    cohort = simulate_cohort(design, counts, 1, np.random.default_rng(
        np.random.SeedSequence(seed, spawn_key=(0,))), scenario, assumptions,
        instruments=(instrument,) if instrument != "fma_total" else ("fma_ue",))
    return float(base * np.mean(cohort.effect_multiplier))


def _analysis_arms(design: Design, scenario: Scenario) -> tuple[str, str]:
    """(treated, control): the first arm the scenario treats, and the first control arm."""
    controls = [a.code for a in design.arms if not a.cell_therapy]
    if scenario.arms:
        controls = [c for c in controls if c not in scenario.arms] or controls
    treated = [a.code for a in design.arms if scenario.receives(a)] or [
        a.code for a in design.arms if a.cell_therapy]
    if not controls or not treated:
        raise InputError(Problem("arms", "power needs a cell-therapy arm and a control arm",
                                 list(design.arm_codes), "one of each"))
    return treated[0], controls[0]


# ---- the work of one task: many trials of one sample size ------------------------------------

@dataclass(frozen=True)
class _Task:
    chg: Array              # (B, n, T) post-baseline visits
    base: Array             # (B, n)
    arm: npt.NDArray[np.int64]
    arm_codes: tuple[str, ...]
    visit_codes: tuple[str, ...]   # post-baseline visits, in order
    treated: int
    control: int
    primary: int            # index into visit_codes


def fit_task(task: _Task) -> Part:
    """Vectorised fits of a block of trials (runs in a worker process, one BLAS thread)."""
    from strokecell.stats.mmrm import arm_visit_contrast, arm_visit_design, fit_mmrm_vectorized
    from strokecell.stats.mmrm._threads import single_thread_blas

    with single_thread_blas():
        x, names = arm_visit_design(task.arm, task.base, len(task.visit_codes),
                                    len(task.arm_codes), task.control)
        lvec = arm_visit_contrast(names, task.treated, task.primary)
        fit = fit_mmrm_vectorized(task.chg, x, lvec)
    return {"estimate": fit.estimate, "se": fit.se, "df": fit.df,
            "ok": fit.converged & fit.estimable}


# ---- executors --------------------------------------------------------------------------------

class _Future(TypingProtocol):
    def result(self) -> Any: ...


class _Runner(TypingProtocol):
    description: str

    def submit(self, task: _Task) -> _Future: ...

    def close(self) -> None: ...


class _Done:
    def __init__(self, value: Any) -> None:
        self._value = value

    def result(self) -> Any:
        return self._value


class _InProcess:
    description = "in process (1 worker)"

    def submit(self, task: _Task) -> _Future:
        return _Done(fit_task(task))

    def close(self) -> None:
        pass


class _Processes:
    def __init__(self, workers: int) -> None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # fork: workers start at the first submit, before any progress-bar thread, and
        # need no importable __main__ (spawn elsewhere)
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        if method == "fork":  # import once here: the forked workers inherit it
            import scipy.stats  # noqa: F401

            import strokecell.stats.mmrm  # noqa: F401
        self._pool = ProcessPoolExecutor(max_workers=workers,
                                         mp_context=multiprocessing.get_context(method))
        self.description = f"ProcessPoolExecutor ({workers} workers, 1 BLAS thread each)"
        self._pool.submit(int).result()   # start the workers now (fork: all at once)

    def submit(self, task: _Task) -> _Future:
        return self._pool.submit(fit_task, task)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class _Dask:
    def __init__(self, address: str | None, workers: int) -> None:
        import importlib

        try:  # optional: imported by name so that it types the same installed or not
            dask: Any = importlib.import_module("dask")
            distributed: Any = importlib.import_module("distributed")
        except ImportError:
            raise InputError(Problem("--scheduler" if address else "--dask",
                                     "needs the Dask distributed package", address or "local",
                                     "pip install 'dask[distributed]==2026.8.0'")) from None
        self._cluster: Any = None
        if address:
            try:
                self._client = distributed.Client(address, timeout="10s")
            except OSError as exc:
                raise InputError(Problem("--scheduler", f"cannot reach the scheduler: {exc}",
                                         address, "tcp://HOST:8786")) from None
        else:
            self._cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1,
                                                     processes=True, dashboard_address=None)
            self._client = distributed.Client(self._cluster)
        if address and not self._client.scheduler_info().get("workers"):
            self.close()
            raise InputError(Problem("--scheduler", "the scheduler has no workers", address,
                                     "a scheduler with at least one worker"))
        try:  # import the engine on every worker now (and fail early where it is missing)
            self._client.run(importlib.import_module, "strokecell.simulate.power")
            self._client.run(importlib.import_module, "strokecell.stats.mmrm")
        except Exception as exc:
            self.close()
            raise InputError(Problem("--scheduler" if address else "--dask",
                                     f"the Dask workers cannot import strokecell: {exc}",
                                     address or "local", "workers with strokecell installed"
                                     )) from None
        where = f"scheduler {address}" if address else f"local cluster, {workers} workers"
        self.description = (f"Dask {dask.__version__} / distributed "
                             f"{distributed.__version__} ({where})")
        self.versions = {"dask": dask.__version__, "distributed": distributed.__version__}

    def submit(self, task: _Task) -> _Future:
        fut: _Future = self._client.submit(fit_task, task, pure=False)
        return fut

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


def _runner(workers: int, scheduler: str | None, use_dask: bool) -> _Runner:
    if scheduler or use_dask:
        return _Dask(scheduler, workers)
    if workers <= 1:
        return _InProcess()
    return _Processes(workers)


# ---- results ---------------------------------------------------------------------------------

@dataclass
class _Rates:
    rejection_rate: float | None
    rejection_rate_ci: tuple[float, float] | None
    n_rejected: int
    n_analysed: int
    n_failed_fits: int
    mean_estimate: float | None
    sd_estimate: float | None
    mean_se: float | None
    bias: float | None
    coverage: float | None
    coverage_ci: tuple[float, float] | None


def _summarise(parts: list[Part], alpha: float, truth: float | None) -> _Rates:
    from scipy import stats

    est = np.concatenate([p["estimate"] for p in parts])
    se = np.concatenate([p["se"] for p in parts])
    df = np.concatenate([p["df"] for p in parts])
    ok = np.concatenate([p["ok"] for p in parts]) & np.isfinite(est) & np.isfinite(se) & (
        se > 0) & (df > 0)
    n_ok = int(ok.sum())
    failed = int(ok.size - n_ok)
    if n_ok == 0:
        return _Rates(None, None, 0, 0, failed, None, None, None, None, None, None)
    e, s, d = est[ok], se[ok], df[ok]
    pval = 2.0 * stats.t.sf(np.abs(e / s), d)
    k = int(np.sum(pval < alpha))
    q = stats.t.ppf(1.0 - alpha / 2.0, d)
    mean = float(np.mean(e))
    bias = coverage = None
    cov_ci = None
    if truth is not None:
        bias = mean - truth
        covered = int(np.sum((e - q * s <= truth) & (truth <= e + q * s)))
        coverage = covered / n_ok
        cov_ci = clopper_pearson(covered, n_ok)
    return _Rates(k / n_ok, clopper_pearson(k, n_ok), k, n_ok, failed, mean,
                  float(np.std(e, ddof=1)) if n_ok > 1 else None, float(np.mean(s)), bias,
                  coverage, cov_ci)


@dataclass
class SampleSizeResult:
    """One sample size: power (or type I error without effect) and the estimate's behaviour."""

    n_total: int
    n_per_arm: dict[str, int]
    seed: dict[str, Any]
    effect: _Rates
    null: _Rates | None       # the same trials without the effect (type I error)
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        e = self.effect
        out: dict[str, Any] = {
            "n_total": self.n_total, "n_per_arm": self.n_per_arm,
            "rejection_rate": e.rejection_rate,
            "rejection_rate_ci": list(e.rejection_rate_ci) if e.rejection_rate_ci else None,
            "n_rejected": e.n_rejected, "n_analysed": e.n_analysed,
            "mean_estimate": e.mean_estimate, "sd_estimate": e.sd_estimate,
            "mean_se": e.mean_se, "bias": e.bias, "coverage": e.coverage,
            "coverage_ci": list(e.coverage_ci) if e.coverage_ci else None,
            "n_failed_fits": e.n_failed_fits,
        }
        if self.null is not None:
            n = self.null
            out.update({
                "type1_error": n.rejection_rate,
                "type1_error_ci": list(n.rejection_rate_ci) if n.rejection_rate_ci else None,
                "n_failed_fits_null": n.n_failed_fits,
                "null_mean_estimate": n.mean_estimate, "null_coverage": n.coverage})
        else:
            out.update({"type1_error": e.rejection_rate,
                        "type1_error_ci": out["rejection_rate_ci"]})
        out["seed"] = self.seed
        out["seconds"] = self.seconds
        return out


@dataclass
class PowerResult:
    settings: dict[str, Any]
    results: list[SampleSizeResult] = field(default_factory=list)

    @property
    def has_effect(self) -> bool:
        return bool(self.settings["has_effect"])

    @property
    def smallest_n_for_target(self) -> int | None:
        """Smallest n whose power reaches the target (None without effect or if none does)."""
        if not self.has_effect:
            return None
        target = float(self.settings["target_power"])
        for r in sorted(self.results, key=lambda r: r.n_total):
            if r.effect.rejection_rate is not None and r.effect.rejection_rate >= target:
                return r.n_total
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"settings": self.settings, "results": [r.to_dict() for r in self.results],
                "smallest_n_for_target": self.smallest_n_for_target}


# ---- the workflow ----------------------------------------------------------------------------

Progress = Callable[[int, int, str], None]   # (trials done, total, description)


def run_power(protocol: Protocol | Design, n_totals: Sequence[int], sims: int, *, seed: int,
              scenario: Scenario | None = None, assumptions: Assumptions | None = None,
              alpha: float | None = None, target_power: float = 0.8, workers: int = 2,
              scheduler: str | None = None, use_dask: bool = False,
              null: bool = True, progress: Progress | None = None) -> PowerResult:
    """Simulate and analyse ``sims`` trials at each total sample size; see the module doc.

    Trials of sample size n use the seed ``SeedSequence(seed, spawn_key=(n,))``, so a
    sample size's results do not depend on the others in the grid, nor on the number of
    workers.
    """
    design = as_design(protocol)
    scenario = scenario or Scenario()
    a = assumptions or Assumptions()
    analysis = protocol.analysis if isinstance(protocol, Protocol) else None
    if alpha is None:
        alpha = float(analysis.alpha) if analysis is not None else 0.05
    problems = []
    if not 0.0 < alpha < 1.0:
        problems.append(Problem("--alpha", "must be between 0 and 1", alpha, "e.g. 0.05"))
    if not 0.0 < target_power < 1.0:
        problems.append(Problem("--target-power", "must be between 0 and 1", target_power,
                                "e.g. 0.8"))
    if sims < 1:
        problems.append(Problem("--sims", "must be at least 1", sims, "1, 2, ..."))
    if workers < 1:
        problems.append(Problem("--workers", "must be at least 1", workers, "1, 2, ..."))
    splits = {n: split_by_ratio(n, design) for n in n_totals}
    small = [n for n, s in splits.items() if min(s.values()) < _MIN_PER_ARM]
    if small:
        ratio = ":".join(str(a_.ratio) for a_ in design.arms)
        least = _MIN_PER_ARM * sum(x.ratio for x in design.arms)
        problems.append(Problem("--n", f"gives fewer than {_MIN_PER_ARM} patients in an arm "
                                f"(allocation {ratio})", small, f"totals of at least {least}"))
    if problems:
        raise InputError(problems)
    treated, control = _analysis_arms(design, scenario)
    instrument = design.primary_instrument
    truth = true_effect(design, scenario, a, instrument, treated, seed)
    has_effect = not scenario.is_null
    run_null = null and has_effect
    post = [i for i, v in enumerate(design.visits) if not v.baseline]
    visit_codes = tuple(design.visits[i].code for i in post)
    primary = post.index(design.primary_index)

    runner = _runner(workers, scheduler, use_dask)
    scenarios = [("effect", scenario)] + ([("null", Scenario())] if run_null else [])
    total = sims * len(n_totals) * len(scenarios)
    done = 0
    results: list[SampleSizeResult] = []
    sim_settings: dict[str, Any] | None = None
    started = time.perf_counter()
    def finish(item: tuple[int, dict[str, list[_Future]], float]) -> SampleSizeResult:
        nonlocal done
        n, futures, t0 = item
        parts: dict[str, list[Part]] = {}
        for label, futs in futures.items():
            parts[label] = []
            for fut in futs:
                part = fut.result()
                parts[label].append(part)
                done += int(part["estimate"].size)
                if progress:
                    progress(done, total, f"n={n} ({label})")
        return SampleSizeResult(
            n_total=n, n_per_arm=splits[n], seed={"seed": seed, "spawn_key": [n]},
            effect=_summarise(parts["effect"], alpha, truth),
            null=_summarise(parts["null"], alpha, 0.0) if run_null else None,
            seconds=time.perf_counter() - t0)

    try:
        # simulate sample size k+1 while the workers fit sample size k
        pending: list[tuple[int, dict[str, list[_Future]], float]] = []
        for n in n_totals:
            t0 = time.perf_counter()
            futures: dict[str, list[_Future]] = {}
            for label, scen in scenarios:
                rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(n,)))
                futures[label] = []
                # blocks of simulate_trials' own chunk size draw the same numbers as one
                # call for all trials; the workers start on a block while the next is drawn
                block = max(1, _CHUNK_PATIENTS // n)
                for start in range(0, sims, block):
                    arrays = simulate_trials(design, splits[n], min(block, sims - start), rng,
                                             scenario=scen, assumptions=a,
                                             instrument=instrument)
                    if sim_settings is None:
                        sim_settings = arrays.settings()
                    futures[label] += [runner.submit(t) for t in _tasks(
                        arrays, post, visit_codes, treated, control, primary)]
            pending.append((n, futures, t0))
            if len(pending) > 1:
                results.append(finish(pending.pop(0)))
        while pending:
            results.append(finish(pending.pop(0)))
    finally:
        runner.close()
    elapsed = time.perf_counter() - started
    settings = _settings(protocol, design, scenario, a, n_totals, sims, seed, alpha,
                         target_power, workers, runner, treated, control, instrument, truth,
                         run_null, sim_settings, elapsed, analysis)
    return PowerResult(settings=settings, results=sorted(results, key=lambda r: r.n_total))


def _tasks(arrays: TrialArrays, post: list[int], visit_codes: tuple[str, ...], treated: str,
           control: str, primary: int) -> Iterable[_Task]:
    n = arrays.n_per_trial
    per = max(1, _SUBJECTS_PER_TASK // max(n, 1))
    chg = arrays.chg[:, :, post]
    base = arrays.base
    codes = arrays.arm_codes
    for s in range(0, arrays.n_trials, per):
        yield _Task(chg=np.ascontiguousarray(chg[s:s + per]),
                    base=np.ascontiguousarray(base[s:s + per]), arm=arrays.arm,
                    arm_codes=codes, visit_codes=visit_codes, treated=codes.index(treated),
                    control=codes.index(control), primary=primary)


def _settings(protocol: Protocol | Design, design: Design, scenario: Scenario, a: Assumptions,
              n_totals: Sequence[int], sims: int, seed: int, alpha: float,
              target_power: float, workers: int, runner: _Runner, treated: str, control: str,
              instrument: str, truth: float | None, run_null: bool,
              sim_settings: dict[str, Any] | None, elapsed: float, analysis: Any
              ) -> dict[str, Any]:
    import platform

    import scipy

    sim = dict(sim_settings or {})
    sim.pop("n_trials", None)
    sim.pop("arms", None)
    seed_info = sim.pop("seed", None)
    out: dict[str, Any] = {
        "study_id": design.study_id,
        "n_totals": list(n_totals), "sims": sims, "seed": seed,
        "seed_scheme": "numpy SeedSequence(seed, spawn_key=(n_total,)) per sample size; the "
                       "null run reuses it (common random numbers)",
        "first_generator": seed_info,
        "alpha": alpha, "target_power": target_power, "has_effect": not scenario.is_null,
        "effect": dict(scenario.effects), "true_effect": truth,
        "true_effect_definition": "scenario effect on the instrument at the primary visit x "
                                  "mean aspect multiplier of the treated arm (latent scale)",
        "type1_from_null_run": run_null,
        "analysis": {
            "model": "MMRM", "formula": FORMULA, "outcome": "CHG (change from baseline)",
            "covariance": "us", "reml": True, "df": "satterthwaite",
            "contrast": f"{treated} - {control} at {design.visits[design.primary_index].code}",
            "test": "two-sided t test of the contrast", "instrument": instrument,
            "failed_fits": "not estimable, or not converged from either start (gradient "
                           "below 1e-3 and positive definite Hessian, as fit_mmrm); counted, "
                           "left out of every rate",
            "protocol_analysis": analysis.model_dump(mode="json") if analysis is not None
            else None,
        },
        "simulation": sim,
        "execution": {"runner": runner.description, "workers": workers,
                      "seconds": elapsed, "python": platform.python_version(),
                      "numpy": np.__version__, "scipy": scipy.__version__},
    }
    versions = getattr(runner, "versions", None)
    if versions:
        out["execution"].update(versions)
    return out


# ---- plot -------------------------------------------------------------------------------------

def power_plot(result: PowerResult, path: str) -> None:
    """Power curve (with exact 95% CIs), the type I error and the target line, as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in result.results if r.effect.rejection_rate is not None]
    n = np.array([r.n_total for r in rows], dtype=float)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    s = result.settings
    if rows:
        rate = np.array([r.effect.rejection_rate or 0.0 for r in rows])
        lo = np.array([(r.effect.rejection_rate_ci or (0.0, 0.0))[0] for r in rows])
        hi = np.array([(r.effect.rejection_rate_ci or (0.0, 0.0))[1] for r in rows])
        label = "power" if result.has_effect else "type I error"
        ax.errorbar(n, rate, yerr=[rate - lo, hi - rate], marker="o", capsize=3, label=label)
        nulls = [r for r in rows if r.null is not None and r.null.rejection_rate is not None]
        if nulls:
            ax.plot([r.n_total for r in nulls],
                    [r.null.rejection_rate or 0.0 for r in nulls if r.null is not None],
                    marker="s", linestyle="--", label="type I error (no effect)")
    ax.axhline(s["alpha"], color="grey", linewidth=0.8, linestyle=":", label="alpha")
    if result.has_effect:
        ax.axhline(s["target_power"], color="red", linewidth=0.8, linestyle="--",
                   label=f"target {s['target_power']:g}")
        best = result.smallest_n_for_target
        if best is not None:
            ax.axvline(best, color="red", linewidth=0.6, linestyle=":")
    eff = ", ".join(f"{k.upper()} {v:+g}" for k, v in s["effect"].items()) or "no effect"
    ax.set_title(f"{s['study_id']}: {eff}, {s['sims']} trials per n (seed {s['seed']})")
    ax.set_xlabel("total randomised")
    ax.set_ylabel("rejection rate")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
