"""REDCap export: a data dictionary CSV and a records CSV (plus events and arms) that REDCap's
Data Dictionary upload and Data Import Tool accept, from the neutral model.

Import, export and import again gives the same fields (types, choices, validation, ranges,
branching logic text, calc formulas) and the same typed values. Values are written in REDCap's
storage form (dates ``YYYY-MM-DD``, numbers with a point unless the field uses a comma).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from pathlib import Path

from strokecell.interop._model import Dictionary, Field, FormEntry, Project
from strokecell.interop.redcap._dictionary import API_HEADERS, UI_HEADERS
from strokecell.interop.redcap._records import checkbox_column
from strokecell.interop.redcap._validation import format_value

__all__ = [
    "record_columns",
    "write_arms",
    "write_dictionary",
    "write_events",
    "write_form_events",
    "write_project",
    "write_records",
    "write_repeating",
]


def _csv(rows: Iterable[Sequence[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows(rows)
    return buffer.getvalue()


def _special(f: Field) -> str:
    if f.field_type in ("dropdown", "radio", "checkbox"):
        return " | ".join(f"{c.code}, {c.label}" for c in f.choices)
    if f.field_type == "slider":
        return " | ".join(f.slider_labels)
    if f.field_type in ("calc", "sql"):
        return f.calculation
    return ""


def write_dictionary(dictionary: Dictionary, *, api_headers: bool = False) -> str:
    """The 18-column data dictionary CSV (REDCap's UI headers, or the API's keys)."""
    rows: list[Sequence[str]] = [API_HEADERS if api_headers else UI_HEADERS]
    for f in dictionary:
        rows.append([
            f.name, f.form, f.section_header, f.field_type, f.label, _special(f), f.field_note,
            f.validation, f.validation_min, f.validation_max, "y" if f.identifier else "",
            f.branching_logic, "y" if f.required else "", f.custom_alignment,
            f.question_number, f.matrix_group, "y" if f.matrix_ranking else "", f.annotation,
        ])
    return _csv(rows)


def record_columns(project: Project) -> list[str]:
    """The header of the records CSV for ``project``."""
    d = project.dictionary
    columns = [d.record_id]
    if project.longitudinal:
        columns.append("redcap_event_name")
    if project.repeating or any(e.instance is not None for r in project.records
                                for e in r.entries):
        columns += ["redcap_repeat_instrument", "redcap_repeat_instance"]
    if project.dags or any(r.dag for r in project.records):
        columns.append("redcap_data_access_group")
    for form in d.forms:
        for f in d.form_fields(form.name):
            if f.name == d.record_id or f.field_type == "descriptive":
                continue
            if f.field_type == "checkbox":
                columns += [checkbox_column(f, c.code) for c in f.choices]
            else:
                columns.append(f.name)
        columns.append(f"{form.name}_complete")
    return columns


def write_records(project: Project) -> str:
    """The flat records CSV: one row per record, event and repeat instance."""
    d = project.dictionary
    columns = record_columns(project)
    index = {c: i for i, c in enumerate(columns)}
    event_order = {e.unique_name: i for i, e in enumerate(project.events)}
    rows: list[Sequence[str]] = [columns]
    for record in project.records:
        grouped: dict[tuple[int, str, str, int], list[str]] = {}
        for entry in record.entries:
            rform = ""
            if entry.instance is not None and project.is_repeating(entry.form, entry.event) \
                    and any(s.form == entry.form for s in project.repeating):
                rform = entry.form
            key = (event_order.get(entry.event or "", -1), entry.event or "", rform,
                   entry.instance or 0)
            row = grouped.get(key)
            if row is None:
                row = grouped[key] = _blank(index, record.record_id, entry, rform, record.dag)
            _fill(row, index, d, entry)
        rows.extend(grouped[k] for k in sorted(grouped))
    return _csv(rows)


def _blank(index: dict[str, int], record_id: str, entry: FormEntry, rform: str,
           dag: str | None) -> list[str]:
    row = [""] * len(index)
    row[0] = record_id
    if "redcap_event_name" in index:
        row[index["redcap_event_name"]] = entry.event or ""
    if "redcap_repeat_instrument" in index:
        row[index["redcap_repeat_instrument"]] = rform
        row[index["redcap_repeat_instance"]] = "" if entry.instance is None else str(
            entry.instance)
    if "redcap_data_access_group" in index:
        row[index["redcap_data_access_group"]] = dag or ""
    return row


def _fill(row: list[str], index: dict[str, int], d: Dictionary, entry: FormEntry) -> None:
    for name, value in entry.values.items():
        f = d.get(name)
        if f is None:
            continue
        if f.field_type == "checkbox" and isinstance(value, frozenset):
            for c in f.choices:
                row[index[checkbox_column(f, c.code)]] = "1" if c.code in value else "0"
        elif name in index:
            row[index[name]] = format_value(f, value)
    if entry.status is not None:
        row[index[f"{entry.form}_complete"]] = str(entry.status)


def write_events(project: Project) -> str:
    """REDCap's events CSV (``event_name,arm_num,unique_event_name,...``)."""
    rows: list[Sequence[str]] = [("event_name", "arm_num", "day_offset", "unique_event_name",
                                  "custom_event_label", "event_id")]
    for e in project.events:
        rows.append((e.label, str(e.arm), "" if e.day_offset is None else str(e.day_offset),
                     e.unique_name, "", e.event_id))
    return _csv(rows)


def write_arms(project: Project) -> str:
    """REDCap's arms CSV (``arm_num,name``)."""
    return _csv([("arm_num", "name"), *((str(a.number), a.name) for a in project.arms)])


def write_form_events(project: Project) -> str:
    """REDCap's instrument-event mapping CSV (``arm_num,unique_event_name,form``)."""
    rows: list[Sequence[str]] = [("arm_num", "unique_event_name", "form")]
    rows += [(str(e.arm), e.unique_name, form) for e in project.events for form in e.forms]
    return _csv(rows)


def write_repeating(project: Project) -> str:
    """REDCap's repeating instruments and events CSV (``event_name,form_name,
    custom_form_label``; ``form_name`` empty for a repeating event)."""
    rows: list[Sequence[str]] = [("event_name", "form_name", "custom_form_label")]
    rows += [(s.event or "", s.form or "", s.label) for s in project.repeating]
    return _csv(rows)


def write_project(project: Project, folder: Path) -> list[Path]:
    """Write ``dictionary.csv``, ``data.csv``, ``repeating.csv`` when forms or events repeat,
    and, when longitudinal, ``event.csv``, ``arm.csv`` and ``form_event.csv`` into ``folder``;
    return the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {"dictionary.csv": write_dictionary(project.dictionary),
             "data.csv": write_records(project)}
    if project.repeating:
        files["repeating.csv"] = write_repeating(project)
    if project.longitudinal:
        files["event.csv"] = write_events(project)
        files["arm.csv"] = write_arms(project)
        if any(e.forms for e in project.events):
            files["form_event.csv"] = write_form_events(project)
    paths = []
    for name, text in files.items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths
