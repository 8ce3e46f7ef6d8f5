"""store layer of strokecell (see DESIGN.md): models, migrations, engines, the audit chain.

The data model is described in docs/data-model.md. Services in ``strokecell.trial`` are
the only code meant to change these tables; every change they make is written to the
audit trail (:func:`record_change`) in the same transaction.
"""

from strokecell.store import models
from strokecell.store._types import (
    UNBLINDED_ROLES,
    AuditAction,
    DonorType,
    FormStatus,
    LockScope,
    LotStatus,
    QueryStatus,
    Role,
    ScreeningOutcome,
    StudyStatus,
    SubjectStatus,
    UTCDateTime,
    ValueType,
    VisitStatus,
)
from strokecell.store.audit import (
    Actor,
    AuditEntry,
    AuditRecord,
    AuditVerification,
    FieldChange,
    audit_text,
    changes_of,
    flush_audit_head,
    record_batch,
    record_change,
    record_changes,
    verify_chain,
)
from strokecell.store.engine import (
    NO_WAIT,
    WriterBusy,
    make_engine,
    make_session_factory,
    read_session,
    session_scope,
)
from strokecell.store.migrate import (
    current_revision,
    head_revision,
    schema_differences,
    upgrade_to_head,
)
from strokecell.store.passwords import hash_password, verify_password

__all__ = [
    "NO_WAIT",
    "UNBLINDED_ROLES",
    "Actor",
    "AuditAction",
    "AuditEntry",
    "AuditRecord",
    "AuditVerification",
    "DonorType",
    "FieldChange",
    "FormStatus",
    "LockScope",
    "LotStatus",
    "QueryStatus",
    "Role",
    "ScreeningOutcome",
    "StudyStatus",
    "SubjectStatus",
    "UTCDateTime",
    "ValueType",
    "VisitStatus",
    "WriterBusy",
    "audit_text",
    "changes_of",
    "current_revision",
    "flush_audit_head",
    "hash_password",
    "head_revision",
    "make_engine",
    "make_session_factory",
    "models",
    "read_session",
    "record_batch",
    "record_change",
    "record_changes",
    "schema_differences",
    "session_scope",
    "upgrade_to_head",
    "verify_chain",
    "verify_password",
]
