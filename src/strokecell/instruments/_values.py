"""Reading one item value as entered (Python value, form string, CLI text) without guessing.

Forms send strings, so an exact integer string such as ``"10"`` is accepted for an integer
grid; anything that would need interpretation (``"7.5"``, ``" 10"``, ``"10a"``, ``"010"``,
``True``, ``10.0``) is refused, because a silent coercion is how a wrong score gets stored.
"""

from __future__ import annotations

import math
import re

from strokecell.errors import Problem
from strokecell.instruments._schema import Item, Quantity

UN = "UN"
_INT = re.compile(r"-?(0|[1-9][0-9]*)")
_DECIMAL = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?")

Value = int | float | str


def allowed_text(item: Item) -> str:
    """The allowed values of ``item`` as a rater would read them, e.g. ``0, 2, 5, 8, 10``."""
    if item.quantity is not None:
        q = item.quantity
        return f"a number from {_num(q.minimum)} to {_num(q.maximum)} {q.unit}"
    values = [str(level.value) for level in item.levels]
    if item.untestable is not None:
        values.append(UN)
    return ", ".join(values)


def parse_value(item: Item, raw: object) -> Value | Problem:
    """Return the normalized value of ``item`` or the :class:`Problem` that rejects ``raw``."""
    if item.quantity is not None:
        return _parse_quantity(item, item.quantity, raw)
    return _parse_choice(item, raw)


def _parse_choice(item: Item, raw: object) -> Value | Problem:
    allowed = allowed_text(item)
    if isinstance(raw, str) and raw == UN:
        if item.untestable is None:
            return Problem(item.code, f"{item.label}: UN (untestable) is not allowed on this item",
                           raw, allowed)
        return UN
    value: int
    if isinstance(raw, bool):  # bool is an int subclass; True is not a score
        return Problem(item.code, f"{item.label}: expected an integer score, not a boolean",
                       raw, allowed)
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str) and _INT.fullmatch(raw):
        value = int(raw)
    else:
        return Problem(item.code, f"{item.label}: not a score on this item's grid", raw, allowed)
    if value not in {level.value for level in item.levels}:
        return Problem(item.code, f"{item.label}: {value} is off the grid", value, allowed)
    return value


def _parse_quantity(item: Item, q: Quantity, raw: object) -> Value | Problem:
    allowed = allowed_text(item)
    value: float
    if isinstance(raw, bool):
        return Problem(item.code, f"{item.label}: expected a number, not a boolean", raw, allowed)
    if isinstance(raw, int | float) or (isinstance(raw, str) and _DECIMAL.fullmatch(raw)):
        value = float(raw)
    else:
        return Problem(item.code, f"{item.label}: expected a plain number in {q.unit}",
                       raw, allowed)
    if not math.isfinite(value):
        return Problem(item.code, f"{item.label}: not a finite number", raw, allowed)
    if not q.minimum <= value <= q.maximum:
        why = f" ({q.bound_note})" if q.bound_note and value > q.maximum else ""
        return Problem(item.code, f"{item.label}: {_num(value)} {q.unit} is out of range{why}",
                       raw, allowed)
    return value


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)
