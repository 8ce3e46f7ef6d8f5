"""Data dictionary import: the real dictionaries of the ten projects, headers, choices, flags."""

from __future__ import annotations

import pytest

from strokecell.errors import InputError
from strokecell.interop import Choice, RedcapImportError
from strokecell.interop.redcap import (
    CsvOptions,
    parse_choices,
    read_dictionary,
    read_project_xml,
    write_dictionary,
)

from .conftest import PROJECTS, REDCAP

#: project: (fields, forms) of dictionary.csv (russian has none: read from project.xml).
EXPECTED = {
    "simple": (16, 3), "longitudinal": (95, 9), "repeating-instruments": (11, 2),
    "checkboxes-1": (4, 2), "dag": (15, 1), "validation-types-1": (50, 1),
    "potentially-problematic-dictionary": (6, 1), "potentially-problematic-values": (4, 1),
    "clinical-trial-1": (12, 1),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_dictionary_imports(name: str) -> None:
    result = read_dictionary(REDCAP / name / "dictionary.csv")
    d = result.dictionary
    assert (len(d), len(d.forms)) == EXPECTED[name]
    assert d.fields[0].name in ("record_id", "study_id")
    expected_warnings = {"validation-types-1": 1, "potentially-problematic-dictionary": 1}
    assert len(result.report.warnings) == expected_warnings.get(name, 0), result.report.warnings


def test_field_types_and_validation_menu() -> None:
    d = read_dictionary(REDCAP / "validation-types-1" / "dictionary.csv").dictionary
    types = {f.field_type for f in d}
    assert types == {"text", "calc", "checkbox", "descriptive", "dropdown", "file", "notes",
                     "radio", "slider", "sql", "truefalse", "yesno"}
    assert d["f_slider"].slider_labels == ("-1", "50", "101")
    assert (d["f_slider"].validation_min, d["f_slider"].validation_max) == ("-1", "101")
    assert d["f_calculated"].calculation == "3+4"
    assert d["f_sql"].calculation == "SELECT 1 as one;"
    assert d["f_signature"].validation == "signature"
    validations = {f.validation for f in d if f.field_type == "text"} - {""}
    assert len(validations) == 36
    assert {"date_dmy", "datetime_seconds_mdy", "number_3dp_comma_decimal", "time_mm_ss",
            "postalcode_french", "mrn_10d", "vmrn", "phone_australia"} <= validations


def test_sql_and_unknown_validation_warn_and_stay_text() -> None:
    result = read_dictionary(REDCAP / "validation-types-1" / "dictionary.csv")
    (warning,) = result.report.warnings
    assert warning.field == "f_sql" and "imported as text" in warning.message
    header = ('"Variable / Field Name","Form Name","Section Header","Field Type","Field Label",'
              '"Choices, Calculations, OR Slider Labels","Field Note",'
              '"Text Validation Type OR Show Slider Number"\n')
    odd = read_dictionary(header + "record_id,f,,text,ID,,,\nx,f,,text,X,,,my_regex\n")
    (w,) = odd.report.warnings
    assert w.field == "x" and w.value == "my_regex" and "plain text" in w.message
    assert odd.dictionary["x"].validation == "my_regex"  # kept for the export


def test_choices_with_commas_and_non_ascii() -> None:
    choices, complaints = parse_choices(
        "1, Smith, John | 2,Ünïcödé label|3, Нет / No| -1 , minus one|4")
    assert choices == (Choice("1", "Smith, John"), Choice("2", "Ünïcödé label"),
                       Choice("3", "Нет / No"), Choice("-1", "minus one"), Choice("4", "4"))
    assert len(complaints) == 1 and "'4'" in complaints[0]
    d = read_dictionary(REDCAP / "simple" / "dictionary.csv").dictionary
    assert d["race"].choices[2] == Choice("3", "Native Hawaiian or Other Pacific Islander")
    assert d["address"].label == "Street, City, State, ZIP"


def test_flags_and_branching_text() -> None:
    result = read_dictionary(REDCAP / "longitudinal" / "dictionary.csv")
    d = result.dictionary
    assert d["first_name"].identifier and not d["age"].identifier
    assert d["num_children"].branching_logic == '[sex] = "0" and [given_birth] = "1"'
    assert d["num_children"].validation_min == "0" and d["num_children"].validation_max == ""
    assert set(result.branching) == {"given_birth", "num_children"}
    assert d["gym"].matrix_group == "weekly_schedule"
    assert d["ethnicity"].custom_alignment == "LH"
    assert d["specify_mood"].slider_labels == ("Very sad", "Indifferent", "Very happy")
    xml = read_project_xml(REDCAP / "russian" / "project.xml").project.dictionary
    required = [f.name for f in xml if f.required]
    assert len(required) == 2


def test_problematic_dictionary_warns_on_mangled_text() -> None:
    result = read_dictionary(REDCAP / "potentially-problematic-dictionary" / "dictionary.csv")
    (warning,) = result.report.warnings
    assert warning.field == "v1" and "U+FFFD" in warning.message
    d = result.dictionary
    assert "−or even" in d["long_dash"].label  # U+2212 survives
    assert d["curly_quote_double_left"].annotation == (
        "https://github.com/OuhscBbmc/REDCapR/issues/290")


def test_api_headers_equal_ui_headers() -> None:
    ui = read_dictionary(REDCAP / "simple" / "dictionary.csv").dictionary
    api = read_dictionary(REDCAP / "simple" / "metadata.csv",
                          options=CsvOptions(frozenset({"NA"}))).dictionary
    # the two files are two versions of the project: in metadata.csv, age became a calc
    differ = [(a.name, a.field_type, b.field_type) for a, b in zip(ui, api, strict=True)
              if a != b]
    assert differ == [("age", "text", "calc")]
    assert api["age"].calculation == "rounddown(datediff([dob],'today','y'))"
    # without saying that R wrote it, "NA" would be an (unknown) validation type
    raw = read_dictionary(REDCAP / "simple" / "metadata.csv")
    assert any(w.value == "NA" for w in raw.report.warnings)
    assert read_dictionary(write_dictionary(ui, api_headers=True)).dictionary == ui


@pytest.mark.parametrize("name", PROJECTS)
def test_project_xml_dictionary_matches_csv(name: str) -> None:
    xml = read_project_xml(REDCAP / name / "project.xml", policy="skip_invalid")
    d = xml.project.dictionary
    if name == "russian":
        assert (len(d), len(d.forms)) == (343, 14)
        assert d["recruitment_through"].choices[0] == Choice(
            "1", "от другой участницы или от знакомых, которые не участвовали в проекте / from "
            "another participant or from friends who were not involved in the project")
        return
    csv = read_dictionary(REDCAP / name / "dictionary.csv").dictionary
    same = {"checkboxes-1", "dag", "repeating-instruments", "clinical-trial-1",
            "potentially-problematic-values", "potentially-problematic-dictionary"}
    by_name = {f.name: f for f in d}
    for f in csv:
        if name == "validation-types-1" and f.name in ("f_slider", "f_sql"):
            continue  # the XML has no slider range and no SQL text
        x = by_name[f.name]
        assert (x.field_type, x.form, x.choices, x.validation, x.branching_logic,
                x.calculation, x.identifier) == (
            f.field_type, f.form, f.choices, f.validation, f.branching_logic, f.calculation,
            f.identifier), f.name
        if name in same:
            assert (x.validation_min, x.validation_max, x.label) == (
                f.validation_min, f.validation_max, f.label), f.name


def test_dictionary_errors_reject() -> None:
    header = ('"Variable / Field Name","Form Name","Section Header","Field Type","Field Label",'
              '"Choices, Calculations, OR Slider Labels"\n')
    with pytest.raises(RedcapImportError) as caught:
        read_dictionary(header + "record_id,f,,text,ID,\nrecord_id,f,,text,Again,\n"
                        "a,f,,textbox,A,\nb,f,,radio,B,\nc,f,,calc,C,\n")
    messages = {(p.field, p.message.split(";")[0]) for p in caught.value.report.errors}
    assert messages == {("record_id", "duplicate field name"), ("a", "unknown field type"),
                        ("b", "a radio field needs choices"), ("c", "a calc field needs a formula")}
    with pytest.raises(InputError, match="not a REDCap data dictionary"):
        read_dictionary("name,type\nx,text\n")
