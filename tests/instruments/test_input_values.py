"""Values as they arrive from forms and the CLI: exact integer strings yes, guesses never."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from strokecell.errors import ScoringError
from strokecell.instruments import load_instrument

Factory = Callable[..., dict[str, Any]]


def test_exact_integer_strings_are_accepted(mbi_items: Factory) -> None:
    items = {code: str(value) for code, value in mbi_items(feeding=8).items()}
    result = load_instrument("mbi").score(items)
    assert result.total == 98
    assert result.items["feeding"] == 8  # normalized to int


@pytest.mark.parametrize("raw", ["7.5", " 10", "10 ", "10a", "010", "+10", "", "ten",
                                 True, False, 10.0, 8.5, None, [10]])
def test_anything_needing_interpretation_is_refused(mbi_items: Factory, raw: object) -> None:
    with pytest.raises(ScoringError) as info:
        load_instrument("mbi").score(mbi_items(feeding=raw) if raw is not None
                                     else {**mbi_items(), "feeding": None})
    (problem,) = info.value.problems
    assert problem.location == "feeding"
    assert problem.allowed == "0, 2, 5, 8, 10"


@pytest.mark.parametrize("raw", ["un", "Un", "UN "])
def test_un_is_spelled_exactly(nihss_items: Factory, raw: str) -> None:
    with pytest.raises(ScoringError, match="7_limb_ataxia"):
        load_instrument("nihss").score(nihss_items({"7_limb_ataxia": raw}))


def test_negative_string_is_read_then_rejected_as_off_grid(mbi_items: Factory) -> None:
    with pytest.raises(ScoringError, match="-2 is off the grid"):
        load_instrument("mbi").score(mbi_items(feeding="-2"))
