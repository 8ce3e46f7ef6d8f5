"""protocol layer of strokecell: the treatment plan, its validation and the dose engine.

A protocol is a YAML file (see docs/protocol.md): study, arms (a cell-therapy arm with its
cell product, timing, route and dose regimen), visit schedule, endpoints, randomisation,
eligibility and analysis settings. :func:`load_protocol` validates all of it and reports
every problem at its YAML path; :func:`compute_dose` turns an arm and a body weight into
cells, volume, concentration and infusion time, with warnings for implausible doses.

This layer imports nothing else of strokecell except :mod:`strokecell.errors`.
"""

from strokecell.protocol.codes import ENDPOINT_INSTRUMENT_CODES
from strokecell.protocol.dose import (
    REFERENCE_WEIGHTS_KG,
    WEIGHT_RANGE_KG,
    DosePlan,
    DoseWarning,
    compute_adhoc_dose,
    compute_dose,
    dose_for_regimen,
    dose_plan,
)
from strokecell.protocol.limits import RouteLimits, default_limits, effective_limits
from strokecell.protocol.loading import LocatedProblem, load_protocol, parse_protocol
from strokecell.protocol.models import (
    AnalysisSettings,
    Arm,
    CellProduct,
    DoseRegimen,
    Eligibility,
    Endpoint,
    Protocol,
    Randomization,
    Route,
    Safety,
    Schedule,
    StoppingRule,
    Study,
    Timing,
    Visit,
)
from strokecell.protocol.phases import PHASE_SOURCE, phase_of_day
from strokecell.protocol.units import Measured, parse_quantity

__all__ = [
    "ENDPOINT_INSTRUMENT_CODES",
    "PHASE_SOURCE",
    "REFERENCE_WEIGHTS_KG",
    "WEIGHT_RANGE_KG",
    "AnalysisSettings",
    "Arm",
    "CellProduct",
    "DosePlan",
    "DoseRegimen",
    "DoseWarning",
    "Eligibility",
    "Endpoint",
    "LocatedProblem",
    "Measured",
    "Protocol",
    "Randomization",
    "Route",
    "RouteLimits",
    "Safety",
    "Schedule",
    "StoppingRule",
    "Study",
    "Timing",
    "Visit",
    "compute_adhoc_dose",
    "compute_dose",
    "default_limits",
    "dose_for_regimen",
    "dose_plan",
    "effective_limits",
    "load_protocol",
    "parse_protocol",
    "parse_quantity",
    "phase_of_day",
]
