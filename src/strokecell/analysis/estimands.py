"""Estimands (ICH E9(R1), 2019) derived from the protocol's endpoints and analysis settings.

Each endpoint gets the five attributes: treatment condition, population, variable,
intercurrent events with the strategy for each, and the population-level summary, plus the
main and sensitivity analyses that estimate it. Death is always handled explicitly:

- mRS: composite (death is mRS 6, the scale's own worst grade);
- scales with a worst score (modified Barthel 0, Barthel 0, Fugl-Meyer 0, NIHSS 42): while
  alive in the main MMRM, and a composite sensitivity analysis assigning the worst score;
- lesion volume and biomarkers (no worst score): while alive; stated as such.

Withdrawal is handled by a hypothetical strategy (as if followed up: MAR within arm, the
MMRM) with a control-based sensitivity analysis (multiple imputation, jump to reference);
a change of rehabilitation programme and not receiving the cells by treatment policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from strokecell.analysis.datasets import PARAMS, control_arm, paramcd_for
from strokecell.analysis.result import AnalysisResult
from strokecell.protocol import Endpoint, Protocol

__all__ = ["ESTIMAND_COLUMNS", "Estimand", "IntercurrentEvent", "build_estimands",
           "estimands_result", "intercurrent_event_counts"]

ESTIMAND_COLUMNS = ["endpoint", "PARAMCD", "role", "order", "event", "strategy", "handling",
                    "sensitivity"]


@dataclass(frozen=True)
class IntercurrentEvent:
    event: str
    strategy: str
    handling: str
    sensitivity: str = ""


@dataclass(frozen=True)
class Estimand:
    label: str
    paramcd: str
    role: str
    order: int | None
    treatment: str
    population: str
    variable: str
    visits: tuple[str, ...]
    intercurrent_events: tuple[IntercurrentEvent, ...]
    summary: str
    main_analysis: str
    sensitivity: tuple[str, ...]

    def text(self) -> str:
        lines = [f"{self.label} ({self.role}{f', order {self.order}' if self.order else ''})",
                 f"  Treatment: {self.treatment}", f"  Population: {self.population}",
                 f"  Variable: {self.variable}", "  Intercurrent events:"]
        for ice in self.intercurrent_events:
            extra = f" Sensitivity: {ice.sensitivity}" if ice.sensitivity else ""
            lines.append(f"    - {ice.event}: {ice.strategy}. {ice.handling}{extra}")
        lines += [f"  Population-level summary: {self.summary}",
                  f"  Main analysis: {self.main_analysis}"]
        lines += [f"  Sensitivity: {s}" for s in self.sensitivity]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["visits"] = list(self.visits)
        out["intercurrent_events"] = [dict(i.__dict__) for i in self.intercurrent_events]
        out["sensitivity"] = list(self.sensitivity)
        out["text"] = self.text()
        return out


_WITHDRAWAL = IntercurrentEvent(
    "withdrawal or loss to follow-up", "hypothetical (as if followed up)",
    "Missing at random within arm, given baseline, strata and earlier values: the MMRM "
    "likelihood uses every observed value.",
    "Multiple imputation under MAR and control-based jump to reference (Carpenter, Roger "
    "& Kenward 2013), pooled by Rubin's rules.")
_REHAB = IntercurrentEvent(
    "change of rehabilitation programme", "treatment policy",
    "Values after the change are used as observed.")
_NOT_RECEIVED = IntercurrentEvent(
    "cells not administered", "treatment policy",
    "Analysed in the arm randomised to (intention to treat).")


def _death(paramcd: str) -> IntercurrentEvent:
    prm = PARAMS[paramcd]
    if paramcd == "MRS":
        return IntercurrentEvent("death", "composite", "Death is mRS 6, the worst grade of "
                                 "the scale: dead subjects are analysed at 6.")
    if prm.worst is not None:
        return IntercurrentEvent(
            "death", "while alive",
            "Values observed while alive; none are imputed after death, and the number of "
            "deaths is reported with the estimates at each visit.",
            f"Composite: the worst score ({prm.worst:g}) at every visit after death, "
            "MMRM and multiple imputation repeated.")
    return IntercurrentEvent("death", "while alive", "Values observed while alive; the "
                             "parameter has no worst score, so no composite is defined.")


def _variable(ep: Endpoint, paramcd: str) -> str:
    prm = PARAMS[paramcd]
    visits = ", ".join(ep.visits)
    if paramcd == "MRS":
        return f"{prm.label} at {visits} (ordinal 0-6; and mRS 0-2 yes/no)"
    if prm.log_scale:
        return f"log ratio of {prm.label} to baseline at {visits}"
    if ep.variable == "change_from_baseline":
        return f"change from baseline in {prm.label} at {visits}"
    return f"{prm.label} ({ep.variable.replace('_', ' ')}) at {visits}"


def build_estimands(protocol: Protocol) -> list[Estimand]:
    ref = control_arm(protocol)
    others = [a.code for a in protocol.arms if a.code != ref]
    treatment = f"{' / '.join(others)} versus {ref}"
    alpha = protocol.analysis.alpha if protocol.analysis else 0.05
    out = []
    for ep in protocol.endpoints:
        if ep.instrument == "adverse_events":
            out.append(Estimand(
                ep.label or "Adverse events", "AE", ep.role, ep.order, treatment,
                "Safety population: randomised subjects who received any study "
                "intervention", "Treatment-emergent adverse events up to "
                f"{ep.visits[-1]}", tuple(ep.visits), (IntercurrentEvent(
                    "death", "while alive", "Events up to death are counted; death is "
                    "itself reported."),), "Number and percentage of subjects with events",
                "Descriptive by arm (unblinded) or pooled (blinded)", ()))
            continue
        code = paramcd_for(ep.instrument)
        prm = PARAMS[code]
        ices = (_death(code), _WITHDRAWAL, _REHAB, _NOT_RECEIVED)
        if code == "MRS":
            summary = ("common odds ratio of a better mRS (proportional odds); difference and "
                       "ratio of the proportions with mRS 0-2")
            main = "Proportional-odds model on arm and strata; score test of proportional odds"
            sens: tuple[str, ...] = ("Risk difference (Newcombe) and risk ratio of mRS 0-2",)
        else:
            scale = "ratio of geometric means" if prm.log_scale else \
                "difference in LS mean change"
            summary = f"{scale} ({treatment}) with {100 * (1 - alpha):g}% CI"
            log = " on the log scale" if prm.log_scale else ""
            main = (f"MMRM of the change from baseline{log} with baseline and strata, "
                    "arm × visit, unstructured covariance")
            sens = ("ANCOVA at the primary visit on observed cases",
                    "Multiple imputation (MAR; jump to reference), Rubin's rules")
            if prm.worst is not None:
                sens += (f"Composite strategy for death: worst score {prm.worst:g}",)
        population = ("Intention to treat: all randomised subjects, in the arm randomised "
                      "to, with a baseline value")
        out.append(Estimand(ep.label or f"{prm.label} at {', '.join(ep.visits)}", code,
                            ep.role, ep.order, treatment, population, _variable(ep, code),
                            tuple(ep.visits), ices, summary, main, sens))
    return out


def intercurrent_event_counts(adsl: pd.DataFrame, arms: list[str], by_arm: bool = True
                              ) -> pd.DataFrame:
    """How often each intercurrent event occurred among the randomised (ITT) subjects:
    columns ``event, ARMCD, n, N`` (pooled as ``ALL`` when blinded)."""
    itt = adsl[(adsl["ITTFL"] == "Y") & adsl["ARMCD"].isin(arms)]
    groups = [(a, itt[itt["ARMCD"] == a]) for a in arms] if by_arm else [("ALL", itt)]
    rows = []
    for arm, sub in groups:
        counts = {
            "death": int((sub["DTHFL"] == "Y").sum()),
            "withdrawal or loss to follow-up": int(sub["DCSREAS"].isin(
                ["WITHDRAWAL BY SUBJECT", "LOST TO FOLLOW-UP"]).sum()),
            "change of rehabilitation programme": int((sub["REHABCHG"] == "Y").sum())
            if "REHABCHG" in sub.columns else 0,
            "cells not administered": int((sub["RECFL"] != "Y").sum()),
        }
        rows += [{"event": k, "ARMCD": arm, "n": v, "N": len(sub)} for k, v in counts.items()]
    return pd.DataFrame(rows, columns=["event", "ARMCD", "n", "N"])


def estimands_result(protocol: Protocol, adsl: pd.DataFrame | None = None,
                     by_arm: bool = True) -> AnalysisResult:
    """The estimands (``table``: one row per endpoint and intercurrent event; ``info``: the
    estimands and their text) and, with ADSL, ``tables["observed"]``: how often each
    intercurrent event occurred."""
    ests = build_estimands(protocol)
    rows = [{"endpoint": e.label, "PARAMCD": e.paramcd, "role": e.role, "order": e.order,
             "event": i.event, "strategy": i.strategy, "handling": i.handling,
             "sensitivity": i.sensitivity} for e in ests for i in e.intercurrent_events]
    tables = {}
    if adsl is not None:
        tables["observed"] = intercurrent_event_counts(adsl, [a.code for a in protocol.arms],
                                                       by_arm)
    return AnalysisResult("estimands", pd.DataFrame(rows, columns=ESTIMAND_COLUMNS), [],
                          {"estimands": [e.to_dict() for e in ests],
                           "text": "\n\n".join(e.text() for e in ests)}, tables)
