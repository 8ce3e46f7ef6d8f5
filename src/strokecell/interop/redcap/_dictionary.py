"""REDCap data dictionary import: the 18-column CSV, with UI headers or API keys.

Every field becomes a :class:`~strokecell.interop._model.Field`; choices are split on ``|``
then on the first comma (labels keep theirs); branching logic and calc formulas are parsed
(:mod:`._branching`) so that a syntax error, an unknown function or a reference to a field
that does not exist is reported. Errors (a duplicate field name, an unknown field type, a
choice field without choices) reject the dictionary; warnings keep the field:

- an unknown validation type: kept, the field validated as plain text;
- an ``sql`` field (choices from a query on the REDCap server): imported as text;
- a label or choice with U+FFFD (text mis-encoded before the export);
- logic that does not parse, calls an unknown function, or names an unknown field.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from strokecell.errors import InputError
from strokecell.interop._model import (
    FIELD_TYPES,
    Choice,
    Dictionary,
    Field,
    ImportProblem,
    ImportReport,
    RedcapImportError,
)
from strokecell.interop.redcap._branching import Logic, parse_logic
from strokecell.interop.redcap._csv import CsvOptions, Source, read_rows
from strokecell.interop.redcap._validation import KNOWN_VALIDATIONS

__all__ = [
    "API_HEADERS",
    "UI_HEADERS",
    "DictionaryResult",
    "check_dictionary",
    "normalize_validation",
    "parse_choices",
    "read_dictionary",
]

UI_HEADERS: tuple[str, ...] = (
    "Variable / Field Name", "Form Name", "Section Header", "Field Type", "Field Label",
    "Choices, Calculations, OR Slider Labels", "Field Note",
    "Text Validation Type OR Show Slider Number", "Text Validation Min", "Text Validation Max",
    "Identifier?", "Branching Logic (Show field only if...)", "Required Field?",
    "Custom Alignment", "Question Number (surveys only)", "Matrix Group Name", "Matrix Ranking?",
    "Field Annotation",
)
API_HEADERS: tuple[str, ...] = (
    "field_name", "form_name", "section_header", "field_type", "field_label",
    "select_choices_or_calculations", "field_note", "text_validation_type_or_show_slider_number",
    "text_validation_min", "text_validation_max", "identifier", "branching_logic",
    "required_field", "custom_alignment", "question_number", "matrix_group_name",
    "matrix_ranking", "field_annotation",
)
_VALIDATION_ALIASES = {"int": "integer", "float": "number", "date": "date_ymd",
                       "datetime": "datetime_ymd", "datetime_seconds": "datetime_seconds_ymd"}
_NAME = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class DictionaryResult:
    """A dictionary, the report of its import, and its parsed logic by field name."""

    dictionary: Dictionary
    report: ImportReport
    branching: dict[str, Logic] = field(default_factory=dict)
    calculations: dict[str, Logic] = field(default_factory=dict)


def normalize_validation(name: str) -> str:
    """REDCap's internal names (project XML: ``int``, ``float``) as the dictionary's."""
    name = name.strip()
    return _VALIDATION_ALIASES.get(name, name)


def parse_choices(text: str) -> tuple[tuple[Choice, ...], list[str]]:
    """``"1, Yes | 2, No"`` as choices; second item: complaints (a choice without a code)."""
    choices: list[Choice] = []
    complaints: list[str] = []
    if not text.strip():
        return (), complaints
    for part in re.split(r"\s*\|\s*|\n", text.strip()):
        part = part.strip()
        if not part:
            continue
        code, sep, label = part.partition(",")
        if not sep:
            complaints.append(f"choice {part!r} has no 'code, label' comma; its text is used "
                              "as both")
            label = part
        choices.append(Choice(code.strip(), label.strip()))
    return tuple(choices), complaints


def read_dictionary(source: Source, *, options: CsvOptions | None = None) -> DictionaryResult:
    """Read a data dictionary CSV; raises :class:`RedcapImportError` when it has errors."""
    options = options or CsvOptions()
    rows = read_rows(source, "data dictionary")
    problems: list[ImportProblem] = []
    if not rows:
        raise RedcapImportError(ImportReport((ImportProblem.at(
            "the data dictionary is empty", where="data dictionary"),)))
    header = [h.strip() for h in rows[0]]
    columns = _columns(header)
    fields: list[Field] = []
    for number, row in enumerate(rows[1:], start=2):
        if len(row) < len(header):
            row = row + [""] * (len(header) - len(row))
        cells = {key: options.cell(row[i]) for key, i in columns.items()}
        fields.append(_field(cells, number, problems))
    result = check_dictionary(fields)
    report = ImportReport(tuple(p for p in [*problems, *result.report.errors]
                                if p.severity == "error"),
                          tuple(p for p in problems if p.severity == "warning")
                          + result.report.warnings)
    if report.errors:
        raise RedcapImportError(report, context="data dictionary")
    return replace(result, report=report)


def check_dictionary(fields: Sequence[Field]) -> DictionaryResult:
    """Check fields wherever they came from (CSV, project XML); parse their logic."""
    errors: list[ImportProblem] = []
    warnings: list[ImportProblem] = []
    seen: set[str] = set()
    names = {f.name for f in fields}
    branching: dict[str, Logic] = {}
    calculations: dict[str, Logic] = {}
    for f in fields:
        def warn(message: str, value: object = None, *, name: str = f.name) -> None:
            warnings.append(ImportProblem.at(message, field=name, value=value,
                                             where="data dictionary", severity="warning"))

        def error(message: str, value: object = None, allowed: str | None = None,
                  *, name: str = f.name) -> None:
            errors.append(ImportProblem.at(message, field=name, value=value, allowed=allowed,
                                           where="data dictionary"))
        if f.name in seen:
            error("duplicate field name", f.name)
        seen.add(f.name)
        if not _NAME.fullmatch(f.name):
            warn("field name is not REDCap's lower-case letters, digits and _", f.name)
        if f.field_type not in FIELD_TYPES:
            error("unknown field type", f.field_type, ", ".join(FIELD_TYPES))
        if f.field_type in ("dropdown", "radio", "checkbox") and not f.choices:
            error(f"a {f.field_type} field needs choices", "",
                  "choices as '1, Label | 2, Label'")
        codes = [c.code for c in f.choices]
        if len(set(codes)) != len(codes):
            error("duplicate choice codes", ", ".join(codes))
        if f.field_type == "sql":
            warn("sql field (choices from a query on the REDCap server) imported as text",
                 f.calculation or None)
        if f.field_type == "text" and f.validation and f.validation not in KNOWN_VALIDATIONS:
            warn("unknown validation type; the field is validated as plain text", f.validation)
        if any("\ufffd" in t for t in (f.label, *(c.label for c in f.choices))):
            warn("label contains U+FFFD replacement characters (mis-encoded before export)",
                 f.label)
        if f.field_type == "calc":
            if not f.calculation.strip():
                error("a calc field needs a formula", "")
            else:
                parsed = _logic(f.calculation, "calculation", names, warn)
                if parsed is not None:
                    calculations[f.name] = parsed
        if f.branching_logic.strip():
            parsed = _logic(f.branching_logic, "branching logic", names, warn)
            if parsed is not None:
                branching[f.name] = parsed
    dictionary = Dictionary(tuple(fields))
    return DictionaryResult(dictionary, ImportReport(tuple(errors), tuple(warnings)),
                            branching, calculations)


# -- helpers -------------------------------------------------------------------------------


def _columns(header: list[str]) -> dict[str, int]:
    lowered = [h.lower() for h in header]
    for names in (UI_HEADERS, API_HEADERS):
        want = [n.lower() for n in names]
        if lowered[:1] == want[:1] or want[0] in lowered:
            missing = [n for n in names[:6] if n.lower() not in lowered]
            if missing:
                raise InputError(ImportProblem.at(
                    "the data dictionary header lacks required columns", value=missing,
                    allowed=", ".join(names), where="data dictionary"))
            return {API_HEADERS[i]: lowered.index(w) for i, w in enumerate(want)
                    if w in lowered}
    raise InputError(ImportProblem.at(
        "not a REDCap data dictionary: the first column is neither 'Variable / Field Name' "
        "nor 'field_name'", value=header[:1], where="data dictionary"))


def _field(cells: dict[str, str], row: int, problems: list[ImportProblem]) -> Field:
    def get(key: str) -> str:
        return cells.get(key, "")

    name = get("field_name").strip()
    ftype = get("field_type").strip()
    special = get("select_choices_or_calculations")
    validation = normalize_validation(get("text_validation_type_or_show_slider_number"))
    choices: tuple[Choice, ...] = ()
    calculation = ""
    slider: tuple[str, ...] = ()
    if ftype in ("dropdown", "radio", "checkbox"):
        choices, complaints = parse_choices(special)
        for c in complaints:
            problems.append(ImportProblem.at(c, field=name, where=f"data dictionary row {row}",
                                             severity="warning"))
    elif ftype == "slider":
        slider = tuple(p.strip() for p in special.split("|")) if special.strip() else ()
    elif ftype in ("calc", "sql"):
        calculation = special
    elif special.strip():
        problems.append(ImportProblem.at(
            f"choices/calculation given for a {ftype} field are ignored", field=name,
            value=special, where=f"data dictionary row {row}", severity="warning"))
    return Field(
        name=name, form=get("form_name").strip(), field_type=ftype, label=get("field_label"),
        section_header=get("section_header"), choices=choices, calculation=calculation,
        slider_labels=slider, field_note=get("field_note"), validation=validation,
        validation_min=get("text_validation_min").strip(),
        validation_max=get("text_validation_max").strip(),
        identifier=_flag(get("identifier")), branching_logic=get("branching_logic"),
        required=_flag(get("required_field")), custom_alignment=get("custom_alignment"),
        question_number=get("question_number"), matrix_group=get("matrix_group_name"),
        matrix_ranking=_flag(get("matrix_ranking")), annotation=get("field_annotation"),
    )


def _flag(text: str) -> bool:
    return text.strip().lower() in ("y", "yes", "1")


def _logic(text: str, what: str, names: Iterable[str],
           warn: _Warn) -> Logic | None:
    try:
        parsed = parse_logic(text)
    except InputError as exc:
        warn(f"{what} does not parse ({exc.problems[0].message}); kept as text, not evaluated",
             text)
        return None
    for fn in parsed.unknown_functions:
        warn(f"{what} calls {fn}(), which is not a REDCap function; it cannot be evaluated",
             text)
    known = set(names)
    unknown = [n for n in parsed.fields if n not in known]
    if unknown:
        warn(f"{what} names field(s) not in the dictionary: {', '.join(unknown)}", text)
    return parsed


class _Warn(Protocol):  # the call signature of the ``warn`` closures above
    def __call__(self, message: str, value: object = ..., *, name: str = ...) -> None: ...
