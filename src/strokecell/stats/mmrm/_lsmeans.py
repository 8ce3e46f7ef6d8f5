"""The reference grid: least-squares means, their contrasts and type III hypotheses.

The grid holds every combination of the levels of the factors in the fixed effects, with
continuous covariates at their mean over the observations used in the fit. A least-squares
mean averages the grid's model rows with equal weights over the factors not named (the SAS
LSMEANS and emmeans default). A type III hypothesis of a term tests the interaction
contrasts, over the term's factors, of the grid means averaged with equal weights over the
other factors; a covariate in the term enters through the change of the mean per unit of the
covariate (a slope), so the hypotheses do not depend on how factors are coded. The rows
of L are "each level minus the reference level" (Kronecker products of those for
interactions), the basis of SAS's type III estimable functions: the F statistic does not
depend on the basis, but the multi-df Satterthwaite df of Fai and Cornelius do.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from strokecell.errors import ModelError
from strokecell.stats.mmrm._formula import ModelData, design_rows, grid_cells, grid_frame

Array = npt.NDArray[np.float64]


@dataclass
class Grid:
    factors: list[str]
    cells: pd.DataFrame     # one row per combination (natural level order)
    rows: Array             # (n_cells, p) model rows, covariates at their means

    @property
    def codes(self) -> npt.NDArray[np.int64]:
        """(n_cells, n_factors) level indices (natural order) of each cell."""
        sizes = [int(self.cells[f].nunique()) for f in self.factors]
        grids = np.indices(sizes).reshape(len(sizes), -1).T if sizes else np.zeros((1, 0))
        return np.asarray(grids, dtype=np.int64)


def model_factors(md: ModelData) -> list[str]:
    return list(md.grid_factors)


def build_grid(md: ModelData, shift: dict[str, float] | None = None) -> Grid:
    factors = model_factors(md)
    cells = md.cells if md.cells is not None else grid_cells(factors, md.levels)
    key = frozenset(c for c, v in (shift or {}).items() if v != 0.0)
    if md.grid_rows is not None and key in md.grid_rows and all(
            v == 1.0 for v in (shift or {}).values() if v != 0.0):
        return Grid(factors, cells, md.grid_rows[key])
    frame = grid_frame(cells, md.parsed.outcome, md.covariate_means, shift or {})
    return Grid(factors, cells, design_rows(md, frame))


def _check_factor(md: ModelData, grid: Grid, name: str, role: str) -> None:
    if name not in grid.factors:
        raise ModelError(f"{role} {name!r} is not a factor of the fixed effects; factors: "
                         f"{', '.join(grid.factors) or '(none)'}")


def lsmeans_rows(md: ModelData, grid: Grid, factor: str,
                 by: str | None = None) -> tuple[pd.DataFrame, Array]:
    """Cells (factor [, by]) in natural order and their averaged model rows."""
    _check_factor(md, grid, factor, "lsmeans factor")
    keys = [factor]
    if by is not None:
        _check_factor(md, grid, by, "by-variable")
        if by == factor:
            raise ModelError(f"by-variable {by!r} must differ from the lsmeans factor")
        keys = [factor, by]
    combos = list(itertools.product(*[md.levels[k] for k in keys]))
    return pd.DataFrame(combos, columns=keys), _marginal(md, grid, keys, grid.rows)


def _marginal(md: ModelData, grid: Grid, keys: list[str], rows: Array) -> Array:
    """Rows averaged with equal weights over the grid factors not in ``keys``."""
    sizes = [len(md.levels[k]) for k in keys]
    cols = [grid.factors.index(k) for k in keys]
    # the grid is the full product of the levels in natural order (grid_cells): the
    # level indices of its cells, as Grid.codes, without counting them in the frame
    sizes_all = [len(md.levels[f]) for f in grid.factors]
    codes = np.indices(sizes_all).reshape(len(sizes_all), -1).T
    flat = np.ravel_multi_index(tuple(codes[:, c] for c in cols), sizes)
    n = int(np.prod(sizes))
    onehot = np.zeros((n, len(flat)))
    onehot[flat, np.arange(len(flat))] = 1.0
    onehot /= onehot.sum(axis=1, keepdims=True)
    return np.asarray(onehot @ rows, dtype=np.float64)


def _against_reference(levels: list[str], ref: str) -> Array:
    """(n-1) x n contrasts: each level against the reference level (SAS's basis)."""
    n = len(levels)
    r = levels.index(ref)
    out = np.zeros((max(n - 1, 0), n))
    k = 0
    for j in range(n):
        if j != r:
            out[k, j] = 1.0
            out[k, r] = -1.0
            k += 1
    return out


def term_hypothesis(md: ModelData, grid: Grid, term_index: int) -> Array:
    """The L matrix of the type III hypothesis of one term (rows may be dependent)."""
    term = md.terms[term_index]
    rows = grid.rows
    if term.covariates:
        # mixed finite difference over the term's covariates (exact for polynomial terms
        # linear in each covariate, which is what model terms such as A:x are)
        rows = np.zeros(grid.rows.shape)
        cov = term.covariates
        for r in range(len(cov) + 1):
            for subset in itertools.combinations(cov, r):
                sign = (-1.0) ** (len(cov) - r)
                shifted = build_grid(md, {c: 1.0 for c in subset}).rows
                rows = np.asarray(rows + sign * shifted, dtype=np.float64)
    # SAS's containment: only the columns of this term and of the terms containing it
    keep = np.zeros(rows.shape[1], dtype=bool)
    for other in md.terms:
        if other.exprs >= term.exprs:
            keep[other.columns] = True
    rows = np.where(keep[None, :], rows, 0.0)
    facs = term.factors
    if facs:
        marg = _marginal(md, grid, facs, rows)
        cmat: Array = np.ones((1, 1))
        for f in facs:
            cmat = np.asarray(np.kron(cmat, _against_reference(md.levels[f],
                                                               md.categories[f][0])),
                              dtype=np.float64)
        return np.asarray(cmat @ marg, dtype=np.float64)
    return np.asarray(rows.mean(axis=0, keepdims=True), dtype=np.float64)
