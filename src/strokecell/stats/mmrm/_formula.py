"""Formula parsing and data preparation: the fixed-effects design and the visit layout."""

from __future__ import annotations

import functools
import itertools
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from formulaic import Formula, model_matrix

from strokecell.errors import ModelError
from strokecell.stats.mmrm._structures import STRUCTURES

Array = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_COV_TERM = re.compile(
    r"(?P<struct>[A-Za-z0-9_]+)\s*\(\s*(?P<visit>[A-Za-z_.][\w.]*)\s*\|\s*"
    r"(?:(?P<group>[A-Za-z_.][\w.]*)\s*/\s*)?(?P<subject>[A-Za-z_.][\w.]*)\s*\)"
)


@dataclass(frozen=True)
class ParsedFormula:
    """A formula split into its fixed-effects part and its covariance term."""

    fixed: str
    outcome: str
    structure: str
    visit: str
    subject: str
    group: str | None


def parse_formula(formula: str) -> ParsedFormula:
    """Split ``y ~ terms + struct(VISIT | [GROUP /] SUBJECT)``."""
    if "~" not in formula:
        raise ModelError(f"formula {formula!r} has no '~'; expected 'OUTCOME ~ terms + "
                         "us(VISIT | SUBJECT)'")
    hits = [m for m in _COV_TERM.finditer(formula) if m.group("struct") in STRUCTURES
            or "|" in m.group(0)]
    if not hits:
        raise ModelError(f"formula {formula!r} has no covariance term; add one such as "
                         f"'us(AVISIT | USUBJID)' (structures: {', '.join(STRUCTURES)})")
    if len(hits) > 1:
        raise ModelError(f"formula {formula!r} has {len(hits)} covariance terms; exactly one "
                         "is allowed")
    m = hits[0]
    if m.group("struct") not in STRUCTURES:
        raise ModelError(f"covariance structure {m.group('struct')!r} is not supported; "
                         f"allowed: {', '.join(STRUCTURES)}")
    rest = formula[: m.start()] + formula[m.end():]
    lhs, rhs = rest.split("~", 1)
    rhs = re.sub(r"\+\s*\+", "+", rhs)
    rhs = re.sub(r"^\s*\+|\+\s*$", "", rhs.strip()).strip()
    outcome = lhs.strip()
    if not re.fullmatch(r"[A-Za-z_.][\w.]*", outcome):
        raise ModelError(f"outcome {outcome!r} must be a single column name")
    return ParsedFormula(
        fixed=f"{outcome} ~ {rhs or '1'}",
        outcome=outcome,
        structure=m.group("struct"),
        visit=m.group("visit"),
        subject=m.group("subject"),
        group=m.group("group"),
    )


@dataclass
class TermInfo:
    """One fixed-effects term: its columns in X and the variables it involves."""

    label: str
    columns: list[int]
    factors: list[str]
    covariates: list[str]
    exprs: frozenset[str] = frozenset()   # the term's factor expressions (for containment)


@dataclass
class ModelData:
    """Everything the likelihood and the inference need, computed once per data set."""

    parsed: ParsedFormula
    x: Array                      # (n_obs, p) fixed-effects design
    y: Array                      # (n_obs,)
    weights: Array                # (n_obs,)
    column_names: list[str]
    terms: list[TermInfo]
    visits: list[str]             # natural order
    groups: list[str]             # [""] when ungrouped
    visit_index: IntArray         # (n_obs,) index into visits
    group_index: IntArray         # (n_obs,) index into groups
    subject_index: IntArray       # (n_obs,) 0..n_subjects-1
    subjects: list[str]
    n_dropped: int
    levels: dict[str, list[str]]  # factor -> levels in natural order
    categories: dict[str, list[str]]  # factor -> levels in design order (reference first)
    covariate_means: dict[str, float]
    frame: pd.DataFrame           # the rows used, factors as categoricals
    spec: Any = field(repr=False, default=None)  # formulaic ModelSpec for new data
    # reference-grid rows built with the design (key: covariates shifted by +1)
    grid_rows: dict[frozenset[str], Array] | None = field(repr=False, default=None)
    grid_factors: list[str] = field(default_factory=list)  # factors of the fixed effects
    # grid_cells(grid_factors, levels), built once with the design
    cells: pd.DataFrame | None = field(repr=False, default=None)


def _is_factor(series: pd.Series) -> bool:
    return not (pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series))


_DIGITS = re.compile(r"(\d+)")


def natural_key(text: str) -> tuple[Any, ...]:
    """Sort key putting "VIS2" before "VIS10" (text and numbers compared chunk by chunk)."""
    parts = _DIGITS.split(text)
    return tuple(int(c) if i % 2 else c for i, c in enumerate(parts))


def _variables_in(expr: str, names: set[str]) -> list[str]:
    return [n for n in sorted(names) if re.search(rf"(?<![\w.]){re.escape(n)}(?![\w.])", expr)]


@functools.lru_cache(maxsize=128)
def _formula(text: str) -> Formula:
    """Parsed formulaic formula (cached: parsing costs more than building a small design)."""
    return Formula(text)


def prepare(data: pd.DataFrame, formula: str, *, weights: str | None = None,
            reference: dict[str, str] | None = None) -> ModelData:
    """Parse ``formula``, drop incomplete rows, and build the design."""
    if not isinstance(data, pd.DataFrame):
        raise ModelError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    parsed = parse_formula(formula)
    try:
        fobj = _formula(parsed.fixed)
        # formulaic does not list variables inside stateful transforms (center(x), ...)
        required = set(fobj.required_variables) | {
            tok for tok in re.findall(r"[A-Za-z_.][\w.]*", parsed.fixed) if tok in data.columns}
    except Exception as exc:  # formulaic raises its own parser errors
        raise ModelError(f"cannot parse the fixed effects {parsed.fixed!r}: {exc}") from exc
    special = [parsed.visit, parsed.subject] + ([parsed.group] if parsed.group else [])
    needed = sorted(required | set(special) | ({weights} if weights else set()))
    missing = [c for c in needed if c not in data.columns]
    if missing:
        raise ModelError(f"column(s) {', '.join(map(repr, missing))} named in the formula are "
                         f"not in the data; available: {', '.join(map(str, data.columns))}")
    frame = data[needed].copy()
    keep = frame.notna().all(axis=1).to_numpy()
    n_dropped = int((~keep).sum())
    frame = frame.loc[keep].reset_index(drop=True)
    if frame.empty:
        raise ModelError("no complete rows left after dropping missing values in "
                         f"{', '.join(needed)}")
    if weights:
        w = pd.to_numeric(frame[weights], errors="coerce").to_numpy(dtype=float)
        if not np.all(np.isfinite(w) & (w > 0)):
            raise ModelError(f"weights column {weights!r} must be positive numbers")
    else:
        w = np.ones(len(frame))
    outcome = frame[parsed.outcome]
    if not pd.api.types.is_numeric_dtype(outcome) or pd.api.types.is_bool_dtype(outcome):
        raise ModelError(f"outcome {parsed.outcome!r} must be numeric, got dtype {outcome.dtype}")

    # factors: text columns in the model, C(...) wrapped columns, and the visit/group columns
    fixed_terms = list(fobj.rhs)
    wrapped = set()
    for term in fixed_terms:
        for fac in term.factors:
            if str(fac.expr).startswith("C("):
                wrapped.update(_variables_in(str(fac.expr), required))
    factor_cols = [c for c in needed if c not in (parsed.outcome, weights)
                   and (c in special or c in wrapped or _is_factor(frame[c]))]
    reference = dict(reference or {})
    for col in reference:
        if col not in factor_cols:
            raise ModelError(f"reference given for {col!r}, which is not a factor of the model; "
                             f"factors: {', '.join(factor_cols)}")
    levels: dict[str, list[str]] = {}
    categories: dict[str, list[str]] = {}
    dtypes: dict[str, pd.CategoricalDtype] = {}
    natural_codes: dict[str, IntArray] = {}  # per row: index of its level in natural order
    # per row: index of its level in order of first appearance, and those levels
    appearance: dict[str, tuple[IntArray, list[str]]] = {}
    for col in factor_cols:
        raw = frame[col]
        if pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
            num_u, num_inv = np.unique(raw.to_numpy(), return_inverse=True)
            uniq = [str(v) for v in num_u]
            inv = num_inv
            lev = list(uniq)
            first_codes, first_u = pd.factorize(np.asarray(inv).ravel())
            appearance[col] = (np.asarray(first_codes, dtype=np.int64),
                               [uniq[int(k)] for k in first_u])
        else:
            # hash the values, then sort only the distinct ones: the same levels and codes
            # as np.unique on the strings, without sorting every row
            first_codes, first_u = pd.factorize(raw.astype(str).to_numpy(dtype=object))
            first = [str(v) for v in first_u]
            order = sorted(range(len(first)), key=first.__getitem__)
            uniq = [first[k] for k in order]
            rank = np.empty(len(order), dtype=np.int64)
            rank[order] = np.arange(len(order), dtype=np.int64)
            inv = rank[first_codes]
            appearance[col] = (np.asarray(first_codes, dtype=np.int64), first)
            lev = sorted(uniq, key=natural_key)
        levels[col] = lev
        cats = list(lev)
        if col in reference:
            ref = str(reference[col])
            if ref not in lev:
                raise ModelError(f"reference level {ref!r} of {col!r} is not in the data; "
                                 f"levels: {', '.join(lev)}")
            cats.remove(ref)
            cats.insert(0, ref)
        categories[col] = cats
        pos = {c: i for i, c in enumerate(cats)}
        remap = np.array([pos[u] for u in uniq], dtype=np.int64)
        flat_inv = np.asarray(inv).ravel()
        npos = {c: i for i, c in enumerate(lev)}
        natural_codes[col] = np.array([npos[u] for u in uniq], dtype=np.int64)[flat_inv]
        dtypes[col] = pd.CategoricalDtype(categories=cats)
        frame[col] = pd.Categorical.from_codes(remap[flat_inv], dtype=dtypes[col])

    dup = frame.duplicated([parsed.subject, parsed.visit])
    if dup.any():
        row = frame.loc[dup].iloc[0]
        raise ModelError(f"subject {row[parsed.subject]!r} has more than one row at visit "
                         f"{row[parsed.visit]!r}; each subject may have one row per visit")
    covariates = sorted(c for c in required if c not in factor_cols and c != parsed.outcome)
    means = {c: float(frame[c].astype(float).mean()) for c in covariates}
    # the reference grid (LS means, type III) is built in the same formulaic call as the
    # design, unless a stateful transform (center(), poly(), ...) would see the grid rows
    term_vars = []
    for term in fixed_terms:
        tv: set[str] = set()
        for fac in term.factors:
            tv.update(_variables_in(str(fac.expr), required))
        term_vars.append(tv)
    grid_factors: list[str] = []
    for tv in term_vars:  # order of appearance in the formula
        for v in factor_cols:
            if v in tv and v not in grid_factors:
                grid_factors.append(v)
    cells = grid_cells(grid_factors, {c: levels[c] for c in grid_factors})
    shifts: set[frozenset[str]] = {frozenset()} | {
        frozenset(c for c in covariates if c in tv) for tv in term_vars}
    shift_list = sorted(shifts, key=lambda z: (len(z), sorted(z)))
    stacked = not _STATEFUL.search(parsed.fixed)
    full = frame
    fast_cols = [*covariates, parsed.outcome]
    if stacked and all(frame[c].dtype in (np.dtype(np.float64), np.dtype(np.int64))
                       for c in fast_cols):
        # the same frame as the general branch below, built column by column
        nc = len(cells)
        n_sh = len(shift_list)
        stacked_cols: dict[str, Any] = {}
        if grid_factors:
            nat = np.indices([len(levels[f]) for f in grid_factors]).reshape(
                len(grid_factors), -1)
            for j, col in enumerate(grid_factors):
                pos = {c: i for i, c in enumerate(categories[col])}
                to_cat = np.array([pos[v] for v in levels[col]], dtype=np.int64)
                codes = np.concatenate([np.asarray(frame[col].cat.codes, dtype=np.int64),
                                        np.tile(to_cat[nat[j]], n_sh)])
                stacked_cols[col] = pd.Categorical.from_codes(codes, dtype=dtypes[col])
        for c in fast_cols:
            tail = [np.full(nc, 0.0 if c == parsed.outcome else
                            means[c] + (1.0 if c in sh else 0.0)) for sh in shift_list]
            stacked_cols[c] = np.concatenate([frame[c].to_numpy(), *tail])
        full = pd.DataFrame(stacked_cols)
    elif stacked:
        extra = [grid_frame(cells, parsed.outcome, means, sh) for sh in shift_list]
        for e in extra:
            for col in grid_factors:
                pos = {c: i for i, c in enumerate(categories[col])}
                e[col] = pd.Categorical.from_codes([pos[v] for v in e[col]],
                                                   dtype=dtypes[col])
        full = pd.concat([frame[list(extra[0].columns)], *extra], ignore_index=True)
    try:
        mm = model_matrix(_formula(parsed.fixed.split("~", 1)[1]), full, na_action="raise",
                          output="numpy")
    except Exception as exc:
        raise ModelError(f"cannot build the design of {parsed.fixed!r}: {exc}") from exc
    xall = np.asarray(mm, dtype=np.float64)
    n_data = len(frame)
    x = np.ascontiguousarray(xall[:n_data])
    grid_rows = None
    if stacked:
        grid_rows = {}
        nc = len(cells)
        for i, sh in enumerate(shift_list):
            grid_rows[sh] = xall[n_data + i * nc: n_data + (i + 1) * nc]
    y = np.asarray(frame[parsed.outcome].to_numpy(dtype=float), dtype=np.float64)
    names = [str(c) for c in mm.model_spec.column_names]
    rank = np.linalg.matrix_rank(x)
    if rank < x.shape[1]:
        _, _r, piv = _pivoted_qr(x)
        aliased = [names[i] for i in piv[rank:]]
        raise ModelError("the fixed effects are not estimable: column(s) "
                         f"{', '.join(aliased)} are linear combinations of the others "
                         "(a level combination without data?)")

    spec = mm.model_spec
    terms: list[TermInfo] = []
    for term, cols in spec.term_indices.items():
        variables: set[str] = set()
        for fac in term.factors:
            variables.update(_variables_in(str(fac.expr), required))
        terms.append(TermInfo(
            label=str(term), columns=list(cols),
            factors=[v for v in factor_cols if v in variables],
            covariates=[v for v in covariates if v in variables],
            exprs=frozenset(str(f.expr) for f in term.factors if str(f.expr) != "1"),
        ))

    visits = levels[parsed.visit]
    visit_index = natural_codes[parsed.visit]
    if parsed.group:
        groups = levels[parsed.group]
        group_index = natural_codes[parsed.group]
    else:
        groups = [""]
        group_index = np.zeros(len(frame), dtype=np.int64)
    subject_index, subj_uniques = appearance[parsed.subject]
    if parsed.group:
        per_subject = pd.Series(group_index).groupby(subject_index).nunique()
        if (per_subject > 1).any():
            raise ModelError(f"group {parsed.group!r} must be constant within each subject "
                             f"({parsed.subject!r})")
    return ModelData(
        parsed=parsed, x=x, y=y, weights=np.asarray(w, dtype=np.float64), column_names=names,
        terms=terms, visits=visits, groups=groups, visit_index=visit_index,
        group_index=group_index, subject_index=subject_index,
        subjects=[str(s) for s in subj_uniques], n_dropped=n_dropped, levels=levels,
        categories=categories,
        covariate_means=means, frame=frame, spec=spec, grid_rows=grid_rows,
        grid_factors=grid_factors, cells=cells,
    )


_STATEFUL = re.compile(r"\b(center|scale|standardize|poly|bs|cr|cs|cc|te|hashed|lag)\s*\(")


def grid_cells(factors: list[str], levels: dict[str, list[str]]) -> pd.DataFrame:
    """Every combination of the factor levels, in natural order."""
    if not factors:
        return pd.DataFrame(index=[0])
    combos = list(itertools.product(*[levels[f] for f in factors]))
    return pd.DataFrame(combos, columns=factors)


def grid_frame(cells: pd.DataFrame, outcome: str, means: dict[str, float],
               shift: frozenset[str] | dict[str, float] = frozenset()) -> pd.DataFrame:
    frame = cells.copy()
    for c, mean in means.items():
        step = shift.get(c, 0.0) if isinstance(shift, dict) else (1.0 if c in shift else 0.0)
        frame[c] = mean + step
    frame[outcome] = 0.0
    return frame


def _pivoted_qr(x: Array) -> tuple[Array, Array, IntArray]:
    from scipy.linalg import qr

    q, r, piv = qr(x, mode="economic", pivoting=True)
    return q, r, np.asarray(piv, dtype=np.int64)


def design_rows(md: ModelData, grid: pd.DataFrame) -> Array:
    """Fixed-effects rows for new data (factors given as level strings)."""
    g = grid.copy()
    for col, cats in md.categories.items():
        if col in g.columns:
            g[col] = pd.Categorical(g[col].astype(str), categories=cats)
    rows = md.spec.get_model_matrix(g, na_action="ignore")
    return np.asarray(rows, dtype=np.float64)
