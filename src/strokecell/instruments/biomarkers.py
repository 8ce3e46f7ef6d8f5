"""The biomarker panel (``biomarkers.yaml``) and lab-unit conversion of its values.

A concentration is only meaningful with its unit, so a value without one, or with a unit not
on the panel's list, is refused with the allowed units named; nothing is guessed. pint does
the arithmetic and is imported inside :func:`convert_biomarker` only, so that scoring and the
CLI never pay for loading it.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from strokecell.errors import InputError, NotFoundError, Problem, UnitError
from strokecell.instruments._loader import ScaleFileError, read_yaml, validation_problems

_DECIMAL = re.compile(r"(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?")


class _Analyte(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=r"^[a-z0-9_]+$")
    abbreviation: str
    name: str
    direction: Literal["up", "down"]
    mechanism: str
    canonical_unit: str
    note: str | None = None


class _PanelFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    units: dict[str, str]
    aliases: dict[str, str] = {}
    analytes: tuple[_Analyte, ...]

    @model_validator(mode="after")
    def _consistent(self) -> _PanelFile:
        for alias, target in self.aliases.items():
            if target not in self.units:
                raise ValueError(f"alias {alias!r} points to unknown unit {target!r}")
        for analyte in self.analytes:
            if analyte.canonical_unit not in self.units:
                raise ValueError(f"{analyte.code}: canonical unit {analyte.canonical_unit!r} "
                                 "is not in units")
        return self


@dataclass(frozen=True)
class Biomarker:
    """One analyte of the panel with its canonical unit and the units a value may come in."""

    code: str
    abbreviation: str
    name: str
    direction: Literal["up", "down"]
    mechanism: str
    canonical_unit: str
    units: tuple[str, ...]
    note: str | None = None


@dataclass(frozen=True)
class BiomarkerValue:
    """A concentration in a known unit (by default the analyte's canonical unit)."""

    biomarker: str
    value: float
    unit: str

    def to_dict(self) -> dict[str, Any]:
        return {"biomarker": self.biomarker, "value": self.value, "unit": self.unit}


@functools.cache
def _panel_file() -> _PanelFile:
    entry = resources.files("strokecell.instruments") / "biomarkers.yaml"
    try:
        return _PanelFile.model_validate(read_yaml(entry))
    except ValidationError as exc:
        raise ScaleFileError(validation_problems(exc), context=str(entry)) from exc


def biomarker_panel() -> dict[str, Biomarker]:
    """Every analyte of the panel by code, in file order."""
    panel = _panel_file()
    units = tuple(panel.units)
    return {
        a.code: Biomarker(a.code, a.abbreviation, a.name, a.direction, a.mechanism,
                          a.canonical_unit, units, a.note)
        for a in panel.analytes
    }


def convert_biomarker(
    code: str, value: float | int | str, unit: str | None, to: str | None = None
) -> BiomarkerValue:
    """``value`` of analyte ``code`` in ``unit``, converted to ``to`` (default: canonical)."""
    panel = _panel_file()
    analytes = {a.code: a for a in panel.analytes}
    if code not in analytes:
        raise NotFoundError(f"no biomarker {code!r} (known: {', '.join(analytes)})")
    allowed = ", ".join(panel.units)
    source = _unit(panel, code, unit, allowed, "unit")
    target = _unit(panel, code, to if to is not None else analytes[code].canonical_unit,
                   allowed, "to")
    number = _number(code, value)
    if source == target:
        return BiomarkerValue(code, number, target)
    import pint  # lazily: pint takes a noticeable fraction of a second to load

    registry = _registry(pint)
    quantity = registry.Quantity(number, panel.units[source]).to(panel.units[target])
    # The factors are powers of ten, so 12 significant digits remove float noise
    # (25 ng/mL -> 25000.000000000004 pg/mL) without changing any real digit.
    return BiomarkerValue(code, float(f"{quantity.magnitude:.12g}"), target)


def _unit(panel: _PanelFile, code: str, unit: str | None, allowed: str, field: str) -> str:
    if unit is None or unit == "":
        raise UnitError(Problem(f"{code}.{field}", "a concentration needs a unit", unit, allowed))
    if unit in panel.units:
        return unit
    if unit in panel.aliases:
        return panel.aliases[unit]
    raise UnitError(Problem(f"{code}.{field}", f"unknown or unsupported unit {unit!r}", unit,
                            allowed))


def _number(code: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InputError(Problem(f"{code}.value", "expected a number", value,
                                 "a non-negative number"))
    if isinstance(value, str):
        if not _DECIMAL.fullmatch(value):
            raise InputError(Problem(f"{code}.value", "expected a plain number (unit apart)",
                                     value, "a non-negative number"))
        value = float(value)
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise InputError(Problem(f"{code}.value", "a concentration is finite and >= 0", value,
                                 "a non-negative number"))
    return number


_REGISTRIES: dict[str, Any] = {}


def _registry(pint: Any) -> Any:
    # One registry per process: building it is the slow part of importing pint.
    if "default" not in _REGISTRIES:
        _REGISTRIES["default"] = pint.UnitRegistry()
    return _REGISTRIES["default"]
