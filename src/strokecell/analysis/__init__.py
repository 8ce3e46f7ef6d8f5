"""analysis layer of strokecell: the analysis data sets and the planned analyses.

The analyses read three ADaM-style pandas DataFrames (ADSL, BDS, ADAE; contracts in
:mod:`~strokecell.analysis.datasets`), so they run the same on a real trial's data sets and on
simulated ones. Each returns an :class:`AnalysisResult` (a tidy ``table``, further
``tables``, ``messages`` for what could not be estimated, ``to_dict()``);
:func:`run_planned_analyses` runs all that a protocol plans. See ``docs/analysis.md``.
"""

from strokecell.analysis.ancova import OLSFit, ancova_at_visit, ols
from strokecell.analysis.baseline import baseline_table
from strokecell.analysis.consort import consort_flow
from strokecell.analysis.continuous import mmrm_endpoint
from strokecell.analysis.datasets import (
    ADAE_COLUMNS,
    ADSL_COLUMNS,
    BDS_COLUMNS,
    PARAMS,
    SCREEN_FAILURE,
    Param,
    arm_codes,
    control_arm,
    param,
    paramcd_for,
    scheduled_visits,
    strata_columns,
    validate_adae,
    validate_adsl,
    validate_bds,
)
from strokecell.analysis.estimands import (
    Estimand,
    IntercurrentEvent,
    build_estimands,
    estimands_result,
)
from strokecell.analysis.exploratory import exploratory_parameters, summarise_change
from strokecell.analysis.imputation import multiple_imputation
from strokecell.analysis.mrs import mrs_analysis
from strokecell.analysis.multiplicity import Hypothesis, fixed_sequence
from strokecell.analysis.planned import PlannedAnalyses, run_planned_analyses
from strokecell.analysis.proportions import TwoProportions, compare_proportions, wilson_interval
from strokecell.analysis.result import AnalysisResult
from strokecell.analysis.rubin import Pooled, rubin_pool
from strokecell.analysis.safety import StoppingRule, dsmb_closed_report, safety_tables
from strokecell.analysis.worstcase import derive_worst_case

__all__ = [
    "ADAE_COLUMNS",
    "ADSL_COLUMNS",
    "BDS_COLUMNS",
    "PARAMS",
    "SCREEN_FAILURE",
    "AnalysisResult",
    "Estimand",
    "Hypothesis",
    "IntercurrentEvent",
    "OLSFit",
    "Param",
    "PlannedAnalyses",
    "Pooled",
    "StoppingRule",
    "TwoProportions",
    "ancova_at_visit",
    "arm_codes",
    "baseline_table",
    "build_estimands",
    "compare_proportions",
    "consort_flow",
    "control_arm",
    "derive_worst_case",
    "dsmb_closed_report",
    "estimands_result",
    "exploratory_parameters",
    "fixed_sequence",
    "mmrm_endpoint",
    "mrs_analysis",
    "multiple_imputation",
    "ols",
    "param",
    "paramcd_for",
    "rubin_pool",
    "run_planned_analyses",
    "safety_tables",
    "scheduled_visits",
    "strata_columns",
    "summarise_change",
    "validate_adae",
    "validate_adsl",
    "validate_bds",
    "wilson_interval",
]
