"""Vectorised batch of unstructured MMRM fits: many small trials optimised at once.

For a power simulation every trial has the same model (same columns, same visits, ``us``
covariance, REML) and differs only in its data and missing-visit patterns. Instead of one
optimiser per trial, all trials move together: their log-Cholesky parameters are stacked
into a (trials x K) array, each Newton iteration computes the per-pattern Cholesky factors of
every trial in one batched call (trials x patterns), profiles beta out per trial, and takes a
Newton step per trial with the exact gradient and observed Hessian of the engine
(``_likelihood.py``: the same formulas, written with a leading trial axis). A trial that has
converged is frozen (per-trial masks); one that does not converge from the OLS-residual start
gets a second start from a diagonal covariance, as :func:`fit_mmrm` does. The result carries
per trial the contrast's estimate, SE, Satterthwaite df (observed information in SAS's
natural parameters, as the engine), -2 log-likelihood and the same convergence criterion as
the engine (largest gradient entry below 1e-3 and a positive definite Hessian).

``fit_mmrm_vectorized(y, x, contrast)`` takes the data on the (trial, subject, visit) grid:
``y`` (B, n, T) with NaN where missing, ``x`` (B, n, T, p) the design rows; rows with a
missing outcome or design value are left out, as the engine drops them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from strokecell.errors import ModelError
from strokecell.stats.mmrm._structures import _tril

Array = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

LOG_2PI = float(np.log(2.0 * np.pi))
_GRAD_TOL = 1e-3      # the engine's convergence criterion on the final gradient
_NEWTON_TOL = 1e-9    # iterate until the largest gradient entry is below this
_MAX_STEP = 3.0       # cap on a Newton step (log-Cholesky units)

__all__ = ["VectorizedFit", "arm_visit_contrast", "arm_visit_design", "fit_mmrm_vectorized"]


@dataclass
class VectorizedFit:
    """Per-trial results of :func:`fit_mmrm_vectorized` (arrays with one entry per trial)."""

    estimate: Array          # l' beta
    se: Array                # sqrt(l' Phi l)
    df: Array                # Satterthwaite df of the contrast
    neg2_loglik: Array       # -2 (restricted) log-likelihood
    converged: BoolArray     # the engine's criterion: gradient < 1e-3 and Hessian p.d.
    estimable: BoolArray     # design of full column rank
    iterations: IntArray
    gradient_norm: Array     # largest absolute gradient entry (log-Cholesky parameters)
    beta: Array              # (B, p)
    sigma: Array             # (B, T, T)
    n_subjects: IntArray
    n_obs: IntArray

    @property
    def n_trials(self) -> int:
        return int(self.estimate.shape[0])

    def t_value(self) -> Array:
        with np.errstate(divide="ignore", invalid="ignore"):
            out: Array = self.estimate / self.se
        return out

    def p_value(self) -> Array:
        """Two-sided p-value of the contrast (NaN where not converged or not estimable)."""
        from scipy import stats

        p = 2.0 * stats.t.sf(np.abs(self.t_value()), self.df)
        out: Array = np.where(self.converged, p, np.nan)
        return out

    def confidence_interval(self, level: float = 0.95) -> tuple[Array, Array]:
        from scipy import stats

        q = stats.t.ppf(0.5 + level / 2.0, self.df)
        return self.estimate - q * self.se, self.estimate + q * self.se

    @classmethod
    def concat(cls, parts: list[VectorizedFit]) -> VectorizedFit:
        fields: dict[str, Any] = {}
        for name in cls.__dataclass_fields__:
            fields[name] = np.concatenate([getattr(p, name) for p in parts])
        return cls(**fields)


# ---- design for the power case -------------------------------------------------------------

def arm_visit_design(arm: npt.NDArray[np.int64], base: Array, n_visits: int, n_arms: int,
                     reference_arm: int = 0) -> tuple[Array, list[str]]:
    """Design rows of ``CHG ~ ARM * VISIT + BASE`` on the (trial, subject, visit) grid.

    ``arm`` (n,) is each subject's arm index (the same in every trial), ``base`` (B, n) the
    baseline value. Treatment coding with ``reference_arm`` and the first visit as reference
    levels, as the engine codes ``ARMCD * AVISIT + BASE``. Returns x (B, n, T, p) and the
    column names.
    """
    b, n = base.shape
    arms = [a for a in range(n_arms) if a != reference_arm]
    names = ["(Intercept)"] + [f"VISIT{t}" for t in range(1, n_visits)]
    names += [f"ARM{a}" for a in arms]
    names += [f"ARM{a}:VISIT{t}" for a in arms for t in range(1, n_visits)]
    names += ["BASE"]
    p = len(names)
    x = np.zeros((b, n, n_visits, p))
    x[..., 0] = 1.0
    for t in range(1, n_visits):
        x[:, :, t, t] = 1.0
    col = n_visits
    for a in arms:
        x[:, arm == a, :, col] = 1.0
        col += 1
    for a in arms:
        for t in range(1, n_visits):
            x[:, arm == a, t, col] = 1.0
            col += 1
    x[..., col] = base[:, :, None]
    return x, names


def arm_visit_contrast(names: list[str], arm: int, visit: int) -> Array:
    """Row l with l' beta = (arm - reference arm) at ``visit`` in :func:`arm_visit_design`."""
    out = np.zeros(len(names))
    out[names.index(f"ARM{arm}")] = 1.0
    if visit > 0:
        out[names.index(f"ARM{arm}:VISIT{visit}")] = 1.0
    return out


# ---- the batched likelihood ----------------------------------------------------------------

@dataclass
class _Data:
    x: Array            # (B, n, T, p), zero at missing
    y: Array            # (B, n, T), zero at missing
    mask: BoolArray     # (B, n, T)
    pattern: IntArray   # (B, n) index into patterns
    patterns: Array     # (P, T) observed indicator (float)
    counts: Array       # (B, P)
    onehot: Array       # (B, n, P)
    n_obs: Array        # (B,)

    def take(self, sel: IntArray) -> _Data:
        return _Data(self.x[sel], self.y[sel], self.mask[sel], self.pattern[sel],
                     self.patterns, self.counts[sel], self.onehot[sel], self.n_obs[sel])

    @property
    def t(self) -> int:
        return int(self.y.shape[2])

    @property
    def p(self) -> int:
        return int(self.x.shape[3])


def _prepare(y: Array, x: Array) -> _Data:
    if y.ndim != 3 or x.ndim != 4 or x.shape[:3] != y.shape:
        raise ModelError(f"y must be (trials, subjects, visits) and x (trials, subjects, "
                         f"visits, columns); got {y.shape} and {x.shape}")
    mask = np.isfinite(y) & np.all(np.isfinite(x), axis=3)
    y0 = np.where(mask, y, 0.0)
    x0 = np.where(mask[..., None], x, 0.0)
    t = y.shape[2]
    code = (mask.astype(np.int64) << np.arange(t)).sum(axis=2)
    uniq, inv = np.unique(code, return_inverse=True)
    inv = inv.reshape(code.shape).astype(np.int64)
    patterns = ((uniq[:, None] >> np.arange(t)) & 1).astype(np.float64)
    onehot = (inv[..., None] == np.arange(len(uniq))).astype(np.float64)
    counts = onehot.sum(axis=1)
    # subjects without any observation carry no information (the engine drops them)
    counts[:, patterns.sum(axis=1) == 0] = 0.0
    return _Data(x0, y0, mask, inv, patterns, counts, onehot,
                 mask.sum(axis=(1, 2)).astype(np.float64))


@dataclass
class _Eval:
    obj: Array          # (B,)
    ok: BoolArray       # (B,) finite, positive definite
    amat: Array         # (B, P, T, T) Sigma_S^-1 embedded
    ai: Array           # (B, n, T, T) per subject
    ax: Array           # (B, n, T, p)
    phi: Array          # (B, p, p)
    lm_inv: Array       # (B, p, p)
    beta: Array         # (B, p)
    sigma: Array        # (B, T, T)
    low: Array          # (B, T, T) Cholesky factor of Sigma (from theta)


def _chol_from_theta(theta: Array, t: int) -> Array:
    low = np.zeros((theta.shape[0], t, t))
    di = np.arange(t)
    low[:, di, di] = np.exp(np.clip(theta[:, :t], -300.0, 300.0))
    ii, jj = _tril(t, -1)
    low[:, ii, jj] = theta[:, t:]
    return low


def _evaluate(d: _Data, theta: Array, reml: bool) -> _Eval:
    b, t, p = theta.shape[0], d.t, d.p
    low = _chol_from_theta(theta, t)
    sigma = low @ np.swapaxes(low, 1, 2)
    o = d.patterns
    oo = o[:, :, None] * o[:, None, :]
    sp = sigma[:, None] * oo[None]
    idx = np.arange(t)
    sp[:, :, idx, idx] += 1.0 - o[None]
    ok = np.all(np.isfinite(sp.reshape(b, -1)), axis=1)
    sp[~ok] = np.eye(t)
    chol, good = _safe_cholesky(sp.reshape(-1, t, t))
    chol = chol.reshape(sp.shape)
    ok &= good.reshape(b, -1).all(axis=1)
    diag = np.diagonal(chol, axis1=2, axis2=3)
    logdet = 2.0 * np.sum(np.log(diag), axis=2)                       # (B, P)
    cinv = np.linalg.inv(chol)
    amat = (np.swapaxes(cinv, 2, 3) @ cinv) * oo[None]
    ai = amat[np.arange(b)[:, None], d.pattern]                        # (B, n, T, T)
    ax = ai @ d.x                                                      # (B, n, T, p)
    ay = np.einsum("bnij,bnj->bni", ai, d.y)
    xf = d.x.reshape(b, -1, p)
    mmat = np.swapaxes(xf, 1, 2) @ ax.reshape(b, -1, p)
    bvec = np.einsum("bkp,bk->bp", xf, ay.reshape(b, -1))
    yay = np.einsum("bk,bk->b", d.y.reshape(b, -1), ay.reshape(b, -1))
    lm, good = _safe_cholesky(mmat)
    ok &= good
    lm_inv = np.linalg.inv(lm).astype(np.float64, copy=False)
    phi = np.swapaxes(lm_inv, 1, 2) @ lm_inv
    beta = np.einsum("bpq,bq->bp", phi, bvec)
    quad = yay - np.einsum("bp,bp->b", bvec, beta)
    obj = np.einsum("bp,bp->b", d.counts, logdet) + quad
    if reml:
        obj = obj + 2.0 * np.sum(np.log(np.diagonal(lm, axis1=1, axis2=2)), axis=1) + (
            d.n_obs - p) * LOG_2PI
    else:
        obj = obj + d.n_obs * LOG_2PI
    ok &= np.isfinite(obj)
    obj = np.where(ok, obj, np.inf)
    return _Eval(obj, ok, amat, ai, ax, phi, lm_inv, beta, sigma, low)


def _safe_cholesky(mats: Array) -> tuple[Array, BoolArray]:
    """Batched Cholesky; matrices that are not positive definite get the identity (flagged)."""
    with np.errstate(all="ignore"):
        try:
            chol = np.linalg.cholesky(mats)
            good = np.all(np.diagonal(chol, axis1=-2, axis2=-1) > 0, axis=-1)
            good &= np.all(np.isfinite(chol.reshape(len(mats), -1)), axis=1)
        except np.linalg.LinAlgError:
            ev = np.linalg.eigvalsh(np.where(np.isfinite(mats), mats, 0.0))
            good = ev[:, 0] > 1e-12 * np.maximum(1.0, np.abs(ev[:, -1]))
            safe = np.where(good[:, None, None], mats, np.eye(mats.shape[-1]))
            try:
                chol = np.linalg.cholesky(safe)
            except np.linalg.LinAlgError:  # borderline: refuse the whole lot of them
                good = np.zeros(len(mats), dtype=bool)
                chol = np.broadcast_to(np.eye(mats.shape[-1]), mats.shape).copy()
    if not good.all():
        chol = np.where(good[:, None, None], chol, np.eye(mats.shape[-1]))
    return chol.astype(np.float64, copy=False), good


@dataclass
class _Derivs:
    grad: Array         # (B, K) in the log-Cholesky parameters
    hess: Array         # (B, K, K)
    hfull: Array        # (B, T*T, T*T) bilinear form of the Hessian on dSigma (d2Sigma = 0)
    kt: Array           # (B, T, p, T, p) sum_i (A X)_i[a,p] (A X)_i[b,q]


def _dsigma(low: Array, gmat: Array) -> tuple[Array, Array]:
    """dSigma/dtheta (B, K, T, T) for Sigma = L L' and <G, d2Sigma/dtheta_k dtheta_l>.

    theta_k moves L[r_k, c_k] (through exp on the diagonal), so dL_k = s_k e_r e_c' with
    s_k = L[r, r] on the diagonal and 1 below it, and d2Sigma_kl = dL_k dL_l' + dL_l dL_k'
    (+ dSigma_k when k = l is a diagonal parameter): <G, dL_k dL_l'> = s_k s_l G[r_k, r_l]
    when c_k = c_l.
    """
    b, t = low.shape[0], low.shape[1]
    ii, jj = _tril(t, -1)
    rows = np.concatenate([np.arange(t), ii])
    cols = np.concatenate([np.arange(t), jj])
    k = len(rows)
    scale = np.concatenate([low[:, np.arange(t), np.arange(t)], np.ones((b, k - t))], axis=1)
    # dL_k L' = s_k e_r L[:, c]'  ->  (B, K, T) rows placed at r_k
    lc = low[:, :, cols]                                               # (B, T, K): L[:, c_k]
    ds = np.zeros((b, k, t, t))
    ds[:, np.arange(k), rows, :] = scale[:, :, None] * np.swapaxes(lc, 1, 2)
    ds = ds + np.swapaxes(ds, 2, 3)
    same = (cols[:, None] == cols[None, :]).astype(np.float64)
    g_rr = gmat[:, rows][:, :, rows]                                   # (B, K, K)
    h2 = 2.0 * scale[:, :, None] * scale[:, None, :] * g_rr * same
    diag_k = np.arange(t)
    h2[:, diag_k, diag_k] += np.einsum("bkij,bij->bk", ds[:, :t], gmat)
    return ds, h2


def _derivatives(d: _Data, ev: _Eval, reml: bool, *, hessian: bool = True) -> _Derivs:
    b, t, p = ev.beta.shape[0], d.t, d.p
    tt = t * t
    n = d.y.shape[1]
    resid = d.y - (d.x @ ev.beta[:, None, :, None])[..., 0]
    ar = (ev.ai @ resid[..., None])[..., 0]                            # (B, n, T)
    rr = (ar[..., :, None] * ar[..., None, :]).reshape(b, n, tt)
    oh_t = np.swapaxes(d.onehot, 1, 2)                                 # (B, P, n)
    cpat = (oh_t @ rr).reshape(b, -1, t, t)                            # (B, P, T, T)
    gmat = np.einsum("bq,bqij->bij", d.counts, ev.amat) - cpat.sum(axis=1)
    rpat = 0.5 * d.counts[..., None, None] * ev.amat - cpat
    if reml:
        zq = ev.ax @ np.swapaxes(ev.lm_inv, 1, 2)[:, None]              # (B, n, T, p)
        zz = (zq @ np.swapaxes(zq, 2, 3)).reshape(b, n, tt)
        bpat = (oh_t @ zz).reshape(b, -1, t, t)
        gmat -= bpat.sum(axis=1)
        rpat -= bpat
    ds, h2 = _dsigma(ev.low, gmat)
    dsf = ds.reshape(b, -1, tt)
    grad = (dsf @ gmat.reshape(b, tt, 1))[..., 0]
    axf = ev.ax.reshape(b, n, t * p)
    kt = (np.swapaxes(axf, 1, 2) @ axf).reshape(b, t, p, t, p)
    if not hessian:
        return _Derivs(grad, np.zeros((b, 0, 0)), np.zeros((b, 0, 0)), kt)
    # -sum_P [A (x) R + R (x) A]: F[i,j,a,c] = A[j,a] R[c,i] + R[j,a] A[c,i]
    af = ev.amat.reshape(b, -1, tt)
    rf = rpat.reshape(b, -1, tt)
    f4 = np.swapaxes(af, 1, 2) @ rf + np.swapaxes(rf, 1, 2) @ af       # [(j,a), (c,i)]
    hfull = -np.transpose(f4.reshape(b, t, t, t, t), (0, 4, 1, 2, 3)).reshape(b, tt, tt)
    # -2 w Phi w', w[(a,c), p] = sum_i (A X)_i[a,p] (A r)_i[c]
    jt4 = (np.swapaxes(axf, 1, 2) @ ar).reshape(b, t, p, t)
    jt = np.swapaxes(jt4, 2, 3).reshape(b, tt, p)
    hfull -= 2.0 * jt @ ev.phi @ np.swapaxes(jt, 1, 2)
    if reml:
        # -tr(Phi D_k Phi D_l): D_(a,c) = KT[a,:,c,:]
        lk = ev.lm_inv[:, None] @ np.transpose(kt, (0, 1, 3, 2, 4)).reshape(b, tt, p, p) @ (
            np.swapaxes(ev.lm_inv, 1, 2)[:, None])                     # (B, TT, p, p)
        lkt = np.swapaxes(lk, 2, 3).reshape(b, tt, p * p)              # K~_ac' = K~_ca
        hfull -= lk.reshape(b, tt, p * p) @ np.swapaxes(lkt, 1, 2)
    hfull = 0.5 * (hfull + np.swapaxes(hfull, 1, 2))
    hess = dsf @ hfull @ np.swapaxes(dsf, 1, 2) + h2
    hess = 0.5 * (hess + np.swapaxes(hess, 1, 2))
    return _Derivs(grad, hess, hfull, kt)


# ---- starting values -------------------------------------------------------------------------

def _start_ols(d: _Data) -> Array:
    """The engine's start: pairwise covariances of OLS residuals, made positive definite."""
    b, t, p = d.y.shape[0], d.t, d.p
    xf = d.x.reshape(b, -1, p)
    m0 = np.swapaxes(xf, 1, 2) @ xf
    b0 = np.einsum("bkp,bk->bp", xf, d.y.reshape(b, -1))
    beta = np.linalg.solve(m0 + 1e-12 * np.eye(p), b0[..., None])[..., 0]
    res = (d.y - np.einsum("bntp,bp->bnt", d.x, beta)) * d.mask
    m = d.mask.astype(np.float64)
    cnt = np.swapaxes(m, 1, 2) @ m
    s0 = (np.swapaxes(res, 1, 2) @ res) / np.maximum(cnt, 1.0)
    var = np.diagonal(s0, axis1=1, axis2=2).copy()
    pos = var > 0
    fill = np.where(pos.any(axis=1), (var * pos).sum(axis=1) / np.maximum(pos.sum(axis=1), 1),
                    1.0)
    var = np.where(pos, var, np.maximum(fill, 1e-6)[:, None])
    sd = np.sqrt(var)
    corr = s0 / (sd[:, :, None] * sd[:, None, :])
    corr[cnt < 3] = 0.0
    idx = np.arange(t)
    corr[:, idx, idx] = 1.0
    ev, vec = np.linalg.eigh(0.5 * (corr + np.swapaxes(corr, 1, 2)))
    corr = (vec * np.maximum(ev, 0.05)[:, None, :]) @ np.swapaxes(vec, 1, 2)
    dd = np.sqrt(np.diagonal(corr, axis1=1, axis2=2))
    corr = corr / (dd[:, :, None] * dd[:, None, :])
    s0 = corr * (sd[:, :, None] * sd[:, None, :]) + 1e-9 * np.eye(t)
    return _theta_from_sigma(s0)


def _start_diagonal(d: _Data) -> Array:
    """The engine's second start: the pooled variance on the diagonal."""
    t = d.t
    obs = d.mask.sum(axis=(1, 2))
    mean = d.y.sum(axis=(1, 2)) / np.maximum(obs, 1)
    var = ((d.y - mean[:, None, None]) ** 2 * d.mask).sum(axis=(1, 2)) / np.maximum(obs, 1)
    var = np.where(var > 0, var, 1.0)
    return _theta_from_sigma(var[:, None, None] * np.eye(t)[None])


def _theta_from_sigma(s0: Array) -> Array:
    t = s0.shape[1]
    low = np.linalg.cholesky(s0)
    ii, jj = _tril(t, -1)
    diag = np.diagonal(low, axis1=1, axis2=2)
    return np.concatenate([np.log(diag), low[:, ii, jj]], axis=1)


# ---- Newton iterations -----------------------------------------------------------------------

def _newton(d: _Data, theta0: Array, reml: bool, max_iter: int
            ) -> tuple[Array, IntArray]:
    """Damped Newton steps per trial until the gradient vanishes; returns theta, iterations."""
    b = theta0.shape[0]
    theta = theta0.copy()
    iters = np.zeros(b, dtype=np.int64)
    active = np.arange(b)
    ev = _evaluate(d, theta, reml)
    obj = ev.obj.copy()
    active = active[np.isfinite(obj)]
    sub_d = d.take(active)
    sub_ev = _sub_eval(ev, active)
    for _ in range(max_iter):
        if active.size == 0:
            break
        der = _derivatives(sub_d, sub_ev, reml)
        g = der.grad
        gmax = np.max(np.abs(g), axis=1)
        keep = gmax > _NEWTON_TOL
        if not keep.all():
            active, g, h = active[keep], g[keep], der.hess[keep]
            sub_d = sub_d.take(np.flatnonzero(keep))
            if active.size == 0:
                break
        else:
            h = der.hess
        step = _newton_step(g, h)
        # backtracking per trial
        alpha = np.ones(active.size)
        cur = obj[active]
        slope = np.einsum("bk,bk->b", g, step)
        accepted = np.zeros(active.size, dtype=bool)
        new_theta = theta[active].copy()
        todo = np.arange(active.size)
        for _ls in range(30):
            if todo.size == 0:
                break
            trial = theta[active[todo]] + alpha[todo, None] * step[todo]
            e = _evaluate(sub_d.take(todo), trial, reml)
            good = e.ok & (e.obj <= cur[todo] + 1e-4 * alpha[todo] * slope[todo] + 1e-10 * (
                1.0 + np.abs(cur[todo])))
            idx = todo[good]
            new_theta[idx] = trial[good]
            obj[active[idx]] = e.obj[good]
            accepted[idx] = True
            alpha[todo[~good]] *= 0.5
            todo = todo[~good]
        theta[active] = new_theta
        iters[active] += 1
        # trials whose line search failed cannot improve: stop them (assessed later)
        moved = accepted
        active = active[moved]
        if active.size == 0:
            break
        sub_d = sub_d.take(np.flatnonzero(moved))
        sub_ev = _evaluate(sub_d, theta[active], reml)
    return theta, iters


def _sub_eval(ev: _Eval, sel: IntArray) -> _Eval:
    return _Eval(ev.obj[sel], ev.ok[sel], ev.amat[sel], ev.ai[sel], ev.ax[sel], ev.phi[sel],
                 ev.lm_inv[sel], ev.beta[sel], ev.sigma[sel], ev.low[sel])


def _newton_step(g: Array, h: Array) -> Array:
    """Newton direction with |eigenvalues| floored (descent even where H is indefinite)."""
    with np.errstate(all="ignore"):
        ok = np.all(np.isfinite(h.reshape(len(h), -1)), axis=1)
        h = np.where(ok[:, None, None], h, np.eye(h.shape[1]))
        lam, vec = np.linalg.eigh(h)
        scale = np.maximum(np.abs(lam).max(axis=1, keepdims=True), 1e-12)
        lam = np.maximum(np.abs(lam), 1e-8 * scale)
        step = -np.einsum("bij,bj->bi", vec, np.einsum("bji,bj->bi", vec, g) / lam)
    big = np.max(np.abs(step), axis=1, keepdims=True)
    out: Array = step * np.minimum(1.0, _MAX_STEP / np.maximum(big, 1e-300))
    return out


# ---- the public entry point ------------------------------------------------------------------

def fit_mmrm_vectorized(y: Array, x: Array, contrast: Array, *, reml: bool = True,
                        max_iter: int = 200) -> VectorizedFit:
    """Fit ``y ~ x`` with an unstructured covariance over the visits to every trial at once.

    ``y`` (B, n, T) outcome (NaN where missing), ``x`` (B, n, T, p) the design rows,
    ``contrast`` (p,) the row ``l`` whose estimate, SE and Satterthwaite df are returned.
    Subjects are independent, visits are the last axis in their natural order. Results equal
    :func:`fit_mmrm` trial by trial (tested to 1e-6); a trial whose design is not of full
    rank is marked ``estimable=False`` and one that does not converge ``converged=False``
    (its numbers are those of the last iterate: never use them silently).
    """
    y = np.asarray(y, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    lvec = np.asarray(contrast, dtype=np.float64).ravel()
    d_all = _prepare(y, x)
    b, t, p = y.shape[0], d_all.t, d_all.p
    if lvec.size != p:
        raise ModelError(f"contrast has {lvec.size} entries, the design {p} columns")
    out = VectorizedFit(
        estimate=np.full(b, np.nan), se=np.full(b, np.nan), df=np.full(b, np.nan),
        neg2_loglik=np.full(b, np.nan), converged=np.zeros(b, dtype=bool),
        estimable=np.zeros(b, dtype=bool), iterations=np.zeros(b, dtype=np.int64),
        gradient_norm=np.full(b, np.nan), beta=np.full((b, p), np.nan),
        sigma=np.full((b, t, t), np.nan),
        n_subjects=np.asarray(d_all.mask.any(axis=2).sum(axis=1), dtype=np.int64),
        n_obs=d_all.n_obs.astype(np.int64))
    # estimability: X'X of full rank
    xf = d_all.x.reshape(b, -1, p)
    sv = np.linalg.svd(np.swapaxes(xf, 1, 2) @ xf, compute_uv=False)
    est_ok = sv[:, -1] > 1e-10 * np.maximum(sv[:, 0], 1e-300)
    est_ok &= d_all.n_obs > p
    out.estimable = est_ok
    sel = np.flatnonzero(est_ok)
    if sel.size == 0:
        return out
    d = d_all.take(sel)
    th, it = _newton(d, _start_ols(d), reml, max_iter)
    conv, gnorm, obj = _assess(d, th, reml)
    retry = np.flatnonzero(~conv)
    if retry.size:
        d2 = d.take(retry)
        th2, it2 = _newton(d2, _start_diagonal(d2), reml, max_iter)
        conv2, gnorm2, obj2 = _assess(d2, th2, reml)
        better = conv2 | (~conv[retry] & (obj2 < obj[retry]))
        r = retry[better]
        th[r], it[r] = th2[better], it[retry][better] + it2[better]
        conv[r], gnorm[r] = conv2[better], gnorm2[better]
    _inference(d, th, reml, lvec, out, sel)
    out.converged[sel] = conv
    out.iterations[sel] = it
    out.gradient_norm[sel] = gnorm
    return out


def _assess(d: _Data, theta: Array, reml: bool) -> tuple[BoolArray, Array, Array]:
    ev = _evaluate(d, theta, reml)
    der = _derivatives(d, ev, reml)
    gnorm = np.max(np.abs(der.grad), axis=1)
    with np.errstate(all="ignore"):
        h = np.where(np.isfinite(der.hess), der.hess, 0.0)
        lam = np.linalg.eigvalsh(h)
    hpd = np.all(lam > 1e-8 * np.maximum(1.0, np.abs(lam).max(axis=1, keepdims=True)), axis=1)
    conv = ev.ok & np.isfinite(ev.obj) & (gnorm < _GRAD_TOL) & hpd
    gnorm = np.where(ev.ok, gnorm, np.nan)
    return conv, gnorm, ev.obj


def _natural_basis(t: int) -> Array:
    """dSigma/dphi for phi = UN(i, j), i >= j row by row: (K, T*T)."""
    ii, jj = _tril(t)
    basis = np.zeros((len(ii), t, t))
    kk = np.arange(len(ii))
    basis[kk, ii, jj] = 1.0
    basis[kk, jj, ii] = 1.0
    return basis.reshape(len(ii), t * t)


def _inference(d: _Data, theta: Array, reml: bool, lvec: Array, out: VectorizedFit,
               sel: IntArray) -> None:
    """Estimate, SE and Satterthwaite df of l' beta in SAS's natural parameters."""
    b, t, p = theta.shape[0], d.t, d.p
    ev = _evaluate(d, theta, reml)
    der = _derivatives(d, ev, reml)
    basis = _natural_basis(t)                                          # (K, TT)
    h_nat = basis @ der.hfull @ basis.T                                # (B, K, K)
    with np.errstate(all="ignore"):
        ok = np.all(np.isfinite(h_nat.reshape(b, -1)), axis=1)
        h_safe = np.where(ok[:, None, None], h_nat, np.eye(basis.shape[0]))
        try:
            w = 2.0 * np.linalg.inv(h_safe)
        except np.linalg.LinAlgError:
            w = 2.0 * np.linalg.pinv(h_safe)
    # D_k = sum_(a,c) basis_k[a,c] KT[a,:,c,:]
    ktf = np.transpose(der.kt, (0, 1, 3, 2, 4)).reshape(b, t * t, p * p)
    dm = (basis @ ktf).reshape(b, -1, p, p)                            # (B, K, p, p)
    lp = np.einsum("bpq,q->bp", ev.phi, lvec)
    v = lp @ lvec
    g = np.einsum("bp,bkpq,bq->bk", lp, dm, lp)
    den = np.einsum("bk,bkl,bl->b", g, w, g)
    with np.errstate(divide="ignore", invalid="ignore"):
        df = np.where(den > 0, 2.0 * v * v / den, np.inf)
    out.estimate[sel] = ev.beta @ lvec
    out.se[sel] = np.sqrt(np.maximum(v, 0.0))
    out.df[sel] = np.where(ok & ev.ok, df, np.nan)
    out.neg2_loglik[sel] = ev.obj
    out.beta[sel] = ev.beta
    out.sigma[sel] = ev.sigma
