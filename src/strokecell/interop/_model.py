"""The neutral in-memory model every importer produces and every exporter reads.

It knows nothing of REDCap's files or ODM's XML, and nothing of strokecell's trial record: a
project is its dictionary (fields in forms), its arms and events, its data access groups
(sites), and its records; a record is a subject with form entries, each at an event and
repeat instance, holding typed values. The next layer maps it into a strokecell study.

Typed values (:data:`Value`): ``str`` (text, codes of dropdown/radio, file names),
``int`` (integer, slider), ``Decimal`` (number, calc; exact, so ``1.50`` stays ``1.50``),
``bool`` (yesno, truefalse), ``date``, ``datetime``, ``time`` and ``frozenset[str]`` (the
checked codes of a checkbox). An empty cell is no value: the key is absent.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Literal

from strokecell.errors import InputError, Problem

__all__ = [
    "FIELD_TYPES",
    "Arm",
    "AuditInfo",
    "Choice",
    "Dictionary",
    "Event",
    "Field",
    "FieldType",
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
]

Value = str | int | Decimal | bool | date | datetime | time | frozenset[str]

FieldType = Literal[
    "text", "notes", "dropdown", "radio", "checkbox", "yesno", "truefalse", "calc", "slider",
    "file", "descriptive", "sql",
]
FIELD_TYPES: tuple[str, ...] = (
    "text", "notes", "dropdown", "radio", "checkbox", "yesno", "truefalse", "calc", "slider",
    "file", "descriptive", "sql",
)


@dataclass(frozen=True)
class Choice:
    """One coded answer: ``code`` is what is stored, ``label`` what is shown."""

    code: str
    label: str


@dataclass(frozen=True)
class Field:
    """One field of a data dictionary (the 18 columns of REDCap's, by meaning).

    ``validation`` keeps the REDCap validation name as given (``date_ymd``, ``number_2dp``,
    an unknown name too, so that an export writes it back); ``slider_labels`` are the left,
    middle and right labels of a slider; ``calculation`` the formula of a calc field.
    ``unit`` is a measurement unit (UCUM) when one is known, for the ODM export.
    """

    name: str
    form: str
    field_type: str
    label: str
    section_header: str = ""
    choices: tuple[Choice, ...] = ()
    calculation: str = ""
    slider_labels: tuple[str, ...] = ()
    field_note: str = ""
    validation: str = ""
    validation_min: str = ""
    validation_max: str = ""
    identifier: bool = False
    branching_logic: str = ""
    required: bool = False
    custom_alignment: str = ""
    question_number: str = ""
    matrix_group: str = ""
    matrix_ranking: bool = False
    annotation: str = ""
    unit: str = ""

    def choice(self, code: str) -> Choice | None:
        for c in self.choices:
            if c.code == code:
                return c
        return None

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(c.code for c in self.choices)


@dataclass(frozen=True)
class Form:
    """An instrument: its unique name and the label a user sees."""

    name: str
    label: str


@dataclass(frozen=True)
class Dictionary:
    """The fields of a project in order; the first is the record id."""

    fields: tuple[Field, ...]
    form_labels: Mapping[str, str] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {f.name: f for f in self.fields})

    @property
    def record_id(self) -> str:
        return self.fields[0].name if self.fields else "record_id"

    def get(self, name: str) -> Field | None:
        found: Field | None = self.__dict__["_by_name"].get(name)
        return found

    def __getitem__(self, name: str) -> Field:
        f = self.get(name)
        if f is None:
            raise KeyError(name)
        return f

    def __contains__(self, name: object) -> bool:
        return name in self.__dict__["_by_name"]

    def __iter__(self) -> Iterator[Field]:
        return iter(self.fields)

    def __len__(self) -> int:
        return len(self.fields)

    @property
    def forms(self) -> tuple[Form, ...]:
        names: dict[str, None] = {}
        for f in self.fields:
            names.setdefault(f.form, None)
        return tuple(Form(n, self.form_labels.get(n, n)) for n in names)

    def form_fields(self, form: str) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.form == form)


@dataclass(frozen=True)
class Event:
    """A visit of a longitudinal project: ``unique_name`` is ``<name>_arm_<n>`` in REDCap."""

    unique_name: str
    label: str
    arm: int = 1
    day_offset: int | None = None
    forms: tuple[str, ...] = ()
    event_id: str = ""


@dataclass(frozen=True)
class Arm:
    number: int
    name: str


@dataclass(frozen=True)
class RepeatSetting:
    """A repeating instrument (``form`` set) or a repeating event (``form`` None)."""

    event: str | None
    form: str | None
    label: str = ""


@dataclass(frozen=True)
class User:
    oid: str
    first_name: str = ""
    last_name: str = ""


@dataclass(frozen=True)
class Location:
    """A site; REDCap's data access group becomes one."""

    oid: str
    name: str


@dataclass(frozen=True)
class SignatureDef:
    oid: str
    meaning: str
    legal_reason: str
    methodology: Literal["Digital", "Electronic"] = "Electronic"


@dataclass(frozen=True)
class AuditInfo:
    """Who changed a value, where, when (UTC) and why."""

    user: str
    location: str
    timestamp: datetime
    reason: str = ""
    source_id: str = ""


@dataclass(frozen=True)
class Signature:
    user: str
    location: str
    signature_def: str
    timestamp: datetime


@dataclass(frozen=True)
class FormEntry:
    """The data of one form at one event and instance (``instance`` None: not repeating)."""

    form: str
    values: Mapping[str, Value]
    event: str | None = None
    instance: int | None = None
    status: int | None = None
    audit: Mapping[str, AuditInfo] = field(default_factory=dict)
    signature: Signature | None = None

    @property
    def key(self) -> tuple[str | None, str, int | None]:
        return (self.event, self.form, self.instance)


@dataclass(frozen=True)
class Record:
    """A subject: its id, its data access group (site) and its form entries."""

    record_id: str
    entries: tuple[FormEntry, ...]
    dag: str | None = None

    def entry(self, form: str, event: str | None = None,
              instance: int | None = None) -> FormEntry | None:
        for e in self.entries:
            if e.key == (event, form, instance):
                return e
        return None


@dataclass(frozen=True)
class Project:
    """A whole project: metadata and records."""

    title: str
    dictionary: Dictionary
    arms: tuple[Arm, ...] = ()
    events: tuple[Event, ...] = ()
    repeating: tuple[RepeatSetting, ...] = ()
    dags: tuple[str, ...] = ()
    records: tuple[Record, ...] = ()
    users: tuple[User, ...] = ()
    locations: tuple[Location, ...] = ()
    signature_defs: tuple[SignatureDef, ...] = ()
    oid: str = ""

    @property
    def longitudinal(self) -> bool:
        return bool(self.events)

    def record(self, record_id: str) -> Record | None:
        for r in self.records:
            if r.record_id == record_id:
                return r
        return None

    def is_repeating(self, form: str, event: str | None) -> bool:
        for s in self.repeating:
            if s.event is not None and event is not None and s.event != event:
                continue
            if s.form is None or s.form == form:
                return True
        return False


@dataclass(frozen=True)
class ImportProblem(Problem):
    """A :class:`~strokecell.errors.Problem` that also names record, event, instance, field."""

    record: str | None = None
    field: str | None = None
    event: str | None = None
    instance: int | None = None
    severity: Literal["error", "warning"] = "error"

    @classmethod
    def at(cls, message: str, *, record: str | None = None, field: str | None = None,
           event: str | None = None, instance: int | None = None, value: Any = None,
           allowed: str | None = None, where: str = "",
           severity: Literal["error", "warning"] = "error") -> ImportProblem:
        parts = [where] if where else []
        if record is not None:
            parts.append(f"record {record}")
        if event:
            parts.append(f"event {event}")
        if instance is not None:
            parts.append(f"instance {instance}")
        if field:
            parts.append(f"field {field}")
        return cls(", ".join(parts), message, value, allowed, record, field, event, instance,
                   severity)


@dataclass(frozen=True)
class ImportReport:
    """What an import found: errors (values rejected) and warnings (kept, worth a look)."""

    errors: tuple[ImportProblem, ...] = ()
    warnings: tuple[ImportProblem, ...] = ()
    skipped: tuple[ImportProblem, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors

    def merged(self, other: ImportReport) -> ImportReport:
        return ImportReport(self.errors + other.errors, self.warnings + other.warnings,
                            self.skipped + other.skipped)

    def by_record(self) -> dict[str | None, dict[str | None, list[ImportProblem]]]:
        """Errors and skipped values grouped per record, then per field."""
        out: dict[str | None, dict[str | None, list[ImportProblem]]] = {}
        for p in (*self.errors, *self.skipped):
            out.setdefault(p.record, {}).setdefault(p.field, []).append(p)
        return out

    def to_dict(self) -> dict[str, Any]:
        def rows(ps: tuple[ImportProblem, ...]) -> list[dict[str, Any]]:
            return [{**p.to_dict(), "record": p.record, "field": p.field, "event": p.event,
                     "instance": p.instance, "value": None if p.value is None else str(p.value)}
                    for p in ps]
        return {"errors": rows(self.errors), "warnings": rows(self.warnings),
                "skipped": rows(self.skipped)}


class RedcapImportError(InputError):
    """An import rejected as a whole; ``report`` holds every error and warning found."""

    def __init__(self, report: ImportReport, *, context: str = "") -> None:
        self.report = report
        super().__init__(report.errors or [Problem("", "rejected")], context=context)
