"""Pydantic models of a treatment protocol, one small module per section."""

from strokecell.protocol.models.analysis import AnalysisSettings
from strokecell.protocol.models.arm import Arm
from strokecell.protocol.models.dose_regimen import DoseRegimen
from strokecell.protocol.models.eligibility import Eligibility, SeverityRange
from strokecell.protocol.models.endpoints import Endpoint
from strokecell.protocol.models.product import CellProduct
from strokecell.protocol.models.protocol import Protocol
from strokecell.protocol.models.randomization import Randomization, StratumFactor
from strokecell.protocol.models.route import Route, RouteLimitsOverride
from strokecell.protocol.models.safety import Safety, StoppingRule
from strokecell.protocol.models.schedule import Schedule, Visit
from strokecell.protocol.models.study import Study
from strokecell.protocol.models.timing import Timing

__all__ = [
    "AnalysisSettings",
    "Arm",
    "CellProduct",
    "DoseRegimen",
    "Eligibility",
    "Endpoint",
    "Protocol",
    "Randomization",
    "Route",
    "RouteLimitsOverride",
    "Safety",
    "Schedule",
    "SeverityRange",
    "StoppingRule",
    "StratumFactor",
    "Study",
    "Timing",
    "Visit",
]
