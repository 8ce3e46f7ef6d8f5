"""Biomarker panel: the nine analytes of the two mechanisms and lab-unit conversions."""

from __future__ import annotations

import pytest

from strokecell.errors import InputError, NotFoundError, UnitError
from strokecell.instruments import biomarker_panel, convert_biomarker


def test_panel_has_both_mechanisms() -> None:
    panel = biomarker_panel()
    up = {b.abbreviation for b in panel.values() if b.direction == "up"}
    down = {b.abbreviation for b in panel.values() if b.direction == "down"}
    # DESIGN.md: BDNF, NGF, NT-3, NT-4, VEGF up; Nogo-A, MAG, OMgp, caspase-3 down.
    assert up == {"BDNF", "NGF", "NT-3", "NT-4", "VEGF"}
    assert down == {"Nogo-A", "MAG", "OMgp", "caspase-3"}


# 1 ng/mL = 1000 pg/mL = 1 µg/L = 1000 ng/L (SI prefixes).
@pytest.mark.parametrize(("value", "unit", "to", "expected"), [
    (25, "ng/mL", "pg/mL", 25000.0),
    (1500, "ng/L", "pg/mL", 1500.0),
    (2, "µg/L", "ng/mL", 2.0),
    (2, "ug/L", "ng/mL", 2.0),
    (2, "μg/L", "ng/mL", 2.0),
    (350, "pg/ml", "ng/mL", 0.35),
    ("0.35", "ng/mL", "ng/L", 350.0),
])
def test_conversions(value: float | str, unit: str, to: str, expected: float) -> None:
    converted = convert_biomarker("bdnf", value, unit, to=to)
    assert converted.value == pytest.approx(expected, rel=1e-12)
    assert converted.unit == to.replace("ug/L", "µg/L")


def test_default_target_is_the_canonical_unit() -> None:
    assert convert_biomarker("vegf", 0.1, "ng/mL").to_dict() == {
        "biomarker": "vegf", "value": 100.0, "unit": "pg/mL"}
    assert convert_biomarker("caspase3", 1, "ng/mL").unit == "ng/mL"


@pytest.mark.parametrize("unit", [None, "", "pmol/L", "mg/dL", "pg", "PG/ML", "ng/ mL"])
def test_missing_or_unknown_unit_names_field_value_and_allowed(unit: str | None) -> None:
    with pytest.raises(UnitError) as info:
        convert_biomarker("ngf", 12, unit)
    (problem,) = info.value.problems
    assert problem.location == "ngf.unit"
    assert problem.allowed == "pg/mL, ng/mL, µg/L, ng/L"


@pytest.mark.parametrize("value", [-1, float("nan"), True, "12 pg/mL", "1,5"])
def test_bad_values_are_refused(value: object) -> None:
    with pytest.raises(InputError, match=r"ngf\.value"):
        convert_biomarker("ngf", value, "pg/mL")  # type: ignore[arg-type]


def test_unknown_analyte() -> None:
    with pytest.raises(NotFoundError, match="known: bdnf"):
        convert_biomarker("il6", 1, "pg/mL")
