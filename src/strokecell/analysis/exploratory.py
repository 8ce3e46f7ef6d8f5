"""Mechanism biomarkers and MRI (exploratory): change from baseline by arm.

For each biomarker and imaging parameter in BDS: a summary by arm and visit (n, mean and SD
of AVAL and CHG, geometric mean ratio to baseline), then, where there are enough data, the
MMRM of log(AVAL/BASE) (:func:`~strokecell.analysis.continuous.mmrm_endpoint`, log scale,
ratios), else an ANCOVA at each visit, else a message. No multiplicity adjustment: the
results are exploratory and labelled so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from strokecell.analysis.ancova import ancova_at_visit
from strokecell.analysis.continuous import mmrm_endpoint
from strokecell.analysis.datasets import PARAMS
from strokecell.analysis.result import AnalysisResult
from strokecell.protocol import AnalysisSettings

__all__ = ["SUMMARY_COLUMNS", "exploratory_parameters", "summarise_change"]

SUMMARY_COLUMNS = ["PARAMCD", "AVISIT", "AVISITN", "ARMCD", "n", "mean", "sd", "mean_chg",
                   "sd_chg", "gm_ratio"]


def summarise_change(adsl: pd.DataFrame, bds: pd.DataFrame, paramcd: str,
                     arms: Sequence[str], by_arm: bool = True) -> pd.DataFrame:
    """Observed values by arm (or pooled, ``ALL``) and visit, baseline included."""
    pop = adsl.loc[(adsl["ITTFL"] == "Y") & adsl["ARMCD"].isin(arms), ["USUBJID", "ARMCD"]]
    rows = bds[(bds["PARAMCD"] == paramcd) & (bds["ANL01FL"] == "Y") & bds["DTYPE"].isna() &
               bds["AVAL"].notna()].merge(pop, on="USUBJID")
    if not by_arm:
        rows = rows.assign(ARMCD="ALL")
    out = []
    for (visit, arm), sub in rows.groupby(["AVISIT", "ARMCD"], sort=False):
        aval = sub["AVAL"].astype(float)
        chg = sub["CHG"].astype(float).dropna()
        pos = sub[(sub["AVAL"] > 0) & (sub["BASE"] > 0)]
        gmr = float(np.exp(np.mean(np.log(pos["AVAL"] / pos["BASE"])))) if len(pos) \
            else math.nan
        out.append({"PARAMCD": paramcd, "AVISIT": visit, "AVISITN": float(
            sub["AVISITN"].iloc[0]), "ARMCD": arm, "n": len(sub), "mean": aval.mean(),
            "sd": aval.std(ddof=1) if len(aval) > 1 else math.nan,
            "mean_chg": chg.mean() if len(chg) else math.nan,
            "sd_chg": chg.std(ddof=1) if len(chg) > 1 else math.nan, "gm_ratio": gmr})
    frame = pd.DataFrame(out, columns=SUMMARY_COLUMNS)
    return frame.sort_values(["AVISITN", "ARMCD"]).reset_index(drop=True)


def exploratory_parameters(adsl: pd.DataFrame, bds: pd.DataFrame, arms: Sequence[str],
                           reference: str, *, strata: Sequence[str] = (),
                           settings: AnalysisSettings | None = None, unblinded: bool = True
                           ) -> AnalysisResult:
    """Summary (``table``) and models (``tables["models"]``) of biomarkers and imaging."""
    codes = [c for c, p in PARAMS.items() if p.kind in ("biomarker", "imaging")
             and (bds["PARAMCD"] == c).any()]
    messages: list[str] = [] if codes else ["no biomarker or imaging data"]
    summaries, models = [], []
    for code in codes:
        summaries.append(summarise_change(adsl, bds, code, arms, by_arm=unblinded))
        if not unblinded:
            continue
        fit = mmrm_endpoint(adsl, bds, code, arms=arms, reference=reference, strata=strata,
                            settings=settings, log_scale=PARAMS[code].log_scale)
        messages += fit.messages
        if not fit.table.empty:
            models.append(fit.table.assign(model="MMRM"))
            continue
        visits = bds.loc[(bds["PARAMCD"] == code) & (bds["ABLFL"] != "Y"), "AVISIT"].unique()
        done = False
        for visit in visits:
            anc = ancova_at_visit(adsl, bds, code, str(visit), arms, reference, strata=strata,
                                  log_scale=PARAMS[code].log_scale)
            if not anc.table.empty:
                models.append(anc.table.assign(model="ANCOVA", primary=False))
                done = True
        if not done:
            messages.append(f"{code}: not enough data for a model; summary only")
    table = pd.concat(summaries, ignore_index=True) if summaries else pd.DataFrame(
        columns=SUMMARY_COLUMNS)
    model_table = pd.concat(models, ignore_index=True) if models else pd.DataFrame()
    return AnalysisResult("exploratory", table, messages,
                          {"parameters": codes, "exploratory": True, "unblinded": unblinded},
                          {"models": model_table})
