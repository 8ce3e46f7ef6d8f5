"""MMRM engine timings (issue 3): full fit + Satterthwaite df for every coefficient + LS means.

* ``fev``: fev_data.csv (200 subjects x 4 visits), FEV1 ~ ARMCD * AVISIT + RACE + SEX + us.
  Target <= 15 ms median (R mmrm publishes 56 ms; nlme::gls about 0.45 s).
* ``bcva``: bcva_data.csv (1000 x 10), BCVA_CHG ~ ARMCD * AVISIT + RACE + BCVA_BL + us.
  Target <= 1 s median (R mmrm 3.4 s; nlme::gls about 127 s).
* ``batch``: fit_mmrm_batch on 100 simulated trials of 45 subjects x 4 visits (seed 20261126).
* ``memory``: peak traced allocation of the bcva fit on 250, 500 and 1000 subjects.
"""

from __future__ import annotations

import statistics
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from strokecell.stats.mmrm import fit_mmrm, fit_mmrm_batch

DATA = Path(__file__).resolve().parents[2] / "shared" / "reference" / "mmrm"
FEV = "FEV1 ~ ARMCD * AVISIT + RACE + SEX + us(AVISIT | USUBJID)"
BCVA = "BCVA_CHG ~ ARMCD * AVISIT + RACE + BCVA_BL + us(AVISIT | USUBJID)"
SEED = 20261126


def _full(data: pd.DataFrame, formula: str) -> Callable[[], Any]:
    def go() -> Any:
        res = fit_mmrm(data, formula)
        res.coefficients  # noqa: B018  (Satterthwaite df for every coefficient)
        res.lsmeans("ARMCD", by="AVISIT")
        return res
    return go


def _time(fun: Callable[[], Any], repeats: int, warmup: int = 1) -> dict[str, Any]:
    for _ in range(warmup):
        fun()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fun()
        times.append(time.perf_counter() - t0)
    return {"median_s": statistics.median(times), "min_s": min(times), "repeats": repeats}


def _simulate(n_trials: int, n_subjects: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = 4
    corr = 0.5 ** np.abs(np.subtract.outer(np.arange(t), np.arange(t)))
    chol = np.linalg.cholesky(corr * np.outer(np.linspace(5, 8, t), np.linspace(5, 8, t)))
    frames = []
    for rep in range(n_trials):
        arm = np.where(np.arange(n_subjects) < n_subjects // 2, "CTRL", "MSC")
        base = rng.normal(40, 10, n_subjects)
        err = rng.normal(size=(n_subjects, t)) @ chol.T
        eff = np.where(arm == "MSC", 1.0, 0.0)[:, None] * np.array([2.0, 4.0, 6.0, 8.0])
        y = base[:, None] * 0.5 + np.array([5.0, 10.0, 14.0, 17.0]) + eff + err
        miss = rng.random((n_subjects, t)) < np.array([0.0, 0.05, 0.1, 0.15])
        y[miss] = np.nan
        frames.append(pd.DataFrame({
            "REP": rep, "USUBJID": np.repeat([f"S{i}" for i in range(n_subjects)], t),
            "ARMCD": np.repeat(arm, t), "BASE": np.repeat(base, t),
            "AVISIT": np.tile(["M1", "M3", "M6", "M12"], n_subjects), "CHG": y.ravel()}))
    return pd.concat(frames, ignore_index=True)


def run() -> dict[str, Any]:
    fev = pd.read_csv(DATA / "fev_data.csv")
    bcva = pd.read_csv(DATA / "bcva_data.csv")
    out: dict[str, Any] = {
        "fev": _time(_full(fev, FEV), repeats=30, warmup=3),
        "bcva": _time(_full(bcva, BCVA), repeats=7),
    }
    out["fev"]["target_median_s"] = 0.015
    out["bcva"]["target_median_s"] = 1.0
    sim = _simulate(100, 45, SEED)
    formula = "CHG ~ ARMCD * AVISIT + BASE + us(AVISIT | USUBJID)"

    def batch() -> Any:
        fits = fit_mmrm_batch(sim, formula, replicate="REP")
        for res in fits:
            if res is not None:
                res.contrasts("ARMCD", by="AVISIT")
        return fits

    b = _time(batch, repeats=3)
    fits = batch()
    b.update({"n_datasets": 100, "subjects": 45, "visits": 4, "seed": SEED,
              "per_fit_s": b["median_s"] / 100,
              "converged": int(sum(1 for r in fits if r is not None and r.converged))})
    out["batch"] = b
    subjects = bcva["USUBJID"].drop_duplicates().to_list()
    mem = {}
    for n in (250, 500, 1000):
        part = bcva[bcva["USUBJID"].isin(subjects[:n])]
        tracemalloc.start()
        _full(part, BCVA)()
        mem[str(n)] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    out["memory_peak_mib_by_subjects"] = mem
    return out


if __name__ == "__main__":  # pragma: no cover
    import json

    print(json.dumps(run(), indent=2))
