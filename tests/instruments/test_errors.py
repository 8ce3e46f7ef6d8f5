"""Errors list every problem, name item and allowed values, and return nothing partial."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from strokecell.errors import ScoringError
from strokecell.instruments import load_instrument

Factory = Callable[..., dict[str, Any]]


def test_every_problem_is_reported_at_once(mbi_items: Factory) -> None:
    items = mbi_items(feeding=7, bathing=2, stairs=None, wheelchair=3)
    items["feedng"] = 10
    with pytest.raises(ScoringError) as info:
        load_instrument("mbi").score(items)
    locations = {p.location for p in info.value.problems}
    assert locations == {"feeding", "bathing", "stairs", "wheelchair", "feedng"}
    assert info.value.context == "mbi"


def test_unknown_item_suggests_close_matches(mbi_items: Factory) -> None:
    with pytest.raises(ScoringError, match="did you mean feeding"):
        load_instrument("mbi").score({**mbi_items(), "feedng": 10})


def test_unknown_item_suggests_by_item_number(nihss_items: Factory) -> None:
    items = nihss_items({"1a_loc": None})
    items["1a"] = 1
    with pytest.raises(ScoringError, match="did you mean 1a_loc"):
        load_instrument("nihss").score(items)


def test_missing_item_names_allowed_values(mbi_items: Factory) -> None:
    with pytest.raises(ScoringError) as info:
        load_instrument("mbi").score(mbi_items(transfers=None))
    (problem,) = info.value.problems
    assert (problem.location, problem.allowed) == ("transfers", "0, 3, 8, 12, 15")
    assert "missing" in problem.message


def test_error_serializes_without_partial_result(mbi_items: Factory) -> None:
    with pytest.raises(ScoringError) as info:
        load_instrument("mbi").score(mbi_items(feeding=7))
    payload = info.value.to_dict()
    assert payload["error"] == "ScoringError"
    assert set(payload) == {"error", "context", "problems"}  # no total, no items
    assert payload["problems"][0]["value"] == 7


def test_caller_mapping_is_not_modified(fma_ue_items: Factory) -> None:
    items = fma_ue_items(a4_shoulder_flexion_90_180=0, a5_normal_reflexes=None)
    before = dict(items)
    load_instrument("fma_ue").score(items)
    assert items == before


def test_partial_validation_checks_given_items_only() -> None:
    mbi = load_instrument("mbi")
    assert mbi.validate_items({"feeding": "8"}, partial=True) == {"feeding": 8}
    with pytest.raises(ScoringError) as info:
        mbi.validate_items({"feeding": 7, "ambulation": 3, "wheelchair": 1}, partial=True)
    assert {p.location for p in info.value.problems} == {"feeding", "wheelchair"}


def test_complete_validation_reports_missing() -> None:
    with pytest.raises(ScoringError, match="missing"):
        load_instrument("mbi").validate_items({"feeding": 8})
