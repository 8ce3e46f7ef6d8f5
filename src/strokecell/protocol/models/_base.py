"""Shared pieces of the protocol models: the strict base, quantity fields, check errors.

Every model forbids unknown keys (a typo must not pass silently). Checks that involve several
fields of one model collect *all* their findings and raise them together as one pydantic
error of type ``strokecell_checks``, each finding naming its own sub-field; the loader
expands them into one :class:`~strokecell.errors.Problem` per finding at its full YAML path.
"""

from __future__ import annotations

import difflib
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer, PlainValidator
from pydantic_core import PydanticCustomError

from strokecell.errors import UnitError
from strokecell.protocol.codes import ENDPOINT_INSTRUMENT_CODES
from strokecell.protocol.units import Measured, parse_quantity

__all__ = [
    "CHECKS_ERROR_TYPE",
    "VALUE_ERROR_TYPE",
    "Code",
    "Concentration",
    "Count",
    "DosePerKg",
    "InstrumentCode",
    "Issues",
    "NonEmptyStr",
    "Rate",
    "StrictModel",
    "Volume",
    "value_error",
]

CHECKS_ERROR_TYPE = "strokecell_checks"
VALUE_ERROR_TYPE = "strokecell_value"


class StrictModel(BaseModel):
    """Unknown keys are errors; parsed protocols are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# Codes end up as CDISC values (ARMCD, AVISIT) and in file names: keep them plain.
Code = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)]
NonEmptyStr = Annotated[str, Field(min_length=1)]


# Texts stored in a column of bounded width (``store/models``): a longer value is a protocol
# error naming the field, never a database error (PostgreSQL enforces VARCHAR lengths).
Text40 = Annotated[str, Field(min_length=1, max_length=40)]
Text100 = Annotated[str, Field(min_length=1, max_length=100)]
Text200 = Annotated[str, Field(min_length=1, max_length=200)]
Text400 = Annotated[str, Field(min_length=1, max_length=400)]


#: Arm (``arms.code``) and visit (``visits.visit_code``) codes are stored in 20 characters.
ShortCode = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=20)]


def _quantity_validator(kind: str) -> PlainValidator:
    def parse(value: object) -> Measured:
        if isinstance(value, Measured) and value.kind == kind:
            return value
        try:
            return parse_quantity(value, kind, field="")
        except UnitError as exc:
            problem = exc.problems[0]
            raise value_error(problem.message, problem.allowed) from None

    return PlainValidator(parse, json_schema_input_type=str)


def value_error(message: str, allowed: str | None) -> PydanticCustomError:
    """A single-field error with the message and what is allowed, kept apart for the loader."""
    return PydanticCustomError(VALUE_ERROR_TYPE, "{message}",
                               {"message": message, "allowed": allowed})


def _known_instrument(code: str) -> str:
    if code not in ENDPOINT_INSTRUMENT_CODES:
        close = difflib.get_close_matches(code, ENDPOINT_INSTRUMENT_CODES, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise value_error(f"unknown instrument code{hint}", ", ".join(ENDPOINT_INSTRUMENT_CODES))
    return code


# An instrument named by its code (protocol/ may not import instruments/; see codes.py).
InstrumentCode = Annotated[str, AfterValidator(_known_instrument)]


def _quantity(kind: str) -> Any:
    return Annotated[Measured, _quantity_validator(kind), PlainSerializer(lambda m: m.text)]


Count = _quantity("count")
Concentration = _quantity("concentration")
DosePerKg = _quantity("dose_per_kg")
Volume = _quantity("volume")
Rate = _quantity("rate")


class Issues:
    """Findings of one model's cross-field checks, raised together."""

    def __init__(self) -> None:
        self._items: list[dict[str, Any]] = []

    def add(self, field: str, message: str, value: Any = None, allowed: str | None = None) -> None:
        self._items.append(
            {"field": field, "message": message, "value": _plain(value), "allowed": allowed})

    def raise_if_any(self) -> None:
        if self._items:
            summary = "; ".join(f"{i['field']}: {i['message']}" for i in self._items)
            raise PydanticCustomError(
                CHECKS_ERROR_TYPE, "{summary}", {"summary": summary, "issues": self._items})


def _plain(value: Any) -> Any:
    return value.text if isinstance(value, Measured) else value
