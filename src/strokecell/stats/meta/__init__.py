"""Meta-analysis engine (stats/meta): effect sizes, equal/random/mixed-effects models,
subgroups, diagnostics, small-study tests and plots, following R's metafor.

Validated against metafor output (``reference/meta/`` beside DESIGN.md). Formulas: docs/meta.md.
"""

from strokecell.stats.meta._bias import RegTest, TrimFill, regtest, trimfill
from strokecell.stats.meta._diagnostics import (
    Influence,
    LeaveOneOut,
    hat_values,
    influence,
    leave_one_out,
)
from strokecell.stats.meta._escalc import MEASURES, EffectSizes, escalc
from strokecell.stats.meta._plots import forest_plot, funnel_plot
from strokecell.stats.meta._result import Coefficient, MetaResult
from strokecell.stats.meta._rma import rma
from strokecell.stats.meta._subgroup import SubgroupResult, q_between, subgroup_analysis
from strokecell.stats.meta._tau2 import METHODS, RE_METHODS, Control

__all__ = [
    "MEASURES",
    "METHODS",
    "RE_METHODS",
    "Coefficient",
    "Control",
    "EffectSizes",
    "Influence",
    "LeaveOneOut",
    "MetaResult",
    "RegTest",
    "SubgroupResult",
    "TrimFill",
    "escalc",
    "forest_plot",
    "funnel_plot",
    "hat_values",
    "influence",
    "leave_one_out",
    "q_between",
    "regtest",
    "rma",
    "subgroup_analysis",
    "trimfill",
]
