"""mRS (0-6 with definitions) and MRI lesion volume (mL, 0-500, no band)."""

from __future__ import annotations

import math

import pytest

from strokecell.errors import ScoringError
from strokecell.instruments import load_instrument


def test_mrs_grades_and_definitions() -> None:
    item = load_instrument("mrs").item("mrs")
    # domain/README.md §4 [V: radiopaedia, wikem].
    assert [lv.value for lv in item.levels] == list(range(7))
    assert item.levels[0].label == "No symptoms at all"
    assert item.levels[6].label == "Dead"


@pytest.mark.parametrize(("grade", "band"), [(0, "good outcome (0-2)"),
                                             (2, "good outcome (0-2)"),
                                             (3, "poor outcome (3-6)"), (6, "poor outcome (3-6)")])
def test_mrs_dichotomy(grade: int, band: str) -> None:
    result = load_instrument("mrs").score({"mrs": grade})
    assert (result.total, result.max_total, result.band) == (grade, 6, band)


def test_mrs_7_is_off_the_scale() -> None:
    with pytest.raises(ScoringError, match="allowed: 0, 1, 2, 3, 4, 5, 6"):
        load_instrument("mrs").score({"mrs": 7})


@pytest.mark.parametrize("raw", [0, 12.5, "12.5", "0", 500, "500.0"])
def test_lesion_volume_accepts_plain_numbers(raw: object) -> None:
    result = load_instrument("lesion_volume").score({"lesion_volume": raw})
    assert result.total == float(str(raw))
    assert isinstance(result.total, float)
    assert (result.unit, result.band, result.max_total) == ("mL", None, 500.0)


@pytest.mark.parametrize("raw", [-0.1, 500.1, "1e3", "12,5", "12.5 mL", " 3", math.nan,
                                 math.inf, True, "nan"])
def test_lesion_volume_refuses_everything_else(raw: object) -> None:
    with pytest.raises(ScoringError) as info:
        load_instrument("lesion_volume").score({"lesion_volume": raw})
    (problem,) = info.value.problems
    assert problem.location == "lesion_volume"
    assert problem.allowed == "a number from 0 to 500 mL"


def test_lesion_volume_above_bound_explains_why() -> None:
    with pytest.raises(ScoringError, match="check the unit"):
        load_instrument("lesion_volume").score({"lesion_volume": 2400})
