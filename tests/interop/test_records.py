"""Records: every data.csv and project.xml of the ten projects, with their specific problems."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest

from strokecell.interop import FormEntry, Project, RedcapImportError, RepeatSetting
from strokecell.interop.redcap import (
    CsvOptions,
    read_dictionary,
    read_project,
    read_project_xml,
    read_records,
)

from .conftest import PROJECTS, REDCAP, WRITTEN_BY_R

#: project: (records, form entries, warnings, skipped) of data.csv, read as a folder.
CSV_EXPECTED = {
    "simple": (5, 15, 4, 5), "longitudinal": (3, 40, 0, 0),
    "repeating-instruments": (2, 6, 0, 0), "checkboxes-1": (4, 8, 0, 0), "dag": (3, 3, 0, 0),
    "validation-types-1": (1, 1, 1, 0), "potentially-problematic-dictionary": (0, 0, 2, 0),
    "potentially-problematic-values": (2, 2, 0, 4), "clinical-trial-1": (500, 500, 0, 0),
    "russian": (3, 42, 1, 0),
}
#: project: (records, form entries, warnings, skipped) of project.xml.
XML_EXPECTED = {
    "simple": (5, 15, 4, 0), "longitudinal": (3, 40, 0, 0),
    "repeating-instruments": (2, 6, 0, 0), "checkboxes-1": (4, 7, 0, 0), "dag": (3, 3, 0, 0),
    "validation-types-1": (1, 1, 1, 0), "potentially-problematic-dictionary": (0, 0, 1, 0),
    "potentially-problematic-values": (2, 2, 0, 4), "clinical-trial-1": (500, 500, 0, 0),
    "russian": (3, 4, 0, 0),
}


def _options(name: str) -> CsvOptions | None:
    return CsvOptions.written_by_r() if name in WRITTEN_BY_R else None


def _counts(p: Project) -> tuple[int, int]:
    return len(p.records), sum(len(r.entries) for r in p.records)


@pytest.mark.parametrize("name", PROJECTS)
def test_each_records_file_imports(name: str) -> None:
    result = read_project(REDCAP / name, policy="skip_invalid", options=_options(name))
    report = result.report
    assert (*_counts(result.project), len(report.warnings), len(report.skipped)) == \
        CSV_EXPECTED[name], [str(p) for p in (*report.warnings, *report.skipped)]


@pytest.mark.parametrize("name", PROJECTS)
def test_each_project_xml_imports(name: str) -> None:
    result = read_project_xml(REDCAP / name / "project.xml", policy="skip_invalid")
    report = result.report
    assert (*_counts(result.project), len(report.warnings), len(report.skipped)) == \
        XML_EXPECTED[name], [str(p) for p in (*report.warnings, *report.skipped)]


def test_text_left_in_date_and_integer_fields_rejects_the_run() -> None:
    with pytest.raises(RedcapImportError) as caught:
        read_project(REDCAP / "potentially-problematic-values")
    report = caught.value.report
    found = sorted((p.record, p.field, p.value) for p in report.errors)
    assert found == [
        ("1", "date_before_validation", "before validation 1"),
        ("1", "integer_before_validation", "before validation 1"),
        ("2", "date_before_validation", "before validation 2"),
        ("2", "integer_before_validation", "before validation 1"),
    ]
    date_problem = next(p for p in report.errors if p.field == "date_before_validation")
    assert date_problem.allowed == "YYYY-MM-DD"
    assert set(report.by_record()) == {"1", "2"}
    assert "record 1" in str(caught.value) and "date_before_validation" in str(caught.value)


def test_skip_invalid_keeps_the_valid_values() -> None:
    result = read_project(REDCAP / "potentially-problematic-values", policy="skip_invalid")
    assert result.report.ok and len(result.report.skipped) == 4
    record = result.project.record("2")
    assert record is not None
    (entry,) = record.entries
    assert entry.values == {"time_1": "55:02"}  # plain text: any time-like text is kept
    assert entry.status == 2


def test_simple_booleans_in_a_radio_and_soft_ranges() -> None:
    with pytest.raises(RedcapImportError) as caught:
        read_project(REDCAP / "simple")
    errors = caught.value.report.errors
    assert {(p.record, p.field, p.value) for p in errors} == {
        ("1", "sex", "FALSE"), ("2", "sex", "TRUE"), ("3", "sex", "TRUE"),
        ("4", "sex", "FALSE"), ("5", "sex", "TRUE")}
    assert all(p.allowed == "0 (Female), 1 (Male)" for p in errors)
    warnings = caught.value.report.warnings
    assert {(p.record, p.field, p.value) for p in warnings} == {
        ("1", "height", "7"), ("1", "weight", "1"), ("2", "height", "6"), ("2", "weight", "1")}
    d = read_dictionary(REDCAP / "simple" / "dictionary.csv").dictionary
    with pytest.raises(RedcapImportError) as hard:
        read_records(REDCAP / "simple" / "data.csv", d, policy="all_or_nothing",
                     hard_ranges=True)
    assert len(hard.value.report.errors) == 9


def test_simple_values_are_typed() -> None:
    result = read_project(REDCAP / "simple", policy="skip_invalid")
    record = result.project.record("1")
    assert record is not None
    demo = record.entry("demographics")
    health = record.entry("health")
    race = record.entry("race_and_ethnicity")
    assert demo is not None and health is not None and race is not None
    assert demo.values["dob"] == date(2003, 8, 30)
    assert demo.values["address"] == "14 Rose Cottage St.\nKenning UK, 323232"
    assert health.values["bmi"] == Decimal("204.1") and health.values["weight"] == 1
    assert health.values["mugshot"] == "[document]"
    assert race.values["race"] == frozenset({"5"}) and race.status == 2
    assert race.values["ethnicity"] == "1" and health.status == 1


def test_checkboxes() -> None:
    result = read_project(REDCAP / "checkboxes-1")
    p = result.project
    r1, r2, r3, r4 = (p.record(str(i)) for i in range(1, 5))
    assert r1 is not None and r2 is not None and r3 is not None and r4 is not None
    e1 = r1.entry("form_2")
    assert e1 is not None
    assert e1.values["check_one"] == frozenset({"1"})
    assert e1.values["check_two"] == frozenset({"a", "c"})
    e2 = r2.entry("form_2")
    assert e2 is not None and e2.values["check_one"] == frozenset()
    assert e2.values["check_two"] == frozenset({"b", "d"}) and e2.status == 0
    e3 = r3.entry("form_2")
    assert e3 is not None and e3.values["check_one"] == frozenset({"1", "2", "3", "4"})
    # nothing ticked, status 0: REDCap's export writes 0 for every option
    assert r4.entry("form_2") == FormEntry(
        "form_2", {"check_one": frozenset(), "check_two": frozenset()}, None, None, 0)
    with pytest.raises(RedcapImportError, match="not 0 or 1"):
        text = (REDCAP / "checkboxes-1" / "data.csv").read_text().replace("\n1,0,1,", "\n1,0,2,")
        read_records(text, p.dictionary)


def test_longitudinal_events_and_arms() -> None:
    result = read_project(REDCAP / "longitudinal")
    p = result.project
    assert [a.name for a in p.arms] == ["Drug A", "Drug B"]
    assert len(p.events) == 12 and p.events[7].unique_name == "deadline_to_opt_ou_arm_2"
    assert p.events[0].forms == ("demographics", "contact_info", "baseline_data")
    record = p.record("304")
    assert record is not None
    assert {e.event for e in record.entries} <= {e.unique_name for e in p.events if e.arm == 2}
    visit = p.record("100")
    assert visit is not None
    lab = visit.entry("visit_lab_data", "visit_1_arm_1")
    assert lab is not None and lab.values["vld5"] == Decimal(".34")
    bad = (REDCAP / "longitudinal" / "data.csv").read_text().replace(
        "100,dose_1_arm_1", "100,dose_9_arm_1")
    with pytest.raises(RedcapImportError, match="unknown event 'dose_9_arm_1'"):
        read_records(bad, p.dictionary, events=p.events)


def test_repeating_instruments() -> None:
    p = read_project(REDCAP / "repeating-instruments").project
    assert p.repeating == (RepeatSetting(None, "bp", "[record_id]-[date_bp]"),)
    record = p.record("1")
    assert record is not None
    assert [e.instance for e in record.entries if e.form == "bp"] == [1, 2, 3]
    bp3 = record.entry("bp", None, 3)
    assert bp3 is not None and bp3.values["bp_systolic"] == 112
    demo = record.entry("demographics")
    assert demo is not None and demo.instance is None and demo.values["age"] == "8.9"
    csv_only = read_records(REDCAP / "repeating-instruments" / "data.csv", p.dictionary)[0]
    assert csv_only.repeating == (RepeatSetting(None, "bp"),)  # inferred from the rows


def test_data_access_groups_become_sites() -> None:
    p = read_project(REDCAP / "dag").project
    assert [(r.record_id, r.dag) for r in p.records] == [
        ("331-1", "daga"), ("331-2", "daga"), ("332-3", "dagb")]
    assert [(loc.oid, loc.name) for loc in p.locations] == [("daga", "dag-a"), ("dagb", "dag-b")]


def test_empty_header_column_is_ignored_with_a_warning() -> None:
    result = read_project(REDCAP / "russian", options=CsvOptions.written_by_r())
    (warning,) = result.report.warnings
    assert "empty header" in warning.message and warning.location.endswith("column 1")


def test_r_traces_are_errors_unless_declared() -> None:
    with pytest.raises(RedcapImportError) as caught:
        read_project(REDCAP / "russian")
    report = caught.value.report
    assert {p.value for p in report.errors} == {"NA"}
    assert any("written_by_r" in w.message for w in report.warnings)


def test_cyrillic_survives_in_xml_and_decoded_csv() -> None:
    from_xml = read_project_xml(REDCAP / "russian" / "project.xml").project
    from_csv = read_project(REDCAP / "russian", options=CsvOptions.written_by_r()).project
    expected = {"AAAA": "от сотрудницы", "BBBB": "мама и сестра", "CCCC": "подруга по общежитию"}
    for project in (from_xml, from_csv):
        for rid, text in expected.items():
            record = project.record(rid)
            assert record is not None
            screening = record.entry("screening")
            assert screening is not None and screening.values["recruitment_other"] == text
    # every value the XML holds, the R-written CSV holds too (it adds empty forms' status 0)
    for xr in from_xml.records:
        cr = from_csv.record(xr.record_id)
        assert cr is not None
        for e in xr.entries:
            other = cr.entry(e.form, e.event, e.instance)
            assert other is not None and dict(other.values) == dict(e.values)


def _squash(p: Project) -> dict[str, dict[object, dict[str, object]]]:
    out: dict[str, dict[object, dict[str, object]]] = {}
    for r in p.records:
        for e in r.entries:
            out.setdefault(r.record_id, {})[e.key] = {
                k: re.sub(r"\s+", " ", v) if isinstance(v, str) else v
                for k, v in e.values.items()}
    return out


@pytest.mark.parametrize("name", ["longitudinal", "repeating-instruments", "checkboxes-1",
                                  "dag", "clinical-trial-1", "potentially-problematic-values"])
def test_csv_and_xml_hold_the_same_records(name: str) -> None:
    csv = _squash(read_project(REDCAP / name, policy="skip_invalid").project)
    xml = _squash(read_project_xml(REDCAP / name / "project.xml",
                                   policy="skip_invalid").project)
    # the CSV export replaced line breaks in notes by spaces: values compared squashed
    if name == "checkboxes-1":
        # record 4's form_2 was never saved: the XML has no entry, the CSV has 0 everywhere
        assert csv["4"].pop((None, "form_2", None)) == {"check_one": frozenset(),
                                                        "check_two": frozenset()}
    assert csv == xml


def test_unknown_column_is_an_error_and_row_keys_are_checked() -> None:
    d = read_dictionary(REDCAP / "dag" / "dictionary.csv").dictionary
    text = "record_id,shoe_size,first_name\n1,42,Ann\n,0,Bob\n1,1,Ann\n"
    with pytest.raises(RedcapImportError) as caught:
        read_records(text, d)
    messages = sorted(p.message for p in caught.value.report.errors)
    assert any("not a field" in m for m in messages)
    assert any("record id is empty" in m for m in messages)
    assert any("second row" in m for m in messages)
    project, report = read_records(text, d, policy="skip_invalid")
    assert [r.record_id for r in project.records] == ["1"] and len(report.skipped) == 3


def test_report_serializes_for_a_command_line_report() -> None:
    import json

    result = read_project(REDCAP / "potentially-problematic-values", policy="skip_invalid")
    data = json.loads(json.dumps(result.report.to_dict()))
    assert data["errors"] == [] and len(data["skipped"]) == 4
    first = data["skipped"][0]
    assert (first["record"], first["field"], first["value"]) == (
        "1", "date_before_validation", "before validation 1")
    assert first["allowed"] == "YYYY-MM-DD"
