"""Property tests of the engine over every choice scale, driven by the scale definitions.

Any valid item set scores within [0, max_total] and its total is the sum of its items (UN
counting 0); any value off an item's grid is rejected naming that item.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strokecell.errors import ScoringError
from strokecell.instruments import Instrument, list_instruments, load_instrument

CHOICE_SCALES = [c for c in list_instruments() if load_instrument(c).kind == "score"]


def _grid(instrument: Instrument, code: str) -> list[Any]:
    item = instrument.item(code)
    values: list[Any] = [level.value for level in item.levels]
    return values + (["UN"] if item.untestable else [])


@st.composite
def valid_items(draw: st.DrawFn, code: str) -> dict[str, Any]:
    instrument = load_instrument(code)
    items = {c: draw(st.sampled_from(_grid(instrument, c))) for c in instrument.item_codes}
    if code == "mbi":  # exactly one of ambulation / wheelchair
        del items[draw(st.sampled_from(["ambulation", "wheelchair"]))]
    # FMA section V: only non-zero when IV is full.
    for item, section in (("a5_normal_reflexes", "a4_"), ("e5_normal_reflexes", "e4_")):
        if item in items and sum(v for c, v in items.items() if c.startswith(section)) < (
                6 if section == "a4_" else 4):
            items[item] = draw(st.sampled_from([0, None]))
            if items[item] is None:
                del items[item]
    if draw(st.booleans()):  # forms send strings
        items = {c: str(v) for c, v in items.items()}
    return items


@pytest.mark.parametrize("code", CHOICE_SCALES)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_valid_items_score_within_range_and_sum(code: str, data: st.DataObject) -> None:
    items = data.draw(valid_items(code))
    result = load_instrument(code).score(items)
    assert 0 <= result.total <= result.max_total <= load_instrument(code).max_total
    assert result.total == sum(0 if v == "UN" else int(v) for v in result.items.values())
    assert result.total == sum(0 if v == "UN" else int(v) for v in items.values())


@pytest.mark.parametrize("code", CHOICE_SCALES)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_off_grid_value_is_rejected(code: str, data: st.DataObject) -> None:
    instrument = load_instrument(code)
    item = data.draw(st.sampled_from(instrument.item_codes))
    grid = _grid(instrument, item)
    bad = data.draw(st.integers(-50, 50).filter(lambda v: v not in grid))
    with pytest.raises(ScoringError) as info:
        instrument.validate_items({item: bad}, partial=True)
    (problem,) = info.value.problems
    assert problem.location == item
    assert problem.allowed == ", ".join(str(v) for v in grid)
