"""evidence layer of strokecell: the curated data set of controlled trials of cell therapy in
stroke (``trials.csv``, columns documented in ``trials.schema.yaml`` and docs/evidence.md),
its validation, and the raw columns an effect-size calculation needs.

::

    from strokecell.evidence import load_trials, effect_size_inputs
    records = load_trials()                      # every row validated, or EvidenceFileError
    bi = effect_size_inputs(records, "continuous", outcome="bi")
    bi.frame[["row_id", "m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i", "sign"]]
"""

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
    "COLUMNS",
    "CONTINUOUS_COLUMNS",
    "EVENT_COLUMNS",
    "OUTCOMES",
    "SUBACUTE_MAX_DAYS",
    "TRIALS_FILE",
    "Blinding",
    "CellSource",
    "CellType",
    "Control",
    "Donor",
    "DoseStatistic",
    "EffectSizeInputs",
    "EvidenceFileError",
    "Measure",
    "Outcome",
    "OutcomeInfo",
    "OutcomeKind",
    "Phase",
    "Randomized",
    "Route",
    "StrokeType",
    "TimeFrom",
    "TimeUnit",
    "TrialRecord",
    "Verification",
    "allowed_values",
    "cross_check",
    "effect_size_inputs",
    "load_trials",
    "phase_for_day",
    "read_trials_csv",
    "validate_rows",
]
