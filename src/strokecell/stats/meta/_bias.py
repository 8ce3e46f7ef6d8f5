"""Small-study effects: Egger's regression test and Duval & Tweedie's trim-and-fill.

``regtest`` follows metafor's default (``model="rma"``, ``predictor="sei"``): the model is
refitted with the standard error √vᵢ added as a moderator, by the same method and test, and
the test of that coefficient is Egger's test; the intercept is the limit estimate (SE → 0).
``model="lm"`` is the classic version: weighted least squares with weights 1/vᵢ and a
residual variance, t on k - p - 1 df.

``trimfill`` (estimators L0 and R0; metafor's default L0): the side of the missing studies is
the opposite of the sign of Egger's slope (slope < 0: missing on the right); the data are
flipped so the missing side is the left one, sorted, and iteratively the k0 most extreme
studies are trimmed, the intercept-only model refitted on the rest, and
``k0 = (4 S_r - k(k+1)) / (2k - 1)`` (L0, ``S_r`` the sum of the positive signed ranks of
``yᵢ - θ̂``) or ``k0 = γ - 1`` (R0, ``γ`` the length of the rightmost run of positive ranks),
rounded and truncated at 0, until k0 no longer changes. The k0 studies are mirrored about the
last θ̂ (same variances) and the model is fitted to the filled data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats

from strokecell.errors import InputError, ModelError, Problem
from strokecell.stats.meta._result import MetaResult
from strokecell.stats.meta._rma import fit_matrix
from strokecell.stats.meta._tau2 import inv_xwx

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class RegTest:
    """Egger's regression test for funnel-plot asymmetry."""

    model: str
    predictor: str
    stat: float
    pval: float
    df: int | None
    slope: float
    slope_se: float
    limit_estimate: float | None
    limit_ci_lb: float | None
    limit_ci_ub: float | None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _check_model(model: str, predictor: str) -> None:
    if model not in ("rma", "lm"):
        raise InputError(Problem("model", "unknown regression model", model, allowed="rma, lm"))
    if predictor not in ("sei", "vi"):
        raise InputError(Problem("predictor", "unknown predictor", predictor,
                                 allowed="sei, vi"))


def regtest(result: MetaResult, *, model: str = "rma", predictor: str = "sei") -> RegTest:
    """Egger's regression test on the studies of ``result`` (metafor's ``regtest``)."""
    _check_model(model, predictor)
    extra = np.sqrt(result.vi) if predictor == "sei" else result.vi
    X = np.column_stack([result.X, extra])
    k, p = int(X.shape[0]), int(X.shape[1])
    need = p + (0 if (result.method == "EE" or model == "lm") else 1)
    if k < max(need, p + 1):
        raise ModelError(f"Egger's test needs more studies: k = {k} for {p} coefficients")
    if np.linalg.matrix_rank(X) < p:
        raise ModelError(f"the {predictor} column is collinear with the model (equal variances?)")
    int_only = result.int_only
    if model == "rma":
        fit = fit_matrix(result.yi, result.vi, X, [*result.coef_names, predictor],
                         method=result.method, test=result.test, level=result.level / 100,
                         control=result.control, intercept=result.intercept)
        stat, pval = float(fit.stat_beta[-1]), float(fit.pval_beta[-1])
        df = fit.ddf
        slope, slope_se = float(fit.beta[-1]), float(fit.se_beta[-1])
        lim = (float(fit.beta[0]), float(fit.ci_lb_beta[0]), float(fit.ci_ub_beta[0]))
    else:
        w = 1 / result.vi
        vb0 = inv_xwx(X, w)
        beta = vb0 @ (X.T @ (w * result.yi))
        df = k - p
        s2 = float(np.sum(w * (result.yi - X @ beta) ** 2)) / df
        se = np.sqrt(np.diag(vb0) * s2)
        stat = float(beta[-1] / se[-1])
        pval = float(2 * stats.t.sf(abs(stat), df))
        slope, slope_se = float(beta[-1]), float(se[-1])
        crit = float(stats.t.isf((1 - result.level / 100) / 2, df))
        lim = (float(beta[0]), float(beta[0] - crit * se[0]), float(beta[0] + crit * se[0]))
    if not int_only:
        return RegTest(model, predictor, stat, pval, df, slope, slope_se, None, None, None)
    return RegTest(model, predictor, stat, pval, df, slope, slope_se, *lim)


@dataclass(frozen=True, eq=False)
class TrimFill:
    """Trim-and-fill: the estimated number of missing studies and the filled-in model."""

    k0: int
    se_k0: float
    side: str
    estimator: str
    filled_yi: FloatArray
    filled_vi: FloatArray
    result: MetaResult
    original: MetaResult

    def to_dict(self) -> dict[str, Any]:
        out = self.result.to_dict()
        out.update({"k0": self.k0, "se_k0": self.se_k0, "side": self.side,
                    "estimator": self.estimator,
                    "filled": [{"yi": float(y), "vi": float(v)}
                               for y, v in zip(self.filled_yi, self.filled_vi, strict=True)]})
        return out


def _int_only_fit(res: MetaResult, yi: FloatArray, vi: FloatArray,
                  labels: tuple[str, ...] | None = None) -> MetaResult:
    return fit_matrix(yi, vi, np.ones((yi.size, 1)), ["intrcpt"], method=res.method,
                      test=res.test, level=res.level / 100, control=res.control,
                      labels=labels, measure=res.measure)


def _side(result: MetaResult) -> str:
    X = np.column_stack([np.ones(result.k), np.sqrt(result.vi)])
    if np.linalg.matrix_rank(X) < 2:
        raise ModelError("cannot choose the side for trim-and-fill when all variances are "
                         "equal; give side='left' or side='right'")
    fit = fit_matrix(result.yi, result.vi, X, ["intrcpt", "sei"], method=result.method,
                     test="z", level=0.95, control=result.control)
    return "right" if float(fit.beta[1]) < 0 else "left"


def trimfill(result: MetaResult, *, side: str | None = None, estimator: str = "L0",
             maxiter: int = 100) -> TrimFill:
    """Duval & Tweedie's trim-and-fill for a model without moderators (metafor's defaults)."""
    if not result.int_only:
        raise ModelError("trim-and-fill applies to models without moderators")
    if result.k < 3:
        raise ModelError(f"trim-and-fill needs k >= 3 studies (k = {result.k})")
    estimator = estimator.upper()
    if estimator not in ("L0", "R0"):
        raise InputError(Problem("estimator", "unknown estimator", estimator,
                                 allowed="L0, R0"))
    if side is None:
        side = _side(result)
    elif side not in ("left", "right"):
        raise InputError(Problem("side", "unknown side", side, allowed="left, right"))
    sign = -1.0 if side == "right" else 1.0
    yi_f = sign * result.yi
    order = np.argsort(yi_f, kind="stable")
    yi, vi = yi_f[order], result.vi[order]
    k = yi.size
    k0, k0_old, it = 0, -1, 0
    beta = 0.0
    se_k0 = 0.0
    while k0 != k0_old:
        k0_old = k0
        it += 1
        if it > maxiter:
            raise ModelError("trim-and-fill did not converge")
        beta = float(_int_only_fit(result, yi[: k - k0], vi[: k - k0]).beta[0])
        yc = yi - beta
        ranks = np.empty(k)
        ranks[np.argsort(np.abs(yc), kind="stable")] = np.arange(1, k + 1)
        signed = np.sign(yc) * ranks
        if estimator == "R0":
            neg = -signed[signed < 0]
            k0_raw = (k - (float(neg.max()) if neg.size else 0.0)) - 1
            se_k0 = math.sqrt(2 * max(0.0, k0_raw) + 2)
        else:
            sr = float(signed[signed > 0].sum())
            k0_raw = (4 * sr - k * (k + 1)) / (2 * k - 1)
            var_sr = (k * (k + 1) * (2 * k + 1) + 10 * k0_raw**3 + 27 * k0_raw**2
                      + 17 * k0_raw - 18 * k * k0_raw**2 - 18 * k * k0_raw
                      + 6 * k**2 * k0_raw) / 24
            se_k0 = 4 * math.sqrt(max(var_sr, 0.0)) / (2 * k - 1)
        k0 = max(0, round(k0_raw))  # half to even, as R's round()
        se_k0 = max(0.0, se_k0)
    if k0 == 0:
        return TrimFill(0, se_k0, side, estimator, np.zeros(0), np.zeros(0), result, result)
    filled_y = sign * (2 * beta - yi[k - k0:])
    filled_v = vi[k - k0:]
    labels = (*result.labels, *(f"Filled {j + 1}" for j in range(k0)))
    res = _int_only_fit(result, np.concatenate([result.yi, filled_y]),
                        np.concatenate([result.vi, filled_v]), labels)
    return TrimFill(k0, se_k0, side, estimator, filled_y, filled_v, res, result)
