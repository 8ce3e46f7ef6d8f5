"""Rubin's rules for combining estimates from multiply imputed data sets.

For *m* estimates :math:`Q_k` with variances :math:`U_k` (Rubin 1987, ch. 3):
:math:`\\bar Q = \\frac1m\\sum Q_k`, :math:`\\bar U = \\frac1m\\sum U_k`,
:math:`B = \\frac1{m-1}\\sum (Q_k-\\bar Q)^2`, :math:`T = \\bar U + (1+\\frac1m)B`.
Degrees of freedom of Barnard & Rubin (1999, Biometrika 86:948): with
:math:`\\lambda = (1+1/m)B/T`, :math:`\\nu_{old} = (m-1)/\\lambda^2`,
:math:`\\nu_{obs} = \\frac{\\nu_{com}+1}{\\nu_{com}+3}\\nu_{com}(1-\\lambda)`,
:math:`\\nu = (1/\\nu_{old} + 1/\\nu_{obs})^{-1}` (:math:`\\nu_{com}` the complete-data df).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from strokecell.errors import InputError, Problem

__all__ = ["Pooled", "rubin_pool"]


@dataclass(frozen=True)
class Pooled:
    estimate: float
    se: float
    df: float
    lower: float
    upper: float
    p: float
    within: float  # U-bar
    between: float  # B
    total: float  # T
    fmi_lambda: float  # (1 + 1/m) B / T
    m: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def rubin_pool(estimates: Sequence[float], variances: Sequence[float], df_complete: float,
               level: float = 0.95) -> Pooled:
    q = np.asarray(estimates, dtype=float)
    u = np.asarray(variances, dtype=float)
    m = q.size
    if m < 2 or u.size != m:
        raise InputError(Problem("estimates", "needs at least two imputations with one "
                                 "variance each", (m, u.size), "m >= 2"))
    qbar, ubar = float(q.mean()), float(u.mean())
    b = float(q.var(ddof=1))
    t = ubar + (1.0 + 1.0 / m) * b
    lam = (1.0 + 1.0 / m) * b / t if t > 0 else 0.0
    nu_old = (m - 1) / lam ** 2 if lam > 0 else math.inf
    nu_obs = (df_complete + 1.0) / (df_complete + 3.0) * df_complete * (1.0 - lam)
    nu = 1.0 / (1.0 / nu_old + 1.0 / nu_obs)
    se = math.sqrt(t)
    crit = float(stats.t.ppf(0.5 + level / 2.0, nu))
    tstat = qbar / se if se > 0 else math.nan
    return Pooled(qbar, se, nu, qbar - crit * se, qbar + crit * se,
                  float(2.0 * stats.t.sf(abs(tstat), nu)), ubar, b, t, lam, m)
