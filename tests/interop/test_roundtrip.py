"""REDCap round trip: import, export, import again gives the same project."""

from __future__ import annotations

from pathlib import Path

import pytest

from strokecell.interop import Project
from strokecell.interop.redcap import (
    CsvOptions,
    read_dictionary,
    read_project,
    read_project_xml,
    read_records,
    write_dictionary,
    write_project,
    write_records,
)

from .conftest import PROJECTS, REDCAP, WRITTEN_BY_R


def _same(a: Project, b: Project) -> None:
    assert b.dictionary == a.dictionary  # fields, types, choices, validation, logic text
    assert [f.validation for f in b.dictionary] == [f.validation for f in a.dictionary]
    assert b.records == a.records  # subjects, DAGs, events, instances, typed values, status
    assert (b.events, b.arms, b.repeating) == (a.events, a.arms, a.repeating)


@pytest.mark.parametrize("name", PROJECTS)
def test_folder_round_trip(name: str, tmp_path: Path) -> None:
    options = CsvOptions.written_by_r() if name in WRITTEN_BY_R else None
    first = read_project(REDCAP / name, policy="skip_invalid", options=options)
    written = write_project(first.project, tmp_path)
    assert {p.name for p in written} >= {"dictionary.csv", "data.csv"}
    (tmp_path / "project.xml").unlink(missing_ok=True)
    again = read_project(tmp_path)  # all or nothing: our own export has no invalid value
    assert again.report.skipped == ()
    _same(first.project, again.project)
    assert again.branching == first.branching


@pytest.mark.parametrize("name", PROJECTS)
def test_project_xml_round_trip_through_csv(name: str) -> None:
    first = read_project_xml(REDCAP / name / "project.xml", policy="skip_invalid").project
    dictionary = read_dictionary(write_dictionary(first.dictionary)).dictionary
    again, report = read_records(write_records(first), dictionary, events=first.events,
                                 arms=first.arms, repeating=first.repeating)
    assert not report.skipped
    _same(first, again)


def test_cyrillic_written_as_utf8(tmp_path: Path) -> None:
    project = read_project_xml(REDCAP / "russian" / "project.xml").project
    write_project(project, tmp_path)
    data = (tmp_path / "data.csv").read_text(encoding="utf-8")
    assert "подруга по общежитию" in data and "<U+" not in data
    assert "Н/О / N/A" in (tmp_path / "dictionary.csv").read_text(encoding="utf-8")


def test_export_layout_is_redcaps(tmp_path: Path) -> None:
    project = read_project(REDCAP / "longitudinal").project
    write_project(project, tmp_path)
    header = (tmp_path / "data.csv").read_text().splitlines()[0].split(",")
    assert header[:2] == ["study_id", "redcap_event_name"]
    assert "gym___0" in header and "demographics_complete" in header
    events = (tmp_path / "event.csv").read_text().splitlines()
    assert events[1] == "Enrollment,1,,enrollment_arm_1,,2888"  # event.csv has no offsets
    mapping = (tmp_path / "form_event.csv").read_text().splitlines()
    assert mapping[:2] == ["arm_num,unique_event_name,form", "1,enrollment_arm_1,demographics"]
    rep = read_project(REDCAP / "repeating-instruments").project
    lines = write_records(rep).splitlines()
    assert lines[0].startswith("record_id,redcap_repeat_instrument,redcap_repeat_instance,")
    assert lines[2].startswith("1,bp,1,")
    write_project(rep, tmp_path / "rep")
    assert (tmp_path / "rep" / "repeating.csv").read_text().splitlines() == [
        "event_name,form_name,custom_form_label", ",bp,[record_id]-[date_bp]"]
