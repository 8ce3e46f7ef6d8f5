"""Multiple imputation at one visit: missing at random and jump to reference.

Data: per subject of the ITT population, the analysis value at each post-baseline visit the
protocol schedules for the parameter up to the target visit (``visits``; Fugl-Meyer of the
reference protocol: month 12 only; after death, the worst score when the parameter has one:
the composite strategy; death is not imputed), the baseline value and the strata as covariates.

**MAR** (sequential regression, per arm; Rubin 1987 §5.4, van Buuren 2018 Algorithm 3.1):
for each visit *k* in time order, regress :math:`Y_k` on :math:`(1, x, Y_1..Y_{k-1})` among
the arm's subjects observed at *k* (earlier values as already completed), draw
:math:`\\sigma^2 = RSS/\\chi^2_{n-p}` and :math:`\\beta \\sim N(\\hat\\beta,
\\sigma^2(Z^\\top Z)^{-1})` (the posterior under the prior :math:`\\propto 1/\\sigma^2`), and
draw each missing :math:`Y_k = z^\\top\\beta + N(0,\\sigma^2)`.

**Jump to reference** (Carpenter, Roger & Kenward 2013, J Biopharm Stat 23:1352): with the
same draws, each arm's regressions define its mean :math:`m_a(x)` and covariance
:math:`\\Sigma_a` of :math:`(Y_1..Y_K)` given *x*. A subject of a non-reference arm whose
last observed visit is *j* keeps its own arm's mean up to *j* and takes the reference arm's
mean after it; its values after *j* are drawn from the conditional normal given its values up
to *j* under the reference arm's covariance (rbmi's ``compute_sigma`` for JR). Intermittent
gaps before *j* are imputed under MAR. Reference-arm subjects are imputed under MAR.

Each completed data set is analysed by the ANCOVA of the change at the target visit; the
estimates are pooled by Rubin's rules with Barnard-Rubin df (:mod:`~strokecell.analysis.rubin`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import linalg

from strokecell.analysis._prep import analysis_rows, covariate_matrix, usable_strata
from strokecell.analysis.ancova import ancova_frame
from strokecell.analysis.datasets import PARAMS
from strokecell.analysis.result import AnalysisResult
from strokecell.analysis.rubin import rubin_pool
from strokecell.errors import InputError, ModelError, Problem

__all__ = ["MI_COLUMNS", "multiple_imputation"]

Array = npt.NDArray[np.float64]
MI_COLUMNS = ["PARAMCD", "AVISIT", "method", "comparison", "estimate", "se", "df", "lower",
              "upper", "p", "m", "fmi_lambda", "n_imputed", "scale"]


def _draw_regression(z: Array, y: Array, rng: np.random.Generator) -> tuple[Array, float]:
    """One posterior draw of (beta, sigma^2); aliased columns (e.g. a stratum level absent
    from an arm) are dropped by pivoted QR and get coefficient 0."""
    n, p = z.shape
    _, r, piv = linalg.qr(z, mode="economic", pivoting=True)
    diag = np.abs(np.diag(r))
    rank = int(np.sum(diag > 1e-10 * max(float(diag[0]), 1.0))) if diag.size else 0
    keep = np.sort(piv[:rank])
    if n <= rank:
        raise ModelError(f"{n} observed values for {rank} regression coefficients")
    zk = z[:, keep]
    zz_inv = np.linalg.inv(zk.T @ zk)
    bhat = zz_inv @ zk.T @ y
    rss = float(np.sum((y - zk @ bhat) ** 2))
    sigma2 = rss / rng.chisquare(n - rank)
    beta = np.zeros(p)
    beta[keep] = rng.multivariate_normal(bhat, sigma2 * zz_inv, method="cholesky")
    return beta, sigma2


def _implied(params: list[tuple[Array, float]], x: Array) -> tuple[Array, Array]:
    """Means (n × K) and covariance (K × K) of Y given x from the sequential regressions."""
    k_vis, q = len(params), x.shape[1]
    mean = np.zeros((x.shape[0], k_vis))
    bmat = np.zeros((k_vis, k_vis))
    for k, (beta, _) in enumerate(params):
        mean[:, k] = x @ beta[:q] + mean[:, :k] @ beta[q:]
        bmat[k, :k] = beta[q:]
    a = np.linalg.inv(np.eye(k_vis) - bmat)
    return mean, a @ np.diag([s for _, s in params]) @ a.T


def _one_imputation(y: Array, x: Array, arm_idx: dict[str, npt.NDArray[np.intp]],
                    reference: str, rng: np.random.Generator,
                    names: Sequence[str]) -> tuple[Array, Array]:
    fill = y.copy()
    params: dict[str, list[tuple[Array, float]]] = {a: [] for a in arm_idx}
    for k in range(y.shape[1]):
        for arm, idx in arm_idx.items():
            z = np.column_stack([x[idx], fill[idx, :k]])
            col = y[idx, k]
            obs = ~np.isnan(col)
            try:
                beta, s2 = _draw_regression(z[obs], col[obs], rng)
            except ModelError as exc:
                raise ModelError(f"{names[k]}, arm {arm}: {exc}") from None
            params[arm].append((beta, s2))
            miss = idx[~obs]
            fill[miss, k] = z[~obs] @ beta + rng.normal(0.0, np.sqrt(s2), miss.size)
    j2r = fill.copy()
    _, sigma_ref = _implied(params[reference], x)
    for arm, idx in arm_idx.items():
        if arm == reference:
            continue
        observed = ~np.isnan(y[idx])
        last = np.where(observed.any(axis=1),
                        y.shape[1] - 1 - np.argmax(observed[:, ::-1], axis=1), -1)
        own, _ = _implied(params[arm], x[idx])
        ref, _ = _implied(params[reference], x[idx])
        for r, i in enumerate(idx):
            j = int(last[r])
            if j == y.shape[1] - 1:
                continue
            pre, post = np.arange(j + 1), np.arange(j + 1, y.shape[1])
            mu = np.concatenate([own[r, pre], ref[r, post]])
            s_pp = sigma_ref[np.ix_(pre, pre)]
            s_op = sigma_ref[np.ix_(post, pre)]
            gain = s_op @ np.linalg.inv(s_pp) if pre.size else np.zeros((post.size, 0))
            cmean = mu[post] + gain @ (fill[i, pre] - mu[pre])
            ccov = sigma_ref[np.ix_(post, post)] - gain @ s_op.T
            j2r[i, post] = rng.multivariate_normal(cmean, ccov, method="cholesky")
    return fill, j2r


def _baselines(bds: pd.DataFrame, paramcd: str, rows: pd.DataFrame, log_scale: bool
               ) -> pd.Series:
    """Each subject's baseline: from the baseline records (so that subjects without any
    post-baseline value are imputed too), else from BASE of the analysed rows."""
    recs = bds[(bds["PARAMCD"] == paramcd) & (bds["ABLFL"] == "Y") & (bds["ANL01FL"] == "Y")
               & bds["AVAL"].notna()].drop_duplicates("USUBJID").set_index("USUBJID")["AVAL"]
    recs = recs.astype(float)
    if log_scale:
        recs = np.log(recs[recs > 0])
    post = rows.drop_duplicates("USUBJID").set_index("USUBJID")["BASE"]
    return pd.concat([recs, post[~post.index.isin(recs.index)]])


def multiple_imputation(adsl: pd.DataFrame, bds: pd.DataFrame, paramcd: str, visit: str, *,
                        arms: Sequence[str], reference: str, strata: Sequence[str] = (),
                        seed: int, m: int = 50, log_scale: bool = False,
                        level: float = 0.95, visits: Sequence[str] = ()) -> AnalysisResult:
    """MI under MAR and under jump to reference; one pooled row per method and comparison.

    ``visits``: the post-baseline visits the protocol schedules for the parameter
    (:func:`~strokecell.analysis.datasets.scheduled_visits`); the sequential regressions run
    over those up to ``visit`` (records at other visits, e.g. worst scores at a visit where
    the instrument is not collected, are not used). Empty: every visit with data."""
    rows, messages = analysis_rows(adsl, bds, paramcd, strata=strata, composite=True,
                                   log_scale=log_scale)
    if m < 2:
        raise InputError(Problem("m", "multiple imputation needs at least two imputations", m,
                                 "2, 3, ... (50 by default)"))
    name = f"mi {paramcd} {visit}"
    info: dict[str, Any] = {"paramcd": paramcd, "visit": visit, "seed": seed, "m": m,
                            "reference": reference, "methods": ["MAR", "J2R"],
                            "death": "composite (worst score) where the parameter has one"}
    empty = AnalysisResult(name, pd.DataFrame(columns=MI_COLUMNS), messages, info)
    if visits:
        rows = rows[rows["AVISIT"].isin([*visits, visit])]
    if rows.empty or not (rows["AVISIT"] == visit).any():
        empty.messages.append(f"visit {visit} has no data for {paramcd}: MI not done")
        return empty
    if PARAMS[paramcd].worst is None and adsl["DTHFL"].eq("Y").any():
        messages.append(f"{paramcd}: no worst score after death; missing values after death "
                        "are imputed like those after withdrawal")
    target_n = float(rows.loc[rows["AVISIT"] == visit, "AVISITN"].iloc[0])
    used_visits = (rows[rows["AVISITN"] <= target_n].drop_duplicates("AVISIT")
                   .sort_values("AVISITN")["AVISIT"].tolist())
    thin = [v for v in used_visits[:-1] if any(
        int(((rows["AVISIT"] == v) & (rows["ARMCD"] == a)).sum()) < 2 for a in arms)]
    if thin:
        messages.append(f"MI of {paramcd}: visit(s) {', '.join(thin)} with fewer than 2 "
                        "values in an arm are left out of the imputation model")
        used_visits = [v for v in used_visits if v not in thin]
    subj = adsl[(adsl["ITTFL"] == "Y") & adsl["ARMCD"].isin(arms)][["USUBJID", "ARMCD",
                                                                     *strata]]
    base = _baselines(bds, paramcd, rows, log_scale)
    subj = subj[subj["USUBJID"].isin(base.index)].assign(
        BASE=lambda d: d["USUBJID"].map(base)).reset_index(drop=True)
    wide = rows.pivot_table(index="USUBJID", columns="AVISIT", values="AVAL", aggfunc="first")
    y = wide.reindex(index=subj["USUBJID"], columns=used_visits).to_numpy(dtype=float)
    used, notes = usable_strata(subj, strata)
    messages += notes
    cov, _ = covariate_matrix(subj, used)
    x = np.column_stack([np.ones(len(subj)), cov])
    arm_idx = {a: np.flatnonzero(subj["ARMCD"].to_numpy() == a) for a in arms}
    rng = np.random.default_rng(seed)
    results: dict[str, dict[str, list[tuple[float, float]]]] = {"MAR": {}, "J2R": {}}
    df_com = 0.0
    try:
        for _ in range(m):
            mar, j2r = _one_imputation(y, x, arm_idx, reference, rng, used_visits)
            for method, data in (("MAR", mar), ("J2R", j2r)):
                frame = subj.assign(CHG=data[:, -1] - subj["BASE"])
                fit = ancova_frame(frame, "CHG", arms, reference, used)
                df_com = float(fit.df)
                for arm in arms:
                    if arm != reference:
                        j = fit.names.index(arm)
                        results[method].setdefault(arm, []).append(
                            (float(fit.beta[j]), float(fit.cov[j, j])))
    except (ModelError, np.linalg.LinAlgError) as exc:
        empty.messages.append(f"MI of {paramcd} at {visit} not estimable: {exc}")
        return empty
    out = []
    for method, per_arm in results.items():
        for arm, pairs in per_arm.items():
            pooled = rubin_pool([p[0] for p in pairs], [p[1] for p in pairs], df_com, level)
            n_imp = int(np.isnan(y[arm_idx[arm], -1]).sum() +
                        np.isnan(y[arm_idx[reference], -1]).sum())
            out.append({"PARAMCD": paramcd, "AVISIT": visit, "method": method,
                        "comparison": f"{arm} - {reference}", "estimate": pooled.estimate,
                        "se": pooled.se, "df": pooled.df, "lower": pooled.lower,
                        "upper": pooled.upper, "p": pooled.p, "m": m,
                        "fmi_lambda": pooled.fmi_lambda, "n_imputed": n_imp,
                        "scale": "log" if log_scale else "original"})
    info["visits_used"] = used_visits
    return AnalysisResult(name, pd.DataFrame(out, columns=MI_COLUMNS), messages, info)
