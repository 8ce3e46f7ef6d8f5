"""Optimisation of the covariance parameters and the quantities inference needs."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize

from strokecell.stats.mmrm._likelihood import (
    Fit,
    Layout,
    Pieces,
    dmats,
    evaluate,
    gradient,
    hessian,
    pieces,
)
from strokecell.stats.mmrm._structures import Structure

Array = npt.NDArray[np.float64]


@dataclass(frozen=True)
class CovModel:
    """A covariance structure, one copy per group (block-diagonal over groups)."""

    structure: Structure
    n_groups: int

    @property
    def k(self) -> int:
        return self.structure.n_theta

    def split(self, theta: Array) -> Array:
        return theta.reshape(self.n_groups, self.k)

    def sigmas(self, theta: Array) -> Array:
        return np.asarray(self.structure.sigma(self.split(theta)), dtype=np.float64)

    def natural(self, theta: Array) -> Array:
        return np.asarray(np.real(self.structure.natural(self.split(theta))),
                          dtype=np.float64).ravel()

    def derivs(self, par: Array, *, natural: bool,
               second: bool) -> tuple[Array, Array, Array | None]:
        sig, d1, d2 = [], [], []
        for g, pg in enumerate(self.split(par)):
            s, a, b = self.structure.derivatives(pg, natural=natural, second=second)
            sig.append(s)
            d1.append(a)
            if b is not None:
                d2.append(b)
            del g
        return np.stack(sig), np.stack(d1), (np.stack(d2) if second else None)


@dataclass
class Convergence:
    """How the optimiser ended: enough to decide whether to trust the fit."""

    converged: bool
    message: str
    iterations: int
    gradient_norm: float
    hessian_positive_definite: bool
    structure: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Estimate:
    """A fitted model: parameters, their covariances and the derivatives inference uses."""

    cov: CovModel
    reml: bool
    theta: Array
    fit: Fit
    pieces: Pieces
    convergence: Convergence
    phi_nat: Array = field(default_factory=lambda: np.zeros(0))
    dsig_nat: Array = field(default_factory=lambda: np.zeros(0))
    d2sig_nat: Array | None = None
    hess_nat: Array = field(default_factory=lambda: np.zeros((0, 0)))
    w_nat: Array = field(default_factory=lambda: np.zeros((0, 0)))   # cov of natural params
    dm: Array = field(default_factory=lambda: np.zeros(0))           # D_k, (K, p, p)

    @property
    def objective(self) -> float:
        return self.fit.objective


class _Objective:
    def __init__(self, lay: Layout, cov: CovModel, reml: bool) -> None:
        self.lay, self.cov, self.reml = lay, cov, reml
        self._key: bytes | None = None
        self._fit: Fit | None = None
        self._pc: Pieces | None = None
        self._d: tuple[Array, Array, Array | None] | None = None
        self._h: Array | None = None

    def _at(self, theta: Array) -> Fit | None:
        key = theta.tobytes()
        if key != self._key:
            self._key = key
            self._pc = None
            self._d = None
            self._h = None
            try:
                sig = self.cov.sigmas(theta)
            except (FloatingPointError, ValueError):
                self._fit = None
                return None
            self._fit = evaluate(self.lay, sig, self.reml) if np.all(np.isfinite(sig)) else None
        return self._fit

    def _pieces(self, theta: Array) -> tuple[Fit, Pieces, Array, Array | None] | None:
        fit = self._at(theta)
        if fit is None:
            return None
        if self._pc is None:
            self._pc = pieces(self.lay, fit, self.reml)
        if self._d is None:
            self._d = self.cov.derivs(theta, natural=False, second=True)
        return fit, self._pc, self._d[1], self._d[2]

    def fun(self, theta: Array) -> float:
        fit = self._at(theta)
        return np.inf if fit is None else fit.objective

    def jac(self, theta: Array) -> Array:
        got = self._pieces(theta)
        if got is None:
            return np.zeros_like(theta)
        _, pc, d1, _ = got
        return gradient(pc, d1)

    def hess(self, theta: Array) -> Array:
        got = self._pieces(theta)
        if got is None:
            return np.eye(theta.size)
        if self._h is None:
            fit, pc, d1, d2 = got
            self._h = hessian(self.lay, fit, pc, d1, d2, self.reml)
        return self._h


def start_values(lay: Layout, cov: CovModel) -> Array:
    """Starting covariance from OLS residuals, visit by visit (pairwise), per group."""
    xf = lay.x.reshape(-1, lay.p)
    yf = lay.y.ravel()
    beta, *_ = np.linalg.lstsq(xf, yf, rcond=None)
    res = (lay.y - lay.x @ beta) * lay.mask
    out = []
    t = lay.n_visits
    for g in range(cov.n_groups):
        sel = lay.group == g
        r = res[sel]
        m = lay.mask[sel].astype(np.float64)
        cnt = m.T @ m
        s0 = (r.T @ r) / np.maximum(cnt, 1.0)
        var = np.diag(s0).copy()
        var[var <= 0] = max(float(np.mean(var[var > 0])) if np.any(var > 0) else 1.0, 1e-6)
        sd = np.sqrt(var)
        corr = s0 / np.outer(sd, sd)
        corr[cnt < 3] = 0.0
        np.fill_diagonal(corr, 1.0)
        ev, vec = np.linalg.eigh(0.5 * (corr + corr.T))
        corr = (vec * np.maximum(ev, 0.05)) @ vec.T
        dd = np.sqrt(np.diag(corr))
        corr = corr / np.outer(dd, dd)
        s0 = corr * np.outer(sd, sd) + 1e-9 * np.eye(t)
        out.append(cov.structure.initial_theta(s0))
    return np.concatenate(out)


def _minimise(obj: _Objective, th0: Array, max_iter: int, tol: float
              ) -> tuple[Array, str, int]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            try:
                res = minimize(obj.fun, th0, jac=obj.jac, hess=obj.hess, method="trust-exact",
                               options={"maxiter": max_iter, "gtol": tol})
                return np.asarray(res.x), str(res.message), int(res.nit)
            except (np.linalg.LinAlgError, ValueError, FloatingPointError) as exc:
                return th0, f"optimiser failed: {exc}", 0


def _assess(obj: _Objective, theta: Array, message: str, nit: int
            ) -> tuple[Convergence, Fit, Pieces] | None:
    got = obj._pieces(theta)
    if got is None:
        return None
    fit, pc, d1, _ = got
    grad = gradient(pc, d1)
    h = obj.hess(theta)
    with np.errstate(all="ignore"):
        ev = np.linalg.eigvalsh(h) if np.all(np.isfinite(h)) else np.array([-1.0])
    gnorm = float(np.max(np.abs(grad))) if grad.size else 0.0
    hpd = bool(np.all(ev > 1e-8 * max(1.0, float(np.max(np.abs(ev))))))
    ok = bool(np.isfinite(fit.objective) and gnorm < 1e-3 and hpd)
    if ok and "bad approximation" in message:
        message = "converged: no further decrease possible at machine precision"
    elif not ok:
        why = [] if hpd else ["Hessian not positive definite"]
        if gnorm >= 1e-3:
            why.append(f"gradient {gnorm:.3g} not below 1e-3")
        message = f"{message} ({'; '.join(why) or 'non-finite likelihood'})"
    return Convergence(ok, message, nit, gnorm, hpd, obj.cov.structure.name), fit, pc


def optimise(lay: Layout, cov: CovModel, reml: bool, *, theta0: Array | None = None,
             max_iter: int = 200, tol: float = 1e-9) -> Estimate:
    """Maximise the (restricted) likelihood by a trust-region Newton method.

    Starts from OLS-residual covariances; if that does not converge, once more from a
    diagonal covariance with the pooled variance. The best attempt is returned, its
    convergence record saying whether it can be trusted.
    """
    obj = _Objective(lay, cov, reml)
    starts = [start_values(lay, cov) if theta0 is None else theta0]
    if theta0 is None:
        var = float(np.var(lay.y[lay.mask])) or 1.0
        starts.append(np.concatenate([cov.structure.initial_theta(var * np.eye(lay.n_visits))
                                      for _ in range(cov.n_groups)]))
    best: tuple[Array, Convergence, Fit, Pieces] | None = None
    messages = []
    for th0 in starts:
        if not np.isfinite(obj.fun(th0)):
            messages.append("start value not positive definite")
            continue
        theta, message, nit = _minimise(obj, th0, max_iter, tol)
        got = _assess(obj, theta, message, nit)
        if got is None:
            messages.append(message or "covariance not positive definite at the end")
            continue
        conv, fit, pc = got
        if best is None or (conv.converged and not best[1].converged) or (
                conv.converged == best[1].converged and fit.objective < best[2].objective):
            best = (theta, conv, fit, pc)
        if conv.converged:
            break
    if best is None:
        raise _NotPositiveDefinite("; ".join(messages) or "no positive definite covariance")
    theta, conv, fit, pc = best
    return Estimate(cov=cov, reml=reml, theta=theta, fit=fit, pieces=pc, convergence=conv)


def estimate_at(lay: Layout, cov: CovModel, reml: bool, theta: Array) -> Estimate:
    """The model at fixed covariance parameters (no optimisation), e.g. a published fit."""
    obj = _Objective(lay, cov, reml)
    got = obj._pieces(theta)
    if got is None:
        raise _NotPositiveDefinite("covariance not positive definite at the given parameters")
    fit, pc, d1, _ = got
    gnorm = float(np.max(np.abs(gradient(pc, d1))))
    conv = Convergence(False, "evaluated at fixed parameters", 0, gnorm, True,
                       cov.structure.name)
    return Estimate(cov=cov, reml=reml, theta=theta, fit=fit, pieces=pc, convergence=conv)


class _NotPositiveDefinite(Exception):
    pass


def add_inference(lay: Layout, est: Estimate, *, expected: bool = False) -> None:
    """Hessian and D matrices in SAS's natural parameters (for df, KR and the report).

    ``expected=True`` uses the expected instead of the observed information for W.
    """
    phi = est.cov.natural(est.theta)
    _, d1, d2 = est.cov.derivs(phi, natural=True, second=not est.cov.structure.linear)
    if d2 is None:
        g, k, t = d1.shape[0], d1.shape[1], d1.shape[2]
        d2 = np.zeros((g, k, k, t, t))
    dm = dmats(lay, est.pieces, d1)
    h = hessian(lay, est.fit, est.pieces, d1, d2, est.reml, dm=dm, expected=expected)
    est.phi_nat, est.dsig_nat, est.d2sig_nat, est.hess_nat, est.dm = phi, d1, d2, h, dm
    try:
        est.w_nat = np.asarray(2.0 * np.linalg.inv(h), dtype=np.float64)
    except np.linalg.LinAlgError:
        est.w_nat = np.asarray(2.0 * np.linalg.pinv(h), dtype=np.float64)
