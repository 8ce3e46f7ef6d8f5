"""Leave-one-out analysis and case-deletion influence diagnostics (metafor's ``leave1out`` and
``influence.rma.uni``).

For each study i the model is refitted without it (same method and test), giving the deleted
prediction ``ŷ₍ᵢ₎ = xᵢ'β̂₍ᵢ₎`` and:

* ``rstudent = (yᵢ - ŷ₍ᵢ₎) / √(s²₍ᵢ₎ (vᵢ + τ²₍ᵢ₎) + xᵢ'Var(β̂₍ᵢ₎)xᵢ)`` (``s²`` the knha factor);
* ``dffits = (ŷᵢ - ŷ₍ᵢ₎) / √(s²₍ᵢ₎ hᵢ (τ²₍ᵢ₎ + vᵢ))``;
* ``cook_d = (β̂ - β̂₍ᵢ₎)' Var(β̂)⁻¹ (β̂ - β̂₍ᵢ₎)`` (over the tested coefficients);
* ``cov_r = det Var(β̂₍ᵢ₎) / det Var(β̂)``;
* ``dfbetas = (β̂ - β̂₍ᵢ₎) / √(s²₍ᵢ₎ diag((X'W₍ᵢ₎X)⁻¹))`` with ``W₍ᵢ₎`` built from ``τ²₍ᵢ₎``;
* ``tau2_del``, ``QE_del``, the hat value ``hᵢ`` and the weight in percent.

A study is flagged influential (metafor's rule) when ``|dffits| > 3√(p/(k-p))``, the
chi-square(m) cdf of Cook's distance exceeds 0.5, ``hᵢ > 3p/k`` or any ``|dfbetas| > 1``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats

from strokecell.errors import ModelError
from strokecell.stats.meta._result import MetaResult
from strokecell.stats.meta._rma import fit_matrix
from strokecell.stats.meta._tau2 import inv_xwx

FloatArray = npt.NDArray[np.float64]


def _refit(res: MetaResult, keep: npt.NDArray[np.bool_]) -> MetaResult:
    return fit_matrix(res.yi[keep], res.vi[keep], res.X[keep], list(res.coef_names),
                      method=res.method, test=res.test, level=res.level / 100,
                      control=res.control, intercept=res.intercept,
                      labels=tuple(lab for lab, k in zip(res.labels, keep, strict=True) if k),
                      measure=res.measure)


@dataclass(frozen=True)
class LeaveOneOut:
    """One row per omitted study: the model fitted without it."""

    labels: tuple[str, ...]
    estimate: FloatArray
    se: FloatArray
    stat: FloatArray
    pval: FloatArray
    ci_lb: FloatArray
    ci_ub: FloatArray
    Q: FloatArray
    Q_pval: FloatArray
    tau2: FloatArray
    I2: FloatArray
    H2: FloatArray

    def to_dict(self) -> list[dict[str, Any]]:
        keys = ("estimate", "se", "stat", "pval", "ci_lb", "ci_ub", "Q", "Q_pval", "tau2",
                "I2", "H2")
        return [{"omitted": lab, **{key: float(getattr(self, key)[i]) for key in keys}}
                for i, lab in enumerate(self.labels)]


def leave_one_out(result: MetaResult) -> LeaveOneOut:
    """Refit the model (without moderators) k times, leaving out each study in turn."""
    if not result.int_only:
        raise ModelError("leave_one_out is for models without moderators; "
                         "use influence() for a meta-regression")
    if result.k < 2:
        raise ModelError(f"leave_one_out needs k >= 2 studies (k = {result.k})")
    rows: list[list[float]] = []
    for i in range(result.k):
        keep = np.ones(result.k, dtype=bool)
        keep[i] = False
        try:
            r = _refit(result, keep)
        except ModelError:
            rows.append([np.nan] * 11)
            continue
        rows.append([float(r.beta[0]), float(r.se_beta[0]), float(r.stat_beta[0]),
                     float(r.pval_beta[0]), float(r.ci_lb_beta[0]), float(r.ci_ub_beta[0]),
                     *(np.nan if x is None else x for x in (r.QE, r.QEp)), r.tau2,
                     *(np.nan if x is None else x for x in (r.I2, r.H2))])
    a = np.asarray(rows, dtype=float)
    return LeaveOneOut(result.labels, *(a[:, j] for j in range(11)))


@dataclass(frozen=True)
class Influence:
    """Case-deletion diagnostics, one entry per study (metafor's ``influence``)."""

    labels: tuple[str, ...]
    rstudent: FloatArray
    dffits: FloatArray
    cook_d: FloatArray
    cov_r: FloatArray
    tau2_del: FloatArray
    QE_del: FloatArray
    hat: FloatArray
    weight: FloatArray
    dfbetas: FloatArray
    coef_names: tuple[str, ...]
    influential: npt.NDArray[np.bool_]

    def to_dict(self) -> list[dict[str, Any]]:
        out = []
        for i, lab in enumerate(self.labels):
            row: dict[str, Any] = {"study": lab}
            for key in ("rstudent", "dffits", "cook_d", "cov_r", "tau2_del", "QE_del", "hat",
                        "weight"):
                row[key] = float(getattr(self, key)[i])
            row["dfbetas"] = {n: float(self.dfbetas[i, j])
                              for j, n in enumerate(self.coef_names)}
            row["influential"] = bool(self.influential[i])
            out.append(row)
        return out


def hat_values(result: MetaResult) -> FloatArray:
    """Diagonal of ``X(X'WX)⁻¹X'W`` with ``W = diag(1/(v + τ²))``."""
    w = 1 / (result.vi + result.tau2)
    H = result.X @ inv_xwx(result.X, w) @ (result.X.T * w)
    out: FloatArray = np.diag(H).copy()
    return out


def influence(result: MetaResult) -> Influence:
    """Case-deletion influence diagnostics for every study of ``result``."""
    k, p = result.k, result.p
    if k < 2:
        raise ModelError(f"influence needs k >= 2 studies (k = {k})")
    btt = list(range(1, p)) if (p > 1 and result.intercept) else list(range(p))
    m = len(btt)
    X, beta, vb = result.X, result.beta, result.vb
    svb = np.linalg.inv(vb[np.ix_(btt, btt)])
    det_full = float(np.linalg.det(vb[np.ix_(btt, btt)]))
    pred = X @ beta
    hat = hat_values(result)
    out = {key: np.full(k, np.nan) for key in
           ("delpred", "vdelpred", "s2w", "tau2", "QE", "dffits", "cook", "covr")}
    dfbs = np.full((k, p), np.nan)
    for i in range(k):
        keep = np.ones(k, dtype=bool)
        keep[i] = False
        try:
            r = _refit(result, keep)
        except ModelError:
            continue
        xi = X[i]
        out["tau2"][i] = r.tau2
        out["QE"][i] = np.nan if r.QE is None else r.QE
        out["delpred"][i] = float(xi @ r.beta)
        out["vdelpred"][i] = float(xi @ r.vb @ xi)
        out["s2w"][i] = r.s2w
        out["dffits"][i] = (pred[i] - out["delpred"][i]) / np.sqrt(
            r.s2w * hat[i] * (r.tau2 + result.vi[i]))
        vb_del = inv_xwx(X, 1 / (result.vi + r.tau2))
        dfb = beta - r.beta
        dfbs[i] = dfb / np.sqrt(r.s2w * np.diag(vb_del))
        d = dfb[btt]
        out["cook"][i] = float(d @ svb @ d)
        out["covr"][i] = float(np.linalg.det(r.vb[np.ix_(btt, btt)])) / det_full
    resid = result.yi - out["delpred"]
    resid[np.abs(resid) < 100 * np.finfo(float).eps] = 0.0
    se_resid = np.sqrt(result.vi * out["s2w"] + out["vdelpred"] + out["tau2"] * out["s2w"])
    with np.errstate(invalid="ignore", divide="ignore"):
        rstudent = resid / se_resid
        infl = ((np.abs(out["dffits"]) > 3 * np.sqrt(p / (k - p)))
                | (stats.chi2.cdf(out["cook"], m) > 0.5)
                | (hat > 3 * p / k)
                | np.any(np.abs(dfbs) > 1, axis=1))
    return Influence(result.labels, rstudent, out["dffits"], out["cook"], out["covr"],
                     out["tau2"], out["QE"], hat, result.weights, dfbs, result.coef_names,
                     np.asarray(infl, dtype=bool))
