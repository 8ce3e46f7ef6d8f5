"""Run every analysis the protocol plans: :func:`run_planned_analyses`.

Blinded (``unblinded=False``, the default): estimands, pooled CONSORT counts, pooled Table 1,
pooled safety and pooled summaries of each endpoint by visit; no arm comparisons. Unblinded
(after database lock, or for the DSMB): everything by arm: the MMRM of each continuous
endpoint with its sensitivity analyses (composite for death, ANCOVA on observed cases,
multiple imputation under MAR and jump to reference), the mRS shift and dichotomy, the
fixed-sequence test of the primary and key secondary endpoints, safety by arm and the
exploratory biomarker and MRI analyses. Seeds are recorded in ``seeds``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from strokecell.analysis._prep import analysis_rows
from strokecell.analysis.ancova import ancova_at_visit
from strokecell.analysis.baseline import baseline_table
from strokecell.analysis.consort import consort_flow
from strokecell.analysis.continuous import mmrm_endpoint
from strokecell.analysis.datasets import (
    PARAMS,
    arm_codes,
    control_arm,
    paramcd_for,
    scheduled_visits,
    strata_columns,
    validate_adae,
    validate_adsl,
    validate_bds,
)
from strokecell.analysis.estimands import estimands_result
from strokecell.analysis.exploratory import exploratory_parameters, summarise_change
from strokecell.analysis.imputation import multiple_imputation
from strokecell.analysis.mrs import distribution, mrs_analysis
from strokecell.analysis.multiplicity import Hypothesis, fixed_sequence
from strokecell.analysis.result import AnalysisResult, jsonable
from strokecell.analysis.safety import StoppingRule, safety_tables
from strokecell.analysis.worstcase import derive_worst_case
from strokecell.protocol import AnalysisSettings, Endpoint, Protocol

__all__ = ["PlannedAnalyses", "run_planned_analyses"]


@dataclass
class PlannedAnalyses:
    """Everything the report needs. ``results`` is keyed ``estimands``, ``consort``,
    ``baseline``, ``safety``, and when unblinded ``mmrm:<PARAMCD>``,
    ``composite:<PARAMCD>``, ``ancova:<PARAMCD>``, ``mi:<PARAMCD>``, ``pp:<PARAMCD>`` (the
    primary endpoint in the per-protocol population), ``mrs``,
    ``multiplicity``, ``exploratory``; when blinded ``pooled:<PARAMCD>`` and the pooled
    ``exploratory`` summaries."""

    protocol_id: str
    unblinded: bool
    seeds: dict[str, int]
    results: dict[str, AnalysisResult]
    messages: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> AnalysisResult:
        return self.results[key]

    def to_dict(self) -> dict[str, Any]:
        return {"protocol_id": self.protocol_id, "unblinded": self.unblinded,
                "seeds": dict(self.seeds), "messages": list(self.messages),
                "info": jsonable(self.info),
                "results": {k: v.to_dict() for k, v in self.results.items()}}


def _child_seed(seed: int, index: int) -> int:
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def _endpoint_plan(protocol: Protocol) -> dict[str, tuple[list[str], str]]:
    """PARAMCD -> (the post-baseline visits the protocol schedules for it, in time order; the
    visit tested or else the last one). The models use these visits only: a parameter is
    not modelled at a visit where its instrument is not collected."""
    plan: dict[str, tuple[list[str], str]] = {}
    ranked = sorted(protocol.endpoints, key=lambda e: (e.order is None, e.order or 0))
    for ep in ranked:
        if ep.instrument == "adverse_events":
            continue
        code = paramcd_for(ep.instrument)
        visits, primary = plan.get(code, ([], ep.visits[-1]))
        plan[code] = (visits + [v for v in ep.visits if v not in visits], primary)
    return {code: (scheduled_visits(protocol, code) or visits, primary)
            for code, (visits, primary) in plan.items()}


def _p_at(result: AnalysisResult, visit: str, column: str = "p") -> tuple[float, float]:
    t = result.table
    if t.empty or "AVISIT" not in t.columns or not (t["AVISIT"] == visit).any():
        return float("nan"), float("nan")
    row = t[t["AVISIT"] == visit].iloc[0]
    est = "estimate" if "estimate" in t.columns else "common_or"
    return float(row[column]), float(row[est])


def _hypotheses(protocol: Protocol, results: dict[str, AnalysisResult]) -> list[Hypothesis]:
    out = []
    for ep in protocol.tested_endpoints:
        code = paramcd_for(ep.instrument)
        visit = ep.visits[-1]
        key = "mrs" if code == "MRS" else f"mmrm:{code}"
        p, est = _p_at(results[key], visit) if key in results else (float("nan"),) * 2
        out.append(Hypothesis(ep.order or 1, _label(ep, code), code, visit, p, est))
    return out


def _label(ep: Endpoint, code: str) -> str:
    return ep.label or f"{PARAMS[code].label} at {ep.visits[-1]}"


def run_planned_analyses(protocol: Protocol, adsl: pd.DataFrame, bds: pd.DataFrame,
                         adae: pd.DataFrame, *, seed: int, unblinded: bool = False,
                         stopping_rule: StoppingRule | None = None,
                         imputations: int = 50) -> PlannedAnalyses:
    """Validate the three data sets and run the protocol's planned analyses."""
    started = time.perf_counter()
    validate_adsl(adsl, protocol)
    validate_bds(bds, adsl, protocol)
    validate_adae(adae, adsl)
    messages: list[str] = []
    had_worst = bool(bds["DTYPE"].eq("WORST").any())
    bds = derive_worst_case(adsl, bds, protocol)
    if not had_worst and bds["DTYPE"].eq("WORST").any():
        messages.append("worst-score rows after death derived from ADSL.DTHDT")
    arms, ref = arm_codes(protocol), control_arm(protocol)
    strata = strata_columns(protocol)
    settings = protocol.analysis or AnalysisSettings()
    plan = _endpoint_plan(protocol)
    primary_code = paramcd_for(protocol.primary_endpoint.instrument)
    results: dict[str, AnalysisResult] = {
        "estimands": estimands_result(protocol, adsl, by_arm=unblinded),
        "consort": consort_flow(adsl, arms, bds=bds, primary_paramcd=primary_code,
                                by_arm=unblinded),
        "baseline": baseline_table(adsl, bds, arms, strata=strata, by_arm=unblinded),
        "safety": safety_tables(adsl, adae, arms, unblinded=unblinded,
                                stopping_rule=stopping_rule),
    }
    seeds: dict[str, int] = {"seed": seed}
    if not unblinded:
        messages.append("blinded: pooled summaries only, no comparison between arms")
        for code in plan:
            results[f"pooled:{code}"] = AnalysisResult(
                f"pooled {code}", summarise_change(adsl, bds, code, arms, by_arm=False))
        if "MRS" in plan:
            rows, _ = analysis_rows(adsl, bds, "MRS", composite=True)
            results["pooled:MRS"].tables["distribution"] = distribution(
                rows[rows["AVISIT"].isin(plan["MRS"][0])], by_arm=False)
        results["exploratory"] = exploratory_parameters(adsl, bds, arms, ref, unblinded=False)
    else:
        for i, (code, (visits, primary_visit)) in enumerate(plan.items()):
            if code == "MRS":
                continue
            prm = PARAMS[code]
            results[f"mmrm:{code}"] = mmrm_endpoint(
                adsl, bds, code, arms=arms, reference=ref, strata=strata, settings=settings,
                primary_visit=primary_visit, visits=visits, log_scale=prm.log_scale)
            if prm.worst is not None:
                results[f"composite:{code}"] = mmrm_endpoint(
                    adsl, bds, code, arms=arms, reference=ref, strata=strata,
                    settings=settings, primary_visit=primary_visit, visits=visits,
                    composite=True)
            if code == primary_code:
                results[f"pp:{code}"] = mmrm_endpoint(
                    adsl, bds, code, arms=arms, reference=ref, strata=strata,
                    settings=settings, primary_visit=primary_visit, visits=visits,
                    log_scale=prm.log_scale, population="PPROTFL")
            results[f"ancova:{code}"] = ancova_at_visit(
                adsl, bds, code, primary_visit, arms, ref, strata=strata,
                log_scale=prm.log_scale, level=1 - settings.alpha)
            seeds[f"mi:{code}"] = _child_seed(seed, i)
            results[f"mi:{code}"] = multiple_imputation(
                adsl, bds, code, primary_visit, arms=arms, reference=ref, strata=strata,
                seed=seeds[f"mi:{code}"], m=imputations, log_scale=prm.log_scale,
                level=1 - settings.alpha, visits=visits)
        if "MRS" in plan:
            results["mrs"] = mrs_analysis(adsl, bds, plan["MRS"][0], arms=arms, reference=ref,
                                          strata=strata, level=1 - settings.alpha)
        results["multiplicity"] = fixed_sequence(_hypotheses(protocol, results),
                                                 settings.alpha)
        results["exploratory"] = exploratory_parameters(
            adsl, bds, arms, ref, strata=strata, settings=settings)
    for res in results.values():
        messages.extend(f"{res.name}: {m}" for m in res.messages)
    info = {"arms": arms, "reference": ref, "strata": strata, "imputations": imputations,
            "alpha": settings.alpha, "seconds": time.perf_counter() - started}
    return PlannedAnalyses(protocol.study.id, unblinded, seeds, results, messages, info)
