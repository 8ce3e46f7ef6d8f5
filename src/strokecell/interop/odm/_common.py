"""What the ODM writer and reader share: OIDs, data types, and the REDCap metadata aliases.

ODM 1.3.2 has no place for a REDCap field type, validation or branching logic, and vendor
extensions would not validate against the plain schema. They travel as ``Alias`` elements
(``Context="redcap:field_type" Name="radio"``), which ODM allows on ItemDef, FormDef,
StudyEventDef and CodeList: a receiving system ignores them, our reader restores the field.
"""

from __future__ import annotations

from datetime import UTC, datetime

from strokecell.interop._model import Field
from strokecell.interop.redcap._validation import validation_kind

NS = "http://www.cdisc.org/ns/odm/v1.3"
ODM = "{" + NS + "}"
DEFAULT_EVENT = "SE.DEFAULT"
MDV_OID = "MDV.1"
STATUS_CHOICES = (("0", "Incomplete"), ("1", "Unverified"), ("2", "Complete"))

#: Field attributes carried as Alias (context suffix, attribute); booleans as "y".
ALIASED: tuple[tuple[str, str], ...] = (
    ("field_type", "field_type"), ("validation", "validation"),
    ("validation_min", "validation_min"), ("validation_max", "validation_max"),
    ("section_header", "section_header"), ("field_note", "field_note"),
    ("calculation", "calculation"), ("branching_logic", "branching_logic"),
    ("custom_alignment", "custom_alignment"), ("question_number", "question_number"),
    ("matrix_group", "matrix_group"), ("annotation", "annotation"),
    ("identifier", "identifier"), ("required", "required"),
    ("matrix_ranking", "matrix_ranking"), ("unit", "unit"),
)
SLIDER_LABELS = "slider_label"
ALIAS_PREFIX = "redcap:"


def item_oid(name: str) -> str:
    return f"I.{name}"


def form_oid(name: str) -> str:
    return f"F.{name}"


def group_oid(name: str) -> str:
    return f"IG.{name}"


def codelist_oid(name: str) -> str:
    return f"CL.{name}"


def event_oid(name: str | None) -> str:
    return DEFAULT_EVENT if name is None else f"SE.{name}"


def unit_oid(unit: str) -> str:
    return "MU." + "".join(c if c.isalnum() else "_" for c in unit)


def data_type(f: Field) -> str:
    """ODM DataType of a field's values."""
    kind = validation_kind(f)
    if kind == "choice":
        return "integer" if all(c.code.lstrip("-").isdigit() for c in f.choices) else "text"
    if kind == "boolean":
        return "boolean"
    if kind == "integer":
        return "integer"
    if kind == "number":
        return "float"
    if kind == "date":
        return "date"
    if kind == "datetime":
        return "datetime"
    if kind == "time" and f.validation != "time_mm_ss":
        return "time"
    return "text"


def stamp(moment: datetime) -> str:
    """An ODM date-time: UTC with a ``Z`` when the moment is aware, else as it is."""
    if moment.tzinfo is not None:
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def parse_stamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
