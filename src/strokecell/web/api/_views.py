"""Views of the part-B services as JSON objects (their fields are documented with the
services in strokecell.trial.views; blinding is applied by the services)."""

from __future__ import annotations

from typing import Any

from fastapi.encoders import jsonable_encoder

__all__ = ["JsonObject", "as_json", "as_json_list"]

JsonObject = dict[str, Any]


def as_json(view: object) -> JsonObject:
    data = jsonable_encoder(view)
    if not isinstance(data, dict):  # pragma: no cover - views are dataclasses
        raise TypeError(f"not a view: {type(view).__name__}")
    return data


def as_json_list(views: list[Any]) -> list[JsonObject]:
    return [as_json(v) for v in views]
