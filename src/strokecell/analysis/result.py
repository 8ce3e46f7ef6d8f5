"""The result object every planned analysis returns: a tidy table, messages and details."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["AnalysisResult", "jsonable"]


def jsonable(value: Any) -> Any:
    """Plain JSON types: NaN and NaT become None, numpy scalars become Python numbers."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, pd.DataFrame):
        return [jsonable(r) for r in value.to_dict(orient="records")]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        f = float(value)
        return None if math.isnan(f) or math.isinf(f) else f
    if isinstance(value, np.bool_):
        return bool(value)
    if value is pd.NaT or value is None:
        return None
    if isinstance(value, (pd.Timestamp, datetime, date)):
        return value.isoformat()
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value


@dataclass
class AnalysisResult:
    """What an analysis produced.

    ``table`` is the main tidy table (its columns are documented by each analysis),
    ``tables`` holds further named tables, ``messages`` says in words what could not be
    estimated or was changed (an arm without events, a visit without data, a fallback
    covariance), ``info`` holds settings and scalar results (seeds, model choices).
    """

    name: str
    table: pd.DataFrame
    messages: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def estimable(self) -> bool:
        return not self.table.empty

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "messages": list(self.messages),
                "info": jsonable(self.info), "table": jsonable(self.table),
                "tables": {k: jsonable(v) for k, v in self.tables.items()}}
