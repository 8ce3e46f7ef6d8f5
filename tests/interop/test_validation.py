"""Field-level validation: every REDCap field and validation type, nothing coerced."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

import pytest

from strokecell.errors import Problem
from strokecell.interop import Choice, Field
from strokecell.interop.redcap import format_value, range_problem, validate_value


def text(validation: str, low: str = "", high: str = "") -> Field:
    return Field("f", "form", "text", "F", validation=validation, validation_min=low,
                 validation_max=high)


@pytest.mark.parametrize(("validation", "raw", "expected"), [
    ("date_ymd", "2003-08-30", date(2003, 8, 30)),
    ("date_mdy", "08-30-2003", date(2003, 8, 30)),
    ("date_mdy", "08/30/2003", date(2003, 8, 30)),
    ("date_mdy", "2003-08-30", date(2003, 8, 30)),  # REDCap's storage form
    ("date_dmy", "30-08-2003", date(2003, 8, 30)),
    ("datetime_ymd", "2003-08-30 14:05", datetime(2003, 8, 30, 14, 5)),
    ("datetime_dmy", "30-08-2003 14:05", datetime(2003, 8, 30, 14, 5)),
    ("datetime_seconds_mdy", "08-30-2003 14:05:09", datetime(2003, 8, 30, 14, 5, 9)),
    ("datetime_seconds_ymd", "2003-08-30 14:05:09", datetime(2003, 8, 30, 14, 5, 9)),
    ("time", "14:05", time(14, 5)),
    ("time_hh_mm_ss", "14:05:09", time(14, 5, 9)),
    ("time_mm_ss", "59:09", time(0, 59, 9)),
    ("integer", "-42", -42),
    ("number", "204.1", Decimal("204.1")),
    ("number", ".34", Decimal("0.34")),
    ("number", "1e3", Decimal("1E+3")),
    ("number_1dp", "7.5", Decimal("7.5")),
    ("number_2dp", "1.50", Decimal("1.50")),
    ("number_4dp", "-0.1234", Decimal("-0.1234")),
    ("number_comma_decimal", "3,14", Decimal("3.14")),
    ("number_2dp_comma_decimal", "3,14", Decimal("3.14")),
    ("email", "nutty@mouse.com", "nutty@mouse.com"),
    ("phone", "(405) 321-1111", "(405) 321-1111"),
    ("zipcode", "73402", "73402"),
    ("zipcode", "73402-1234", "73402-1234"),
    ("alpha_only", "abcXYZ", "abcXYZ"),
    ("ssn", "123-45-6789", "123-45-6789"),
    ("mrn_10d", "0123456789", "0123456789"),
    ("vmrn", "12345", "12345"),
    ("postalcode_canada", "K1A 0B1", "K1A 0B1"),
    ("postalcode_germany", "10115", "10115"),
    ("postalcode_french", "75001", "75001"),
    ("postalcode_australia", "2000", "2000"),
    ("", "anything at all", "anything at all"),
    ("my_custom_type", "kept as text", "kept as text"),
])
def test_text_validation_types_accept_and_type(validation: str, raw: str,
                                               expected: object) -> None:
    assert validate_value(text(validation), raw) == expected


@pytest.mark.parametrize(("validation", "raw"), [
    ("date_ymd", "before validation 1"),
    ("date_ymd", "2003-02-30"),
    ("date_ymd", "30-08-2003"),
    ("date_mdy", "30-08-2003"),
    ("date_dmy", "08-30-2003"),
    ("datetime_ymd", "2003-08-30"),
    ("datetime_ymd", "2003-08-30 14:05:09"),
    ("datetime_seconds_ymd", "2003-08-30 14:05"),
    ("time", "25:00"),
    ("time", "14:05:09"),
    ("time_mm_ss", "60:00"),
    ("integer", "7.5"),
    ("integer", "before validation 1"),
    ("integer", "1,000"),
    ("number", "12,5"),
    ("number", "ten"),
    ("number_1dp", "7"),
    ("number_2dp", "1.5"),
    ("number_comma_decimal", "3.14"),
    ("number_1dp_comma_decimal", "3.1"),
    ("email", "tummy@"),
    ("phone", "321-1111"),
    ("zipcode", "1234"),
    ("alpha_only", "abc1"),
    ("ssn", "123456789"),
    ("mrn_10d", "123"),
    ("postalcode_canada", "12345"),
])
def test_text_validation_types_reject(validation: str, raw: str) -> None:
    problem = validate_value(text(validation), raw)
    assert isinstance(problem, Problem)
    assert problem.location == "f" and problem.value == raw and problem.allowed


def test_choices_booleans_slider_calc_descriptive() -> None:
    radio = Field("sex", "d", "radio", "Gender", choices=(Choice("0", "F"), Choice("1", "M")))
    assert validate_value(radio, "1") == "1"
    bad = validate_value(radio, "TRUE")
    assert isinstance(bad, Problem) and "0 (F), 1 (M)" in (bad.allowed or "")
    letters = Field("c", "d", "dropdown", "C", choices=(Choice("a", "A"),))
    assert validate_value(letters, "a") == "a"
    assert isinstance(validate_value(letters, "A"), Problem)  # codes are exact
    yesno = Field("y", "d", "yesno", "Y")
    truefalse = Field("t", "d", "truefalse", "T")
    assert validate_value(yesno, "1") is True and validate_value(truefalse, "0") is False
    for raw in ("yes", "TRUE", "2", " 1"):
        assert isinstance(validate_value(yesno, raw), Problem)
    slider = Field("s", "d", "slider", "S")
    assert validate_value(slider, "100") == 100
    assert isinstance(validate_value(slider, "101"), Problem)
    assert isinstance(validate_value(slider, "50.5"), Problem)
    wide = Field("s", "d", "slider", "S", validation_min="-1", validation_max="101")
    assert validate_value(wide, "-1") == -1 and validate_value(wide, "101") == 101
    calc = Field("bmi", "d", "calc", "BMI", calculation="[w]/[h]")
    assert validate_value(calc, "31.3") == Decimal("31.3")
    assert isinstance(validate_value(calc, "n/a"), Problem)
    assert isinstance(validate_value(Field("x", "d", "descriptive", "X"), "x"), Problem)
    checkbox = Field("c", "d", "checkbox", "C", choices=(Choice("1", "one"),))
    assert isinstance(validate_value(checkbox, "1"), Problem)  # only as c___1 columns
    for kind in ("notes", "file", "sql"):
        assert validate_value(Field("n", "d", kind, "N"), "free\ntext") == "free\ntext"


def test_ranges_are_reported_not_applied() -> None:
    height = text("number", "130", "215")
    value = validate_value(height, "7")
    assert value == Decimal(7)
    problem = range_problem(height, value)
    assert problem is not None and problem.allowed == "130 to 215"
    assert range_problem(height, Decimal(180)) is None
    dob = text("date_ymd", "1900-01-01", "2029-12-31")
    assert range_problem(dob, date(1899, 12, 31)) is not None
    assert range_problem(dob, date(1991, 5, 13)) is None
    assert range_problem(text("date_ymd", "", "today"), date(2999, 1, 1)) is not None
    assert range_problem(text("integer", "0"), -1) is not None


@pytest.mark.parametrize(("validation", "raw"), [
    ("date_mdy", "2003-08-30"), ("datetime_seconds_dmy", "2003-08-30 14:05:09"),
    ("time_mm_ss", "05:09"), ("number_2dp_comma_decimal", "3,10"), ("number_2dp", "1.50"),
])
def test_format_value_writes_storage_form(validation: str, raw: str) -> None:
    f = text(validation)
    value = validate_value(f, raw)
    assert not isinstance(value, Problem)
    assert format_value(f, value) == raw
