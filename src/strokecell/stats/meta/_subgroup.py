"""Subgroup analysis: a separate model in each subgroup, then the test of subgroup differences.

Each level of the grouping variable gets its own fit (its own tau²) by the same method and
test. The test of subgroup differences is the fixed-effect Q across the subgroup estimates,
``Q_between = Σ w_g (θ̂_g - θ̄)²`` with ``w_g = 1/SE_g²`` and ``θ̄ = Σw_gθ̂_g/Σw_g``, referred
to chi-square on (number of subgroups - 1) df.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats

from strokecell.errors import InputError, Problem
from strokecell.stats.meta._escalc import EffectSizes
from strokecell.stats.meta._result import MetaResult
from strokecell.stats.meta._rma import rma
from strokecell.stats.meta._tau2 import Control

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class SubgroupResult:
    """The overall model, one model per subgroup level, and the test of differences."""

    overall: MetaResult
    levels: tuple[str, ...]
    fits: tuple[MetaResult, ...]
    Q_between: float
    Q_between_df: int
    Q_between_pval: float

    def __getitem__(self, level: str) -> MetaResult:
        return self.fits[self.levels.index(level)]

    @property
    def subgroups(self) -> dict[str, MetaResult]:
        """The per-level fits by level."""
        return dict(zip(self.levels, self.fits, strict=True))

    def to_dict(self) -> dict[str, Any]:
        out = self.overall.to_dict()
        subs = []
        for level, fit in zip(self.levels, self.fits, strict=True):
            d = fit.to_dict()
            d.pop("studies", None)
            subs.append({"level": level, **d})
        out["subgroups"] = subs
        out["Q_between"] = self.Q_between
        out["Q_between_df"] = self.Q_between_df
        out["Q_between_pval"] = self.Q_between_pval
        return out

    def summary(self) -> str:
        lines = [self.overall.summary(), "", "Subgroups:"]
        for level, fit in zip(self.levels, self.fits, strict=True):
            lines.append(f"  {level}: k = {fit.k}, estimate = {fit.beta[0]:.4f} "
                         f"[{fit.ci_lb_beta[0]:.4f}, {fit.ci_ub_beta[0]:.4f}], "
                         f"tau^2 = {fit.tau2:.4f}, I^2 = {(fit.I2 or 0):.1f}%")
        lines.append(f"Test of subgroup differences: Q = {self.Q_between:.4f}, "
                     f"df = {self.Q_between_df}, p = {self.Q_between_pval:.4g}")
        return "\n".join(lines)


def q_between(estimates: FloatArray, ses: FloatArray) -> tuple[float, int, float]:
    """Fixed-effect Q across subgroup estimates: (Q, df, p)."""
    w = 1 / ses**2
    pooled = float(np.sum(w * estimates) / np.sum(w))
    q = float(np.sum(w * (estimates - pooled) ** 2))
    df = int(estimates.size - 1)
    return q, df, float(stats.chi2.sf(q, df)) if df > 0 else float("nan")


def subgroup_analysis(yi: npt.ArrayLike | EffectSizes, vi: npt.ArrayLike | None = None,
                      subgroup: Any = None, *, method: str = "REML", test: str = "z",
                      level: float = 95.0, labels: Any = None,
                      control: Control | None = None) -> SubgroupResult:
    """Fit the overall model and a separate model per level of ``subgroup``.

    Studies with a missing subgroup value are left out of the subgroup fits (and counted in
    the overall fit as usual). Levels are sorted as R sorts factor levels.
    """
    if subgroup is None:
        raise InputError(Problem("subgroup", "the subgroup of each study is required"))
    if isinstance(yi, EffectSizes):
        es = yi
        n_full = es.k + es.n_dropped
        groups_all = list(subgroup)
        if len(groups_all) == n_full and es.n_dropped:
            groups_all = [groups_all[i] for i in es.kept]
            if labels is not None:
                labs = list(labels)
                labels = [labs[i] for i in es.kept] if len(labs) == n_full else labs
        y, v = es.yi, es.vi
        measure: str | None = es.measure
        n_dropped = es.n_dropped
    else:
        if vi is None:
            raise InputError(Problem("vi", "sampling variances are required"))
        y = np.asarray(yi, dtype=float).reshape(-1)
        v = np.asarray(vi, dtype=float).reshape(-1)
        groups_all = list(subgroup)
        measure = None
        n_dropped = 0
    if len(groups_all) != y.size:
        raise InputError(Problem("subgroup", f"has {len(groups_all)} values for {y.size} studies"))
    labs_all = [str(x) for x in labels] if labels is not None else [
        str(i + 1) for i in range(y.size)]
    overall = rma(y, v, method=method, test=test, level=level, labels=labs_all,
                  control=control, measure=measure)
    if n_dropped:
        overall = replace(overall, k_dropped=overall.k_dropped + n_dropped)

    def missing(g: Any) -> bool:
        return g is None or (isinstance(g, float) and g != g) or str(g).strip() == ""

    levels = sorted({str(g) for g in groups_all if not missing(g)})
    if len(levels) < 2:
        raise InputError(Problem("subgroup", "needs at least two levels", levels,
                                 allowed=">= 2 distinct values"))
    fits = []
    for lev in levels:
        idx = [i for i, g in enumerate(groups_all) if not missing(g) and str(g) == lev]
        fits.append(rma(y[idx], v[idx], method=method, test=test, level=level,
                        labels=[labs_all[i] for i in idx], control=control, measure=measure))
    est = np.array([f.beta[0] for f in fits])
    ses = np.array([f.se_beta[0] for f in fits])
    q, df, pval = q_between(est, ses)
    return SubgroupResult(overall, tuple(levels), tuple(fits), q, df, pval)
