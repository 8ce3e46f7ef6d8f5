"""Read-only view of the study design in force, for screens: eligibility and strata.

A screening page asks for what :func:`strokecell.trial.screen` judges (age, stroke type,
onset, the baseline-severity instruments' items, consent, the protocol's extra inclusion
and exclusion criteria) and an enrolment page for the stratification factors; both come
from the protocol version in force. Reading the design is part of ``read_study``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from strokecell.protocol.codes import CONDITIONS
from strokecell.trial._authz import Action
from strokecell.trial._context import ServiceContext, authorize
from strokecell.trial._design import current_version, design_of
from strokecell.trial._tx import reading

__all__ = ["DesignView", "SeverityView", "StratumView", "VisitPlanView", "get_design"]


@dataclass(frozen=True)
class SeverityView:
    instrument: str
    minimum: float | None
    maximum: float | None


@dataclass(frozen=True)
class StratumView:
    factor: str
    label: str
    levels: tuple[str, ...]


@dataclass(frozen=True)
class VisitPlanView:
    code: str
    label: str
    number: int
    target_day: int
    window_before: int
    window_after: int
    forms: tuple[str, ...]


@dataclass(frozen=True)
class DesignView:
    protocol_version: str
    age_min_years: int
    age_max_years: int
    stroke_types: tuple[str, ...]  # eligible types
    all_stroke_types: tuple[str, ...]  # every type screen() understands
    onset_min_days: float
    onset_max_days: float
    consent_required: bool
    severity: tuple[SeverityView, ...]
    inclusion: tuple[str, ...]
    exclusion: tuple[str, ...]
    strata: tuple[StratumView, ...]
    visits: tuple[VisitPlanView, ...]
    unscheduled_forms: tuple[str, ...]


def get_design(db: Engine, ctx: ServiceContext) -> DesignView:
    """The design of the protocol version in force (no subject data; arms are not in it)."""
    with reading(db) as s:
        authorize(s, ctx, Action.READ_STUDY)
        pv = current_version(s, ctx.study_id)
        label, text = pv.version_label, pv.yaml_text
    design = design_of(text)
    protocol = design.protocol
    rules = protocol.eligibility
    strata: list[StratumView] = []
    if protocol.randomization is not None:
        factors = {f.factor: f for f in protocol.randomization.strata}
        for name in protocol.randomization.stratify_by:
            f = factors[name]
            strata.append(StratumView(name, f.label or name, tuple(f.levels)))
    return DesignView(
        label, rules.age_min_years, rules.age_max_years, tuple(rules.stroke_types),
        tuple(CONDITIONS), float(rules.onset_min_days), float(rules.onset_max_days),
        bool(rules.consent_required),
        tuple(SeverityView(r.instrument, r.min, r.max) for r in rules.baseline_severity),
        tuple(rules.extra_criteria.inclusion), tuple(rules.extra_criteria.exclusion),
        tuple(strata),
        tuple(VisitPlanView(v.code, v.label, v.number, v.target_day, v.window_before,
                            v.window_after, v.forms) for v in design.visits),
        design.unscheduled_forms)
