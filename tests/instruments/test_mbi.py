"""Shah MBI: item grids, wheelchair mode, totals and bands.

Expected values: Shah, Vanclay & Cooper 1989 as tabulated in domain/README.md §1.1 (item
grids; wheelchair only if unable to walk, in place of ambulation; bands 0-20 total, 21-60
severe, 61-90 moderate, 91-99 slight, 100 independent).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from strokecell.errors import ScoringError
from strokecell.instruments import load_instrument

Factory = Callable[..., dict[str, Any]]

SHAH_GRIDS = {
    "personal_hygiene": [0, 1, 3, 4, 5],
    "bathing": [0, 1, 3, 4, 5],
    "feeding": [0, 2, 5, 8, 10],
    "toilet": [0, 2, 5, 8, 10],
    "stairs": [0, 2, 5, 8, 10],
    "dressing": [0, 2, 5, 8, 10],
    "bowels": [0, 2, 5, 8, 10],
    "bladder": [0, 2, 5, 8, 10],
    "ambulation": [0, 3, 8, 12, 15],
    "wheelchair": [0, 1, 3, 4, 5],
    "transfers": [0, 3, 8, 12, 15],
}


@pytest.mark.parametrize(("code", "grid"), SHAH_GRIDS.items())
def test_item_grid_is_shahs(code: str, grid: list[int]) -> None:
    item = load_instrument("mbi").item(code)
    assert [level.value for level in item.levels] == grid


def test_all_independent_walking_patient_scores_100(mbi_items: Factory) -> None:
    result = load_instrument("mbi").score(mbi_items())
    assert (result.total, result.max_total, result.band, result.mode) == (
        100, 100, "independent", "walking")


def test_wheelchair_user_maximum_is_90(mbi_items: Factory) -> None:
    result = load_instrument("mbi").score(mbi_items(ambulation=None, wheelchair=5))
    assert (result.total, result.max_total, result.mode) == (90, 90, "wheelchair")
    assert "ambulation" not in result.items


def test_wheelchair_for_a_walking_patient_is_an_error(mbi_items: Factory) -> None:
    with pytest.raises(ScoringError) as info:
        load_instrument("mbi").score(mbi_items(ambulation=12, wheelchair=3))
    (problem,) = info.value.problems
    assert problem.location == "wheelchair"
    assert "ambulation=12" in problem.message
    assert "exactly one of ambulation or wheelchair" in (problem.allowed or "")


def test_neither_ambulation_nor_wheelchair_is_missing(mbi_items: Factory) -> None:
    with pytest.raises(ScoringError, match="missing: give ambulation"):
        load_instrument("mbi").score(mbi_items(ambulation=None))


@pytest.mark.parametrize("value", [6, 7, 1, 9, 11, -2])
def test_off_grid_feeding_is_rejected_with_the_grid(mbi_items: Factory, value: int) -> None:
    with pytest.raises(ScoringError) as info:
        load_instrument("mbi").score(mbi_items(feeding=value))
    (problem,) = info.value.problems
    assert problem.location == "feeding"
    assert problem.allowed == "0, 2, 5, 8, 10"


# Totals built from Shah grid values; band edges on both sides of each cut-off.
@pytest.mark.parametrize(("overrides", "total", "band"), [
    ({"personal_hygiene": 0, "bathing": 0, "feeding": 0, "toilet": 0, "stairs": 0,
      "dressing": 0, "bowels": 0, "bladder": 0, "ambulation": 12, "transfers": 8}, 20,
     "total dependency"),
    ({"personal_hygiene": 1, "bathing": 0, "feeding": 0, "toilet": 0, "stairs": 0,
      "dressing": 0, "bowels": 0, "bladder": 0, "ambulation": 12, "transfers": 8}, 21,
     "severe dependency"),
    ({"feeding": 5, "toilet": 5, "stairs": 5, "dressing": 5, "bowels": 5, "bladder": 5,
      "personal_hygiene": 5, "bathing": 5, "ambulation": 12, "transfers": 8}, 60,
     "severe dependency"),
    ({"feeding": 5, "toilet": 5, "stairs": 5, "dressing": 5, "bowels": 5, "bladder": 5,
      "personal_hygiene": 5, "bathing": 5, "ambulation": 8, "transfers": 12}, 60,
     "severe dependency"),
    ({"feeding": 8, "toilet": 8, "stairs": 0, "dressing": 5, "bowels": 5, "bladder": 2,
      "personal_hygiene": 5, "bathing": 5, "ambulation": 8, "transfers": 15}, 61,
     "moderate dependency"),
    ({"stairs": 0}, 90, "moderate dependency"),
    ({"stairs": 5, "personal_hygiene": 4, "ambulation": 12}, 91,
     "slight dependency"),
    ({"personal_hygiene": 4}, 99, "slight dependency"),
    ({}, 100, "independent"),
])
def test_band_edges(mbi_items: Factory, overrides: dict[str, int], total: int,
                    band: str) -> None:
    result = load_instrument("mbi").score(mbi_items(**overrides))
    assert (result.total, result.band) == (total, band)
