"""ANCOVA at one visit on observed cases (a sensitivity analysis), and the OLS behind it.

``CHG ~ arm + BASE + strata`` by ordinary least squares (numpy): the adjusted difference of
each arm from the reference arm with its t-based 95% CI on n - p residual df. Tested against
statsmodels OLS.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from strokecell.analysis._prep import analysis_rows, covariate_matrix, usable_strata
from strokecell.analysis.result import AnalysisResult
from strokecell.errors import ModelError

__all__ = ["ANCOVA_COLUMNS", "OLSFit", "ancova_at_visit", "ancova_frame", "ols"]

Array = npt.NDArray[np.float64]
ANCOVA_COLUMNS = ["PARAMCD", "AVISIT", "comparison", "n_treatment", "n_reference", "estimate",
                  "se", "df", "lower", "upper", "p", "scale"]


@dataclass(frozen=True)
class OLSFit:
    beta: Array
    cov: Array
    df: int
    sigma2: float
    names: list[str]

    def row(self, name: str, level: float = 0.95) -> dict[str, float]:
        j = self.names.index(name)
        est, se = float(self.beta[j]), float(np.sqrt(self.cov[j, j]))
        q = float(stats.t.ppf(0.5 + level / 2.0, self.df))
        t = est / se if se > 0 else float("nan")
        return {"estimate": est, "se": se, "df": float(self.df), "lower": est - q * se,
                "upper": est + q * se, "p": float(2.0 * stats.t.sf(abs(t), self.df))}


def ols(y: Array, x: Array, names: Sequence[str]) -> OLSFit:
    """Least squares by QR; refuses a rank-deficient design or no residual df."""
    n, p = x.shape
    if n <= p:
        raise ModelError(f"{n} observations for {p} coefficients: no residual df")
    q, r = np.linalg.qr(x)
    if np.min(np.abs(np.diag(r))) < 1e-10 * max(1.0, float(np.max(np.abs(np.diag(r))))):
        raise ModelError(f"the design is rank deficient (columns {', '.join(names)})")
    beta = np.linalg.solve(r, q.T @ y)
    resid = y - x @ beta
    df = n - p
    sigma2 = float(resid @ resid) / df
    rinv = np.linalg.inv(r)
    return OLSFit(beta, sigma2 * (rinv @ rinv.T), df, sigma2, list(names))


def ancova_frame(frame: pd.DataFrame, y: str, arms: Sequence[str], reference: str,
                 strata: Sequence[str]) -> OLSFit:
    """OLS of ``y`` on the intercept, one dummy per non-reference arm, BASE and strata."""
    cov, cov_names = covariate_matrix(frame, strata)
    dummies = [a for a in arms if a != reference]
    x = np.column_stack([np.ones(len(frame)),
                         *[(frame["ARMCD"] == a).to_numpy(dtype=float) for a in dummies], cov])
    return ols(frame[y].to_numpy(dtype=float), x, ["Intercept", *dummies, *cov_names])


def ancova_at_visit(adsl: pd.DataFrame, bds: pd.DataFrame, paramcd: str, visit: str,
                    arms: Sequence[str], reference: str, *, strata: Sequence[str] = (),
                    log_scale: bool = False, composite: bool = False,
                    level: float = 0.95) -> AnalysisResult:
    """ANCOVA of the change from baseline at ``visit`` on the subjects observed there."""
    rows, messages = analysis_rows(adsl, bds, paramcd, strata=strata, composite=composite,
                                   log_scale=log_scale)
    rows = rows[rows["AVISIT"] == visit]
    name = f"ancova {paramcd} {visit}"
    info = {"paramcd": paramcd, "visit": visit, "reference": reference,
            "population": "ITTFL", "observed_cases": True, "log_scale": log_scale}
    if rows.empty:
        return AnalysisResult(name, pd.DataFrame(columns=ANCOVA_COLUMNS),
                              [*messages, f"visit {visit} has no data for {paramcd}"], info)
    empty = [a for a in arms if not (rows["ARMCD"] == a).any()]
    if empty:
        return AnalysisResult(name, pd.DataFrame(columns=ANCOVA_COLUMNS), [
            *messages, f"arm {', '.join(empty)} has no data for {paramcd} at {visit}: "
            "the difference is not estimable"], info)
    used, notes = usable_strata(rows, strata)
    try:
        fit = ancova_frame(rows, "CHG", arms, reference, used)
    except ModelError as exc:
        return AnalysisResult(name, pd.DataFrame(columns=ANCOVA_COLUMNS),
                              [*messages, *notes, f"ANCOVA not estimable: {exc}"], info)
    out = []
    for arm in arms:
        if arm == reference:
            continue
        rec = fit.row(arm, level)
        out.append({"PARAMCD": paramcd, "AVISIT": visit, "comparison": f"{arm} - {reference}",
                    "n_treatment": int((rows["ARMCD"] == arm).sum()),
                    "n_reference": int((rows["ARMCD"] == reference).sum()), **rec,
                    "scale": "log" if log_scale else "original"})
    info["covariates"] = fit.names
    return AnalysisResult(name, pd.DataFrame(out, columns=ANCOVA_COLUMNS), messages + notes,
                          info)
