"""Quantity parsing: the forms papers use are accepted, anything ambiguous is refused."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strokecell.errors import UnitError
from strokecell.protocol import parse_quantity
from strokecell.protocol.units import KINDS, format_count


@pytest.mark.parametrize(("text", "kind", "expected"), [
    ("2.0e7 cells/mL", "concentration", 2.0e7),
    ("2.0×10^7/mL", "concentration", 2.0e7),           # count per volume, read as cells
    ("2.0×10⁷ cells/mL", "concentration", 2.0e7),      # superscript exponent
    ("2.0 x10^7 cells/mL", "concentration", 2.0e7),
    ("2.0 × 10^7 cells per mL", "concentration", 2.0e7),
    ("2.0×10⁷ L⁻¹", "concentration", 2.0e4),           # literally per litre: 2e7 / 1000 mL
    ("2.0e10 cells/L", "concentration", 2.0e7),
    ("2e4 cells/µL", "concentration", 2.0e7),          # micro sign
    ("2e4 cells/μL", "concentration", 2.0e7),          # Greek mu
    ("1.0×10⁶ cells/kg", "dose_per_kg", 1.0e6),
    ("1e3 cells/g", "dose_per_kg", 1.0e6),
    ("10^6/kg", "dose_per_kg", 1.0e6),
    ("3.0e7 cells", "count", 3.0e7),
    ("1.5 mL", "volume", 1.5),
    ("250 µL", "volume", 0.25),
    ("250 uL", "volume", 0.25),
    ("0.25 L", "volume", 250.0),
    ("2.0×10⁻³ mL", "volume", 2.0e-3),
    ("2.0×10^\u22123 mL", "volume", 2.0e-3),           # unicode minus
    ("0.5 mL/min", "rate", 0.5),
    ("30 mL/h", "rate", 0.5),
    ("70 kg", "mass", 70.0),
])
def test_accepted_forms(text: str, kind: str, expected: float) -> None:
    measured = parse_quantity(text, kind, "f")
    assert measured.value == pytest.approx(expected, rel=1e-12)
    assert measured.kind == kind and measured.text == text


def test_per_litre_is_taken_literally_and_remembered() -> None:
    # "2.0×10⁷ L⁻¹" is 2.0×10⁴ per mL: the factor 1000 between written and value is kept so
    # the dose engine can point at the likely slip, but the number is not changed.
    measured = parse_quantity("2.0×10⁷ L⁻¹", "concentration", "dose.concentration")
    assert measured.written == 2.0e7
    assert measured.conversion_factor == pytest.approx(1000.0)


@pytest.mark.parametrize(("value", "kind", "fragment"), [
    ("1.5", "volume", "no unit"),
    (1.5, "volume", "no unit"),
    ("2.0e7", "concentration", "no unit"),
    ("3e7", "count", "no unit"),
    ("1.5 mL", "concentration", "not cells per volume"),
    ("2e7 cells/mL", "volume", "not a volume"),
    ("0.5 mL", "rate", "not a volume per time"),
    ("1e6 mL/kg", "dose_per_kg", "not cells per body mass"),
    ("3e7 %", "count", "dimensionless"),
    ("2 furlongs", "volume", "not a volume"),
    ("2 blorps", "volume", "unknown unit"),
    ("abc mL", "volume", "does not start with a number"),
    ("-1 mL", "volume", "positive"),
    ("0 mL", "volume", "positive"),
    ("inf mL", "volume", "number"),
    (None, "volume", "text with a unit"),
    (True, "volume", "text with a unit"),
    (["1 mL"], "volume", "text with a unit"),
])
def test_rejections_name_field_and_expected_dimension(value: object, kind: str,
                                                      fragment: str) -> None:
    with pytest.raises(UnitError) as info:
        parse_quantity(value, kind, "arms[0].dose.x")
    (problem,) = info.value.problems
    assert problem.location == "arms[0].dose.x"
    assert fragment in problem.message
    assert problem.allowed and KINDS[kind].description in problem.allowed


def test_unknown_kind_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown quantity kind"):
        parse_quantity("1 mL", "weight", "f")


@pytest.mark.parametrize(("value", "text"), [
    (3.0e4, "3.0×10⁴"), (2.1e8, "2.1×10⁸"), (99_999_999, "1.0×10⁸"), (5, "5"),
    (250, "250"), (1.5e-3, "1.5×10⁻³"),
])
def test_format_count(value: float, text: str) -> None:
    assert format_count(value) == text


positive = st.floats(min_value=1e-6, max_value=1e12, allow_nan=False, allow_infinity=False)


# No deadline: the first example may build the pint registry (a one-off ~0.2 s).
@settings(deadline=None)
@given(value=positive, kind=st.sampled_from(sorted(KINDS)))
def test_str_round_trips(value: float, kind: str) -> None:
    measured = parse_quantity(f"{value!r} {KINDS[kind].example.split(' ', 1)[1]}", kind, "f")
    again = parse_quantity(str(measured), kind, "f")
    assert math.isclose(again.value, measured.value, rel_tol=1e-12)


# No deadline: the first example may build the pint registry (a one-off ~0.2 s).
@settings(deadline=None)
@given(mantissa=st.floats(min_value=1.0, max_value=9.9), exponent=st.integers(-3, 12))
def test_typographic_exponents_agree_with_e_notation(mantissa: float, exponent: int) -> None:
    superscript = str(exponent).translate(str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻"))
    plain = parse_quantity(f"{mantissa}e{exponent} cells/mL", "concentration", "f").value
    for text in (f"{mantissa}×10^{exponent} cells/mL", f"{mantissa}×10{superscript} cells/mL",
                 f"{mantissa} x10^{exponent}/mL", f"{mantissa}*10^{exponent} cells/mL"):
        assert math.isclose(parse_quantity(text, "concentration", "f").value, plain,
                            rel_tol=1e-12)
