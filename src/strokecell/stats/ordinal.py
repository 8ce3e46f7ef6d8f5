"""Proportional-odds (cumulative logit) model for ordered outcomes such as the mRS.

Model (McCullagh 1980), for categories :math:`c_1 < \\dots < c_J` and covariates *x*:

.. math:: P(Y \\le c_j \\mid x) = \\operatorname{expit}(\\theta_j - x^\\top\\beta),
   \\quad j = 1, \\dots, J-1,

the parameterisation of SAS PROC LOGISTIC with ``descending`` reversed and of statsmodels
``OrderedModel``: :math:`\\beta > 0` shifts the distribution towards *higher* categories,
:math:`e^{\\beta}` is the common odds ratio of a higher category.

Fitted by Newton-Raphson with the analytic gradient and Hessian of the log-likelihood, with
step halving (the log-likelihood is concave in :math:`(\\theta, \\beta)`, Pratt 1981). The
covariance of the estimates is the inverse observed information.

The proportional-odds assumption is checked by the score test of SAS PROC LOGISTIC ("Score
Test for the Proportional Odds Assumption", Peterson & Harrell 1990): the partial
proportional-odds model gives the tested covariates one slope per cut-point,
:math:`\\beta_j = \\beta + \\gamma_j` (:math:`\\gamma_1 = 0`); at the proportional-odds
estimate (:math:`\\gamma = 0`) the score statistic :math:`U^\\top I^{-1} U` with the expected
(Fisher) information of the larger model is :math:`\\chi^2` with :math:`q(J-2)` df. It needs
no fit of the larger model (which can give crossing cumulative probabilities).

Imports nothing of strokecell but :mod:`strokecell.errors`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import special, stats

from strokecell.errors import ModelError

__all__ = ["OrdinalFit", "ScoreTest", "fit_proportional_odds"]

Array = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
_SEPARATION = 20.0  # |beta| beyond this (odds ratio e^20) means (quasi-)separation


@dataclass(frozen=True)
class ScoreTest:
    """Score test of the proportional-odds assumption for the named covariates."""

    statistic: float
    df: int
    p: float
    covariates: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"statistic": self.statistic, "df": self.df, "p": self.p,
                "covariates": list(self.covariates)}


def _design(codes: IntArray, x: Array, z: Array, n_cat: int) -> tuple[Array, Array, Any, Any]:
    """Rows of the linear predictors of the upper (u) and lower (l) cut of each category.

    Parameters are ordered (theta_1..theta_{J-1}, beta, gamma_2..gamma_{J-1} per z column);
    ``u = Du @ w`` is theta_{c} - x'beta - z'gamma_c for a category c below the top.
    """
    n, p = x.shape
    q = z.shape[1]
    k = n_cat - 1
    width = k + p + q * max(k - 1, 0)
    du = np.zeros((n, width))
    dl = np.zeros((n, width))
    has_u = codes < k
    has_l = codes > 0
    rows = np.arange(n)
    du[rows[has_u], codes[has_u]] = 1.0
    dl[rows[has_l], codes[has_l] - 1] = 1.0
    du[has_u, k:k + p] = -x[has_u]
    dl[has_l, k:k + p] = -x[has_l]
    for c in range(q):
        base = k + p + c * (k - 1)
        for cut in range(1, k):  # gamma of cut index `cut` (the first cut has none)
            col = base + cut - 1
            du[has_u & (codes == cut), col] = -z[has_u & (codes == cut), c]
            dl[has_l & (codes - 1 == cut), col] = -z[has_l & (codes - 1 == cut), c]
    return du, dl, has_u, has_l


def _terms(w: Array, du: Array, dl: Array, has_u: Any, has_l: Any
           ) -> tuple[Array, Array, Array, Array, Array, Array]:
    """Per observation: p, d log p / du, d log p / dl and the three second derivatives."""
    u, lo = du @ w, dl @ w
    fu = np.where(has_u, special.expit(u), 1.0)
    fl = np.where(has_l, special.expit(lo), 0.0)
    du_ = np.where(has_u, fu * (1.0 - fu), 0.0)
    dl_ = np.where(has_l, fl * (1.0 - fl), 0.0)
    prob = fu - fl
    with np.errstate(divide="ignore", invalid="ignore"):
        gu, gl = du_ / prob, -dl_ / prob
        huu = du_ * (1.0 - 2.0 * fu) / prob - gu ** 2
        hll = -dl_ * (1.0 - 2.0 * fl) / prob - gl ** 2
        hul = -gu * gl
    return prob, gu, gl, huu, hll, hul


def _loglik_grad_hess(w: Array, du: Array, dl: Array, has_u: Any, has_l: Any
                      ) -> tuple[float, Array, Array]:
    prob, gu, gl, huu, hll, hul = _terms(w, du, dl, has_u, has_l)
    if np.any(prob <= 0) or not np.all(np.isfinite(prob)):
        return -math.inf, np.zeros(w.size), np.zeros((w.size, w.size))
    grad = du.T @ gu + dl.T @ gl
    cross = du.T @ (hul[:, None] * dl)
    hess = du.T @ (huu[:, None] * du) + dl.T @ (hll[:, None] * dl) + cross + cross.T
    return float(np.log(prob).sum()), grad, hess


@dataclass
class OrdinalFit:
    """A fitted proportional-odds model; build it with :func:`fit_proportional_odds`."""

    levels: list[float]
    names: list[str]
    thresholds: Array
    beta: Array
    vcov: Array  # inverse observed information, order (thresholds, beta)
    loglik: float
    iterations: int
    n: int
    _codes: IntArray = field(repr=False)
    _x: Array = field(repr=False)

    @property
    def se(self) -> Array:
        return np.sqrt(np.diag(self.vcov))

    @property
    def beta_se(self) -> Array:
        k = self.thresholds.size
        return self.se[k:]

    def coefficients(self, level: float = 0.95) -> list[dict[str, float | str]]:
        """Each slope with its Wald SE, z, p, CI and odds ratio (of a higher category)."""
        q = float(stats.norm.ppf(0.5 + level / 2.0))
        out: list[dict[str, float | str]] = []
        for name, b, s in zip(self.names, self.beta, self.beta_se, strict=True):
            z = float(b / s) if s > 0 else math.nan
            out.append({"term": name, "estimate": float(b), "se": float(s), "z": z,
                        "p": float(2.0 * stats.norm.sf(abs(z))),
                        "lower": float(b - q * s), "upper": float(b + q * s),
                        "odds_ratio": math.exp(b), "or_lower": math.exp(b - q * s),
                        "or_upper": math.exp(b + q * s)})
        return out

    def score_test(self, covariates: Sequence[str] | None = None) -> ScoreTest:
        """Score test of proportional odds for ``covariates`` (default: all of them)."""
        names = list(covariates) if covariates is not None else list(self.names)
        for nm in names:
            if nm not in self.names:
                raise ModelError(f"covariate {nm!r} is not in the model; allowed: "
                                 f"{', '.join(self.names)}")
        n_cat = len(self.levels)
        df = len(names) * (n_cat - 2)
        if df == 0:
            return ScoreTest(math.nan, 0, math.nan, tuple(names))
        z = self._x[:, [self.names.index(nm) for nm in names]]
        w = np.concatenate([self.thresholds, self.beta, np.zeros(df)])
        du, dl, hu, hl = _design(self._codes, self._x, z, n_cat)
        _, gu, gl, *_ = _terms(w, du, dl, hu, hl)
        score = du.T @ gu + dl.T @ gl
        info = np.zeros((w.size, w.size))
        for cat in range(n_cat):  # expected information: sum over every possible category
            codes = np.full(self.n, cat, dtype=np.int64)
            du_c, dl_c, hu_c, hl_c = _design(codes, self._x, z, n_cat)
            prob, gu_c, gl_c, *_ = _terms(w, du_c, dl_c, hu_c, hl_c)
            s = du_c * gu_c[:, None] + dl_c * gl_c[:, None]
            info += s.T @ (s * prob[:, None])
        try:
            stat = float(score @ np.linalg.solve(info, score))
        except np.linalg.LinAlgError:
            return ScoreTest(math.nan, df, math.nan, tuple(names))
        return ScoreTest(stat, df, float(stats.chi2.sf(stat, df)), tuple(names))

    def to_dict(self) -> dict[str, Any]:
        return {"levels": self.levels, "thresholds": self.thresholds.tolist(),
                "coefficients": self.coefficients(), "loglik": self.loglik,
                "iterations": self.iterations, "n": self.n}


def _start(codes: IntArray, n_cat: int, p: int) -> Array:
    cum = np.cumsum(np.bincount(codes, minlength=n_cat))[:-1] / codes.size
    return np.concatenate([special.logit(np.clip(cum, 1e-6, 1 - 1e-6)), np.zeros(p)])


def fit_proportional_odds(y: Sequence[float] | Array, x: Array | None = None,
                          names: Sequence[str] | None = None, *, max_iter: int = 100,
                          tol: float = 1e-9) -> OrdinalFit:
    """Fit the cumulative logit model of ``y`` (ordered numeric codes) on the columns of
    ``x`` (no intercept: the thresholds play its part). Categories are the observed values
    of ``y`` in increasing order. Raises :class:`ModelError` when the model is not
    estimable: fewer than two categories, a constant or collinear covariate, or separation.
    """
    yv = np.asarray(y, dtype=float)
    if yv.ndim != 1 or yv.size == 0:
        raise ModelError("y must be a non-empty vector of ordered category codes")
    if not np.all(np.isfinite(yv)):
        raise ModelError("y has missing or infinite values; drop them first")
    xm = np.zeros((yv.size, 0)) if x is None else np.asarray(x, dtype=float)
    if xm.ndim == 1:
        xm = xm[:, None]
    if xm.shape[0] != yv.size:
        raise ModelError(f"x has {xm.shape[0]} rows, y has {yv.size}")
    labels = list(names) if names is not None else [f"x{j + 1}" for j in range(xm.shape[1])]
    if len(labels) != xm.shape[1]:
        raise ModelError(f"names has {len(labels)} entries for {xm.shape[1]} columns")
    levels = sorted(set(yv.tolist()))
    if len(levels) < 2:
        raise ModelError(f"all {yv.size} observations are in one category "
                         f"({levels[0]:g}): the odds ratio is not estimable")
    for j, nm in enumerate(labels):
        if np.ptp(xm[:, j]) == 0:
            raise ModelError(f"covariate {nm!r} is constant ({xm[0, j]:g}): its odds ratio "
                             "is not estimable")
    if xm.shape[1] and np.linalg.matrix_rank(xm - xm.mean(axis=0)) < xm.shape[1]:
        raise ModelError(f"covariates {', '.join(labels)} are collinear")
    codes = np.searchsorted(np.asarray(levels), yv).astype(np.int64)
    n_cat, p = len(levels), xm.shape[1]
    du, dl, hu, hl = _design(codes, xm, np.zeros((yv.size, 0)), n_cat)
    w = _start(codes, n_cat, p)
    ll, grad, hess = _loglik_grad_hess(w, du, dl, hu, hl)
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 - the count is reported
        try:
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError as exc:
            raise ModelError("the information matrix is singular: the model is not "
                             "estimable (separation or empty categories)") from exc
        t = 1.0
        while True:
            cand = w - t * step
            ll_c, grad_c, hess_c = _loglik_grad_hess(cand, du, dl, hu, hl)
            if ll_c >= ll - 1e-12 and np.all(np.diff(cand[:n_cat - 1]) > 0):
                break
            t /= 2.0
            if t < 1e-10:
                raise ModelError("Newton-Raphson could not increase the log-likelihood")
        done = abs(ll_c - ll) < tol and float(np.max(np.abs(t * step))) < 1e-6
        w, ll, grad, hess = cand, ll_c, grad_c, hess_c
        if done or float(np.max(np.abs(grad))) < 1e-10:
            break
    else:
        raise ModelError(f"Newton-Raphson did not converge in {max_iter} iterations "
                         "(separation?)")
    beta = w[n_cat - 1:]
    if np.any(np.abs(beta) > _SEPARATION):
        big = labels[int(np.argmax(np.abs(beta)))]
        raise ModelError(f"covariate {big!r} separates the categories (odds ratio "
                         f"beyond e^{_SEPARATION:g}): the odds ratio is not estimable")
    try:
        vcov = np.asarray(np.linalg.inv(-hess), dtype=np.float64)
    except np.linalg.LinAlgError as exc:
        raise ModelError("the information matrix is singular at the estimate") from exc
    return OrdinalFit(levels=levels, names=labels, thresholds=w[:n_cat - 1].copy(),
                      beta=beta.copy(), vcov=vcov, loglik=ll, iterations=it, n=int(yv.size),
                      _codes=codes, _x=xm)
