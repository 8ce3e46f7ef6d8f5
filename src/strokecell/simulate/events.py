"""Deaths, dropout and missed visits.

- Death: Weibull time from day 0 with cumulative hazard H·(t/365)^k·exp(β z − c), z the
  baseline severity, β = log HR per SD; H is solved so that the 12-month mortality over the
  severity distribution equals the parameter.
- Dropout (monotone): before each post-baseline visit, probability
  expit(logit(p) + γ · (reference − x) / 10), x = the MBI as last measured (MAR), the MBI at
  that visit, unobserved (MNAR), or γ = 0 (MCAR).
- Missed visit (intermittent): MCAR, never the baseline.
"""

from __future__ import annotations

import functools

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, special

from strokecell.simulate.assumptions import Deaths, Dropout

__all__ = ["DEAD", "DONE", "DROPPED", "MISSED", "STATUS_NAMES", "death_days", "visit_status"]

FloatArray = NDArray[np.float64]
DONE, MISSED, DROPPED, DEAD = 0, 1, 2, 3
STATUS_NAMES = ("done", "missed", "dropped_out", "dead")
_GH_X, _GH_W = np.polynomial.hermite_e.hermegauss(64)
_GH_W = _GH_W / _GH_W.sum()


@functools.lru_cache(maxsize=32)
def _baseline_hazard(p12: float, log_hr: float) -> float:
    if p12 <= 0:
        return 0.0

    def excess(log_h: float) -> float:
        h = np.exp(log_h + log_hr * _GH_X - log_hr ** 2 / 2)
        return float((1.0 - np.exp(-h)) @ _GH_W) - p12

    return float(np.exp(optimize.brentq(excess, -30.0, 10.0)))


def death_days(severity: FloatArray, d: Deaths, rng: np.random.Generator) -> FloatArray:
    """Day of death after day 0 (``inf`` if none is drawn)."""
    log_hr = float(np.log(d.hazard_ratio_per_sd))
    h = _baseline_hazard(d.mortality_12_months, log_hr)
    if h == 0.0:
        return np.full(severity.shape, np.inf)
    rate = h * np.exp(log_hr * severity - log_hr ** 2 / 2)
    e = rng.standard_exponential(severity.shape)
    out: FloatArray = 365.0 * (e / rate) ** (1.0 / d.weibull_shape)
    return np.maximum(out, 1.0)


def visit_status(visit_day: NDArray[np.int64], baseline_index: int, death_day: FloatArray,
                 mbi_measured: FloatArray, mbi_latent: FloatArray, d: Dropout,
                 rng: np.random.Generator) -> tuple[NDArray[np.int8], FloatArray]:
    """Status of each visit (DONE, MISSED, DROPPED, DEAD) and the dropout day (inf if none)."""
    n, v = visit_day.shape
    status = np.zeros((n, v), dtype=np.int8)
    dropout_day = np.full(n, np.inf)
    dropped = np.zeros(n, dtype=bool)
    last_seen = mbi_measured[:, baseline_index].copy()
    base_logit = float(special.logit(d.per_visit)) if d.per_visit > 0 else -np.inf
    gamma = 0.0 if d.mechanism == "mcar" else d.log_odds_per_10_points
    for k in range(baseline_index + 1, v):
        dead = visit_day[:, k] >= death_day
        x = last_seen if d.mechanism == "mar" else mbi_latent[:, k]
        p = special.expit(base_logit + gamma * (d.reference_mbi - x) / 10.0)
        new = ~dropped & ~dead & (rng.random(n) < p)
        previous = visit_day[:, k - 1]
        dropout_day = np.where(new, previous + rng.random(n) * (visit_day[:, k] - previous),
                               dropout_day)
        dropped |= new
        missed = ~dropped & ~dead & (rng.random(n) < d.missed_visit)
        # Dropped before dying: the trial does not see the death.
        status[:, k] = np.select([dropped, dead, missed], [DROPPED, DEAD, MISSED], DONE)
        seen = status[:, k] == DONE
        last_seen = np.where(seen, mbi_measured[:, k], last_seen)
    return status, dropout_day
