"""The modified Rankin scale: shift analysis and the dichotomy mRS 0-2.

Death is mRS 6, part of the scale (the composite strategy): the worst-score rows after death
(``DTYPE == "WORST"``) are analysed with the observed ones.

- Shift: proportional-odds model of the mRS on arm (+ the strata) by
  :func:`strokecell.stats.ordinal.fit_proportional_odds`; the common odds ratio is reported
  for a *better* (lower) mRS, cell arm versus reference (:math:`e^{-\\beta}`), with its Wald
  CI, and the score test of the proportional-odds assumption for the arm.
- Dichotomy: mRS 0-2 (functional independence) by arm, risk difference (Newcombe) and risk
  ratio (log Wald) by :func:`~strokecell.analysis.proportions.compare_proportions`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from strokecell.analysis._prep import analysis_rows, covariate_matrix, usable_strata
from strokecell.analysis.proportions import compare_proportions
from strokecell.analysis.result import AnalysisResult
from strokecell.errors import ModelError
from strokecell.stats.ordinal import fit_proportional_odds

__all__ = ["DICHOTOMY_COLUMNS", "DISTRIBUTION_COLUMNS", "SHIFT_COLUMNS", "distribution",
           "mrs_analysis"]

SHIFT_COLUMNS = ["PARAMCD", "AVISIT", "comparison", "n_treatment", "n_reference",
                 "common_or", "lower", "upper", "p", "po_test_statistic", "po_test_df",
                 "po_test_p", "adjusted_for"]
DICHOTOMY_COLUMNS = ["PARAMCD", "AVISIT", "comparison", "responders_treatment",
                     "n_treatment", "responders_reference", "n_reference", "rd", "rd_lower",
                     "rd_upper", "rr", "rr_lower", "rr_upper", "note"]
DISTRIBUTION_COLUMNS = ["PARAMCD", "AVISIT", "ARMCD", "AVAL", "n", "percent"]
GOOD_OUTCOME_MAX = 2


def distribution(rows: pd.DataFrame, by_arm: bool = True) -> pd.DataFrame:
    """Counts and percentages of each mRS grade by visit (and arm): the Grotta bars."""
    out = []
    groups = ["AVISIT", "ARMCD"] if by_arm else ["AVISIT"]
    for key, sub in rows.groupby(groups, sort=False):
        keys = key if isinstance(key, tuple) else (key,)
        total = len(sub)
        for grade in range(7):
            n = int((sub["AVAL"] == grade).sum())
            out.append({"PARAMCD": "MRS", "AVISIT": keys[0],
                        "ARMCD": keys[1] if by_arm else "ALL", "AVAL": grade, "n": n,
                        "percent": 100.0 * n / total if total else math.nan})
    return pd.DataFrame(out, columns=DISTRIBUTION_COLUMNS)


def _shift(sub: pd.DataFrame, arm: str, reference: str, strata: Sequence[str],
           level: float) -> tuple[dict[str, Any], list[str]]:
    pair = sub[sub["ARMCD"].isin([arm, reference])].reset_index(drop=True)
    used, notes = usable_strata(pair, strata)
    cov, names = covariate_matrix(pair, used)
    x = np.column_stack([(pair["ARMCD"] == arm).to_numpy(dtype=float), cov[:, 1:]])
    labels = [arm, *names[1:]]
    fit = fit_proportional_odds(pair["AVAL"].to_numpy(dtype=float), x, labels)
    row = fit.coefficients(level)[0]
    test = fit.score_test([arm])
    b, lo, hi = float(row["estimate"]), float(row["lower"]), float(row["upper"])
    return {"common_or": math.exp(-b), "lower": math.exp(-hi), "upper": math.exp(-lo),
            "p": row["p"], "po_test_statistic": test.statistic, "po_test_df": test.df,
            "po_test_p": test.p, "adjusted_for": ", ".join(names[1:])}, notes


def mrs_analysis(adsl: pd.DataFrame, bds: pd.DataFrame, visits: Sequence[str], *,
                 arms: Sequence[str], reference: str, strata: Sequence[str] = (),
                 level: float = 0.95) -> AnalysisResult:
    """Shift analysis (``table``), dichotomy (``tables["dichotomy"]``) and the distribution
    (``tables["distribution"]``) of the mRS at each of ``visits``."""
    rows, messages = analysis_rows(adsl, bds, "MRS", strata=strata, composite=True)
    rows = rows[rows["ARMCD"].isin(arms)]
    info = {"paramcd": "MRS", "visits": list(visits), "reference": reference,
            "odds_ratio": "common odds ratio of a better (lower) mRS, arm vs reference",
            "good_outcome": f"mRS 0-{GOOD_OUTCOME_MAX}", "death": "mRS 6 (composite)"}
    shift, dich = [], []
    for visit in visits:
        sub = rows[rows["AVISIT"] == visit]
        if sub.empty:
            messages.append(f"visit {visit} has no mRS data")
            continue
        for arm in arms:
            if arm == reference:
                continue
            n_t, n_r = int((sub["ARMCD"] == arm).sum()), int((sub["ARMCD"] == reference).sum())
            base = {"PARAMCD": "MRS", "AVISIT": visit, "comparison": f"{arm} - {reference}",
                    "n_treatment": n_t, "n_reference": n_r}
            if n_t == 0 or n_r == 0:
                messages.append(f"visit {visit}: arm {arm if n_t == 0 else reference} has no "
                                "mRS data: comparison not estimable")
                continue
            try:
                est, notes = _shift(sub, arm, reference, strata, level)
                messages.extend(f"visit {visit}: {n}" for n in notes)
                shift.append({**base, **est})
            except ModelError as exc:
                text = str(exc)
                if "one category" in text:
                    grade = int(sub["AVAL"].iloc[0])
                    text = (f"all subjects at mRS {grade}"
                            f"{' (the ceiling)' if grade in (0, 6) else ''}: odds ratio not "
                            "estimable")
                messages.append(f"visit {visit}: {text}")
            good = (sub["AVAL"] <= GOOD_OUTCOME_MAX)
            e_t = int((good & (sub["ARMCD"] == arm)).sum())
            e_r = int((good & (sub["ARMCD"] == reference)).sum())
            cmp = compare_proportions(e_t, n_t, e_r, n_r, level)
            if cmp.note:
                messages.append(f"visit {visit}: {cmp.note}")
            dich.append({"PARAMCD": "MRS", "AVISIT": visit, "comparison": base["comparison"],
                         "responders_treatment": e_t, "n_treatment": n_t,
                         "responders_reference": e_r, "n_reference": n_r, "rd": cmp.rd,
                         "rd_lower": cmp.rd_lower, "rd_upper": cmp.rd_upper, "rr": cmp.rr,
                         "rr_lower": cmp.rr_lower, "rr_upper": cmp.rr_upper,
                         "note": cmp.note})
    dist = distribution(rows[rows["AVISIT"].isin(visits)])
    return AnalysisResult("mrs", pd.DataFrame(shift, columns=SHIFT_COLUMNS), messages, info,
                          {"dichotomy": pd.DataFrame(dich, columns=DICHOTOMY_COLUMNS),
                           "distribution": dist})
