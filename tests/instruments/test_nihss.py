"""NIHSS: 15 items, 0-42, UN on 5a 5b 6a 6b 7 10 only, coma warnings, bands.

Expected values: domain/README.md §3 (item ranges [V: PMC8157911 Table 2]; UN options [V:
LOINC LA18477-2]; UN counts 0; coma 1a = 3 -> 8 = 2 and 9 = 3 (NINDS instructions), other
conventional defaults 1b = 2, 1c = 2, 7 = 0, 10 = 2, 11 = 2; bands 0 / 1-4 / 5-15 / 16-20 /
21-42).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from strokecell.errors import ScoringError
from strokecell.instruments import load_instrument

Factory = Callable[..., dict[str, Any]]

RANGES = {"1a_loc": 3, "1b_loc_questions": 2, "1c_loc_commands": 2, "2_gaze": 2,
          "3_visual": 3, "4_facial_palsy": 3, "5a_motor_arm_left": 4, "5b_motor_arm_right": 4,
          "6a_motor_leg_left": 4, "6b_motor_leg_right": 4, "7_limb_ataxia": 2, "8_sensory": 2,
          "9_language": 3, "10_dysarthria": 2, "11_extinction": 2}
UN_ITEMS = {"5a_motor_arm_left", "5b_motor_arm_right", "6a_motor_leg_left",
            "6b_motor_leg_right", "7_limb_ataxia", "10_dysarthria"}
COMA = {"1a_loc": 3, "1b_loc_questions": 2, "1c_loc_commands": 2, "7_limb_ataxia": 0,
        "8_sensory": 2, "9_language": 3, "10_dysarthria": 2, "11_extinction": 2}


@pytest.mark.parametrize(("code", "top"), RANGES.items())
def test_item_range(code: str, top: int) -> None:
    item = load_instrument("nihss").item(code)
    assert [lv.value for lv in item.levels] == list(range(top + 1))
    assert (item.untestable is not None) == (code in UN_ITEMS)


def test_maximum_is_42(nihss_items: Factory) -> None:
    result = load_instrument("nihss").score(nihss_items(RANGES))
    assert (result.total, result.band) == (42, "severe stroke")


@pytest.mark.parametrize("code", sorted(UN_ITEMS))
def test_un_is_kept_and_counts_zero(nihss_items: Factory, code: str) -> None:
    result = load_instrument("nihss").score(nihss_items({"4_facial_palsy": 2, code: "UN"}))
    assert result.items[code] == "UN"
    assert result.total == 2
    assert result.untestable == (code,)
    assert any("untestable" in w.message for w in result.warnings)


@pytest.mark.parametrize("code", sorted(set(RANGES) - UN_ITEMS))
def test_un_is_refused_elsewhere(nihss_items: Factory, code: str) -> None:
    with pytest.raises(ScoringError, match=f"{code}.*UN"):
        load_instrument("nihss").score(nihss_items({code: "UN"}))


def test_coma_with_expected_values_has_no_warning(nihss_items: Factory) -> None:
    result = load_instrument("nihss").score(nihss_items(COMA))
    assert result.warnings == ()
    assert result.total == 3 + 2 + 2 + 2 + 3 + 2 + 2


def test_coma_departures_are_warnings_not_errors(nihss_items: Factory) -> None:
    items = nihss_items({**COMA, "8_sensory": 1, "9_language": 2, "11_extinction": 0})
    result = load_instrument("nihss").score(items)
    assert {w.location for w in result.warnings} == {"8_sensory", "9_language", "11_extinction"}
    # Nothing is filled in: the stored values are the entered ones.
    assert result.items["8_sensory"] == 1 and result.items["11_extinction"] == 0


def test_no_coma_warning_without_coma(nihss_items: Factory) -> None:
    assert load_instrument("nihss").score(nihss_items({"1a_loc": 2})).warnings == ()


@pytest.mark.parametrize(("total", "band"), [
    (0, "no stroke symptoms"), (1, "minor stroke"), (4, "minor stroke"),
    (5, "moderate stroke"), (15, "moderate stroke"), (16, "moderate-to-severe stroke"),
    (20, "moderate-to-severe stroke"), (21, "severe stroke"), (42, "severe stroke"),
])
def test_band_edges(nihss_items: Factory, total: int, band: str) -> None:
    items: dict[str, int] = {}
    remaining = total
    for code, top in RANGES.items():  # fill items in order up to the wanted total
        items[code] = min(top, remaining)
        remaining -= items[code]
    result = load_instrument("nihss").score(nihss_items(items))
    assert (result.total, result.band) == (total, band)
