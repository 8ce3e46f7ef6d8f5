"""The result of a meta-analysis fit: numbers as metafor reports them, a summary, a dict."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from strokecell.stats.meta._tau2 import Control

FloatArray = npt.NDArray[np.float64]


def _num(x: float | None) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


@dataclass(frozen=True)
class Coefficient:
    term: str
    estimate: float
    se: float
    stat: float
    pval: float
    ci_lb: float
    ci_ub: float

    def to_dict(self) -> dict[str, Any]:
        return {"term": self.term, "estimate": self.estimate, "se": self.se, "stat": self.stat,
                "pval": self.pval, "ci_lb": self.ci_lb, "ci_ub": self.ci_ub}


@dataclass(frozen=True, eq=False)
class MetaResult:
    """A fitted equal-effects, random-effects or mixed-effects (meta-regression) model.

    Vectors (``beta``, ``se_beta``, ...) hold one entry per coefficient (``coef_names``); the
    properties ``estimate``, ``se``, ``ci_lb``, ``ci_ub``, ``pval`` and ``stat`` give a float
    for a model without moderators and the vector otherwise, like metafor's ``res$beta``.
    """

    method: str
    test: str
    level: float
    coef_names: tuple[str, ...]
    beta: FloatArray
    se_beta: FloatArray
    stat_beta: FloatArray
    pval_beta: FloatArray
    ci_lb_beta: FloatArray
    ci_ub_beta: FloatArray
    vb: FloatArray
    tau2: float
    se_tau2: float | None
    I2: float | None
    H2: float | None
    QE: float | None
    QEp: float | None
    QM: float | None
    QM_df: tuple[int, int | None]
    QMp: float | None
    s2w: float
    ddf: int | None
    pi_lb: float | None
    pi_ub: float | None
    yi: FloatArray
    vi: FloatArray
    X: FloatArray
    labels: tuple[str, ...]
    k_dropped: int = 0
    R2: float | None = None
    measure: str | None = None
    intercept: bool = True
    tau2_iterations: int = 0
    fit_stats: dict[str, float] = field(default_factory=dict)
    control: Control = field(default_factory=Control)

    # --- shape ---------------------------------------------------------------------------
    @property
    def k(self) -> int:
        return int(self.yi.size)

    @property
    def p(self) -> int:
        return int(self.X.shape[1])

    @property
    def int_only(self) -> bool:
        return self.p == 1 and self.intercept

    @property
    def is_random(self) -> bool:
        return self.method != "EE"

    def _pick(self, vec: FloatArray) -> float | FloatArray:
        return float(vec[0]) if self.int_only else vec

    @property
    def estimate(self) -> float | FloatArray:
        return self._pick(self.beta)

    @property
    def se(self) -> float | FloatArray:
        return self._pick(self.se_beta)

    @property
    def stat(self) -> float | FloatArray:
        return self._pick(self.stat_beta)

    @property
    def zval(self) -> float | FloatArray:
        return self.stat

    @property
    def pval(self) -> float | FloatArray:
        return self._pick(self.pval_beta)

    @property
    def ci_lb(self) -> float | FloatArray:
        return self._pick(self.ci_lb_beta)

    @property
    def ci_ub(self) -> float | FloatArray:
        return self._pick(self.ci_ub_beta)

    @property
    def Q(self) -> float | None:
        return self.QE

    @property
    def Q_pval(self) -> float | None:
        return self.QEp

    @property
    def QM_pval(self) -> float | None:
        return self.QMp

    @property
    def tau(self) -> float:
        return math.sqrt(self.tau2)

    @property
    def weights(self) -> FloatArray:
        """Each study's weight in percent, ``100 wᵢ/Σw`` with ``wᵢ = 1/(vᵢ + τ²)``."""
        w = 1 / (self.vi + self.tau2)
        out: FloatArray = 100 * w / w.sum()
        return out

    @property
    def coefficients(self) -> tuple[Coefficient, ...]:
        return tuple(
            Coefficient(name, float(b), float(s), float(z), float(pv), float(lb), float(ub))
            for name, b, s, z, pv, lb, ub in zip(
                self.coef_names, self.beta, self.se_beta, self.stat_beta, self.pval_beta,
                self.ci_lb_beta, self.ci_ub_beta, strict=True))

    # --- output --------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The JSON keys of ``strokecell meta --json`` (and a few more, e.g. ``se_tau2``)."""

        def vec(v: FloatArray) -> float | list[float]:
            return float(v[0]) if self.int_only else [float(x) for x in v]

        out: dict[str, Any] = {
            "method": self.method,
            "test": self.test,
            "conf_level": self.level,
            "measure": self.measure,
            "k": self.k,
            "k_dropped": self.k_dropped,
            "estimate": vec(self.beta),
            "se": vec(self.se_beta),
            "stat": vec(self.stat_beta),
            "ci_lb": vec(self.ci_lb_beta),
            "ci_ub": vec(self.ci_ub_beta),
            "pval": vec(self.pval_beta),
            "tau2": self.tau2,
            "se_tau2": _num(self.se_tau2),
            "tau": math.sqrt(self.tau2),
            "I2": _num(self.I2),
            "H2": _num(self.H2),
            "Q": _num(self.QE),
            "Q_df": self.k - self.p,
            "Q_pval": _num(self.QEp),
            "df": self.ddf,
        }
        if self.int_only:
            out["pi_lb"] = _num(self.pi_lb)
            out["pi_ub"] = _num(self.pi_ub)
        else:
            out["coef_names"] = list(self.coef_names)
            out["coefficients"] = [c.to_dict() for c in self.coefficients]
            out["QM"] = _num(self.QM)
            out["QM_df"] = list(self.QM_df)
            out["QM_pval"] = _num(self.QMp)
            out["R2"] = _num(self.R2)
        out["fit_stats"] = {key: _num(val) for key, val in self.fit_stats.items()}
        out["studies"] = [
            {"study": lab, "yi": float(y), "vi": float(v), "weight": float(w)}
            for lab, y, v, w in zip(self.labels, self.yi, self.vi, self.weights, strict=True)]
        return out

    def summary(self) -> str:
        """A plain-text report in the spirit of metafor's ``print.rma.uni``."""
        kind = "Equal-effects" if self.method == "EE" else (
            "Random-effects" if self.int_only else "Mixed-effects")
        lines = [f"{kind} model (k = {self.k}; tau^2 estimator: {self.method}; "
                 f"test: {self.test})"]
        if self.k_dropped:
            lines.append(f"{self.k_dropped} stud{'y' if self.k_dropped == 1 else 'ies'} "
                         "with missing data dropped")
        if self.method != "EE":
            se_t = f" (SE = {self.se_tau2:.4f})" if self.se_tau2 is not None else ""
            lines.append(f"tau^2 = {self.tau2:.4f}{se_t}; tau = {math.sqrt(self.tau2):.4f}")
        if self.I2 is not None and self.H2 is not None:
            lines.append(f"I^2 = {self.I2:.2f}%; H^2 = {self.H2:.2f}")
        if self.R2 is not None:
            lines.append(f"R^2 = {self.R2:.2f}%")
        if self.QE is not None and self.QEp is not None:
            lines.append(f"Q(df = {self.k - self.p}) = {self.QE:.4f}, p = {self.QEp:.4g}")
        if not self.int_only and self.QM is not None and self.QMp is not None:
            df = self.QM_df
            name = f"F(df1 = {df[0]}, df2 = {df[1]})" if df[1] is not None else f"QM(df = {df[0]})"
            lines.append(f"Test of moderators: {name} = {self.QM:.4f}, p = {self.QMp:.4g}")
        stat = "t" if self.ddf is not None else "z"
        lines.append("")
        lines.append(f"{'term':<16}{'estimate':>10}{'se':>10}{stat + 'val':>10}{'pval':>11}"
                     f"{'ci.lb':>10}{'ci.ub':>10}")
        for c in self.coefficients:
            lines.append(f"{c.term:<16}{c.estimate:>10.4f}{c.se:>10.4f}{c.stat:>10.4f}"
                         f"{c.pval:>11.4g}{c.ci_lb:>10.4f}{c.ci_ub:>10.4f}")
        if self.int_only and self.pi_lb is not None and self.pi_ub is not None:
            lines.append(f"prediction interval: [{self.pi_lb:.4f}, {self.pi_ub:.4f}]")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()
