"""Safety: adverse events in the safety population, pooled (blinded) or by arm (unblinded).

Treatment-emergent events (``TRTEMFL == "Y"``) of subjects with ``SAFFL == "Y"``. Counts are
subjects with at least one event (percent of the group's safety population) and events.
Related means related or possibly related (the "reasonable possibility" of ICH E2A).

Blinded callers get pooled tables (``ARMCD == "ALL"``). Tables by arm need
``unblinded=True``: the caller (the service layer, after its role check) decides;
:func:`dsmb_closed_report` refuses without it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from strokecell.analysis.result import AnalysisResult
from strokecell.errors import InputError, PermissionDeniedError, Problem

__all__ = ["OVERVIEW_COLUMNS", "StoppingRule", "dsmb_closed_report", "safety_tables"]

OVERVIEW_COLUMNS = ["category", "ARMCD", "N", "subjects", "percent", "events"]
SOC_COLUMNS = ["AEBODSYS", "AETERM", "ARMCD", "N", "subjects", "percent", "events"]
GRADE_COLUMNS = ["AEBODSYS", "grade", "ARMCD", "N", "subjects", "percent", "events"]


@dataclass(frozen=True)
class StoppingRule:
    """Stop (refer to the DSMB) when related serious events reach ``k`` (in ``arm`` or all)."""

    k: int
    arm: str | None = None
    description: str = "related serious adverse events (cells or procedure)"

    def __post_init__(self) -> None:
        if self.k < 1:
            raise InputError(Problem("stopping_rule.k", "must be at least 1", self.k,
                                     "1, 2, 3, ..."))


def _related_serious(ae: pd.DataFrame) -> pd.Series:
    return (ae["AESER"] == "Y") & ((ae["AREL_CELL"] == "Y") | (ae["AREL_PROC"] == "Y"))


def _count(ae: pd.DataFrame, n: int, **keys: Any) -> dict[str, Any]:
    subj = int(ae["USUBJID"].nunique())
    return {**keys, "N": n, "subjects": subj, "percent": 100.0 * subj / n if n else
            float("nan"), "events": len(ae)}


def _groups(saf: pd.DataFrame, arms: Sequence[str], unblinded: bool
            ) -> list[tuple[str, set[str]]]:
    out = [(a, set(saf.loc[saf["ARMCD"] == a, "USUBJID"])) for a in arms] if unblinded else []
    out.append(("Total" if unblinded else "ALL", set(saf["USUBJID"])))
    return out


def _stopping(rule: StoppingRule, ae: pd.DataFrame, adsl: pd.DataFrame,
              unblinded: bool) -> tuple[pd.DataFrame, list[str]]:
    rs = ae[_related_serious(ae)].merge(adsl[["USUBJID", "ARMCD"]], on="USUBJID")
    notes = []
    if rule.arm is not None and not unblinded:
        scope, count = "all arms (pooled: arm-level status is for the DSMB)", len(rs)
        notes.append(f"stopping rule on arm {rule.arm}: blinded view counts all arms")
    elif rule.arm is not None:
        scope, count = rule.arm, int((rs["ARMCD"] == rule.arm).sum())
    else:
        scope, count = "all arms", len(rs)
    status = "triggered" if count >= rule.k else "not triggered"
    return pd.DataFrame([{"rule": f"{rule.description} >= {rule.k}", "scope": scope,
                          "count": count, "threshold": rule.k, "status": status}]), notes


def safety_tables(adsl: pd.DataFrame, adae: pd.DataFrame, arms: Sequence[str], *,
                  unblinded: bool = False, stopping_rule: StoppingRule | None = None
                  ) -> AnalysisResult:
    """Overview (``table``), by body system and term, by body system and worst grade,
    deaths, the safety population and the stopping-rule status."""
    saf = adsl[(adsl["SAFFL"] == "Y") & adsl["ARMCD"].isin(arms)]
    ae = adae[(adae["TRTEMFL"] == "Y") & adae["USUBJID"].isin(saf["USUBJID"])]
    messages: list[str] = []
    if saf.empty:
        messages.append("the safety population is empty")
    if ae.empty:
        messages.append("no treatment-emergent adverse events recorded")
    groups = _groups(saf, arms, unblinded)
    cats = {"any adverse event": ae["USUBJID"].notna(), "serious": ae["AESER"] == "Y",
            "grade 3 or higher": ae["AETOXGR"] >= 3, "related to cells":
            ae["AREL_CELL"] == "Y", "related to procedure": ae["AREL_PROC"] == "Y",
            "serious and related": _related_serious(ae), "fatal": ae["AESDTH"] == "Y"}
    overview, by_soc, by_grade, pop = [], [], [], []
    for arm, ids in groups:
        sub = ae[ae["USUBJID"].isin(ids)]
        n = len(ids)
        pop.append({"ARMCD": arm, "N": n})
        if unblinded and arm != "Total" and n and sub.empty:
            messages.append(f"arm {arm} has no adverse events")
        for cat, mask in cats.items():
            overview.append(_count(sub[mask.loc[sub.index]], n, category=cat, ARMCD=arm))
        dead = saf[saf["USUBJID"].isin(ids) & (saf["DTHFL"] == "Y")]
        overview.append({"category": "deaths (any cause)", "ARMCD": arm, "N": n,
                         "subjects": len(dead), "percent": 100.0 * len(dead) / n if n
                         else float("nan"), "events": len(dead)})
        for soc, s_ae in sub.groupby("AEBODSYS"):
            by_soc.append(_count(s_ae, n, AEBODSYS=soc, AETERM="", ARMCD=arm))
            for term, t_ae in s_ae.groupby("AETERM"):
                by_soc.append(_count(t_ae, n, AEBODSYS=soc, AETERM=term, ARMCD=arm))
            worst = s_ae.groupby("USUBJID")["AETOXGR"].max()
            for grade in range(1, 6):
                ids_g = set(worst[worst == grade].index)
                by_grade.append({"AEBODSYS": soc, "grade": grade, "ARMCD": arm, "N": n,
                                 "subjects": len(ids_g), "percent": 100.0 * len(ids_g) / n,
                                 "events": int((s_ae["AETOXGR"] == grade).sum())})
    deaths = saf[saf["DTHFL"] == "Y"][["USUBJID", "ARMCD", "DTHDT"]].copy()
    fatal = ae[ae["AESDTH"] == "Y"].drop_duplicates("USUBJID").set_index("USUBJID")["AETERM"]
    deaths["cause"] = deaths["USUBJID"].map(fatal)
    if not unblinded:
        deaths = deaths.drop(columns="ARMCD")
    tables = {"by_soc_term": pd.DataFrame(by_soc, columns=SOC_COLUMNS),
              "by_grade": pd.DataFrame(by_grade, columns=GRADE_COLUMNS),
              "deaths": deaths.reset_index(drop=True),
              "population": pd.DataFrame(pop, columns=["ARMCD", "N"])}
    info: dict[str, Any] = {"unblinded": unblinded, "population": "SAFFL",
                            "related": "related or possibly related"}
    if stopping_rule is not None:
        tables["stopping_rule"], notes = _stopping(stopping_rule, ae, adsl, unblinded)
        messages += notes
        info["stopping_rule_status"] = str(tables["stopping_rule"]["status"].iloc[0])
    return AnalysisResult("safety", pd.DataFrame(overview, columns=OVERVIEW_COLUMNS),
                          messages, info, tables)


def dsmb_closed_report(adsl: pd.DataFrame, adae: pd.DataFrame, arms: Sequence[str], *,
                       unblinded: bool = False, stopping_rule: StoppingRule | None = None
                       ) -> AnalysisResult:
    """The DSMB closed-session safety report: by arm, only for an unblinded caller."""
    if unblinded is not True:
        raise PermissionDeniedError("the DSMB closed-session report shows safety by arm and "
                                    "needs unblinded=True; blinded roles get the pooled "
                                    "safety_tables(...) only")
    result = safety_tables(adsl, adae, arms, unblinded=True, stopping_rule=stopping_rule)
    rand = adsl[(adsl["RANDFL"] == "Y") & adsl["ARMCD"].isin(arms)]
    disc = rand[rand["COMPLFL"] != "Y"].groupby(["ARMCD", rand["DCSREAS"].fillna(
        "NOT RECORDED")]).size().rename("n").reset_index()
    result.tables["discontinuations"] = disc
    result.name = "dsmb_closed"
    result.info["session"] = "closed"
    return result
