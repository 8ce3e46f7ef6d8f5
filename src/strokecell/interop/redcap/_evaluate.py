"""Evaluating parsed REDCap logic on a record's values, the way REDCap does.

Field values are their stored text (:func:`stored_text` turns typed values into it; a checkbox
option is ``field___code`` = ``1``/``0``); ``=``/``<>`` compare as numbers when both sides are
numbers, as text otherwise; an ordering comparison with a blank side is false; arithmetic with
a blank is blank; ``sum``, ``mean``, ``min``, ``max`` skip blanks; ``datediff`` takes
``'today'``/``'now'`` and units ``y M d h m s``; an unknown function raises
:class:`~strokecell.errors.InputError` (it was reported at import).
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from strokecell.errors import InputError, Problem
from strokecell.interop._model import Dictionary, Value
from strokecell.interop.redcap._branching import (
    Binary,
    Call,
    Expr,
    FieldRef,
    Literal,
    Logic,
    SmartVariable,
    Unary,
)
from strokecell.interop.redcap._records import checkbox_column
from strokecell.interop.redcap._validation import format_value

__all__ = ["evaluate", "is_true", "stored_text"]


def stored_text(dictionary: Dictionary, values: Mapping[str, Value]) -> dict[str, str]:
    """Typed values as REDCap stores them: text per field, ``field___code`` per checkbox."""
    out: dict[str, str] = {}
    for name, value in values.items():
        f = dictionary.get(name)
        if f is None:
            continue
        if f.field_type == "checkbox" and isinstance(value, frozenset):
            for c in f.choices:
                out[f"{f.name}___{c.code}"] = "1" if c.code in value else "0"
                out[checkbox_column(f, c.code)] = out[f"{f.name}___{c.code}"]
        else:
            out[name] = format_value(f, value)
    return out


Scalar = str | Decimal | None
Lookup = Callable[[FieldRef], str]


def is_true(value: Scalar) -> bool:
    """REDCap truthiness: blank, 0 and false are false."""
    if value is None or value == "":
        return False
    number = _num(value)
    if number is not None:
        return number != 0
    return str(value).lower() != "false"


def evaluate(logic: Logic | Expr, values: Mapping[str, str] | Lookup, *,
             today: date | None = None) -> Scalar:
    """Evaluate on stored text values (``values[field]``; checkbox as ``field___code``)."""
    tree = logic.tree if isinstance(logic, Logic) else logic
    if callable(values):
        lookup: Lookup = values
    else:
        table = values

        def lookup(ref: FieldRef) -> str:
            key = f"{ref.name}___{ref.code}" if ref.code is not None else ref.name
            return table.get(key, "")
    return _Eval(lookup, today or date.today()).run(tree)


def _num(value: Scalar) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return value
    if value.strip() == "" or not re.fullmatch(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*",
                                               value):
        return None
    try:
        return Decimal(value.strip())
    except InvalidOperation:
        return None


def _blank(value: Scalar) -> bool:
    return value is None or value == ""


class _Eval:
    def __init__(self, lookup: Lookup, today: date) -> None:
        self.lookup = lookup
        self.today = today

    def run(self, e: Expr) -> Scalar:
        if isinstance(e, Literal):
            return e.value
        if isinstance(e, FieldRef):
            return self.lookup(e)
        if isinstance(e, SmartVariable):
            return ""
        if isinstance(e, Unary):
            inner = self.run(e.operand)
            if e.op == "not":
                return Decimal(0 if is_true(inner) else 1)
            n = _num(inner)
            return None if n is None else -n
        if isinstance(e, Binary):
            return self._binary(e)
        return self._call(e)

    def _binary(self, e: Binary) -> Scalar:
        if e.op == "and":
            return Decimal(int(is_true(self.run(e.left)) and is_true(self.run(e.right))))
        if e.op == "or":
            return Decimal(int(is_true(self.run(e.left)) or is_true(self.run(e.right))))
        left, right = self.run(e.left), self.run(e.right)
        ln, rn = _num(left), _num(right)
        if e.op in ("=", "<>"):
            if ln is not None and rn is not None:
                same = ln == rn
            else:
                same = ("" if left is None else str(left)) == ("" if right is None else str(right))
            return Decimal(int(same == (e.op == "=")))
        if e.op in ("<", "<=", ">", ">="):
            if _blank(left) or _blank(right):
                return Decimal(0)
            a: Decimal | str = ln if ln is not None and rn is not None else str(left)
            b: Decimal | str = rn if ln is not None and rn is not None else str(right)
            result = {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[e.op]  # type: ignore[operator]
            return Decimal(int(result))
        if ln is None or rn is None:
            return None
        if e.op == "+":
            return ln + rn
        if e.op == "-":
            return ln - rn
        if e.op == "*":
            return ln * rn
        if e.op == "/":
            return None if rn == 0 else ln / rn
        return Decimal(str(float(ln) ** float(rn)))

    def _call(self, e: Call) -> Scalar:
        name = e.name
        if name == "if":
            if len(e.args) != 3:
                return None
            return self.run(e.args[1] if is_true(self.run(e.args[0])) else e.args[2])
        args = [self.run(a) for a in e.args]
        if not e.known:
            raise InputError(Problem("logic", f"function {name}() is not a REDCap function",
                                     name))
        numbers = [n for n in (_num(a) for a in args) if n is not None]
        if name in ("sum", "mean", "median", "stdev", "min", "max"):
            return _aggregate(name, numbers)
        if name in ("isblankormissingcode", "isblanknotmissingcode"):
            return Decimal(int(_blank(args[0]))) if args else None
        if name in ("hasmissingcode", "ismissingcode"):
            return Decimal(0)
        if name == "datediff":
            return self._datediff(args)
        if name in ("round", "roundup", "rounddown"):
            return _round(name, args)
        if name in ("abs", "sqrt", "exponential", "log", "isnumber", "isinteger"):
            return _math(name, args)
        if name in ("year", "month", "day"):
            d = _date(args[0] if args else None, self.today)
            return None if d is None else Decimal(getattr(d, name))
        return _text(name, ["" if a is None else str(a) for a in args])

    def _datediff(self, args: list[Scalar]) -> Scalar:
        if len(args) < 2:
            return None
        a, b = _date(args[0], self.today), _date(args[1], self.today)
        if a is None or b is None:
            return None
        unit = str(args[2]) if len(args) > 2 and args[2] is not None else "d"
        signed = len(args) > 3 and str(args[-1]).lower() == "true"
        seconds = Decimal(str((b - a).total_seconds()))
        per = {"y": Decimal("31556952"), "M": Decimal("2629746"), "d": Decimal(86400),
               "h": Decimal(3600), "m": Decimal(60), "s": Decimal(1)}.get(unit, Decimal(86400))
        value = seconds / per
        return value if signed else abs(value)


def _date(value: Scalar, today: date) -> datetime | None:
    if value is None:
        return None
    text = str(value).strip()
    if text in ("today", "now"):
        now = datetime.now()
        return datetime(today.year, today.month, today.day) if text == "today" else now
    for fmt in ("%Y-%m-%d", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


def _aggregate(name: str, numbers: list[Decimal]) -> Scalar:
    if not numbers:
        return None
    if name == "sum":
        return sum(numbers, Decimal(0))
    if name == "min":
        return min(numbers)
    if name == "max":
        return max(numbers)
    if name == "mean":
        return sum(numbers, Decimal(0)) / len(numbers)
    if name == "median":
        return Decimal(str(statistics.median(numbers)))
    return Decimal(str(statistics.stdev(numbers))) if len(numbers) > 1 else None


def _round(name: str, args: list[Scalar]) -> Scalar:
    x = _num(args[0]) if args else None
    if x is None:
        return None
    places = int(_num(args[1]) or 0) if len(args) > 1 else 0
    q = Decimal(1).scaleb(-places)
    mode = {"round": "ROUND_HALF_UP", "roundup": "ROUND_UP", "rounddown": "ROUND_DOWN"}[name]
    return x.quantize(q, rounding=mode)


def _math(name: str, args: list[Scalar]) -> Scalar:
    x = _num(args[0]) if args else None
    if name == "isnumber":
        return Decimal(int(x is not None))
    if name == "isinteger":
        return Decimal(int(x is not None and x == x.to_integral_value()))
    if x is None:
        return None
    if name == "abs":
        return abs(x)
    if name == "sqrt":
        return None if x < 0 else x.sqrt()
    if name == "exponential":
        return Decimal(str(math.exp(float(x))))
    base = _num(args[1]) if len(args) > 1 else None
    if x <= 0:
        return None
    return Decimal(str(math.log(float(x), float(base) if base else math.e)))


def _text(name: str, s: list[str]) -> Scalar:
    def arg(i: int) -> str:
        return s[i] if len(s) > i else ""

    def count(i: int) -> int:
        n = _num(arg(i))
        return int(n) if n is not None else 0
    low = [x.lower() for x in s]
    if name == "contains":
        return Decimal(int(arg(1).lower() in arg(0).lower()))
    if name == "not_contains":
        return Decimal(int(arg(1).lower() not in arg(0).lower()))
    if name == "starts_with":
        return Decimal(int(arg(0).lower().startswith(arg(1).lower())))
    if name == "ends_with":
        return Decimal(int(arg(0).lower().endswith(arg(1).lower())))
    if name == "left":
        return arg(0)[:count(1)]
    if name == "right":
        return arg(0)[-count(1):] if count(1) else ""
    if name == "mid":
        start = count(1) - 1
        return arg(0)[start:start + count(2)]
    if name == "length":
        return Decimal(len(arg(0)))
    if name == "find":
        return Decimal(low[1].find(low[0]) + 1) if len(s) > 1 else Decimal(0)
    if name == "trim":
        return arg(0).strip()
    if name == "upper":
        return arg(0).upper()
    if name == "lower":
        return arg(0).lower()
    if name == "concat":
        return "".join(s)
    if name == "concat_ws":
        return arg(0).join(s[1:])
    if name == "replace_text":
        return arg(0).replace(arg(1), arg(2))
    return None
