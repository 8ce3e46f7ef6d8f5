"""The column-contract engine behind :mod:`strokecell.analysis.datasets`.

A :class:`Column` says what one column of an analysis data set holds (kind, whether it is
required, whether it may be missing, the allowed values or range); :func:`check_frame` checks
a DataFrame against a list of them and raises one :class:`~strokecell.errors.InputError`
naming every column, value and what is allowed. Nothing is coerced.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from strokecell.errors import InputError, Problem

__all__ = ["KINDS", "Column", "check_frame"]

KINDS = ("text", "flag", "int", "float", "date")


@dataclass(frozen=True)
class Column:
    """One column of a data set contract.

    ``kind``: ``text`` (strings), ``flag`` ("Y"/"N"), ``int`` (whole numbers, stored as an
    integer or float dtype), ``float``, ``date`` (datetime64). ``nullable`` allows missing
    values; ``allowed`` restricts text values; ``low``/``high`` bound numbers.
    """

    name: str
    kind: str
    label: str
    required: bool = True
    nullable: bool = False
    allowed: tuple[str, ...] | None = None
    low: float | None = None
    high: float | None = None

    def describe(self) -> dict[str, object]:
        return {"name": self.name, "kind": self.kind, "label": self.label,
                "required": self.required, "nullable": self.nullable,
                "allowed": list(self.allowed) if self.allowed else None,
                "low": self.low, "high": self.high}


def _first_bad(values: pd.Series, mask: pd.Series) -> object:
    bad = values[mask]
    return bad.iloc[0] if len(bad) else None


def _check_column(frame: pd.DataFrame, col: Column, dataset: str) -> list[Problem]:
    loc = f"{dataset}.{col.name}"
    s = frame[col.name]
    out: list[Problem] = []
    missing = s.isna()
    if missing.any() and not col.nullable:
        row = int(np.flatnonzero(missing.to_numpy())[0])
        out.append(Problem(loc, f"{int(missing.sum())} missing value(s), first at row {row}",
                           None, "a value in every row"))
    present = s[~missing]
    if present.empty:
        return out
    if col.kind in ("text", "flag"):
        not_str = ~present.map(lambda v: isinstance(v, str))
        if not_str.any():
            out.append(Problem(loc, "holds values that are not text", _first_bad(present,
                               not_str), "strings"))
            return out
        allowed = ("Y", "N") if col.kind == "flag" else col.allowed
        if allowed is not None:
            off = ~present.isin(allowed)
            if off.any():
                out.append(Problem(loc, f"{int(off.sum())} value(s) not allowed",
                                   _first_bad(present, off), ", ".join(allowed)))
    elif col.kind in ("int", "float"):
        if not pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
            out.append(Problem(loc, f"has dtype {s.dtype}, not numeric", str(s.dtype),
                               "an integer or float dtype"))
            return out
        num = present.astype(float)
        if col.kind == "int":
            frac = num != np.round(num)
            if frac.any():
                out.append(Problem(loc, "holds non-whole numbers", _first_bad(present, frac),
                                   "whole numbers"))
        if not np.isfinite(num).all():
            out.append(Problem(loc, "holds infinite values", None, "finite numbers"))
        if col.low is not None and (num < col.low).any():
            out.append(Problem(loc, "holds values below the range",
                               _first_bad(present, num < col.low), f">= {col.low:g}"))
        if col.high is not None and (num > col.high).any():
            out.append(Problem(loc, "holds values above the range",
                               _first_bad(present, num > col.high), f"<= {col.high:g}"))
    elif col.kind == "date" and not pd.api.types.is_datetime64_any_dtype(s.dtype):
        out.append(Problem(loc, f"has dtype {s.dtype}, not a date", str(s.dtype),
                           "datetime64 (pandas.to_datetime)"))
    return out


def check_frame(frame: pd.DataFrame, columns: Sequence[Column], dataset: str,
                key: Sequence[str] = ()) -> None:
    """Raise :class:`InputError` listing every way ``frame`` breaks the contract."""
    if not isinstance(frame, pd.DataFrame):
        raise InputError(Problem(dataset, "is not a pandas DataFrame", type(frame).__name__,
                                 "pandas.DataFrame"))
    problems: list[Problem] = []
    for col in columns:
        if col.name not in frame.columns:
            if col.required:
                problems.append(Problem(f"{dataset}.{col.name}", "required column is missing",
                                        None, col.label))
            continue
        problems.extend(_check_column(frame, col, dataset))
    if key and all(k in frame.columns for k in key):
        dup = frame.duplicated(list(key), keep=False)
        if dup.any():
            first = frame.loc[dup, list(key)].iloc[0].tolist()
            problems.append(Problem(f"{dataset}.{'/'.join(key)}",
                                    f"{int(dup.sum())} rows share a key", first,
                                    "one row per " + " × ".join(key)))
    if problems:
        raise InputError(problems, context=f"{dataset} does not meet its contract")
