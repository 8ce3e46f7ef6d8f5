"""Covariance structures of the repeated measures: parameterisation and derivatives.

Each structure maps an unconstrained vector ``theta`` (what the optimiser moves) to the
"natural" parameters ``phi`` that SAS PROC MIXED reports (variances, covariances,
correlations) and those to the ``T x T`` covariance matrix ``Sigma`` over the visits in
their natural order. All maps are written with plain arithmetic so that they accept complex
input: first derivatives are taken by the complex step (exact to rounding), second
derivatives by a central difference of complex-step first derivatives.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]
CArray = npt.NDArray[np.complex128]
AnyArray = npt.NDArray[Any]  # real, or complex for the complex-step derivatives

STRUCTURES = ("us", "cs", "csh", "ar1", "ar1h", "toep", "toeph", "ad", "adh")
# structures whose Sigma is linear in the natural parameters (no second derivatives)
LINEAR = frozenset({"us", "cs", "toep"})

_H_COMPLEX = 1e-30
_H_SECOND = 1e-5


@lru_cache(maxsize=64)
def _tril(t: int, k: int = 0) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Row-major lower-triangle indices (cached)."""
    ii, jj = np.tril_indices(t, k)
    order = np.lexsort((jj, ii))
    return ii[order], jj[order]


@lru_cache(maxsize=64)
def _lag(t: int) -> npt.NDArray[np.int64]:
    return np.abs(np.subtract.outer(np.arange(t), np.arange(t)))


def _corr(x: AnyArray) -> AnyArray:
    """Map the real line onto (-1, 1) (as mmrm does): x / sqrt(1 + x^2)."""
    return x / np.sqrt(1.0 + x * x)


def _corr_inv(r: Array) -> Array:
    r = np.clip(r, -0.99, 0.99)
    return np.asarray(r / np.sqrt(1.0 - r * r), dtype=np.float64)


@dataclass(frozen=True)
class Structure:
    """One covariance structure over ``n_visits`` visits."""

    name: str
    n_visits: int

    @property
    def n_theta(self) -> int:
        t = self.n_visits
        return {
            "us": t * (t + 1) // 2,
            "cs": 2 if t > 1 else 1,
            "csh": t + 1 if t > 1 else 1,
            "ar1": 2 if t > 1 else 1,
            "ar1h": t + 1 if t > 1 else 1,
            "toep": t,
            "toeph": 2 * t - 1,
            "ad": t,
            "adh": 2 * t - 1,
        }[self.name]

    @property
    def linear(self) -> bool:
        return self.name in LINEAR

    # ---- names of the natural parameters (SAS "Covariance Parameter Estimates") ----------
    def natural_names(self) -> list[str]:
        t = self.n_visits
        n = self.name
        if n == "us":
            return [f"UN({i + 1},{j + 1})" for i in range(t) for j in range(i + 1)]
        if n == "cs":
            return ["CS", "Residual"][: self.n_theta] if t > 1 else ["Residual"]
        het = [f"Var({i + 1})" for i in range(t)]
        if n in ("csh", "ar1h"):
            return het + (["CSH" if n == "csh" else "ARH(1)"] if t > 1 else [])
        if n == "ar1":
            return (["AR(1)"] if t > 1 else []) + ["Residual"]
        if n == "toep":
            return ["Residual"] + [f"TOEP({k + 1})" for k in range(1, t)]
        if n == "toeph":
            return het + [f"TOEPH({k})" for k in range(1, t)]
        if n == "ad":
            return ["Residual"] + [f"Rho({k})" for k in range(1, t)]
        return het + [f"Rho({k})" for k in range(1, t)]  # adh == SAS ANTE(1)

    # ---- theta -> phi ------------------------------------------------------------------
    def natural(self, theta: AnyArray) -> AnyArray:
        """Natural parameters from the unconstrained ones (batched over leading axes)."""
        t = self.n_visits
        n = self.name
        if n == "us":
            low = self._chol(theta)
            sig = low @ np.swapaxes(low, -1, -2)
            ii, jj = _tril(t)
            return sig[..., ii, jj]
        if n == "cs":
            s2 = np.exp(2.0 * theta[..., :1])
            if t == 1:
                return s2
            lo = -1.0 / (t - 1)
            rho = lo + (1.0 - lo) / (1.0 + np.exp(-theta[..., 1:2]))
            return np.concatenate([s2 * rho, s2 * (1.0 - rho)], axis=-1)
        if n == "ar1":
            s2 = np.exp(2.0 * theta[..., :1])
            if t == 1:
                return s2
            return np.concatenate([_corr(theta[..., 1:2]), s2], axis=-1)
        if n in ("csh", "ar1h"):
            v = np.exp(2.0 * theta[..., :t])
            if t == 1:
                return v
            rest = theta[..., t:]
            if n == "csh":
                lo = -1.0 / (t - 1)
                rho = lo + (1.0 - lo) / (1.0 + np.exp(-rest))
            else:
                rho = _corr(rest)
            return np.concatenate([v, rho], axis=-1)
        if n in ("toep", "toeph"):
            k0 = 1 if n == "toep" else t
            lead = np.exp(2.0 * theta[..., :k0])
            rho = _pacf_to_acf(_corr(theta[..., k0:]))
            if n == "toep":
                return np.concatenate([lead, lead * rho], axis=-1)
            return np.concatenate([lead, rho], axis=-1)
        k0 = 1 if n == "ad" else t
        lead = np.exp(2.0 * theta[..., :k0])
        return np.concatenate([lead, _corr(theta[..., k0:])], axis=-1)

    def _chol(self, theta: AnyArray) -> AnyArray:
        t = self.n_visits
        shape = (*theta.shape[:-1], t, t)
        low = np.zeros(shape, dtype=theta.dtype)
        di = np.arange(t)
        low[..., di, di] = np.exp(theta[..., :t])
        ii, jj = _tril(t, -1)
        low[..., ii, jj] = theta[..., t:]
        return low

    # ---- phi -> Sigma ------------------------------------------------------------------
    def sigma_natural(self, phi: AnyArray) -> AnyArray:
        """Sigma from the natural parameters (batched over leading axes)."""
        t = self.n_visits
        n = self.name
        lag = _lag(t)
        if n == "us":
            ii, jj = _tril(t)
            sig = np.zeros((*phi.shape[:-1], t, t), dtype=phi.dtype)
            sig[..., ii, jj] = phi
            sig[..., jj, ii] = phi
            return sig
        if n == "cs":
            if t == 1:
                return phi[..., None]
            cov, res = phi[..., 0, None, None], phi[..., 1, None, None]
            return cov * np.ones((t, t)) + res * np.eye(t)
        if n == "ar1":
            if t == 1:
                return phi[..., None]
            rho, s2 = phi[..., 0, None, None], phi[..., 1, None, None]
            return s2 * _int_power(rho, lag)
        if n == "toep":
            return phi[..., lag]
        if n == "ad":
            return phi[..., 0, None, None] * _ante_corr(phi[..., 1:], t)
        sd = np.sqrt(phi[..., :t])
        outer = sd[..., :, None] * sd[..., None, :]
        if t == 1:
            return outer
        if n == "csh":
            rho = phi[..., t, None, None]
            return outer * (rho + (1.0 - rho) * np.eye(t))
        if n == "ar1h":
            return outer * _int_power(phi[..., t, None, None], lag)
        if n == "toeph":
            full = np.concatenate([np.ones_like(phi[..., :1]), phi[..., t:]], axis=-1)
            out: AnyArray = outer * full[..., lag]
            return out
        return outer * _ante_corr(phi[..., t:], t)  # adh

    def sigma(self, theta: AnyArray) -> AnyArray:
        return self.sigma_natural(self.natural(theta))

    # ---- starting values ---------------------------------------------------------------
    def initial_theta(self, s0: Array) -> Array:
        """Unconstrained parameters roughly reproducing a positive definite ``s0``."""
        t = self.n_visits
        n = self.name
        var = np.maximum(np.diag(s0), 1e-8)
        sd = np.sqrt(var)
        corr = s0 / np.outer(sd, sd)
        mean_r = float(np.mean(corr[np.triu_indices(t, 1)])) if t > 1 else 0.0
        lag1 = float(np.mean(np.diag(corr, 1))) if t > 1 else 0.0
        if n == "us":
            low = np.linalg.cholesky(s0)
            ii, jj = _tril(t, -1)
            return np.concatenate([np.log(np.diag(low)), low[ii, jj]])
        logsd = np.log(np.sqrt(np.mean(var)))
        if n in ("cs", "csh"):
            lead = np.array([logsd]) if n == "cs" else np.log(sd)
            if t == 1:
                return lead
            lo = -1.0 / (t - 1)
            u = np.clip((max(mean_r, 0.0) - lo) / (1.0 - lo), 0.02, 0.98)
            return np.concatenate([lead, [np.log(u / (1.0 - u))]])
        if n in ("ar1", "ar1h"):
            lead = np.array([logsd]) if n == "ar1" else np.log(sd)
            if t == 1:
                return lead
            return np.concatenate([lead, _corr_inv(np.array([max(lag1, 0.0)]))])
        lead = np.array([logsd]) if n in ("toep", "ad") else np.log(sd)
        if n in ("ad", "adh"):
            r = np.array([max(float(corr[k, k + 1]), 0.0) for k in range(t - 1)])
            return np.concatenate([lead, _corr_inv(r)])
        pacf = np.zeros(t - 1)
        if t > 1:
            pacf[0] = max(lag1, 0.0)
        return np.concatenate([lead, _corr_inv(pacf)])

    # ---- derivatives -------------------------------------------------------------------
    def derivatives(self, theta: Array, *, natural: bool = False,
                    second: bool = True) -> tuple[Array, Array, Array | None]:
        """Sigma, dSigma (K, T, T) and d2Sigma (K, K, T, T) at ``theta``.

        With ``natural=True`` the argument is the natural parameter vector and derivatives
        are taken with respect to it (the SAS parameterisation, used for inference).
        """
        fun = self.sigma_natural if natural else self.sigma
        k = theta.size
        base = fun(theta.astype(np.float64))
        eye = np.eye(k)
        step = theta[None, :] + 1j * _H_COMPLEX * eye
        d1 = np.asarray(fun(step).imag / _H_COMPLEX, dtype=np.float64)
        if not second:
            return np.asarray(base, dtype=np.float64), d1, None
        if natural and self.linear:
            t = self.n_visits
            return np.asarray(base, dtype=np.float64), d1, np.zeros((k, k, t, t))
        h = _H_SECOND * np.maximum(1.0, np.abs(theta))
        plus = theta[None, None, :] + h[None, :, None] * eye[None, :, :] + (
            1j * _H_COMPLEX * eye[:, None, :])
        minus = theta[None, None, :] - h[None, :, None] * eye[None, :, :] + (
            1j * _H_COMPLEX * eye[:, None, :])
        dp = fun(plus).imag / _H_COMPLEX
        dm = fun(minus).imag / _H_COMPLEX
        d2 = (dp - dm) / (2.0 * h[None, :, None, None])
        d2 = 0.5 * (d2 + np.swapaxes(d2, 0, 1))
        return np.asarray(base, dtype=np.float64), d1, np.asarray(d2, dtype=np.float64)


def _int_power(rho: AnyArray, lag: npt.NDArray[np.int64]) -> AnyArray:
    """rho ** lag for integer lags, written as repeated products (complex-step safe)."""
    out = np.ones((*rho.shape[:-2], *lag.shape), dtype=rho.dtype)
    for k in range(1, int(lag.max()) + 1 if lag.size else 1):
        out = np.where(lag >= k, out * rho, out)
    return out


def _ante_corr(rho: AnyArray, t: int) -> AnyArray:
    """Antedependence correlation: corr(i, j) = rho_i * ... * rho_{j-1} for i < j."""
    out = np.zeros((*rho.shape[:-1], t, t), dtype=rho.dtype)
    for i in range(t):
        out[..., i, i] = 1.0
        acc = np.ones(rho.shape[:-1], dtype=rho.dtype)
        for j in range(i + 1, t):
            acc = acc * rho[..., j - 1]
            out[..., i, j] = acc
            out[..., j, i] = acc
    return out


def _pacf_to_acf(pacf: AnyArray) -> AnyArray:
    """Autocorrelations rho_1..rho_m from partial autocorrelations (Durbin-Levinson)."""
    m = pacf.shape[-1]
    if m == 0:
        return pacf
    rho: list[AnyArray] = []
    phi: list[AnyArray] = []
    for k in range(m):
        a = pacf[..., k]
        if k == 0:
            phi = [a]
            rho.append(a)
            continue
        new = [phi[j] - a * phi[k - 1 - j] for j in range(k)] + [a]
        phi = new
        # rho_{k+1} = sum_{j=1}^{k+1} phi_{k+1,j} rho_{k+1-j}, rho_0 = 1
        r = phi[k] * 1.0
        for j in range(k):
            r = r + phi[j] * rho[k - 1 - j]
        rho.append(r)
    return np.stack(rho, axis=-1)
