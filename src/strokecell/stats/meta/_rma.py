"""Equal-, random- and mixed-effects meta-analysis models (metafor's ``rma.uni``).

With ``w = 1/(v + τ²)``: ``β̂ = (X'WX)⁻¹X'Wy``, ``Var(β̂) = (X'WX)⁻¹`` (times the
Knapp-Hartung factor ``s² = Σw(y - Xβ̂)²/(k-p)`` under ``test="knha"``, with t and F tests on
``k-p`` df). Heterogeneity: ``Q = y'P y`` with ``w = 1/v``, the typical within-study variance
``s² = (k-p)/tr P``, ``I² = 100τ²/(τ² + s²)`` and ``H² = (τ² + s²)/s²`` (for EE:
``I² = 100(Q-(k-p))/Q``, ``H² = Q/(k-p)``). The prediction interval is
``β̂ ± c √(SE² + τ²)`` with ``c`` the normal (or t on k-p df under knha) quantile.
``R² = max(0, 100 (τ²_RE - τ²_ME)/τ²_RE)`` against the model without moderators.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats

from strokecell.errors import InputError, ModelError, Problem
from strokecell.stats.meta._design import design_matrix, drop_redundant
from strokecell.stats.meta._escalc import EffectSizes
from strokecell.stats.meta._result import MetaResult
from strokecell.stats.meta._tau2 import METHODS, Control, estimate_tau2, inv_xwx, p_matrix

FloatArray = npt.NDArray[np.float64]

TESTS = ("z", "knha", "t")
_ALIASES = {"FE": "EE", "CE": "EE", "HKSJ": "KNHA"}


def _level(level: float) -> float:
    """Confidence level as a fraction (95 or 0.95 both mean 95%)."""
    lev = float(level)
    lev = lev / 100 if lev > 1 else lev
    if not 0 < lev < 1:
        raise InputError(Problem("level", "confidence level out of range", level,
                                 allowed="0 < level < 100 (percent) or 0 < level < 1"))
    return lev


def _normalise(method: str, test: str) -> tuple[str, str]:
    m = _ALIASES.get(str(method).upper(), str(method).upper())
    if m not in METHODS:
        raise InputError(Problem("method", "unknown estimator", method,
                                 allowed=", ".join(METHODS)))
    t = _ALIASES.get(str(test).upper(), str(test).upper()).lower()
    if t not in TESTS:
        raise InputError(Problem("test", "unknown test", test, allowed="z, knha, t"))
    return m, t


def _vector(name: str, values: Any) -> FloatArray:
    try:
        arr = np.asarray(values, dtype=float).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise InputError(Problem(name, "must be numeric", allowed="numbers")) from exc
    return arr


def _fit_stats(yi: FloatArray, vi: FloatArray, X: FloatArray, tau2: float, method: str,
               rss: float) -> dict[str, float]:
    k, p = int(X.shape[0]), int(X.shape[1])
    w = 1 / (vi + tau2)
    parms = p + (0 if method == "EE" else 1)
    if method == "REML":
        ll = (-0.5 * (k - p) * math.log(2 * math.pi)
              + 0.5 * float(np.linalg.slogdet(X.T @ X)[1])
              - 0.5 * float(np.sum(np.log(vi + tau2)))
              - 0.5 * float(np.linalg.slogdet(X.T @ (w[:, None] * X))[1]) - 0.5 * rss)
        n = k - p
        dev = -2 * ll
    else:
        with np.errstate(divide="ignore"):
            ll = -0.5 * k * math.log(2 * math.pi) - 0.5 * float(np.sum(np.log(vi + tau2))) \
                - 0.5 * rss
            sat = float(np.sum(stats.norm.logpdf(yi, yi, np.sqrt(vi)))) if np.all(vi > 0) else 0
        n = k
        dev = -2 * (ll - sat) if k > p else 0.0
    aicc_n = max(n, parms + 2)
    return {"ll": ll, "dev": dev, "AIC": -2 * ll + 2 * parms,
            "BIC": -2 * ll + parms * math.log(n) if n > 0 else math.nan,
            "AICc": -2 * ll + 2 * parms * aicc_n / (aicc_n - parms - 1)}


def fit_matrix(yi: FloatArray, vi: FloatArray, X: FloatArray, names: list[str], *,
               method: str, test: str, level: float, control: Control,
               intercept: bool = True, labels: tuple[str, ...] | None = None,
               measure: str | None = None, k_dropped: int = 0) -> MetaResult:
    """Fit on complete data with a given model matrix (no R² here; see :func:`rma`)."""
    k, p = int(X.shape[0]), int(X.shape[1])
    if k == 1 and test != "z":
        warnings.warn("k = 1: using test='z'", RuntimeWarning, stacklevel=3)
        test = "z"
    est = estimate_tau2(yi, vi, X, method, control)
    tau2 = est.tau2
    w = 1 / (vi + tau2)
    if not np.all(np.isfinite(w)):
        raise ModelError("a sampling variance of 0 with tau^2 = 0 gives an infinite weight; "
                         "every vi must be > 0 for this model")
    vb = inv_xwx(X, w)
    beta = vb @ (X.T @ (w * yi))
    rss = float(np.sum(w * (yi - X @ beta) ** 2))
    s2w = 1.0
    if test == "knha":
        if k <= p:
            raise ModelError(f"Knapp-Hartung needs more studies than coefficients "
                             f"(k = {k}, p = {p}); use test='z'")
        s2w = 0.0 if rss <= np.finfo(float).eps else rss / (k - p)
    vb = s2w * vb
    btt = list(range(1, p)) if (p > 1 and intercept) else list(range(p))
    m = len(btt)
    se = np.sqrt(np.diag(vb))
    with np.errstate(divide="ignore", invalid="ignore"):
        zval = beta / se
    alpha = 1 - level
    try:
        sub = vb[np.ix_(btt, btt)]
        qm: float | None = float(beta[btt] @ np.linalg.solve(sub, beta[btt]))
    except np.linalg.LinAlgError:
        qm = None
    ddf: int | None = None
    if test in ("knha", "t"):
        ddf = k - p
        if qm is not None:
            qm = qm / m
        qmp = float(stats.f.sf(qm, m, ddf)) if (qm is not None and ddf > 0) else None
        pval = 2 * stats.t.sf(np.abs(zval), ddf) if ddf > 0 else np.full(p, np.nan)
        crit = float(stats.t.isf(alpha / 2, ddf)) if ddf > 0 else math.nan
    else:
        qmp = float(stats.chi2.sf(qm, m)) if qm is not None else None
        pval = 2 * stats.norm.sf(np.abs(zval))
        crit = float(stats.norm.isf(alpha / 2))
    # heterogeneity
    QE = QEp = I2 = H2 = None
    if np.all(vi > 0):
        if k > p:
            P = p_matrix(X, 1 / vi)
            yc = yi - yi.mean()
            QE = max(0.0, float(yc @ P @ yc))
            QEp = float(stats.chi2.sf(QE, k - p))
            vt = (k - p) / float(np.trace(P))
            if method == "EE":
                I2 = max(0.0, 100 * (QE - (k - p)) / QE) if QE > 0 else 0.0
                H2 = QE / (k - p)
            else:
                I2 = 100 * tau2 / (vt + tau2)
                H2 = tau2 / vt + 1
        else:
            QE, QEp, I2, H2 = 0.0, 1.0, 0.0, 1.0
    pi_lb = pi_ub = None
    if p == 1 and intercept and method != "EE":
        crit_pi = crit if ddf is not None else float(stats.norm.isf(alpha / 2))
        half = crit_pi * math.sqrt(float(se[0]) ** 2 + tau2)
        pi_lb, pi_ub = float(beta[0]) - half, float(beta[0]) + half
    return MetaResult(
        method=method, test=test, level=100 * level, coef_names=tuple(names),
        beta=beta, se_beta=se, stat_beta=zval, pval_beta=np.asarray(pval, dtype=float),
        ci_lb_beta=beta - crit * se, ci_ub_beta=beta + crit * se, vb=vb,
        tau2=tau2, se_tau2=est.se, I2=I2, H2=H2, QE=QE, QEp=QEp,
        QM=qm, QM_df=(m, ddf), QMp=qmp, s2w=s2w, ddf=ddf, pi_lb=pi_lb, pi_ub=pi_ub,
        yi=yi, vi=vi, X=X,
        labels=labels if labels is not None else tuple(str(i + 1) for i in range(k)),
        k_dropped=k_dropped, measure=measure, intercept=intercept,
        tau2_iterations=est.iterations, control=control,
        fit_stats=_fit_stats(yi, vi, X, tau2, method, rss))


def _r2(res: MetaResult) -> float | None:
    if res.int_only or not res.intercept:
        return None
    if res.method == "EE":
        if float(np.var(res.yi)) == 0:
            return 0.0
        return max(0.0, 100 * _wls_adj_r2(res.yi, res.X, 1 / res.vi))
    try:
        base = fit_matrix(res.yi, res.vi, res.X[:, :1], ["intrcpt"], method=res.method,
                          test=res.test, level=res.level / 100, control=res.control)
    except ModelError:
        return None
    if base.tau2 == 0:
        return 0.0
    return max(0.0, 100 * (base.tau2 - res.tau2) / base.tau2)


def _wls_adj_r2(y: FloatArray, X: FloatArray, w: FloatArray) -> float:
    vb = inv_xwx(X, w)
    fitted = X @ (vb @ (X.T @ (w * y)))
    ybar = float(np.sum(w * y) / np.sum(w))
    rss = float(np.sum(w * (y - fitted) ** 2))
    tss = float(np.sum(w * (y - ybar) ** 2))
    n, p = int(X.shape[0]), int(X.shape[1])
    r2 = 1 - rss / tss
    return 1 - (1 - r2) * (n - 1) / (n - p)


def _nrows(obj: Any) -> int | None:
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return len(next(iter(obj.values()))) if obj else None
    if hasattr(obj, "columns"):
        return len(obj)
    return int(np.asarray(obj).shape[0])


def _from_effect_sizes(es: EffectSizes, labels: Any, mods: Any) -> tuple[FloatArray, FloatArray]:
    """yi/vi of ``es``; at full input length (NaN where escalc dropped a study) when the
    labels or moderators are given for all input rows."""
    n_full = es.k + es.n_dropped
    lengths = {n for n in (_nrows(labels), _nrows(mods)) if n is not None}
    if es.n_dropped == 0 or lengths == {es.k}:
        return es.yi, es.vi
    y = np.full(n_full, np.nan)
    v = np.full(n_full, np.nan)
    y[es.kept] = es.yi
    v[es.kept] = es.vi
    return y, v


def rma(yi: npt.ArrayLike | EffectSizes, vi: npt.ArrayLike | None = None, *,
        method: str = "REML", test: str = "z", mods: Any = None, level: float = 95.0,
        labels: Any = None, intercept: bool = True, control: Control | None = None,
        measure: str | None = None) -> MetaResult:
    """Fit a meta-analytic model as metafor's ``rma(yi, vi, mods=..., method=..., test=...)``.

    ``yi`` may be an :class:`EffectSizes` (then ``vi`` is taken from it). ``mods`` is a
    mapping (or DataFrame) of moderator columns, numeric or categorical, or a numeric
    matrix. Studies with a missing ``yi``, ``vi`` or moderator are dropped and counted.
    """
    method, test = _normalise(method, test)
    lev = _level(level)
    con = control or Control()
    if isinstance(yi, EffectSizes):
        measure = measure or yi.measure
        y, v = _from_effect_sizes(yi, labels, mods)
    else:
        if vi is None:
            raise InputError(Problem("vi", "sampling variances are required"))
        y, v = _vector("yi", yi), _vector("vi", vi)
    if y.size != v.size:
        raise InputError(Problem("vi", f"has {v.size} values but yi has {y.size}"))
    k_all = y.size
    neg = np.flatnonzero(v < 0)
    if neg.size:
        raise InputError(Problem("vi", f"negative sampling variance in study {int(neg[0]) + 1}",
                                 float(v[neg[0]]), allowed="vi >= 0"))
    X, names = design_matrix(mods, k_all, intercept=intercept)
    labs = (tuple(str(x) for x in labels) if labels is not None
            else tuple(str(i + 1) for i in range(k_all)))
    if len(labs) != k_all:
        raise InputError(Problem("labels", f"has {len(labs)} values for {k_all} studies"))
    ok = np.isfinite(y) & np.isfinite(v) & np.all(np.isfinite(X), axis=1)
    dropped = int(k_all - ok.sum())
    if dropped:
        warnings.warn(f"{dropped} stud{'y' if dropped == 1 else 'ies'} with missing data "
                      "dropped", RuntimeWarning, stacklevel=2)
    y, v, X = y[ok], v[ok], X[ok]
    labs = tuple(lab for lab, keep in zip(labs, ok, strict=True) if keep)
    k = y.size
    if k == 0:
        raise InputError(Problem("yi", "no study with complete data", allowed="k >= 1"))
    X, names = drop_redundant(X, names)
    p = X.shape[1]
    need = p if method == "EE" else p + 1
    if not (p == 1 and intercept and k == 1) and k < need:
        raise ModelError(f"k = {k} studies is too few for method {method} with {p} "
                         f"coefficient(s): need k >= {need}")
    if method in ("DL", "HS", "PM") and np.any(v <= 0):
        raise ModelError(f"method {method} needs every vi > 0; use REML, ML, EB or HE")
    res = fit_matrix(y, v, X, names, method=method, test=test, level=lev, control=con,
                     intercept=intercept and names[0] == "intrcpt", labels=labs,
                     measure=measure, k_dropped=dropped)
    r2 = _r2(res)
    return res if r2 is None else replace(res, R2=r2)
