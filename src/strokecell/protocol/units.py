"""Quantities with units, parsed by pint, never guessed.

Protocol authors write quantities the way papers do: ``2.0e7 cells/mL``, ``2.0×10^7/mL``,
``2.0×10⁷ cells/mL``, ``1.0×10⁶ cells/kg``, ``250 µL``, ``0.5 mL/min``. This module rewrites
the typographic forms (``×10^n``, ``x10^n``, superscript digits, the unicode minus) into
plain text, hands the unit to pint, checks the dimension against what the field expects and
returns the value in one canonical unit per kind (cells, mL, mL/min, cells/mL, cells/kg, kg).

What is *not* done, on purpose: a number without a unit is an error (not "probably mL"), and a
unit is taken literally: ``2.0×10⁷ L⁻¹`` is 2.0×10⁴ per mL. Spotting that such a value is
probably a slip for "per mL" is the dose engine's job (it has the clinical ranges), and it
does so with a warning, not by changing the number.

A count per volume or per kg written without ``cells`` (``2.0×10^7/mL``) is read as cells per
volume: that is how the cell-therapy literature writes it, and the unit of what is counted is
the only thing implied. pint is imported on first use so that the CLI starts fast.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

from strokecell.errors import Problem, UnitError

__all__ = ["KINDS", "Measured", "format_count", "parse_quantity"]


@dataclass(frozen=True)
class _Kind:
    canonical: str  # the unit every value of this kind is converted to
    dimension: str  # pint dimensionality, as text, for matching
    description: str  # for error messages: what the field needs
    example: str
    countless_dimension: str | None = None  # the same without [cell_count], read as cells


KINDS: Final[dict[str, _Kind]] = {
    "count": _Kind("cell", "[cell_count]", "a number of cells", "3.0e7 cells"),
    "concentration": _Kind(
        "cell / milliliter", "[cell_count] / [length] ** 3", "cells per volume",
        "2.0e7 cells/mL", countless_dimension="1 / [length] ** 3"),
    "dose_per_kg": _Kind(
        "cell / kilogram", "[cell_count] / [mass]", "cells per body mass",
        "1.0e6 cells/kg", countless_dimension="1 / [mass]"),
    "volume": _Kind("milliliter", "[length] ** 3", "a volume", "1.5 mL"),
    "rate": _Kind("milliliter / minute", "[length] ** 3 / [time]", "a volume per time",
                  "0.5 mL/min"),
    "mass": _Kind("kilogram", "[mass]", "a body mass", "70 kg"),
    "duration": _Kind("minute", "[time]", "a duration", "30 min"),
}

# Short names for the canonical units in output (plain units: cells, mL, minutes, cells/kg).
_SHORT: Final[dict[str, str]] = {
    "count": "cells", "concentration": "cells/mL", "dose_per_kg": "cells/kg",
    "volume": "mL", "rate": "mL/min", "mass": "kg", "duration": "min",
}


@dataclass(frozen=True)
class Measured:
    """A parsed quantity: ``value`` in the canonical unit of ``kind``; ``text`` as written."""

    value: float
    kind: str
    text: str
    written: float | None = None  # the number as written, before unit conversion

    @property
    def conversion_factor(self) -> float:
        """written / value: 1000 for a concentration written per litre (cells/L)."""
        return (self.written or self.value) / self.value

    @property
    def unit(self) -> str:
        return _SHORT[self.kind]

    def __str__(self) -> str:
        # repr() of a float round-trips exactly, so str(m) parses back to the same value.
        return f"{self.value!r} {self.unit}"

    def display(self) -> str:
        """Human form: 3.0×10⁷ cells, 1.5 mL."""
        if self.kind in ("count", "concentration", "dose_per_kg"):
            return f"{format_count(self.value)} {self.unit}"
        return f"{self.value:.4g} {self.unit}"


_SUPERSCRIPTS: Final = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+")
_SUPERSCRIPT_RUN: Final = re.compile(r"[⁻⁺]?[⁰¹²³⁴⁵⁶⁷⁸⁹]+")
_TIMES_TEN: Final = re.compile(r"\s*[×xX*·]\s*10\s*(?:\^|\*\*)\s*([+-]?\d+)")
_LEADING_TEN: Final = re.compile(r"^\s*10\s*(?:\^|\*\*)\s*([+-]?\d+)")
_NUMBER: Final = re.compile(r"^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*(.*)$", re.S)


def _normalise(text: str) -> str:
    text = text.replace("\u2212", "-").replace("\u2013", "-")  # unicode minus, en dash
    text = text.replace("µ", "u").replace("μ", "u")  # micro sign and Greek mu
    text = text.replace("\u00a0", " ").replace("\u202f", " ")  # non-breaking spaces
    text = _SUPERSCRIPT_RUN.sub(lambda m: "^" + m.group(0).translate(_SUPERSCRIPTS), text)
    text = _TIMES_TEN.sub(lambda m: f"e{m.group(1)}", text, count=1)
    return _LEADING_TEN.sub(lambda m: f"1e{m.group(1)}", text, count=1).strip()


@lru_cache(maxsize=1)
def _registry() -> Any:
    import pint  # lazy: about 0.1-0.3 s, not paid by `strokecell --help`

    ureg: Any = pint.UnitRegistry()
    # Cells are counted things with their own dimension, so that "cells" can never be
    # mistaken for a volume and a count per mL is a concentration, not a pure number per mL.
    ureg.define("cell = [cell_count] = _ = cells")
    return ureg


def _fail(field: str, message: str, value: object, kind: _Kind) -> UnitError:
    allowed = f"{kind.description}, e.g. {kind.example!r}"
    return UnitError(Problem(field, message, value, allowed))


def parse_quantity(text: object, expected: str, field: str) -> Measured:
    """Parse ``text`` as a quantity of kind ``expected`` (a key of :data:`KINDS`).

    Returns the value in the kind's canonical unit. Raises :class:`UnitError` naming
    ``field`` when the text has no unit, an unknown unit, the wrong dimension, or a value
    that is not a positive finite number.
    """
    kind = KINDS.get(expected)
    if kind is None:
        raise ValueError(f"unknown quantity kind {expected!r}; known: {sorted(KINDS)}")
    if isinstance(text, bool) or not isinstance(text, (str, int, float)):
        raise _fail(field, f"expected {kind.description} as text with a unit", text, kind)
    if isinstance(text, (int, float)):
        raise _fail(field, f"a bare number has no unit; {kind.description} needs one",
                    text, kind)
    match = _NUMBER.match(_normalise(text))
    if match is None:
        raise _fail(field, "does not start with a number", text, kind)
    number, unit_text = float(match.group(1)), match.group(2).strip()
    if not unit_text:
        raise _fail(field, f"a bare number has no unit; {kind.description} needs one",
                    text, kind)
    if not math.isfinite(number) or number <= 0:
        raise _fail(field, "must be a positive finite number", text, kind)
    return Measured(_convert(number, unit_text, text, field, kind), expected, text, number)


def _convert(number: float, unit_text: str, text: str, field: str, kind: _Kind) -> float:
    ureg = _registry()
    if unit_text.startswith("/"):
        unit_text = "1" + unit_text  # "2e7/mL": pint needs a numerator
    try:
        units = ureg.parse_units(unit_text)
    except Exception as exc:  # pint raises several unrelated types for bad unit text
        raise _fail(field, f"unknown unit {unit_text!r} ({type(exc).__name__})",
                    text, kind) from None
    quantity = ureg.Quantity(number, units)
    dimension = str(quantity.dimensionality)
    if dimension == kind.countless_dimension:
        quantity = quantity * ureg.cell
    elif dimension != kind.dimension:
        raise _fail(field, f"unit {unit_text!r} is {_describe(dimension)}, not "
                    f"{kind.description}", text, kind)
    return float(quantity.to(kind.canonical).magnitude)


def _describe(dimension: str) -> str:
    for other in KINDS.values():
        if dimension in (other.dimension, other.countless_dimension):
            return other.description
    return f"of dimension {dimension}" if dimension != "dimensionless" else "dimensionless"


_SUPERSCRIPT_DIGITS: Final = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def format_count(value: float) -> str:
    """Cell numbers as papers print them: 3.0×10⁷ (two significant digits)."""
    if value == 0 or not math.isfinite(value):
        return str(value)
    exponent = math.floor(math.log10(abs(value)))
    mantissa = value / 10**exponent
    if round(mantissa, 1) >= 10:
        mantissa, exponent = mantissa / 10, exponent + 1
    if exponent in (0, 1, 2):
        return f"{value:.3g}"
    return f"{mantissa:.1f}×10{str(exponent).translate(_SUPERSCRIPT_DIGITS)}"
