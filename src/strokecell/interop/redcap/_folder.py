"""One REDCap project from a folder (or a project XML file), as the import command reads it.

A folder holds ``data.csv`` with ``dictionary.csv`` or ``project.xml`` or both, optionally
``event.csv`` and ``arm.csv``, and, as our export writes them, ``form_event.csv`` (REDCap's
instrument-event mapping) and ``repeating.csv`` (repeating instruments and events).

The dictionary comes from ``dictionary.csv`` when there is one, else from the project XML;
events and arms from ``event.csv``/``arm.csv``, else from the XML; records from ``data.csv``,
else from the XML. What only the XML knows (repeating settings, data
access group names, which forms each event holds, the title) is taken from it when present.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from strokecell.errors import InputError, Problem
from strokecell.interop._model import Event, ImportReport, Project
from strokecell.interop.redcap._branching import Logic
from strokecell.interop.redcap._csv import CsvOptions
from strokecell.interop.redcap._dictionary import read_dictionary
from strokecell.interop.redcap._project_xml import ProjectXml, read_project_xml
from strokecell.interop.redcap._records import (
    Policy,
    read_arms,
    read_events,
    read_form_events,
    read_records,
    read_repeating,
)

__all__ = ["ImportResult", "read_project"]


@dataclass(frozen=True)
class ImportResult:
    """A parsed project, the import report, and the parsed logic by field."""

    project: Project
    report: ImportReport
    branching: dict[str, Logic] = field(default_factory=dict)
    calculations: dict[str, Logic] = field(default_factory=dict)


def read_project(path: Path, *, policy: Policy = "all_or_nothing",
                 options: CsvOptions | None = None, hard_ranges: bool = False) -> ImportResult:
    """Read a REDCap project folder or project XML file; all or nothing unless
    ``policy="skip_invalid"`` (then ``report.skipped`` lists what was left out)."""
    if path.is_file():
        px = read_project_xml(path, policy=policy, hard_ranges=hard_ranges)
        return ImportResult(px.project, px.report, px.metadata.branching,
                            px.metadata.calculations)
    if not path.is_dir():
        raise InputError(Problem(str(path), "no such folder or file"))
    xml_path = path / "project.xml"
    dict_path = path / "dictionary.csv"
    data_path = path / "data.csv"
    if not (xml_path.exists() or dict_path.exists()):
        raise InputError(Problem(str(path), "neither dictionary.csv nor project.xml",
                                 allowed="a folder with data.csv and dictionary.csv or "
                                 "project.xml"))
    xml: ProjectXml | None = None
    if xml_path.exists():
        xml = read_project_xml(xml_path, policy="skip_invalid", hard_ranges=hard_ranges)
    if xml is None or dict_path.exists():
        meta = read_dictionary(dict_path, options=options)
        dictionary, report = meta.dictionary, meta.report
        branching, calculations = meta.branching, meta.calculations
        if xml is not None:
            dictionary = replace(dictionary, form_labels=xml.project.dictionary.form_labels)
    elif xml is not None:
        dictionary, report = xml.project.dictionary, xml.metadata.report
        branching, calculations = xml.metadata.branching, xml.metadata.calculations
    events: tuple[Event, ...] = xml.project.events if xml else ()
    arms = xml.project.arms if xml else ()
    if (path / "event.csv").exists():
        forms = {e.unique_name: e.forms for e in events}
        events = tuple(replace(e, forms=forms.get(e.unique_name, ()))
                       for e in read_events(path / "event.csv"))
    if (path / "arm.csv").exists():
        arms = read_arms(path / "arm.csv")
    if (path / "form_event.csv").exists():
        mapping = read_form_events(path / "form_event.csv")
        events = tuple(replace(e, forms=mapping.get(e.unique_name, ())) for e in events)
    repeating = xml.project.repeating if xml else ()
    if (path / "repeating.csv").exists():
        repeating = read_repeating(path / "repeating.csv")
    if not data_path.exists():
        if xml is None:
            raise InputError(Problem(str(path), "no data.csv and no project.xml"))
        if policy == "all_or_nothing":
            xml = read_project_xml(xml_path, policy=policy, hard_ranges=hard_ranges)
        return ImportResult(xml.project, xml.report, xml.metadata.branching,
                            xml.metadata.calculations)
    project, records_report = read_records(
        data_path, dictionary, events=events, arms=arms,
        repeating=repeating,
        dags=xml.project.dags if xml else (), title=xml.project.title if xml else path.name,
        policy=policy, options=options, hard_ranges=hard_ranges)
    if xml is not None:
        project = replace(project, locations=xml.project.locations, oid=xml.project.oid)
    return ImportResult(project, report.merged(records_report), branching, calculations)
