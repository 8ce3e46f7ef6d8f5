"""The strokecell data model: every table of the trial record (see docs/data-model.md), and
the web application's sessions and sign-in throttle (``_web.py``, not part of the record)."""

from strokecell.store.models._audit import GENESIS_HASH, AuditChainHead, AuditLog
from strokecell.store.models._base import Base
from strokecell.store.models._forms import DerivedValue, FormInstance, ItemValue
from strokecell.store.models._product import (
    Administration,
    LotRelease,
    ProductLot,
    ProtocolDeviation,
    ReleaseTest,
)
from strokecell.store.models._quality import DataQuery, QueryMessage, RecordLock, Signature
from strokecell.store.models._randomization import (
    RandomizationList,
    RandomizationState,
    SubjectAllocation,
    UnblindingEvent,
)
from strokecell.store.models._safety import AdverseEvent, SafetySignal
from strokecell.store.models._study import Arm, ProtocolVersion, RoleAssignment, Site, Study, User
from strokecell.store.models._subject import (
    EligibilityAnswer,
    ScreenFailureReason,
    Screening,
    Subject,
    Visit,
)
from strokecell.store.models._web import (
    WEB_PLUMBING_TABLES,
    LoginAttempt,
    LoginFailure,
    WebSession,
)

__all__ = [
    "GENESIS_HASH",
    "WEB_PLUMBING_TABLES",
    "Administration",
    "AdverseEvent",
    "Arm",
    "AuditChainHead",
    "AuditLog",
    "Base",
    "DataQuery",
    "DerivedValue",
    "EligibilityAnswer",
    "FormInstance",
    "ItemValue",
    "LoginAttempt",
    "LoginFailure",
    "LotRelease",
    "ProductLot",
    "ProtocolDeviation",
    "ProtocolVersion",
    "QueryMessage",
    "RandomizationList",
    "RandomizationState",
    "RecordLock",
    "ReleaseTest",
    "RoleAssignment",
    "SafetySignal",
    "ScreenFailureReason",
    "Screening",
    "Signature",
    "Site",
    "Study",
    "Subject",
    "SubjectAllocation",
    "UnblindingEvent",
    "User",
    "Visit",
    "WebSession",
]
