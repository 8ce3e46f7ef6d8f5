"""The fitted model as users see it: tables, tests and the JSON of the CLI."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from strokecell.errors import ModelError
from strokecell.stats.mmrm._fit import Convergence, Estimate
from strokecell.stats.mmrm._formula import ModelData
from strokecell.stats.mmrm._inference import Inference
from strokecell.stats.mmrm._lsmeans import Grid, lsmeans_rows, term_hypothesis

Array = npt.NDArray[np.float64]


@dataclass
class MMRMResult:
    """A fitted MMRM. Build it with :func:`fit_mmrm`."""

    data: ModelData
    estimate: Estimate
    inference: Inference
    grid: Grid
    df_method: str
    empirical: bool
    attempts: list[Convergence] = field(default_factory=list)

    # ---- fit summaries -------------------------------------------------------------------
    @property
    def converged(self) -> bool:
        return self.estimate.convergence.converged

    @property
    def convergence(self) -> Convergence:
        return self.estimate.convergence

    @property
    def structure_used(self) -> str:
        return self.estimate.cov.structure.name

    @property
    def reml(self) -> bool:
        return self.estimate.reml

    @property
    def n_obs(self) -> int:
        return int(self.data.y.size)

    @property
    def n_subjects(self) -> int:
        return len(self.data.subjects)

    @property
    def n_dropped(self) -> int:
        return self.data.n_dropped

    @property
    def neg2_loglik(self) -> float:
        return self.estimate.objective

    @property
    def n_cov_params(self) -> int:
        return int(self.estimate.theta.size)

    def _n_params(self) -> int:
        k = self.n_cov_params
        return k if self.reml else k + self.data.x.shape[1]

    @property
    def aic(self) -> float:
        return self.neg2_loglik + 2.0 * self._n_params()

    @property
    def bic(self) -> float:
        return self.neg2_loglik + self._n_params() * float(np.log(self.n_subjects))

    @property
    def beta(self) -> Array:
        return self.estimate.fit.beta

    @property
    def vcov(self) -> Array:
        """Covariance of the coefficients used for inference (KR-adjusted / sandwich)."""
        return self.inference.vcov

    @property
    def visits(self) -> list[str]:
        return list(self.data.visits)

    def covariance(self, group: str | None = None) -> Array:
        """The estimated covariance over the visits (for ``group`` when grouped)."""
        sig = self.estimate.cov.sigmas(self.estimate.theta)
        groups = self.data.groups
        if group is None:
            if len(groups) > 1:
                raise ModelError(f"grouped model: name a group, one of {', '.join(groups)}")
            return np.asarray(sig[0])
        if group not in groups:
            raise ModelError(f"group {group!r} not in the model; groups: {', '.join(groups)}")
        return np.asarray(sig[groups.index(group)])

    def covariance_parameters(self) -> pd.DataFrame:
        """Natural (SAS-style) covariance parameters with their asymptotic standard errors."""
        names = self.estimate.cov.structure.natural_names()
        rows = []
        w = self.estimate.w_nat
        for g, grp in enumerate(self.data.groups):
            for j, n in enumerate(names):
                k = g * len(names) + j
                rows.append({"group": grp, "parameter": n,
                             "estimate": float(self.estimate.phi_nat[k]),
                             "se": float(np.sqrt(max(w[k, k], 0.0)))})
        out = pd.DataFrame(rows)
        return out if len(self.data.groups) > 1 else out.drop(columns="group")

    # ---- coefficients ------------------------------------------------------------------
    @property
    def coefficients(self) -> pd.DataFrame:
        est, se, df = self.inference.rows_1d(np.eye(self.beta.size))
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(se > 0, est / se, np.nan)
        return pd.DataFrame({"term": list(self.data.column_names), "estimate": est, "se": se,
                             "df": df, "t": t, "p": 2.0 * stats.t.sf(np.abs(t), df)})

    # ---- least-squares means -----------------------------------------------------------
    def lsmeans(self, factor: str, by: str | None = None, *, level: float = 0.95
                ) -> pd.DataFrame:
        cells, rows = lsmeans_rows(self.data, self.grid, factor, by)
        est, se, df = self.inference.rows_1d(rows)
        q = stats.t.ppf(0.5 + level / 2.0, df)
        cols: dict[str, Any] = {c: cells[c] for c in cells.columns}
        cols.update(estimate=est, se=se, df=df, lower=est - q * se, upper=est + q * se)
        return pd.DataFrame(cols)

    def contrasts(self, factor: str, by: str | None = None, *, level: float = 0.95
                  ) -> pd.DataFrame:
        """Each level of ``factor`` against its reference level, at each level of ``by``."""
        cells, rows = lsmeans_rows(self.data, self.grid, factor, by)
        ref = self.data.categories[factor][0]
        out = []
        by_levels = self.data.levels[by] if by else [None]
        for b in by_levels:
            sel_b = np.ones(len(cells), dtype=bool) if b is None else (cells[by] == b).to_numpy()
            ref_i = int(np.flatnonzero(sel_b & (cells[factor] == ref).to_numpy())[0])
            for lev in self.data.levels[factor]:
                if lev == ref:
                    continue
                i = int(np.flatnonzero(sel_b & (cells[factor] == lev).to_numpy())[0])
                lvec = rows[i] - rows[ref_i]
                est, se, df = self.inference.contrast_1d(lvec)
                t = est / se if se > 0 else float("nan")
                q = float(stats.t.ppf(0.5 + level / 2.0, df))
                rec: dict[str, Any] = {} if by is None else {by: b}
                rec.update({"label": f"{lev} - {ref}", "estimate": est, "se": se, "df": df,
                            "t": t, "p": float(2.0 * stats.t.sf(abs(t), df)),
                            "lower": est - q * se, "upper": est + q * se})
                out.append(rec)
        return pd.DataFrame(out)

    # ---- type III tests ----------------------------------------------------------------
    def type3(self) -> pd.DataFrame:
        rows = []
        for i, term in enumerate(self.data.terms):
            if not term.factors and not term.covariates:
                continue  # the intercept is not tested (as in SAS)
            lmat = term_hypothesis(self.data, self.grid, i)
            q, ddf, f, p = self.inference.test(lmat)
            rows.append({"term": term.label, "num_df": q, "den_df": ddf, "F": f, "p": p})
        return pd.DataFrame(rows, columns=["term", "num_df", "den_df", "F", "p"])

    def test(self, lmat: Array) -> dict[str, float]:
        """F test of ``L beta = 0`` for a user-supplied ``L`` (rows over the coefficients)."""
        lmat = np.atleast_2d(np.asarray(lmat, dtype=np.float64))
        if lmat.shape[1] != self.beta.size:
            raise ModelError(f"L must have {self.beta.size} columns (one per coefficient), "
                             f"got {lmat.shape[1]}")
        q, ddf, f, p = self.inference.test(lmat)
        return {"num_df": q, "den_df": ddf, "F": f, "p": p}

    # ---- output ------------------------------------------------------------------------
    def summary(self) -> str:
        lines = [
            f"MMRM fit by {'REML' if self.reml else 'ML'}, covariance {self.structure_used}"
            f", df {self.df_method}{' (empirical covariance)' if self.empirical else ''}",
            f"subjects {self.n_subjects}, observations {self.n_obs} ({self.n_dropped} rows "
            "dropped for missing values)",
            f"-2 log-likelihood {self.neg2_loglik:.4f}  AIC {self.aic:.4f}  BIC {self.bic:.4f}",
            f"converged: {self.converged} ({self.convergence.message})",
            "",
            self.coefficients.to_string(index=False),
        ]
        return "\n".join(lines)

    def to_dict(self, lsmeans: str | None = None, by: str | None = None) -> dict[str, Any]:
        """The JSON of ``strokecell mmrm``."""
        if len(self.data.groups) > 1:
            cov: Any = {g: self.covariance(g).tolist() for g in self.data.groups}
        else:
            cov = self.covariance().tolist()
        out: dict[str, Any] = {
            "converged": self.converged,
            "structure": self.structure_used,
            "reml": self.reml,
            "df_method": self.df_method,
            "empirical": self.empirical,
            "n_subjects": self.n_subjects,
            "n_obs": self.n_obs,
            "n_dropped": self.n_dropped,
            "neg2_loglik": self.neg2_loglik,
            "aic": self.aic,
            "bic": self.bic,
            "visits": self.visits,
            "covariance": cov,
            "covariance_parameters": self.covariance_parameters().to_dict(orient="records"),
            "convergence": self.convergence.to_dict(),
            "attempts": [a.to_dict() for a in self.attempts],
            "coefficients": self.coefficients.to_dict(orient="records"),
            "lsmeans": [],
            "contrasts": [],
            "type3": self.type3().to_dict(orient="records"),
        }
        if lsmeans is not None:
            out["lsmeans"] = self.lsmeans(lsmeans, by).to_dict(orient="records")
            out["contrasts"] = self.contrasts(lsmeans, by).to_dict(orient="records")
        return out
