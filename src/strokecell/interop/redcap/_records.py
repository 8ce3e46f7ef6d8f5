"""REDCap records CSV (the flat export) into the neutral model, every value validated.

Columns: the record id first; ``redcap_event_name``, ``redcap_repeat_instrument``,
``redcap_repeat_instance``, ``redcap_data_access_group``; one column per field; checkbox
``field___code`` columns; ``<form>_complete``. A column with an empty header (a row number
another tool added) is ignored with a warning; a column that is no field is an error (its data
would be lost). Each row is split into form entries (event, form, repeat instance).

Policy ``all_or_nothing`` (default): any error rejects the run (:class:`RedcapImportError`
carrying the report). ``skip_invalid``: invalid values (or rows, when the row's keys are bad)
are left out and listed in ``report.skipped``; the rest is imported.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from strokecell.errors import Problem
from strokecell.interop._model import (
    Arm,
    Dictionary,
    Event,
    Field,
    FormEntry,
    ImportProblem,
    ImportReport,
    Project,
    Record,
    RedcapImportError,
    RepeatSetting,
    Value,
)
from strokecell.interop.redcap._csv import CsvOptions, Source, has_r_traces, read_rows
from strokecell.interop.redcap._validation import range_problem, validate_value

__all__ = [
    "SPECIAL_COLUMNS",
    "Policy",
    "checkbox_column",
    "read_arms",
    "read_events",
    "read_form_events",
    "read_records",
    "read_repeating",
    "records_from_rows",
]

Policy = Literal["all_or_nothing", "skip_invalid"]
SPECIAL_COLUMNS = ("redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance",
                   "redcap_data_access_group")
_STATUS = {"0", "1", "2"}


def checkbox_column(f: Field, code: str) -> str:
    """The export column of one checkbox option (REDCap lower-cases and maps - and . to _)."""
    return f"{f.name}___{re.sub(r'[^a-z0-9_]', '_', code.lower())}"


@dataclass
class _Columns:
    record: int = 0
    special: dict[str, int] = field(default_factory=dict)
    values: dict[int, Field] = field(default_factory=dict)
    checkboxes: dict[int, tuple[Field, str]] = field(default_factory=dict)
    status: dict[int, str] = field(default_factory=dict)


@dataclass
class _State:
    policy: Policy
    errors: list[ImportProblem] = field(default_factory=list)
    warnings: list[ImportProblem] = field(default_factory=list)

    def bad(self, p: ImportProblem) -> None:
        self.errors.append(p)

    def warn(self, message: str, **where: object) -> None:
        self.warnings.append(ImportProblem.at(message, severity="warning", **where))  # type: ignore[arg-type]


def read_records(
    source: Source,
    dictionary: Dictionary,
    *,
    events: Sequence[Event] = (),
    arms: Sequence[Arm] = (),
    repeating: Sequence[RepeatSetting] = (),
    dags: Sequence[str] = (),
    title: str = "",
    policy: Policy = "all_or_nothing",
    options: CsvOptions | None = None,
    hard_ranges: bool = False,
) -> tuple[Project, ImportReport]:
    """Parse and validate a records CSV; return the project with its records and the report."""
    options = options or CsvOptions()
    return records_from_rows(
        read_rows(source, "records file"), dictionary, events=events, arms=arms,
        repeating=repeating, dags=dags, title=title, policy=policy, options=options,
        hard_ranges=hard_ranges)


def records_from_rows(
    rows: list[list[str]],
    dictionary: Dictionary,
    *,
    events: Sequence[Event] = (),
    arms: Sequence[Arm] = (),
    repeating: Sequence[RepeatSetting] = (),
    dags: Sequence[str] = (),
    title: str = "",
    policy: Policy = "all_or_nothing",
    options: CsvOptions | None = None,
    hard_ranges: bool = False,
    what: str = "records file",
) -> tuple[Project, ImportReport]:
    """:func:`read_records` on rows already read (the header first)."""
    options = options or CsvOptions()
    state = _State(policy)
    if not rows:
        state.warn(f"the {what} is empty (no header, no records)", where=what)
        report = ImportReport((), tuple(state.warnings))
        return Project(title, dictionary, tuple(arms), tuple(events), tuple(repeating),
                       tuple(dags)), report
    columns = _classify(rows[0], dictionary, state)
    event_names = {e.unique_name: e for e in events}
    forms = {f.name for f in dictionary.forms}
    records: dict[str, dict[tuple[str | None, str, int | None], FormEntry]] = {}
    record_dag: dict[str, str | None] = {}
    seen_rows: set[tuple[str, str, str, str]] = set()
    all_dags: dict[str, None] = dict.fromkeys(dags)
    repeat_seen: dict[tuple[str | None, str | None], None] = {}
    for number, row in enumerate(rows[1:], start=2):
        row = [options.cell(c) for c in row] + [""] * (len(rows[0]) - len(row))
        where = f"row {number}"
        record_id = row[columns.record].strip()
        sp = {name: row[i].strip() for name, i in columns.special.items()}
        event = sp.get("redcap_event_name") or None
        rform = sp.get("redcap_repeat_instrument") or None
        rinst = sp.get("redcap_repeat_instance", "")
        dag = sp.get("redcap_data_access_group") or None
        key_errors: list[str] = []
        if not record_id:
            key_errors.append("the record id is empty")
        if events and event is None:
            key_errors.append("redcap_event_name is empty in a longitudinal project")
        if event is not None and events and event not in event_names:
            key_errors.append(f"unknown event {event!r}")
        if rform is not None and rform not in forms:
            key_errors.append(f"unknown repeating instrument {rform!r}")
        instance: int | None = None
        if rinst:
            if re.fullmatch(r"[1-9]\d*", rinst):
                instance = int(rinst)
            else:
                key_errors.append(f"redcap_repeat_instance {rinst!r} is not a positive integer")
        elif rform is not None:
            key_errors.append("redcap_repeat_instrument is set but redcap_repeat_instance "
                              "is empty")
        row_key = (record_id, event or "", rform or "", rinst)
        if row_key in seen_rows:
            key_errors.append("a second row for the same record, event and instance")
        seen_rows.add(row_key)
        if key_errors:
            for message in key_errors:
                state.bad(ImportProblem.at(message + "; the row is not imported", where=where,
                                           record=record_id or None, event=event,
                                           instance=instance))
            continue
        if instance is not None:
            repeat_seen.setdefault((event, rform), None)
        if dag is not None:
            all_dags.setdefault(dag, None)
        if record_id in record_dag and record_dag[record_id] != dag and dag is not None:
            state.bad(ImportProblem.at("rows of one record name different data access groups",
                                       record=record_id, value=dag,
                                       allowed=str(record_dag[record_id])))
        elif record_dag.get(record_id) is None:
            record_dag[record_id] = dag
        entries = records.setdefault(record_id, {})
        for entry in _entries(row, columns, dictionary, record_id, event, rform, instance,
                              event_names.get(event or ""), state, hard_ranges):
            if entry.key in entries:
                state.bad(ImportProblem.at("form entered twice", record=record_id, event=event,
                                           instance=instance, field=entry.form))
            entries[entry.key] = entry
    na, escape = has_r_traces(rows)
    if (na and "NA" not in options.na_strings) or (escape and not options.decode_r_escapes):
        state.warn("cells look like a file R wrote ('NA' for empty, '<U+XXXX>' escapes); "
                   "read it with CsvOptions.written_by_r() if so", where="records file")
    if not repeating:
        repeating = tuple(RepeatSetting(e, f) for e, f in repeat_seen)
    return _finish(state, dictionary, title, events, arms, repeating, all_dags, records,
                   record_dag)


def _finish(state: _State, dictionary: Dictionary, title: str, events: Sequence[Event],
            arms: Sequence[Arm], repeating: Sequence[RepeatSetting],
            dags: dict[str, None], records: dict[str, dict[tuple[str | None, str, int | None],
                                                          FormEntry]],
            record_dag: dict[str, str | None]) -> tuple[Project, ImportReport]:
    if state.errors and state.policy == "all_or_nothing":
        raise RedcapImportError(ImportReport(tuple(state.errors), tuple(state.warnings)),
                                context="records")
    report = ImportReport((), tuple(state.warnings), tuple(state.errors))
    project = Project(
        title, dictionary, tuple(arms), tuple(events), tuple(repeating), tuple(dags),
        tuple(Record(rid, tuple(entries.values()), record_dag.get(rid))
              for rid, entries in records.items()),
    )
    return project, report


def _classify(header: list[str], dictionary: Dictionary, state: _State) -> _Columns:
    cols = _Columns()
    checkbox_names = {checkbox_column(f, c.code): (f, c.code) for f in dictionary
                      if f.field_type == "checkbox" for c in f.choices}
    forms = {f.name for f in dictionary.forms}
    record_set = False
    for i, raw in enumerate(header):
        name = raw.strip()
        if not name:
            state.warn("a column with an empty header (a row number added by another tool) "
                       "is ignored", where=f"records file column {i + 1}")
            continue
        if not record_set:
            cols.record, record_set = i, True
            if name != dictionary.record_id:
                state.warn(f"the first column {name!r} is used as the record id; the "
                           f"dictionary's first field is {dictionary.record_id!r}",
                           where="records file")
            continue
        if name in SPECIAL_COLUMNS:
            cols.special[name] = i
        elif name in checkbox_names:
            cols.checkboxes[i] = checkbox_names[name]
        elif name.endswith("_complete") and name[: -len("_complete")] in forms:
            cols.status[i] = name[: -len("_complete")]
        elif name in dictionary and dictionary[name].field_type not in ("checkbox",):
            cols.values[i] = dictionary[name]
        elif name == "redcap_survey_identifier" or name.endswith("_timestamp"):
            state.warn("survey column ignored", field=name, where="records file")
        else:
            state.bad(ImportProblem.at("column is not a field of the data dictionary; its "
                                       "values would be lost", field=name,
                                       where="records file"))
    return cols


def _entries(row: list[str], cols: _Columns, dictionary: Dictionary, record: str,
             event: str | None, rform: str | None, instance: int | None,
             event_def: Event | None, state: _State,
             hard_ranges: bool) -> list[FormEntry]:
    values: dict[str, dict[str, Value]] = {}
    data: set[str] = set()
    status: dict[str, int] = {}

    def where(f_name: str, value: object = None) -> dict[str, object]:
        return {"record": record, "event": event, "instance": instance, "field": f_name,
                "value": value}

    def allowed_form(form: str, f_name: str, text: str) -> bool:
        if rform is not None and form != rform:
            state.bad(ImportProblem.at(f"a value on form {form} in a row of repeating "
                                       f"instrument {rform}", **where(f_name, text)))  # type: ignore[arg-type]
            return False
        if event_def is not None and event_def.forms and form not in event_def.forms:
            state.bad(ImportProblem.at(f"form {form} is not designated to event {event}",
                                       **where(f_name, text)))  # type: ignore[arg-type]
            return False
        return True

    for i, f in cols.values.items():
        text = row[i]
        if text == "" or not allowed_form(f.form, f.name, text):
            continue
        result = validate_value(f, text)
        if isinstance(result, Problem):
            state.bad(ImportProblem.at(result.message, allowed=result.allowed,
                                       **where(f.name, text)))  # type: ignore[arg-type]
            continue
        rp = range_problem(f, result)
        if rp is not None:
            if hard_ranges:
                state.bad(ImportProblem.at(rp.message, allowed=rp.allowed,
                                           **where(f.name, text)))  # type: ignore[arg-type]
                continue
            state.warn(rp.message + " (REDCap ranges are soft: kept)", allowed=rp.allowed,
                       **where(f.name, text))
        values.setdefault(f.form, {})[f.name] = result
        data.add(f.form)
    checked: dict[str, set[str]] = {}
    for i, (f, code) in cols.checkboxes.items():
        text = row[i]
        if text == "":
            continue
        if text not in ("0", "1") or not allowed_form(f.form, f.name, text):
            if text not in ("0", "1"):
                state.bad(ImportProblem.at(f"checkbox option {code}: not 0 or 1",
                                           allowed="1 (checked) or 0 (unchecked)",
                                           **where(checkbox_column(f, code), text)))  # type: ignore[arg-type]
            continue
        chosen = checked.setdefault(f.name, set())
        if text == "1":
            chosen.add(code)
            data.add(f.form)
    for i, form in cols.status.items():
        text = row[i]
        if text == "" or not allowed_form(form, f"{form}_complete", text):
            continue
        if text not in _STATUS:
            state.bad(ImportProblem.at("form status is not 0, 1 or 2",
                                       allowed="0 (incomplete), 1 (unverified), 2 (complete)",
                                       **where(f"{form}_complete", text)))  # type: ignore[arg-type]
            continue
        status[form] = int(text)
        data.add(form)
    out: list[FormEntry] = []
    for form in (f.name for f in dictionary.forms):
        if form not in data:
            continue
        form_values = values.get(form, {})
        for name, codes in checked.items():
            if dictionary[name].form == form:
                form_values[name] = frozenset(codes)
        inst = instance if (rform is None or rform == form) else None
        out.append(FormEntry(form, dict(form_values), event, inst, status.get(form)))
        for f in dictionary.form_fields(form):
            if f.required and f.name not in form_values and f.name != dictionary.record_id:
                state.warn("required field is empty", **where(f.name))
    return out


def _table(source: Source, what: str, required: tuple[str, ...]) -> list[dict[str, str]]:
    rows = read_rows(source, what)
    if not rows:
        return []
    header = [h.strip() for h in rows[0]]
    missing = [c for c in required if c not in header]
    if missing:
        raise RedcapImportError(ImportReport((ImportProblem.at(
            f"the {what} lacks columns", value=missing, allowed=", ".join(required),
            where=what),)))
    return [dict(zip(header, [c.strip() for c in row], strict=False)) for row in rows[1:]]


def read_arms(source: Source) -> tuple[Arm, ...]:
    """REDCap's arms export (``arm_num,name``)."""
    out = []
    for i, row in enumerate(_table(source, "arms file", ("arm_num", "name")), start=2):
        if not row["arm_num"].isdigit():
            raise RedcapImportError(ImportReport((ImportProblem.at(
                "arm_num is not a number", value=row["arm_num"], where=f"arms file row {i}"),)))
        out.append(Arm(int(row["arm_num"]), row["name"]))
    return tuple(out)


def read_events(source: Source) -> tuple[Event, ...]:
    """REDCap's events export (``event_name,arm_num,unique_event_name,...``)."""
    out = []
    rows = _table(source, "events file", ("event_name", "arm_num", "unique_event_name"))
    for i, row in enumerate(rows, start=2):
        if not row["arm_num"].isdigit():
            raise RedcapImportError(ImportReport((ImportProblem.at(
                "arm_num is not a number", value=row["arm_num"],
                where=f"events file row {i}"),)))
        offset = row.get("day_offset", "")
        out.append(Event(row["unique_event_name"], row["event_name"], int(row["arm_num"]),
                         int(float(offset)) if re.fullmatch(r"-?\d+(\.0+)?", offset) else None,
                         (), row.get("event_id", "")))
    return tuple(out)


def read_form_events(source: Source) -> dict[str, tuple[str, ...]]:
    """REDCap's instrument-event mapping (``arm_num,unique_event_name,form``): forms by event."""
    out: dict[str, list[str]] = {}
    for row in _table(source, "instrument-event mapping", ("unique_event_name", "form")):
        out.setdefault(row["unique_event_name"], []).append(row["form"])
    return {k: tuple(v) for k, v in out.items()}


def read_repeating(source: Source) -> tuple[RepeatSetting, ...]:
    """REDCap's repeating instruments and events (``event_name,form_name,custom_form_label``)."""
    return tuple(RepeatSetting(row["event_name"] or None, row["form_name"] or None,
                               row.get("custom_form_label", ""))
                 for row in _table(source, "repeating instruments file",
                                   ("event_name", "form_name")))
