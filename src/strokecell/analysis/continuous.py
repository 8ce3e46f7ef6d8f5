"""MMRM of a continuous endpoint: change from baseline by arm and visit.

``CHG ~ BASE + strata + ARMCD * AVISIT`` with an unstructured covariance over the visits
(the protocol's ``covariance`` then its ``covariance_fallback`` in order) and the protocol's
df method (Kenward-Roger by default), fitted by :func:`strokecell.stats.mmrm.fit_mmrm`.
The tables are the LS means of the change by arm and visit (the within-arm change with its
CI) and the difference of each arm from the reference arm at each visit (the primary visit
flagged). On the log scale (lesion volume, biomarkers) CHG is log(AVAL / BASE) and the
estimates are also given back-transformed as ratios.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from strokecell.analysis._prep import analysis_rows, usable_strata
from strokecell.analysis.result import AnalysisResult
from strokecell.errors import ModelError
from strokecell.protocol import AnalysisSettings
from strokecell.stats.mmrm import fit_mmrm

__all__ = ["DF_NAMES", "DIFFERENCE_COLUMNS", "LSMEANS_COLUMNS", "mmrm_endpoint"]

DF_NAMES = {"kenward_roger": "kenward-roger", "satterthwaite": "satterthwaite",
            "between_within": "between-within", "residual": "residual"}
DIFFERENCE_COLUMNS = ["PARAMCD", "AVISIT", "AVISITN", "comparison", "estimate", "se", "df",
                      "lower", "upper", "p", "primary", "ratio", "ratio_lower",
                      "ratio_upper", "scale"]
LSMEANS_COLUMNS = ["PARAMCD", "AVISIT", "AVISITN", "ARMCD", "n", "n_dead", "estimate", "se",
                   "df", "lower", "upper", "ratio", "ratio_lower", "ratio_upper", "scale"]
MIN_PER_CELL = 2


def _ratios(frame: pd.DataFrame, log_scale: bool) -> pd.DataFrame:
    for col, src in (("ratio", "estimate"), ("ratio_lower", "lower"),
                     ("ratio_upper", "upper")):
        frame[col] = np.exp(frame[src]) if log_scale else math.nan
    frame["scale"] = "log" if log_scale else "original"
    return frame


def _select_visits(rows: pd.DataFrame, arms: Sequence[str], visits: Sequence[str]
                   ) -> tuple[pd.DataFrame, list[str], list[str]]:
    kept, notes = [], []
    for v in visits:
        sub = rows[rows["AVISIT"] == v]
        if sub.empty:
            notes.append(f"visit {v} has no data")
            continue
        thin = [a for a in arms if int((sub["ARMCD"] == a).sum()) < MIN_PER_CELL]
        if thin:
            notes.append(f"visit {v} has fewer than {MIN_PER_CELL} values in arm "
                         f"{', '.join(thin)}: left out of the model, so no estimate there")
            continue
        kept.append(v)
    return rows[rows["AVISIT"].isin(kept)], kept, notes


def mmrm_endpoint(adsl: pd.DataFrame, bds: pd.DataFrame, paramcd: str, *,
                  arms: Sequence[str], reference: str, strata: Sequence[str] = (),
                  settings: AnalysisSettings | None = None, primary_visit: str | None = None,
                  visits: Sequence[str] = (), log_scale: bool = False,
                  composite: bool = False, population: str = "ITTFL",
                  covariates_by_visit: bool = False) -> AnalysisResult:
    """Fit the MMRM of ``paramcd`` and return the differences (``table``) and the LS means
    of the change by arm and visit (``tables["lsmeans"]``). ``visits`` are the post-baseline
    visits the protocol schedules for the parameter
    (:func:`~strokecell.analysis.datasets.scheduled_visits`): the model uses those only
    (baseline enters as the covariate), records at other visits are left out and said, and
    a scheduled visit without data is named in the messages; empty: every post-baseline
    visit with data. ``covariates_by_visit`` adds the interactions of baseline and strata
    with visit (one slope per visit)."""
    settings = settings or AnalysisSettings()
    name = f"mmrm {paramcd}{' composite' if composite else ''}" + (
        f" {population}" if population != "ITTFL" else "")
    rows, messages = analysis_rows(adsl, bds, paramcd, strata=strata, population=population,
                                   composite=composite, log_scale=log_scale)
    dead = bds[(bds["PARAMCD"] == paramcd) & (bds["DTYPE"] == "WORST")].merge(
        adsl[["USUBJID", "ARMCD"]], on="USUBJID")
    if visits:
        other = rows[~rows["AVISIT"].isin(visits)]
        if not other.empty:
            messages.append(
                f"{paramcd}: {len(other)} record(s) at visits the protocol does not schedule "
                f"for it ({', '.join(dict.fromkeys(other.sort_values('AVISITN')['AVISIT']))})"
                f" are not used; the model uses {', '.join(visits)}")
        rows = rows[rows["AVISIT"].isin(visits)]
        dead = dead[dead["AVISIT"].isin(visits)]
    order = (rows.drop_duplicates("AVISIT").sort_values("AVISITN")["AVISIT"].tolist()
             if not rows.empty else [])
    messages += [f"visit {v} has no data for {paramcd}" for v in visits if v not in order]
    info: dict[str, Any] = {"paramcd": paramcd, "reference": reference, "population":
                            population, "log_scale": log_scale, "composite": composite,
                            "primary_visit": primary_visit,
                            "visits_scheduled": list(visits)}
    empty = AnalysisResult(name, pd.DataFrame(columns=DIFFERENCE_COLUMNS), messages, info,
                           {"lsmeans": pd.DataFrame(columns=LSMEANS_COLUMNS)})
    missing_arms = [a for a in arms if not (rows["ARMCD"] == a).any()]
    if rows.empty or missing_arms:
        empty.messages.append(f"{paramcd}: no post-baseline data" if rows.empty else
                              f"arm {', '.join(missing_arms)} has no data for {paramcd}: "
                              "the MMRM is not estimable")
        return empty
    rows, kept, notes = _select_visits(rows, arms, order)
    messages += notes
    if primary_visit is not None and primary_visit not in kept:
        messages.append(f"primary visit {primary_visit} has no estimable data for {paramcd}")
    if not kept:
        return empty
    used, notes = usable_strata(rows, strata)
    messages += notes
    code = {v: f"V{i + 1:02d}" for i, v in enumerate(kept)}  # sorts in time order
    back = {c: v for v, c in code.items()}
    data = rows.assign(VIS=rows["AVISIT"].map(code))
    terms = ["BASE", *used]
    if covariates_by_visit and len(kept) > 1:
        terms += [f"{t}:VIS" for t in terms]
    fixed = " + ".join([*terms, "ARMCD * VIS" if len(kept) > 1 else "ARMCD"])
    formula = f"CHG ~ {fixed} + {settings.covariance}(VIS | USUBJID)"
    info.update(formula=formula, df_method=DF_NAMES[settings.df_method], visits=kept)
    try:
        fit = fit_mmrm(data, formula, reml=True, df=DF_NAMES[settings.df_method],
                       reference={"ARMCD": reference}, fallback=settings.covariance_fallback)
    except ModelError as exc:
        empty.messages.append(f"MMRM of {paramcd} not estimable: {exc}")
        return empty
    info.update(converged=fit.converged, structure=fit.structure_used,
                attempts=[a.to_dict() for a in fit.attempts], n_subjects=fit.n_subjects,
                n_obs=fit.n_obs)
    if fit.structure_used != settings.covariance:
        messages.append(f"{paramcd}: covariance {settings.covariance} did not converge; "
                        f"the pre-specified fallback {fit.structure_used} was used")
    if not fit.converged:
        messages.append(f"{paramcd}: the MMRM did not converge with any pre-specified "
                        "covariance; estimates are shown but should not be relied on")
    by = "VIS" if len(kept) > 1 else None
    ls = fit.lsmeans("ARMCD", by=by, level=1 - settings.alpha)
    ct = fit.contrasts("ARMCD", by=by, level=1 - settings.alpha)
    if by is None:
        ls["VIS"], ct["VIS"] = code[kept[0]], code[kept[0]]
    visitn = rows.drop_duplicates("AVISIT").set_index("AVISIT")["AVISITN"]
    ls["AVISIT"] = ls["VIS"].map(back)
    ct["AVISIT"] = ct["VIS"].map(back)
    counts = rows.groupby(["AVISIT", "ARMCD"]).size()
    dcounts = dead.groupby(["AVISIT", "ARMCD"]).size()
    ls["n"] = [int(counts.get((v, a), 0)) for v, a in zip(ls["AVISIT"], ls["ARMCD"],
                                                            strict=True)]
    ls["n_dead"] = [int(dcounts.get((v, a), 0)) for v, a in zip(ls["AVISIT"], ls["ARMCD"],
                                                                  strict=True)]
    ls["PARAMCD"] = paramcd
    ls["AVISITN"] = ls["AVISIT"].map(visitn).astype(float)
    ct = ct.rename(columns={"label": "comparison"})
    ct["PARAMCD"] = paramcd
    ct["AVISITN"] = ct["AVISIT"].map(visitn).astype(float)
    ct["primary"] = ct["AVISIT"] == primary_visit
    lsmeans = _ratios(ls, log_scale)[LSMEANS_COLUMNS]
    diffs = _ratios(ct, log_scale)[DIFFERENCE_COLUMNS]
    return AnalysisResult(name, diffs.reset_index(drop=True), messages, info,
                          {"lsmeans": lsmeans.reset_index(drop=True)})
