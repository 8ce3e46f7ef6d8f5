"""Complete, valid item sets for each scale, to be varied one item at a time in tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from strokecell.instruments import Instrument, load_instrument

Factory = Callable[..., dict[str, Any]]


def _best(instrument: Instrument) -> dict[str, Any]:
    # Every item at its top level (UN never): the published maximum of the scale.
    return {
        code: max(level.value for level in instrument.item(code).levels)
        for code in instrument.item_codes
    }


@pytest.fixture
def mbi_items() -> Factory:
    """Shah MBI, walking patient, every item independent (total 100); override by keyword."""

    def make(**overrides: Any) -> dict[str, Any]:
        items = _best(load_instrument("mbi"))
        del items["wheelchair"]
        items.update(overrides)
        return {k: v for k, v in items.items() if v is not None}

    return make


@pytest.fixture
def fma_ue_items() -> Factory:
    def make(**overrides: Any) -> dict[str, Any]:
        items = _best(load_instrument("fma_ue"))
        items.update(overrides)
        return {k: v for k, v in items.items() if v is not None}

    return make


@pytest.fixture
def fma_le_items() -> Factory:
    def make(**overrides: Any) -> dict[str, Any]:
        items = _best(load_instrument("fma_le"))
        items.update(overrides)
        return {k: v for k, v in items.items() if v is not None}

    return make


@pytest.fixture
def nihss_items() -> Factory:
    """NIHSS with every item 0 (a normal examination); override with a dict (codes such as
    ``1a_loc`` are not Python keywords)."""

    def make(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        items: dict[str, Any] = dict.fromkeys(load_instrument("nihss").item_codes, 0)
        items.update(overrides or {})
        return {k: v for k, v in items.items() if v is not None}

    return make
