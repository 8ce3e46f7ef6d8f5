"""Power-simulation throughput (issue 7): 10,000 reference trials, simulated and analysed.

Reference trial: protocols/reference-ich-ia-ucmsc.yaml, 45 randomised (22 + 23), MBI at 4
post-baseline visits, no effect; each trial analysed by the unstructured MMRM (REML) on the
change from baseline with Satterthwaite df (``strokecell.simulate.power.run_power``).
Target: <= 30 s on this 2-core machine.

* ``end_to_end_2_workers`` / ``end_to_end_1_worker``: ``run_power`` wall time (simulation in
  the main process, vectorised fits in 2 worker processes, or all in one process).
* ``fit_only``: ``fit_mmrm_vectorized`` on the 10,000 trials in this process (no simulation).
* ``engine_batch``: the one-fit-at-a-time path (``fit_mmrm_batch``) on 100 of the trials, for
  scale.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from strokecell.protocol import load_protocol
from strokecell.simulate import simulate_trials
from strokecell.simulate.power import run_power
from strokecell.stats.mmrm import (
    arm_visit_contrast,
    arm_visit_design,
    fit_mmrm_batch,
    fit_mmrm_vectorized,
)
from strokecell.stats.mmrm._threads import single_thread_blas

PROTOCOL = Path(__file__).resolve().parents[1] / "protocols" / "reference-ich-ia-ucmsc.yaml"
N_TRIALS = 10_000
N_TOTAL = 45
SEED = 20261126
TARGET_S = 30.0


def _end_to_end(workers: int) -> dict[str, Any]:
    protocol = load_protocol(PROTOCOL)
    t0 = time.perf_counter()
    res = run_power(protocol, [N_TOTAL], N_TRIALS, seed=SEED, workers=workers)
    seconds = time.perf_counter() - t0
    r = res.results[0].to_dict()
    return {"seconds": seconds, "fits_per_second": N_TRIALS / seconds, "workers": workers,
            "runner": res.settings["execution"]["runner"],
            "rejection_rate": r["rejection_rate"], "n_failed_fits": r["n_failed_fits"],
            "target_s": TARGET_S, "meets_target": seconds <= TARGET_S}


def run() -> dict[str, Any]:
    out: dict[str, Any] = {"n_trials": N_TRIALS, "n_total": N_TOTAL, "visits": 4, "seed": SEED}
    out["end_to_end_2_workers"] = _end_to_end(2)
    out["end_to_end_1_worker"] = _end_to_end(1)
    out["speedup_2_vs_1"] = (out["end_to_end_1_worker"]["seconds"]
                             / out["end_to_end_2_workers"]["seconds"])

    protocol = load_protocol(PROTOCOL)
    t0 = time.perf_counter()
    arrays = simulate_trials(protocol, {"transplant": 22, "control": 23}, N_TRIALS,
                             np.random.default_rng(SEED))
    out["simulate_only_s"] = time.perf_counter() - t0
    post = [k for k in range(len(arrays.visit_codes)) if k != arrays.baseline_index]
    control = arrays.arm_codes.index("control")
    x, names = arm_visit_design(arrays.arm, arrays.base, len(post), len(arrays.arm_codes),
                                control)
    lvec = arm_visit_contrast(names, arrays.arm_codes.index("transplant"),
                              post.index(arrays.primary_index))
    chg = arrays.chg[:, :, post]
    t0 = time.perf_counter()
    with single_thread_blas():
        fits = [fit_mmrm_vectorized(chg[s:s + 500], x[s:s + 500], lvec)
                for s in range(0, N_TRIALS, 500)]
    seconds = time.perf_counter() - t0
    out["fit_only"] = {"seconds": seconds, "per_fit_ms": 1e3 * seconds / N_TRIALS,
                       "converged": int(sum(int(f.converged.sum()) for f in fits)),
                       "chunk_trials": 500, "processes": 1}

    frame = arrays.to_frame()
    frame = frame[frame["TRIAL"] < 100]
    t0 = time.perf_counter()
    fit_mmrm_batch(frame, "CHG ~ ARMCD * AVISIT + BASE + us(AVISIT | USUBJID)",
                   replicate="TRIAL", reference={"ARMCD": "control"})
    seconds = time.perf_counter() - t0
    out["engine_batch"] = {"n_trials": 100, "seconds": seconds, "per_fit_ms": 10.0 * seconds}
    return out


if __name__ == "__main__":  # pragma: no cover
    import json

    print(json.dumps(run(), indent=2))
