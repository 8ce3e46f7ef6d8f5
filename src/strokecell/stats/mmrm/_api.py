"""Public entry points: fit one data set, or many sharing one design."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from strokecell.errors import ConvergenceError, ModelError
from strokecell.stats.mmrm._fit import (
    Convergence,
    CovModel,
    Estimate,
    _NotPositiveDefinite,
    add_inference,
    optimise,
)
from strokecell.stats.mmrm._formula import ModelData, parse_formula, prepare
from strokecell.stats.mmrm._inference import (
    Inference,
    between_within_df,
    check_method,
    empirical_vcov,
    kr_vcov,
)
from strokecell.stats.mmrm._likelihood import Layout, build_layout
from strokecell.stats.mmrm._lsmeans import Grid, build_grid
from strokecell.stats.mmrm._result import MMRMResult
from strokecell.stats.mmrm._structures import STRUCTURES, Structure
from strokecell.stats.mmrm._threads import single_thread_blas

Array = npt.NDArray[np.float64]
_WEIGHT_COL = "__mmrm_weights__"


def fit_mmrm(
    data: pd.DataFrame,
    formula: str,
    *,
    reml: bool = True,
    df: str = "satterthwaite",
    weights: str | Sequence[float] | npt.NDArray[np.float64] | None = None,
    reference: dict[str, str] | None = None,
    fallback: Sequence[str] | None = None,
    empirical: bool = False,
    max_iter: int = 200,
    raise_on_failure: bool = False,
    information: str = "observed",
) -> MMRMResult:
    """Fit a mixed model for repeated measures.

    ``formula`` is R-style with one covariance term as in mmrm, e.g.
    ``"FEV1 ~ ARMCD * AVISIT + RACE + us(AVISIT | USUBJID)"`` or, with one covariance per
    arm, ``us(AVISIT | ARMCD / USUBJID)``. ``df`` is one of ``satterthwaite`` (default),
    ``kenward-roger``, ``kenward-roger-linear``, ``between-within``, ``residual``.
    ``weights`` is a column name or one positive weight per row. ``reference`` maps factor
    columns to their reference level. ``fallback`` lists structures to try in order when the
    previous one does not converge (the formula's structure is tried first). ``empirical``
    asks for the sandwich covariance of the coefficients. A fit that does not converge is
    returned with ``converged`` False (or raises ``ConvergenceError`` with
    ``raise_on_failure``): never silently. ``information`` chooses the covariance of the
    covariance parameters used by the df and KR: ``observed`` (inverse observed
    information, SAS's default and mmrm's) or ``expected`` (Kenward & Roger 1997, pbkrtest).
    """
    method = check_method(df)
    if information not in ("observed", "expected"):
        raise ModelError(f"information {information!r} is not supported; allowed: observed, "
                         "expected")
    if empirical and method.startswith("kenward"):
        raise ModelError("empirical covariance cannot be combined with Kenward-Roger df; "
                         "use satterthwaite, between-within or residual")
    wcol: str | None = None
    if weights is not None:
        if isinstance(weights, str):
            wcol = weights
        else:
            warr = np.asarray(weights, dtype=float)
            if warr.shape != (len(data),):
                raise ModelError(f"weights must have one value per row ({len(data)}), "
                                 f"got shape {warr.shape}")
            data = data.assign(**{_WEIGHT_COL: warr})
            wcol = _WEIGHT_COL
    with single_thread_blas():
        md = prepare(data, formula, weights=wcol, reference=reference)
        return _fit_prepared(md, reml=reml, method=method, fallback=fallback,
                             empirical=empirical, max_iter=max_iter,
                             raise_on_failure=raise_on_failure,
                             expected=information == "expected")


def _layout(md: ModelData) -> Layout:
    return build_layout(md.x, md.y, md.weights, md.subject_index, md.visit_index,
                        md.group_index, len(md.visits), len(md.groups))


def _fit_prepared(md: ModelData, *, reml: bool, method: str, fallback: Sequence[str] | None,
                  empirical: bool, max_iter: int, raise_on_failure: bool,
                  grid: Grid | None = None, expected: bool = False) -> MMRMResult:
    order = [md.parsed.structure]
    for s in fallback or []:
        if s not in STRUCTURES:
            raise ModelError(f"fallback structure {s!r} is not supported; allowed: "
                             f"{', '.join(STRUCTURES)}")
        if s not in order:
            order.append(s)
    lay = _layout(md)
    attempts: list[Convergence] = []
    chosen: Estimate | None = None
    for name in order:
        cov = CovModel(Structure(name, len(md.visits)), len(md.groups))
        try:
            est = optimise(lay, cov, reml, max_iter=max_iter)
        except _NotPositiveDefinite as exc:
            attempts.append(Convergence(False, str(exc), 0, math.nan, False, name))
            continue
        attempts.append(est.convergence)
        if chosen is None or est.convergence.converged:
            chosen = est
        if est.convergence.converged:
            break
    if chosen is None:
        raise ConvergenceError("no covariance structure could be fitted: " + "; ".join(
            f"{a.structure}: {a.message}" for a in attempts))
    if raise_on_failure and not chosen.convergence.converged:
        raise ConvergenceError("the fit did not converge: " + "; ".join(
            f"{a.structure}: {a.message} (gradient {a.gradient_norm:.3g})" for a in attempts))
    add_inference(lay, chosen, expected=expected)
    vcov = chosen.fit.phi
    if method == "kenward-roger":
        vcov = kr_vcov(lay, chosen, linear=False)
    elif method == "kenward-roger-linear":
        vcov = kr_vcov(lay, chosen, linear=True)
    if empirical:
        vcov = empirical_vcov(lay, chosen)
    bw = None
    if method == "between-within":
        has_int = any(not t.factors and not t.covariates for t in md.terms)
        bw = between_within_df(md.subject_index, md.x, len(md.subjects), has_int,
                               [t.columns for t in md.terms])
    inf = Inference(est=chosen, method=method, vcov=vcov, n_obs=int(md.y.size),
                    n_subjects=len(md.subjects), rank=md.x.shape[1], bw_df=bw,
                    empirical_xw=chosen.fit.xw if empirical else None)
    return MMRMResult(data=md, estimate=chosen, inference=inf,
                      grid=grid if grid is not None else build_grid(md), df_method=method,
                      empirical=empirical, attempts=attempts)


def fit_mmrm_batch(
    data: pd.DataFrame | Sequence[pd.DataFrame],
    formula: str,
    *,
    replicate: str | None = None,
    reml: bool = True,
    df: str = "satterthwaite",
    weights: str | None = None,
    reference: dict[str, str] | None = None,
    fallback: Sequence[str] | None = None,
    empirical: bool = False,
    max_iter: int = 200,
) -> list[MMRMResult | None]:
    """Fit the same model to many data sets in one call (e.g. a power simulation).

    Either one long DataFrame with a ``replicate`` column, or a sequence of DataFrames with
    the same columns. The formula is parsed and the design built once for all data sets;
    each data set then gets its own likelihood fit. The factor levels (and so the
    coefficients) are those of the pooled data. A data set whose design is not estimable
    gives ``None`` in its place; one that does not converge is returned with ``converged``
    False.
    """
    method = check_method(df)
    if replicate is None:
        if isinstance(data, pd.DataFrame):
            raise ModelError("fit_mmrm_batch needs replicate= (the column naming the data set) "
                             "when given one DataFrame")
        frames = list(data)
        if not frames:
            return []
        pooled = pd.concat(frames, keys=range(len(frames)), names=["__rep__", None])
        pooled = pooled.reset_index(level=0)
        rep_col = "__rep__"
    else:
        if not isinstance(data, pd.DataFrame):
            raise ModelError("replicate= needs one long DataFrame")
        if replicate not in data.columns:
            raise ModelError(f"replicate column {replicate!r} is not in the data")
        pooled, rep_col = data, replicate
    parsed_subject = parse_formula(formula).subject
    if parsed_subject not in pooled.columns:
        raise ModelError(f"subject column {parsed_subject!r} is not in the data")
    pooled = pooled.assign(__subj__=pooled[rep_col].astype(str) + "\x1f" +
                           pooled[parsed_subject].astype(str))
    with single_thread_blas():
        return _batch(pooled, formula, rep_col, parsed_subject, method=method, reml=reml,
                      weights=weights, reference=reference, fallback=fallback,
                      empirical=empirical, max_iter=max_iter)


def _batch(pooled: pd.DataFrame, formula: str, rep_col: str, parsed_subject: str, *,
           method: str, reml: bool, weights: str | None, reference: dict[str, str] | None,
           fallback: Sequence[str] | None, empirical: bool, max_iter: int
           ) -> list[MMRMResult | None]:
    big = prepare(pooled.assign(**{parsed_subject: pooled["__subj__"]}), formula,
                  weights=weights, reference=reference)
    reps = big.frame[parsed_subject].astype(str).str.split("\x1f").str[0].to_numpy()
    affine = _affine_grid(big)
    out: list[MMRMResult | None] = []
    for rep in pd.unique(pooled[rep_col].astype(str)):
        sel = reps == rep
        if not sel.any():  # every row of this data set had a missing value
            out.append(None)
            continue
        md = _subset(big, sel)
        if np.linalg.matrix_rank(md.x) < md.x.shape[1]:
            out.append(None)
            continue
        grid = _grid_for(md, affine)
        try:
            out.append(_fit_prepared(md, reml=reml, method=method, fallback=fallback,
                                     empirical=empirical, max_iter=max_iter,
                                     raise_on_failure=False, grid=grid))
        except ConvergenceError:
            out.append(None)
    return out


def _subset(md: ModelData, sel: npt.NDArray[np.bool_]) -> ModelData:
    frame = md.frame.loc[sel].reset_index(drop=True)
    codes, uniq = pd.factorize(md.subject_index[sel])
    means = {c: float(frame[c].astype(float).mean()) for c in md.covariate_means}
    return dataclasses.replace(
        md, x=md.x[sel], y=md.y[sel], weights=md.weights[sel],
        visit_index=md.visit_index[sel], group_index=md.group_index[sel],
        subject_index=np.asarray(codes, dtype=np.int64),
        subjects=[md.subjects[i].split("\x1f", 1)[-1] for i in uniq], n_dropped=0,
        covariate_means=means,
        frame=frame, grid_rows=None,
    )


def _affine_grid(md: ModelData) -> dict[str, Any] | None:
    """Grid rows at covariates 0 and unit steps, if the model is affine in the covariates."""
    zero = dataclasses.replace(md, covariate_means={c: 0.0 for c in md.covariate_means},
                               grid_rows=None)
    base = build_grid(zero)
    slopes = {}
    for c in md.covariate_means:
        one = build_grid(zero, {c: 1.0}).rows - base.rows
        two = build_grid(zero, {c: 2.0}).rows - base.rows
        if not np.allclose(two, 2.0 * one, atol=1e-10):
            return None
        slopes[c] = one
    if len(slopes) > 1:
        joint = build_grid(zero, {c: 1.0 for c in slopes}).rows - base.rows
        if not np.allclose(joint, sum(slopes.values()), atol=1e-10):
            return None
    return {"base": base, "slopes": slopes}


def _grid_for(md: ModelData, affine: dict[str, Any] | None) -> Grid:
    if affine is None:
        return build_grid(md)
    base: Grid = affine["base"]
    rows = base.rows.copy()
    for c, s in affine["slopes"].items():
        rows = rows + md.covariate_means[c] * s
    return Grid(base.factors, base.cells, rows)
