"""Estimators of the between-study variance tau² (metafor's ``rma.uni`` conventions).

All estimators work on the mixed-effects model ``y = Xβ + u + e``, ``u ~ N(0, τ²)``,
``e ~ N(0, diag(v))``, with ``P(w) = W - W X (X'W X)⁻¹ X'W`` and ``W = diag(w)``:

* DL  ``τ² = (y'P y - (k-p)) / tr P`` with ``w = 1/v``;
* HE  ``τ² = (y'P₀y - tr(P₀V)) / (k-p)`` with ``P₀ = I - X(X'X)⁻¹X'``;
* HS  ``τ² = (y'P y - k) / Σw`` with ``w = 1/v``;
* SJ  ``τ² = τ₀² y'P y / (k-p)``, ``w = 1/(v+τ₀²)``, ``τ₀² = Σ(y-ȳ)²/k``;
* PM  root of ``y'P y = k-p`` with ``w = 1/(v+τ²)`` (Brent's method, as R's ``uniroot``);
* ML, REML, EB by Fisher scoring from the HE estimate (until tau² changes by < threshold,
  step halving to stay ≥ 0); ML and REML fall back to 0 when the likelihood is larger there.

Every estimate is truncated at 0. Standard errors follow metafor (Viechtbauer 2005 and the
metafor notes): DL, HE, HS, SJ from the variance of the quadratic form, ML ``√(2/Σw²)``,
REML ``√(2/tr(PP))``, EB and PM ``√(2k²/(k-p)) / Σw``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from strokecell.errors import ConvergenceError, ModelError

FloatArray = npt.NDArray[np.float64]

RE_METHODS = ("DL", "REML", "ML", "PM", "HE", "SJ", "HS", "EB")
METHODS = ("EE", *RE_METHODS)
EPS = float(np.finfo(float).eps)


@dataclass(frozen=True)
class Control:
    """Iteration settings (names as metafor's ``control``).

    metafor stops Fisher scoring when tau² changes by less than 1e-5 and ``uniroot`` at
    ``eps^0.25``; its reference output (``dat_bcg_metafor.json``) agrees with the converged
    optimum to 1e-13, so by default the same algorithms run to a tight tolerance here
    (Fisher scoring stops at a change below ``threshold·max(1, tau²)``; metafor's rule is
    absolute, as in :meth:`metafor_defaults`).
    :meth:`metafor_defaults` gives metafor's own stopping rules.
    """

    threshold: float = 1e-12
    maxiter: int = 1000
    stepadj: float = 1.0
    tol: float = 1e-12
    tau2_max: float = 100.0
    tau2_init: float | None = None
    ll0check: bool = True
    ll0_tol: float = EPS**0.25
    relative: bool = True

    @classmethod
    def metafor_defaults(cls) -> Control:
        """metafor's defaults: threshold 1e-5, maxiter 100, uniroot tol eps^0.25."""
        return cls(threshold=1e-5, maxiter=100, tol=EPS**0.25, relative=False)


@dataclass(frozen=True)
class Tau2Estimate:
    tau2: float
    se: float | None
    iterations: int = 0


def inv_xwx(X: FloatArray, w: FloatArray) -> FloatArray:
    """``(X'WX)⁻¹`` through the QR decomposition of ``W^½X``."""
    _, r = np.linalg.qr(np.sqrt(w)[:, None] * X)
    rinv = np.linalg.solve(r, np.eye(r.shape[0]))
    out: FloatArray = rinv @ rinv.T
    return out


def p_matrix(X: FloatArray, w: FloatArray) -> FloatArray:
    """``P = W - W X (X'WX)⁻¹ X'W``."""
    wx = w[:, None] * X
    out: FloatArray = np.diag(w) - wx @ inv_xwx(X, w) @ wx.T
    return out


def _quad(y: FloatArray, P: FloatArray) -> float:
    return float(y @ P @ y)


def _mad(x: FloatArray) -> float:
    med = float(np.median(x))
    return 1.4826 * float(np.median(np.abs(x - med)))


def zeroin(f: Callable[[float], float], ax: float, bx: float, fa: float, fb: float,
           tol: float, maxiter: int) -> tuple[float, int]:
    """Brent's root finder (Brent 1973, ``zeroin``), the algorithm behind R's ``uniroot``.

    Returns the root and the number of iterations (-1 if it did not converge).
    """
    a, b, c, fc = ax, bx, ax, fa
    if fa == 0.0:
        return a, 0
    if fb == 0.0:
        return b, 0
    for it in range(maxiter + 1):
        prev_step = b - a
        if abs(fc) < abs(fb):
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tol_act = 2 * EPS * abs(b) + tol / 2
        new_step = (c - b) / 2
        if abs(new_step) <= tol_act or fb == 0.0:
            return b, it
        if abs(prev_step) >= tol_act and abs(fa) > abs(fb):
            cb = c - b
            if a == c:
                t1 = fb / fa
                p = cb * t1
                q = 1.0 - t1
            else:
                q, t1, t2 = fa / fc, fb / fc, fb / fa
                p = t2 * (cb * q * (q - t1) - (b - a) * (t1 - 1.0))
                q = (q - 1.0) * (t1 - 1.0) * (t2 - 1.0)
            if p > 0:
                q = -q
            else:
                p = -p
            if p < (0.75 * cb * q - abs(tol_act * q) / 2) and p < abs(prev_step * q / 2):
                new_step = p / q
        if abs(new_step) < tol_act:
            new_step = tol_act if new_step > 0 else -tol_act
        a, fa = b, fb
        b += new_step
        fb = f(b)
        if (fb > 0 and fc > 0) or (fb < 0 and fc < 0):
            c, fc = a, fa
    return b, -1


def _need_positive(vi: FloatArray, method: str) -> None:
    if np.any(vi <= 0):
        raise ModelError(
            f"method {method}: every sampling variance must be > 0 "
            f"(smallest vi is {float(vi.min())!r}); use REML, ML, EB or HE")


def _loglik(y: FloatArray, vi: FloatArray, X: FloatArray, tau2: float, reml: bool) -> float:
    w = 1 / (vi + tau2)
    vb = inv_xwx(X, w)
    beta = vb @ (X.T @ (w * y))
    rss = float(np.sum(w * (y - X @ beta) ** 2))
    k, p = int(X.shape[0]), int(X.shape[1])
    if not reml:
        return -0.5 * k * math.log(2 * math.pi) - 0.5 * float(np.sum(np.log(vi + tau2))) - rss / 2
    logdet = float(np.linalg.slogdet(X.T @ (w[:, None] * X))[1])
    return (-0.5 * (k - p) * math.log(2 * math.pi) - 0.5 * float(np.sum(np.log(vi + tau2)))
            - 0.5 * logdet - rss / 2)


def _fisher_scoring(y: FloatArray, vi: FloatArray, X: FloatArray, method: str, start: float,
                    con: Control) -> tuple[float, int]:
    k, p = int(X.shape[0]), int(X.shape[1])
    tau2 = max(0.0, start) if con.tau2_init is None else con.tau2_init
    change = con.threshold + 1
    it = 0
    while change > con.threshold * (max(1.0, tau2) if con.relative else 1.0):
        it += 1
        old = tau2
        w = 1 / (vi + tau2)
        P = p_matrix(X, w)
        if method == "EB":
            adj = (_quad(y, P) * k / (k - p) - k) / float(np.sum(w))
        else:
            Py = P @ y
            ypppy = float(Py @ Py)
            if method == "ML":
                adj = (ypppy - float(np.sum(w))) / float(np.sum(w**2))
            else:
                adj = (ypppy - float(np.trace(P))) / float(np.sum(P * P))
        adj *= con.stepadj
        if not math.isfinite(adj):
            adj = 0.0
        halvings = 0
        while tau2 + adj < 0 and halvings < 2000:
            adj /= 2
            halvings += 1
        if tau2 + adj < 0:
            adj = -tau2
        tau2 = tau2 + adj
        change = abs(old - tau2)
        if it > con.maxiter:
            # Fisher scoring can cycle instead of converging (seen on data where the
            # likelihood is flat near its maximum); the maximum itself still exists, so it is
            # found directly rather than reported as a failure. ML/REML only: EB has no
            # likelihood to maximise.
            if method == "EB":
                raise ConvergenceError(
                    f"Fisher scoring for tau^2 ({method}) did not converge in {con.maxiter} "
                    "iterations; try another method")
            warnings.warn(f"Fisher scoring for tau^2 ({method}) did not converge in "
                          f"{con.maxiter} iterations; tau^2 found by direct maximisation of "
                          "the log-likelihood", RuntimeWarning, stacklevel=3)
            return _maximise_loglik(y, vi, X, method == "REML", con), it
    if (method in ("ML", "REML") and con.ll0check and tau2 > con.threshold
            and bool(np.all(vi > 0))):
        reml = method == "REML"
        ll0 = _loglik(y, vi, X, 0.0, reml)
        ll = _loglik(y, vi, X, tau2, reml)
        if ll0 - ll > con.ll0_tol:
            warnings.warn("Fisher scoring may have stopped at a local maximum; tau^2 set to 0",
                          RuntimeWarning, stacklevel=3)
            tau2 = 0.0
    return tau2, it


def _maximise_loglik(y: FloatArray, vi: FloatArray, X: FloatArray, reml: bool,
                     con: Control) -> float:
    from scipy.optimize import minimize_scalar

    upper = max(con.tau2_max, 10.0 * float(np.var(y)) + float(np.max(vi)))
    res = minimize_scalar(lambda t: -_loglik(y, vi, X, float(t), reml), bounds=(0.0, upper),
                          method="bounded", options={"xatol": con.threshold, "maxiter": 500})
    if not res.success:
        raise ConvergenceError("tau^2: neither Fisher scoring nor direct maximisation of the "
                               "log-likelihood converged; try another method")
    tau2 = float(res.x)
    # The bounded search never lands exactly on the boundary; take 0 when it is as good.
    return 0.0 if _loglik(y, vi, X, 0.0, reml) >= _loglik(y, vi, X, tau2, reml) else tau2


def _pm(y: FloatArray, vi: FloatArray, X: FloatArray, yraw: FloatArray,
        con: Control) -> tuple[float, int]:
    k, p = int(X.shape[0]), int(X.shape[1])
    target = float(k - p)
    tau2_max = max(con.tau2_max, 10 * _mad(yraw) ** 2)

    def f(t: float) -> float:
        return _quad(y, p_matrix(X, 1 / (vi + t))) - target

    f0 = f(0.0)
    if f0 < 0:
        return 0.0, 0
    fmax = f(tau2_max)
    if fmax > 0:
        raise ModelError(f"PM estimator: tau^2 exceeds its upper bound {tau2_max:g}; "
                         "use another method")
    root, it = zeroin(f, 0.0, tau2_max, f0, fmax, con.tol, con.maxiter)
    if it < 0:
        raise ConvergenceError("PM estimator: root search for tau^2 did not converge")
    return root, it


def estimate_tau2(yi: FloatArray, vi: FloatArray, X: FloatArray, method: str,
                  con: Control | None = None) -> Tau2Estimate:
    """Estimate tau² by ``method`` (one of :data:`RE_METHODS`); ``EE`` gives 0."""
    con = con or Control()
    k, p = int(X.shape[0]), int(X.shape[1])
    if method == "EE" or k == 1:
        return Tau2Estimate(0.0, None)
    y = yi - yi.mean()  # centred, as metafor (P removes the intercept anyway)
    it = 0
    if method in ("DL", "HS", "PM"):
        _need_positive(vi, method)
    if method == "DL":
        P = p_matrix(X, 1 / vi)
        trP = float(np.trace(P))
        tau2 = max(0.0, (_quad(y, P) - (k - p)) / trP)
        se = math.sqrt((2 * (k - p) + 4 * tau2 * trP + 2 * tau2**2 * float(np.sum(P * P)))
                       / trP**2)
        return Tau2Estimate(tau2, se)
    if method == "HS":
        w = 1 / vi
        P = p_matrix(X, w)
        sw = float(np.sum(w))
        tau2 = max(0.0, (_quad(y, P) - k) / sw)
        se = math.sqrt((2 * (k - p) + 4 * tau2 * float(np.trace(P))
                        + 2 * tau2**2 * float(np.sum(P * P))) / sw**2)
        return Tau2Estimate(tau2, se)
    if method == "SJ":
        tau0 = float(np.mean(y**2)) if con.tau2_init is None else con.tau2_init
        P = p_matrix(X, 1 / (vi + tau0))
        PV = P * vi[None, :]
        tau2 = max(0.0, tau0 * _quad(y, P) / (k - p))
        se = math.sqrt(tau0**2 / (k - p) ** 2 * (
            2 * float(np.sum(PV * PV.T)) + 4 * tau2 * float(np.sum(PV * P))
            + 2 * tau2**2 * float(np.sum(P * P))))
        return Tau2Estimate(tau2, se)
    # HE, and the starting value of ML, REML, EB
    P0 = np.eye(k) - X @ inv_xwx(X, np.ones(k)) @ X.T
    PV = P0 * vi[None, :]
    trPV = float(np.trace(PV))
    he = (_quad(y, P0) - trPV) / (k - p)
    if method == "HE":
        tau2 = max(0.0, he)
        se = math.sqrt((2 * float(np.sum(PV * PV.T)) + 4 * tau2 * trPV
                        + 2 * tau2**2 * (k - p)) / (k - p) ** 2)
        return Tau2Estimate(tau2, se)
    if method == "PM":
        tau2, it = _pm(y, vi, X, yi, con)
    elif method in ("ML", "REML", "EB"):
        tau2, it = _fisher_scoring(y, vi, X, method, he, con)
    else:
        raise ModelError(f"unknown tau^2 method {method!r}; allowed: {', '.join(METHODS)}")
    tau2 = max(0.0, tau2)
    w = 1 / (vi + tau2)
    if method == "ML":
        se = math.sqrt(2 / float(np.sum(w**2)))
    elif method == "REML":
        P = p_matrix(X, w)
        se = math.sqrt(2 / float(np.sum(P * P)))
    else:  # EB, PM
        se = math.sqrt(2 * k**2 / (k - p)) / float(np.sum(w))
    return Tau2Estimate(tau2, se, it)
