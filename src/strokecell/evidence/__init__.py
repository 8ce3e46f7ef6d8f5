"""evidence layer of strokecell: the curated data set of controlled trials of cell therapy in
stroke (``trials.csv``, columns documented in ``trials.schema.yaml`` and docs/evidence.md),
its validation, and the raw columns an effect-size calculation needs.

::

    from strokecell.evidence import load_trials, effect_size_inputs
    records = load_trials()                      # every row validated, or EvidenceFileError
    bi = effect_size_inputs(records, "continuous", outcome="bi")
    bi.frame[["row_id", "m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i", "sign"]]

Workflows over it (docs/evidence.md): ``synthesize(outcome, time, by=..., regress=...)``
pools one outcome at one time point overall, by cell type, phase, route and dose category,
and regresses it on dose and days from onset, listing every row left out and why;
``forest(synthesis, path)`` draws it; ``summarize_trials(records)`` is the trial table.
"""

from strokecell.evidence._aspects import (
    ASPECTS,
    DOSE_CATEGORIES,
    REGRESSORS,
    Aspect,
    Regressor,
    aspect_value,
    dose_category,
    normalise_aspect,
    parse_outcome,
)
from strokecell.evidence._dataset import (
    COLUMNS,
    TRIALS_FILE,
    EvidenceFileError,
    allowed_values,
    load_trials,
    read_trials_csv,
    validate_rows,
)
from strokecell.evidence._effects import (
    CONTINUOUS_COLUMNS,
    EVENT_COLUMNS,
    EffectSizeInputs,
    effect_size_inputs,
)
from strokecell.evidence._model import TrialRecord, cross_check
from strokecell.evidence._selection import EvidenceSelectionError, LeftOut, Study, usable
from strokecell.evidence._summary import ComparisonSummary, OutcomeEntry, summarize_trials
from strokecell.evidence._synthesis import Direction, direction_note, forest, synthesize
from strokecell.evidence._synthesis_result import (
    AspectSynthesis,
    Regression,
    SubgroupLevel,
    Synthesis,
)
from strokecell.evidence._timepoint import TimeWindow, parse_time
from strokecell.evidence._vocab import (
    ACUTE_MAX_DAYS,
    OUTCOMES,
    SUBACUTE_MAX_DAYS,
    Blinding,
    CellSource,
    CellType,
    Control,
    Donor,
    DoseStatistic,
    Measure,
    Outcome,
    OutcomeInfo,
    OutcomeKind,
    Phase,
    Randomized,
    Route,
    StrokeType,
    TimeFrom,
    TimeUnit,
    Verification,
    phase_for_day,
)

__all__ = [
    "ACUTE_MAX_DAYS",
    "ASPECTS",
    "COLUMNS",
    "CONTINUOUS_COLUMNS",
    "DOSE_CATEGORIES",
    "EVENT_COLUMNS",
    "OUTCOMES",
    "REGRESSORS",
    "SUBACUTE_MAX_DAYS",
    "TRIALS_FILE",
    "Aspect",
    "AspectSynthesis",
    "Blinding",
    "CellSource",
    "CellType",
    "ComparisonSummary",
    "Control",
    "Direction",
    "Donor",
    "DoseStatistic",
    "EffectSizeInputs",
    "EvidenceFileError",
    "EvidenceSelectionError",
    "LeftOut",
    "Measure",
    "Outcome",
    "OutcomeEntry",
    "OutcomeInfo",
    "OutcomeKind",
    "Phase",
    "Randomized",
    "Regression",
    "Regressor",
    "Route",
    "StrokeType",
    "Study",
    "SubgroupLevel",
    "Synthesis",
    "TimeFrom",
    "TimeUnit",
    "TimeWindow",
    "TrialRecord",
    "Verification",
    "allowed_values",
    "aspect_value",
    "cross_check",
    "direction_note",
    "dose_category",
    "effect_size_inputs",
    "forest",
    "load_trials",
    "normalise_aspect",
    "parse_outcome",
    "parse_time",
    "phase_for_day",
    "read_trials_csv",
    "summarize_trials",
    "synthesize",
    "usable",
    "validate_rows",
]
