"""Fixtures of the protocol-layer tests: the shipped protocols and a way to break them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import yaml
from protocol_testkit import REFERENCE, SHIPPED, edit


@pytest.fixture(scope="session")
def reference_data() -> dict[str, Any]:
    return yaml.safe_load(REFERENCE.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def reference_text() -> str:
    return REFERENCE.read_text(encoding="utf-8")


@pytest.fixture
def edited(reference_data: dict[str, Any]) -> Callable[..., dict[str, Any]]:
    """edited("arms[0].dose.volume", "2 mL", ...) -> the reference protocol, changed."""

    def make(*changes: Any, base: dict[str, Any] | None = None) -> dict[str, Any]:
        data = base if base is not None else reference_data
        for path, value in zip(changes[::2], changes[1::2], strict=True):
            data = edit(data, path, value)
        return data

    return make


@pytest.fixture(scope="session")
def shipped_data() -> dict[str, dict[str, Any]]:
    return {p.stem: yaml.safe_load(p.read_text(encoding="utf-8")) for p in SHIPPED}
