"""interop layer: REDCap in and out, CDISC ODM 1.3.2 (see docs/interop.md).

Every importer produces the neutral model of :mod:`strokecell.interop._model` (project, arms,
events, forms, fields; records with typed values) and an :class:`ImportReport`; every exporter
reads it. Pure functions: no database, no trial record (the mapping into a strokecell study is
the next step).
"""

from strokecell.interop._model import (
    Arm,
    AuditInfo,
    Choice,
    Dictionary,
    Event,
    Field,
    Form,
    FormEntry,
    ImportProblem,
    ImportReport,
    Location,
    Project,
    Record,
    RedcapImportError,
    RepeatSetting,
    Signature,
    SignatureDef,
    User,
    Value,
)
from strokecell.interop.odm import read_odm, write_odm

__all__ = [
    "Arm",
    "AuditInfo",
    "Choice",
    "Dictionary",
    "Event",
    "Field",
    "Form",
    "FormEntry",
    "ImportProblem",
    "ImportReport",
    "Location",
    "Project",
    "Record",
    "RedcapImportError",
    "RepeatSetting",
    "Signature",
    "SignatureDef",
    "User",
    "Value",
    "read_odm",
    "write_odm",
]
