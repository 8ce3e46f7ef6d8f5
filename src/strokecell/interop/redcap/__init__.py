"""REDCap in and out: data dictionary, records CSV, project XML, export, scales as instruments."""

from strokecell.interop.redcap._branching import (
    KNOWN_FUNCTIONS,
    Binary,
    Call,
    Expr,
    FieldRef,
    Literal,
    Logic,
    SmartVariable,
    Unary,
    parse_logic,
)
from strokecell.interop.redcap._csv import CsvOptions
from strokecell.interop.redcap._dictionary import (
    DictionaryResult,
    check_dictionary,
    parse_choices,
    read_dictionary,
)
from strokecell.interop.redcap._evaluate import evaluate, is_true, stored_text
from strokecell.interop.redcap._folder import ImportResult, read_project
from strokecell.interop.redcap._project_xml import ProjectXml, read_project_xml, unique_dag_name
from strokecell.interop.redcap._records import (
    Policy,
    checkbox_column,
    read_arms,
    read_events,
    read_form_events,
    read_records,
    read_repeating,
)
from strokecell.interop.redcap._scales import (
    instrument_fields,
    scales_dictionary,
    scales_project,
    total_field,
)
from strokecell.interop.redcap._validation import (
    KNOWN_VALIDATIONS,
    format_value,
    range_problem,
    validate_value,
)
from strokecell.interop.redcap._writer import (
    record_columns,
    write_arms,
    write_dictionary,
    write_events,
    write_form_events,
    write_project,
    write_records,
    write_repeating,
)

__all__ = [
    "KNOWN_FUNCTIONS",
    "KNOWN_VALIDATIONS",
    "Binary",
    "Call",
    "CsvOptions",
    "DictionaryResult",
    "Expr",
    "FieldRef",
    "ImportResult",
    "Literal",
    "Logic",
    "Policy",
    "ProjectXml",
    "SmartVariable",
    "Unary",
    "check_dictionary",
    "checkbox_column",
    "evaluate",
    "format_value",
    "instrument_fields",
    "is_true",
    "parse_choices",
    "parse_logic",
    "range_problem",
    "read_arms",
    "read_dictionary",
    "read_events",
    "read_form_events",
    "read_project",
    "read_project_xml",
    "read_records",
    "read_repeating",
    "record_columns",
    "scales_dictionary",
    "scales_project",
    "stored_text",
    "total_field",
    "unique_dag_name",
    "validate_value",
    "write_arms",
    "write_dictionary",
    "write_events",
    "write_form_events",
    "write_project",
    "write_records",
    "write_repeating",
]
