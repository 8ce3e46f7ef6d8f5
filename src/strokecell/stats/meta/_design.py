"""The model matrix of a meta-regression from moderators, as R's ``model.matrix`` builds it.

Numeric moderators enter as they are; a moderator holding text (or a pandas categorical) is a
factor coded by treatment contrasts, its levels sorted, the first the reference, each dummy
named ``<moderator><level>`` (``allocrandom``). The intercept is called ``intrcpt``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from strokecell.errors import InputError, Problem

FloatArray = npt.NDArray[np.float64]

INTERCEPT = "intrcpt"


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and value != value:
        return True
    return isinstance(value, str) and value.strip() == ""


def _is_numeric(values: Any) -> bool:
    dtype = getattr(values, "dtype", None)
    if dtype is not None and str(dtype) == "category":
        return False
    arr = np.asarray(values)
    if arr.dtype.kind in "biuf":
        return True
    if arr.dtype.kind != "O":
        return False
    return all((isinstance(v, (int, float)) and not isinstance(v, bool)) or _is_missing(v)
               for v in arr.reshape(-1))


def _as_columns(mods: Any, k: int) -> list[tuple[str, Any]]:
    if hasattr(mods, "columns") and hasattr(mods, "__getitem__"):  # pandas DataFrame
        return [(str(c), mods[c]) for c in mods.columns]
    if isinstance(mods, Mapping):
        return [(str(name), values) for name, values in mods.items()]
    arr = np.asarray(mods, dtype=float)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim == 2 and arr.shape[0] != k and arr.shape[1] == k:
        arr = arr.T  # a list of moderator columns
    if arr.ndim != 2:
        raise InputError(Problem("mods", "must be a column, a table or a mapping of columns"))
    return [(f"x{j + 1}", arr[:, j]) for j in range(arr.shape[1])]


def _factor(name: str, values: Any, k: int) -> tuple[list[str], FloatArray]:
    raw = list(np.asarray(values, dtype=object).reshape(-1))
    missing = [_is_missing(v) for v in raw]
    labels = [str(v) for v, miss in zip(raw, missing, strict=True) if not miss]
    levels = sorted(set(labels))
    cats = getattr(getattr(values, "cat", None), "categories", None)
    if cats is not None:
        levels = [str(c) for c in cats if str(c) in set(labels)]
    out = np.zeros((k, max(len(levels) - 1, 0)))
    for j, level in enumerate(levels[1:]):
        out[:, j] = [1.0 if (not miss and str(v) == level) else 0.0
                     for v, miss in zip(raw, missing, strict=True)]
    out[np.asarray(missing, dtype=bool), :] = np.nan
    return [f"{name}{level}" for level in levels[1:]], out


def design_matrix(mods: Any, k: int, *, intercept: bool = True) -> tuple[FloatArray, list[str]]:
    """``(X, names)`` for ``k`` studies; rows with a missing moderator hold NaN."""
    blocks: list[FloatArray] = []
    names: list[str] = []
    if intercept:
        blocks.append(np.ones((k, 1)))
        names.append(INTERCEPT)
    if mods is not None:
        for name, values in _as_columns(mods, k):
            size = len(values)
            if size != k:
                raise InputError(Problem(
                    name, f"moderator has {size} values for {k} studies", allowed=f"{k} values"))
            if _is_numeric(values):
                col = np.asarray(
                    [np.nan if _is_missing(v) else float(v)
                     for v in np.asarray(values, dtype=object).reshape(-1)], dtype=float)
                blocks.append(col[:, None])
                names.append(name)
            else:
                fnames, fcols = _factor(name, values, k)
                blocks.append(fcols)
                names.extend(fnames)
    if not blocks:
        raise InputError(Problem("mods", "a model needs an intercept or a moderator"))
    return np.hstack(blocks), names


def drop_redundant(X: FloatArray, names: list[str]) -> tuple[FloatArray, list[str]]:
    """Drop columns that are linear combinations of earlier ones (as R's ``lm`` would)."""
    keep: list[int] = []
    for j in range(X.shape[1]):
        trial = X[:, [*keep, j]]
        if np.linalg.matrix_rank(trial) == len(keep) + 1:
            keep.append(j)
    if len(keep) < X.shape[1]:
        dropped = [names[j] for j in range(X.shape[1]) if j not in keep]
        warnings.warn(f"redundant moderators dropped: {', '.join(dropped)}",
                      RuntimeWarning, stacklevel=3)
    return X[:, keep], [names[j] for j in keep]
