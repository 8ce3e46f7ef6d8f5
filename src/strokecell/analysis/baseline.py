"""Table 1: baseline characteristics by arm (ITT population).

Continuous: n, mean (SD, n-1 denominator), median (IQR; quartiles by linear interpolation,
Hyndman & Fan type 7, numpy's and R's default). Categorical: n (%) of each level, the
percentage of subjects with a value. Every row carries the number missing. Baseline values
of each BDS parameter (``ABLFL == "Y"``) are added as continuous rows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from strokecell.analysis.datasets import PARAMS
from strokecell.analysis.result import AnalysisResult

__all__ = ["BASELINE_COLUMNS", "CATEGORICAL", "CONTINUOUS", "baseline_table"]

BASELINE_COLUMNS = ["variable", "label", "kind", "level", "ARMCD", "n", "missing", "mean",
                    "sd", "median", "q1", "q3", "count", "percent", "text"]
CONTINUOUS = {"AGE": "Age (years)", "BNIHSS": "Baseline NIHSS",
              "ONSETDY": "Days from onset to administration",
              "DOSEKG": "Dose (cells/kg)", "WEIGHTBL": "Weight (kg)"}
CATEGORICAL = {"SEX": "Sex", "STRKTYPE": "Stroke type", "SITEID": "Site"}


def _fmt(x: float) -> str:
    if math.isnan(x):
        return "NA"
    return f"{x:.3g}" if abs(x) >= 1e4 else f"{x:.1f}"


def _continuous(values: pd.Series, var: str, label: str, arm: str) -> dict[str, object]:
    v = values.dropna().to_numpy(dtype=float)
    n = v.size
    mean = float(v.mean()) if n else math.nan
    sd = float(v.std(ddof=1)) if n > 1 else math.nan
    med, q1, q3 = (float(np.median(v)), *map(float, np.quantile(v, [0.25, 0.75]))) if n \
        else (math.nan, math.nan, math.nan)
    text = f"{_fmt(mean)} ({_fmt(sd)}); {_fmt(med)} [{_fmt(q1)}, {_fmt(q3)}]" if n else "-"
    return {"variable": var, "label": label, "kind": "continuous", "level": "", "ARMCD": arm,
            "n": n, "missing": int(values.isna().sum()), "mean": mean, "sd": sd,
            "median": med, "q1": q1, "q3": q3, "count": math.nan, "percent": math.nan,
            "text": text}


def _categorical(values: pd.Series, var: str, label: str, arm: str,
                 levels: Sequence[str]) -> list[dict[str, object]]:
    have = values.dropna()
    out = []
    for lev in levels:
        c = int((have == lev).sum())
        pct = 100.0 * c / len(have) if len(have) else math.nan
        out.append({"variable": var, "label": label, "kind": "categorical", "level": lev,
                    "ARMCD": arm, "n": len(have), "missing": int(values.isna().sum()),
                    "mean": math.nan, "sd": math.nan, "median": math.nan, "q1": math.nan,
                    "q3": math.nan, "count": c, "percent": pct,
                    "text": f"{c} ({pct:.1f}%)" if len(have) else "-"})
    return out


def baseline_table(adsl: pd.DataFrame, bds: pd.DataFrame | None, arms: Sequence[str], *,
                   strata: Sequence[str] = (), by_arm: bool = True,
                   population: str = "ITTFL") -> AnalysisResult:
    """Table 1 by arm and in total (``ARMCD == "Total"``); blinded: total only."""
    pop = adsl[(adsl[population] == "Y") & adsl["ARMCD"].isin(arms)].copy()
    messages = [] if len(pop) else [f"no subjects in the {population} population"]
    cont = {k: v for k, v in CONTINUOUS.items() if k in pop.columns}
    if bds is not None:
        base = bds[(bds["ABLFL"] == "Y") & (bds["ANL01FL"] == "Y")]
        for code in [c for c in PARAMS if c in set(base["PARAMCD"])]:
            vals = base[base["PARAMCD"] == code].drop_duplicates("USUBJID").set_index(
                "USUBJID")["AVAL"]
            pop[f"BL_{code}"] = pop["USUBJID"].map(vals).astype(float)
            cont[f"BL_{code}"] = f"Baseline {PARAMS[code].label}"
    cat = {k: v for k, v in CATEGORICAL.items() if k in pop.columns}
    cat.update({s: f"Stratum {s.removeprefix('STRAT_').lower()}" for s in strata
                if s in pop.columns})
    groups = [(a, pop[pop["ARMCD"] == a]) for a in arms] if by_arm else []
    groups.append(("Total", pop))
    rows: list[dict[str, object]] = []
    for var, label in cont.items():
        for arm, sub in groups:
            rows.append(_continuous(sub[var], var, label, arm))
    for var, label in cat.items():
        levels = sorted(str(v) for v in pop[var].dropna().unique())
        for arm, sub in groups:
            rows.extend(_categorical(sub[var], var, label, arm, levels))
    n_by = {arm: len(sub) for arm, sub in groups}
    return AnalysisResult("baseline", pd.DataFrame(rows, columns=BASELINE_COLUMNS), messages,
                          {"population": population, "n": n_by, "by_arm": by_arm,
                           "quantiles": "type 7 (linear interpolation)"})
