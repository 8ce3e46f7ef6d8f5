"""The (restricted) likelihood with beta profiled out, its gradient and its Hessian.

Subjects are laid out on the full visit grid ("padded"): a subject's missing visits carry
zero rows in X and y, and the covariance of its missing-visit pattern is replaced by
``Sigma o (o o') + diag(1 - o)`` (``o`` the observed-visit indicator), whose Cholesky factor
restricted to the observed visits is the Cholesky factor of the observed block. So there is
one Cholesky per pattern, all of them in one batched call, and every per-subject product is a
batched matrix product: no Python loop over subjects or patterns. Observation weights enter as
a rescaling of X and y by sqrt(w) (``Sigma_i = W^-1/2 Sigma_S W^-1/2``).

Derivatives are taken with respect to whatever parameters the caller's ``dsig`` (K, T, T)
and ``d2sig`` (K, K, T, T) tensors refer to (per group), so the same code gives the Hessian
in the optimiser's unconstrained parameters and in SAS's natural ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

LOG_2PI = float(np.log(2.0 * np.pi))


@dataclass
class Layout:
    """The data on the (subject x visit) grid, subjects sorted by missing-visit pattern."""

    x: Array              # (n, T, p), sqrt(w)-scaled, zero at missing visits
    y: Array              # (n, T)
    mask: BoolArray       # (n, T)
    pattern: IntArray     # (n,) pattern index per subject
    patterns: BoolArray   # (P, T)
    pattern_group: IntArray  # (P,)
    counts: Array         # (P,) subjects per pattern
    group: IntArray       # (n,)
    n_groups: int
    n_obs: int
    sum_log_w: float
    order: IntArray       # subject order used (indices into the caller's subjects)
    starts: IntArray      # first subject of each pattern (subjects sorted by pattern)

    @property
    def n_visits(self) -> int:
        return int(self.mask.shape[1])

    @property
    def p(self) -> int:
        return int(self.x.shape[2])


def build_layout(x: Array, y: Array, w: Array, subject: IntArray, visit: IntArray,
                 group: IntArray, n_visits: int, n_groups: int) -> Layout:
    """Arrange long-format rows on the subject x visit grid."""
    n_sub = int(subject.max()) + 1
    p = x.shape[1]
    sw = np.sqrt(w)
    xp = np.zeros((n_sub, n_visits, p))
    yp = np.zeros((n_sub, n_visits))
    mask = np.zeros((n_sub, n_visits), dtype=bool)
    xp[subject, visit] = x * sw[:, None]
    yp[subject, visit] = y * sw
    mask[subject, visit] = True
    gsub = np.zeros(n_sub, dtype=np.int64)
    gsub[subject] = group
    key = np.concatenate([gsub[:, None], mask.astype(np.int64)], axis=1)
    uniq, inv = np.unique(key, axis=0, return_inverse=True)
    inv = inv.ravel()
    order = np.argsort(inv, kind="stable")
    return Layout(
        x=xp[order], y=yp[order], mask=mask[order], pattern=inv[order].astype(np.int64),
        patterns=uniq[:, 1:].astype(bool), pattern_group=uniq[:, 0].astype(np.int64),
        counts=np.bincount(inv, minlength=len(uniq)).astype(np.float64),
        group=gsub[order], n_groups=n_groups, n_obs=int(mask.sum()),
        sum_log_w=float(np.sum(np.log(w))), order=order.astype(np.int64),
        starts=np.searchsorted(inv[order], np.arange(len(uniq))).astype(np.int64),
    )


@dataclass
class Fit:
    """Quantities at one value of the covariance parameters."""

    objective: float      # -2 log-likelihood (REML or ML)
    beta: Array
    phi: Array            # (X' V^-1 X)^-1
    linv: Array           # (P, T, T) inverse Cholesky factor per pattern
    xw: Array             # (n, T, p) whitened design
    ew: Array             # (n, T) whitened residuals
    lm_inv: Array         # inverse Cholesky factor of X' V^-1 X


def evaluate(lay: Layout, sigmas: Array, reml: bool) -> Fit | None:
    """-2 log-likelihood at the per-group covariances ``sigmas`` (G, T, T); None if not p.d."""
    o = lay.patterns.astype(np.float64)
    sig = sigmas[lay.pattern_group] * (o[:, :, None] * o[:, None, :])
    idx = np.arange(lay.n_visits)
    sig[:, idx, idx] += 1.0 - o
    try:
        chol = np.linalg.cholesky(sig)
    except np.linalg.LinAlgError:
        return None
    diag = np.diagonal(chol, axis1=1, axis2=2)
    if not np.all(np.isfinite(chol)) or np.any(diag <= 0):
        return None
    linv = np.linalg.inv(chol)
    logdet = 2.0 * np.sum(np.log(diag), axis=1)
    li = linv[lay.pattern]
    xw = li @ lay.x
    yw = np.einsum("nij,nj->ni", li, lay.y)
    p = lay.p
    xf = xw.reshape(-1, p)
    mmat = xf.T @ xf
    bvec = xf.T @ yw.ravel()
    try:
        lm = np.linalg.cholesky(mmat)
    except np.linalg.LinAlgError:
        return None
    lm_inv = np.linalg.inv(lm)
    phi = lm_inv.T @ lm_inv
    beta = phi @ bvec
    ew = yw - xw @ beta
    quad = float(np.sum(ew * ew))
    obj = float(lay.counts @ logdet) - lay.sum_log_w + quad
    if reml:
        obj += 2.0 * float(np.sum(np.log(np.diag(lm)))) + (lay.n_obs - p) * LOG_2PI
    else:
        obj += lay.n_obs * LOG_2PI
    return Fit(obj, beta, phi, linv, xw, ew, lm_inv)


@dataclass
class Pieces:
    """Per-subject and per-pattern products reused by gradient, Hessian and inference."""

    amask: Array   # (P, T, T) Sigma_S^-1 embedded in T x T (zeros elsewhere)
    ax: Array      # (n, T, p) Sigma_i^-1 X_i (embedded)
    ar: Array      # (n, T) Sigma_i^-1 r_i
    gmat: Array    # (G, T, T) d(-2l)/dSigma
    zq: Array      # (n, T, p) Sigma_i^-1 X_i chol(Phi)


def pieces(lay: Layout, fit: Fit, reml: bool) -> Pieces:
    o = lay.patterns.astype(np.float64)
    amat = np.swapaxes(fit.linv, 1, 2) @ fit.linv
    amask = amat * (o[:, :, None] * o[:, None, :])
    lit = np.swapaxes(fit.linv[lay.pattern], 1, 2)
    ax = lit @ fit.xw
    ar = np.einsum("nij,nj->ni", lit, fit.ew)
    zq = ax @ fit.lm_inv.T
    t = lay.n_visits
    gmat = np.zeros((lay.n_groups, t, t))
    for g in range(lay.n_groups):
        sel = lay.group == g
        psel = lay.pattern_group == g
        gmat[g] = np.einsum("p,pij->ij", lay.counts[psel], amask[psel])
        arg = ar[sel]
        gmat[g] -= arg.T @ arg
        if reml:
            zg = zq[sel]
            gmat[g] -= np.einsum("nip,njp->ij", zg, zg)
    return Pieces(amask, ax, ar, gmat, zq)


def gradient(pc: Pieces, dsig: Array) -> Array:
    """Gradient of -2 log-likelihood; ``dsig`` is (G, K, T, T)."""
    return np.asarray(np.einsum("gkij,gij->gk", dsig, pc.gmat).ravel(), dtype=np.float64)


def dmats(lay: Layout, pc: Pieces, dsig: Array) -> Array:
    """D_k = sum_i X_i' A_i dSigma_k A_i X_i, (G*K, p, p); dPhi/dtheta_k = Phi D_k Phi."""
    p = lay.p
    t = lay.n_visits
    out = []
    for g in range(lay.n_groups):
        axg = pc.ax[lay.group == g].reshape(-1, t * p)
        kt = (axg.T @ axg).reshape(t, p, t, p)
        out.append(np.einsum("kij,ipjq->kpq", dsig[g], kt))
    return np.concatenate(out, axis=0)


def hessian(lay: Layout, fit: Fit, pc: Pieces, dsig: Array, d2sig: Array | None,
            reml: bool, dm: Array | None = None, expected: bool = False) -> Array:
    """Observed Hessian of -2 log-likelihood (beta profiled out) in the parameters of dsig.

    With ``expected=True`` its expectation, tr(P dS_k P dS_l) (twice the expected
    information, the form Kenward & Roger 1997 and pbkrtest use).
    """
    g_n, k_n = dsig.shape[0], dsig.shape[1]
    kk = g_n * k_n
    hess = np.zeros((kk, kk))
    p = lay.p
    if dm is None:
        dm = dmats(lay, pc, dsig)
    # w_k = sum_i X_i' A dS_k A r_i
    wv = np.zeros((kk, p))
    for g in range(g_n):
        sel = lay.group == g
        psel = np.flatnonzero(lay.pattern_group == g)
        blk = slice(g * k_n, (g + 1) * k_n)
        if d2sig is not None and not expected:
            hess[blk, blk] += np.einsum("klij,ij->kl", d2sig[g], pc.gmat[g])
        am = pc.amask[psel]
        cnt = lay.counts[psel]
        # per-pattern sums B_p = sum A X Phi X' A and C_p = sum A r r' A
        arg = pc.ar[sel]
        cm = np.add.reduceat(pc.ar[:, :, None] * pc.ar[:, None, :], lay.starts, axis=0)[psel]
        f4 = np.einsum("p,pja,pbi->ijab", cnt, am, am)
        if not expected:
            f4 -= np.einsum("pja,pbi->ijab", am, cm) + np.einsum("pja,pbi->ijab", cm, am)
        if reml:
            bm = np.add.reduceat(pc.zq @ np.swapaxes(pc.zq, 1, 2), lay.starts, axis=0)[psel]
            f4 -= np.einsum("pja,pbi->ijab", am, bm) + np.einsum("pja,pbi->ijab", bm, am)
        kk_t = dsig[g].reshape(k_n, -1)
        hess[blk, blk] -= kk_t @ f4.reshape(kk_t.shape[1], -1) @ kk_t.T
        axg = pc.ax[sel]
        jt = np.einsum("nip,nj->ipj", axg, arg)
        wv[blk] = np.einsum("kij,ipj->kp", dsig[g], jt)
    if reml:
        hess -= _t3(fit, dm)
    if expected:
        return -0.5 * (hess + hess.T)
    y2 = wv @ fit.phi @ wv.T
    hess -= 2.0 * y2
    return 0.5 * (hess + hess.T)


def _t3(fit: Fit, dm: Array) -> Array:
    lm = fit.lm_inv
    dt = lm @ dm @ lm.T
    return np.asarray(np.einsum("kpq,lqp->kl", dt, dt), dtype=np.float64)
