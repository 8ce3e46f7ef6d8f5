"""Degrees of freedom and tests for linear combinations of the coefficients.

Notation (as in mmrm's vignettes and Kenward & Roger 1997): ``Phi = (X'V^-1X)^-1``;
``D_k = sum_i X_i' A_i dSigma_k A_i X_i`` so that ``dPhi/dtheta_k = Phi D_k Phi`` and
``P_k = -D_k``; ``W`` is the covariance of the natural covariance parameters, twice the
inverse of the Hessian of -2 log-likelihood (the inverse observed information).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats

from strokecell.errors import ModelError
from strokecell.stats.mmrm._fit import Estimate
from strokecell.stats.mmrm._likelihood import Layout

Array = npt.NDArray[np.float64]

DF_METHODS = ("satterthwaite", "kenward-roger", "kenward-roger-linear", "between-within",
              "residual")


def check_method(df: str) -> str:
    m = df.lower().replace("_", "-").replace(" ", "-")
    aliases = {"kr": "kenward-roger", "kr-linear": "kenward-roger-linear", "bw": "between-within",
               "satterthwaite": "satterthwaite", "sat": "satterthwaite"}
    m = aliases.get(m, m)
    if m not in DF_METHODS:
        raise ModelError(f"df method {df!r} is not supported; allowed: {', '.join(DF_METHODS)}")
    return m


@dataclass
class Inference:
    """Everything needed to test any contrast of the coefficients."""

    est: Estimate
    method: str
    vcov: Array                  # covariance used for SEs and Wald statistics
    n_obs: int
    n_subjects: int
    rank: int
    bw_df: Array | None = None   # per-coefficient between/within df
    empirical_xw: Array | None = None  # whitened design when the sandwich is used

    @property
    def beta(self) -> Array:
        return self.est.fit.beta

    @property
    def phi(self) -> Array:
        return self.est.fit.phi

    def _grad_var(self, lmat: Array) -> Array:
        """d (L Phi L') / d theta_k, shape (K, q, q)."""
        lp = lmat @ self.phi
        return np.asarray(lp @ self.est.dm @ lp.T, dtype=np.float64)

    def _sat_rows(self, rows: Array) -> Array:
        """Satterthwaite df of each row: model-based, or Bell & McCaffrey's for the sandwich."""
        if self.empirical_xw is not None:
            return _bell_mccaffrey(self.empirical_xw, self.phi, rows)
        lp = rows @ self.phi
        v = np.einsum("rp,rp->r", lp, rows)
        g = np.einsum("kpr,rp->rk", self.est.dm @ lp.T, lp)
        den = np.einsum("rk,rk->r", g @ self.est.w_nat, g)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(den > 0, 2.0 * v * v / den, np.inf)
        return np.asarray(out, dtype=np.float64)

    def df_1d(self, lvec: Array) -> float:
        m = self.method
        if m == "residual":
            return float(self.n_obs - self.rank)
        if m == "between-within":
            assert self.bw_df is not None
            used = np.abs(lvec) > 1e-12
            return float(np.min(self.bw_df[used])) if used.any() else float(np.min(self.bw_df))
        return float(self._sat_rows(lvec[None, :])[0])

    def rows_1d(self, rows: Array) -> tuple[Array, Array, Array]:
        """Estimates, standard errors and df of many one-row contrasts at once."""
        rows = np.atleast_2d(rows)
        est = rows @ self.beta
        se = np.sqrt(np.maximum(np.einsum("rp,pq,rq->r", rows, self.vcov, rows), 0.0))
        if self.method in ("residual", "between-within"):
            df = np.array([self.df_1d(r) for r in rows])
        else:
            df = self._sat_rows(rows)
        return (np.asarray(est, dtype=np.float64), np.asarray(se, dtype=np.float64),
                np.asarray(df, dtype=np.float64))

    def contrast_1d(self, lvec: Array) -> tuple[float, float, float]:
        """Estimate, standard error and df of ``l' beta``."""
        est = float(lvec @ self.beta)
        se = float(np.sqrt(max(float(lvec @ self.vcov @ lvec), 0.0)))
        return est, se, self.df_1d(lvec)

    def test(self, lmat: Array) -> tuple[int, float, float, float]:
        """F test of ``L beta = 0``: (num_df, den_df, F, p)."""
        lmat = _full_rank_rows(lmat)
        q = lmat.shape[0]
        if q == 0:
            return 0, float("nan"), float("nan"), float("nan")
        if q == 1:
            e, se, df = self.contrast_1d(lmat[0])
            f = (e / se) ** 2 if se > 0 else float("nan")
            return 1, df, f, float(stats.f.sf(f, 1, df))
        lb = lmat @ self.beta
        lv = lmat @ self.vcov @ lmat.T
        f = float(lb @ np.linalg.solve(lv, lb)) / q
        m = self.method
        if m in ("residual", "between-within"):
            if m == "residual":
                ddf = float(self.n_obs - self.rank)
            else:
                assert self.bw_df is not None
                used = np.any(np.abs(lmat) > 1e-12, axis=0)
                ddf = float(np.min(self.bw_df[used]))
            return q, ddf, f, float(stats.f.sf(f, q, ddf))
        if m == "satterthwaite":
            ddf = self._satterthwaite_md(lmat)
            return q, ddf, f, float(stats.f.sf(f, q, ddf)) if ddf > 0 else float("nan")
        ddf, lam = self._kr_md(lmat)
        fs = lam * f
        return q, ddf, fs, float(stats.f.sf(fs, q, ddf))

    def _satterthwaite_md(self, lmat: Array) -> float:
        """Fai & Cornelius (1996): one Satterthwaite df per eigen-direction, then combined."""
        lv = lmat @ self.vcov @ lmat.T
        ev, vec = np.linalg.eigh(lv)
        nu = self._sat_rows(vec.T @ lmat)
        q = len(ev)
        e = float(np.sum(np.where(nu > 2, nu / (nu - 2.0), 0.0)))
        return 2.0 * e / (e - q) if e > q else 0.0

    def _kr_md(self, lmat: Array) -> tuple[float, float]:
        """Kenward-Roger df and F scaling for a q-row hypothesis (mmrm's formulas)."""
        q = lmat.shape[0]
        phi = self.phi
        mm = lmat.T @ np.linalg.solve(lmat @ phi @ lmat.T, lmat)
        dm = self.est.dm
        w = self.est.w_nat
        mp = (mm @ phi) @ dm @ phi                       # M Phi P_k Phi (sign cancels)
        tr = np.einsum("kaa->k", mp)
        a1 = float(tr @ w @ tr)
        a2 = float(np.einsum("hab,hba->", np.einsum("hj,jba->hba", w, mp), mp))
        b = (a1 + 6.0 * a2) / (2.0 * q)
        g = ((q + 1.0) * a1 - (q + 4.0) * a2) / ((q + 2.0) * a2)
        den = 3.0 * q + 2.0 * (1.0 - g)
        c1, c2, c3 = g / den, (q - g) / den, (q + 2.0 - g) / den
        estar = 1.0 / (1.0 - a2 / q)
        vstar = (2.0 / q) * (1.0 + c1 * b) / ((1.0 - c2 * b) ** 2 * (1.0 - c3 * b))
        rho = vstar / (2.0 * estar**2)
        m = 4.0 + (q + 2.0) / (q * rho - 1.0)
        lam = m / (estar * (m - 2.0))
        return m, lam


def _bell_mccaffrey(xw: Array, phi: Array, rows: Array) -> Array:
    """Satterthwaite df for the sandwich (Bell & McCaffrey 2002, as mmrm's "Empirical").

    In the whitened model the df of ``c' beta`` is tr(G)^2 / sum(G_ij^2), with
    G = diag(a) - Z Phi Z', a_i = |u_i|^2, z_i = X_i' u_i and u_i = X_i Phi c (whitened).
    """
    u = np.einsum("ntp,pr->ntr", xw, phi @ rows.T)
    a = np.einsum("ntr,ntr->nr", u, u)
    z = np.einsum("ntp,ntr->rnp", xw, u)
    zp = z @ phi                                       # (r, n, p)
    diag_zpz = np.einsum("rnp,rnp->rn", zp, z)
    tr_g = a.sum(axis=0) - diag_zpz.sum(axis=1)
    zz = np.einsum("rnp,rnq->rpq", z, z)               # Z'Z per row
    pzz = phi @ zz
    frob = np.einsum("rpq,rqp->r", pzz, pzz)           # ||Z Phi Z'||_F^2
    ss = np.einsum("nr,nr->r", a, a) - 2.0 * np.einsum("nr,rn->r", a, diag_zpz) + frob
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(ss > 0, tr_g**2 / ss, np.inf)
    return np.asarray(out, dtype=np.float64)


def _full_rank_rows(lmat: Array, tol: float = 1e-9) -> Array:
    if lmat.size == 0:
        return lmat
    _u, s, vt = np.linalg.svd(lmat, full_matrices=False)
    keep = s > tol * max(1.0, float(s[0]))
    return np.asarray((s[keep, None] * vt[keep]), dtype=np.float64)


def kr_vcov(lay: Layout, est: Estimate, *, linear: bool) -> Array:
    """Kenward-Roger adjusted covariance Phi_A = Phi + 2 Phi (S_Q - S_P - S_R / 4) Phi."""
    phi = est.fit.phi
    w = est.w_nat
    d1 = est.dsig_nat                      # (G, K, T, T)
    g_n, k_n = d1.shape[0], d1.shape[1]
    dm = est.dm
    wd = np.einsum("hj,jcd->hcd", w, dm)
    s_p = np.einsum("hab,hbd->ad", dm @ phi, wd)
    pc = est.pieces
    p = lay.p
    t = lay.n_visits
    s_q = np.zeros((p, p))
    s_r = np.zeros((p, p))
    for g in range(g_n):
        blk = slice(g * k_n, (g + 1) * k_n)
        wg = w[blk, blk]
        wv = np.einsum("hj,jbc->hbc", wg, d1[g])
        psel = np.flatnonzero(lay.pattern_group == g)
        nbar = np.zeros((len(lay.counts), t, t))
        nbar[psel] = np.einsum("hia,pab,hbc->pic", d1[g], pc.amask[psel], wv, optimize=True)
        sel = lay.group == g
        ax = pc.ax[sel]
        s_q += np.einsum("nip,niq->pq", ax, nbar[lay.pattern[sel]] @ ax)
        if not linear and est.d2sig_nat is not None:
            rbar = np.einsum("hj,hjab->ab", wg, est.d2sig_nat[g])
            s_r += np.einsum("nip,niq->pq", ax, rbar @ ax)
    adj = s_q - s_p - 0.25 * s_r
    out = phi + 2.0 * phi @ adj @ phi
    return np.asarray(0.5 * (out + out.T), dtype=np.float64)


def empirical_vcov(lay: Layout, est: Estimate) -> Array:
    """Sandwich covariance Phi (sum_i X_i' A_i r_i r_i' A_i X_i) Phi (CR0, as mmrm)."""
    pc = est.pieces
    s = np.einsum("nip,ni->np", lay.x, pc.ar)
    meat = s.T @ s
    phi = est.fit.phi
    return np.asarray(phi @ meat @ phi, dtype=np.float64)


def between_within_df(subject: npt.NDArray[np.int64], x: Array, n_subjects: int,
                      has_intercept: bool, term_columns: list[list[int]]) -> Array:
    """Per-coefficient between-within df (Schluchter & Elashoff; mmrm's definition)."""
    p = x.shape[1]
    within_cols = np.zeros(p, dtype=bool)
    for cols in term_columns:
        varies = False
        for c in cols:
            col = x[:, c]
            mn = np.full(n_subjects, np.inf)
            mx = np.full(n_subjects, -np.inf)
            np.minimum.at(mn, subject, col)
            np.maximum.at(mx, subject, col)
            if np.any(mx - mn > 1e-12):
                varies = True
        if varies:
            within_cols[cols] = True
    intercept = np.all(np.abs(x - 1.0) < 1e-12, axis=0)
    between_cols = ~within_cols & ~intercept
    n_obs = x.shape[0]
    df_between = n_subjects - (1 if has_intercept else 0) - int(between_cols.sum())
    df_within = n_obs - n_subjects - int(within_cols.sum())
    out = np.where(between_cols, float(df_between), float(df_within))
    return np.asarray(out, dtype=np.float64)
