"""Barthel index, 100-point form: Collin & Wade grid x 5 (domain/README.md §1.2)."""

from __future__ import annotations

import pytest

from strokecell.errors import ScoringError
from strokecell.instruments import load_instrument

# domain/README.md §1.2, table "100-point variant" [V: neurosurg.cz].
GRIDS = {
    "feeding": [0, 5, 10], "bathing": [0, 5], "personal_hygiene": [0, 5],
    "dressing": [0, 5, 10], "bowels": [0, 5, 10], "bladder": [0, 5, 10],
    "toilet": [0, 5, 10], "transfers": [0, 5, 10, 15], "mobility": [0, 5, 10, 15],
    "stairs": [0, 5, 10],
}


def _items(**overrides: int) -> dict[str, int]:
    items = {code: grid[-1] for code, grid in GRIDS.items()}
    items.update(overrides)
    return items


@pytest.mark.parametrize(("code", "grid"), GRIDS.items())
def test_item_grid(code: str, grid: list[int]) -> None:
    assert [lv.value for lv in load_instrument("bi").item(code).levels] == grid


def test_item_codes_match_the_mbi_where_the_item_is_the_same() -> None:
    shared = set(load_instrument("bi").item_codes) & set(load_instrument("mbi").item_codes)
    assert shared == set(GRIDS) - {"mobility"}


def test_totals_and_bands() -> None:
    bi = load_instrument("bi")
    assert (bi.score(_items()).total, bi.score(_items()).band) == (100, "independent")
    # 100 - 5 (bathing) = 95: slight; wheelchair-independent mobility 5: 100 - 10 = 90.
    assert bi.score(_items(bathing=0)).band == "slight dependency"
    assert bi.score(_items(mobility=5)).total == 90
    assert bi.score(_items(mobility=5)).band == "moderate dependency"
    zero = dict.fromkeys(GRIDS, 0)
    assert (bi.score(zero).total, bi.score(zero).band) == (0, "total dependency")


def test_shah_middle_level_is_off_the_bi_grid() -> None:
    with pytest.raises(ScoringError, match=r"feeding.*allowed: 0, 5, 10"):
        load_instrument("bi").score(_items(feeding=8))
