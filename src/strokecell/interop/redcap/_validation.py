"""Field-level validation of one raw value against its REDCap field, never coercing silently.

:func:`validate_value` turns the text of a cell into a typed value (see
:mod:`strokecell.interop._model`) or returns the :class:`~strokecell.errors.Problem` that rejects
it. Dates are read in REDCap's storage form (``YYYY-MM-DD``, what every export writes) or in the
field's own display order (``date_mdy``: ``MM-DD-YYYY`` or ``MM/DD/YYYY``); nothing else.
:func:`range_problem` checks the field's min/max: REDCap's ranges are soft (the project XML says
``SoftHard="Soft"``: a value outside is admissible), so importers report it as a warning unless
asked for hard ranges. A slider's range (0-100 unless given) is hard.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation

from strokecell.errors import Problem
from strokecell.interop._model import Field, Value

__all__ = [
    "KNOWN_VALIDATIONS",
    "format_value",
    "parse_bound",
    "range_problem",
    "validate_value",
    "validation_kind",
]

_DATE_FORMATS = {
    "ymd": ("%Y-%m-%d",),
    "mdy": ("%m-%d-%Y", "%m/%d/%Y"),
    "dmy": ("%d-%m-%Y", "%d/%m/%Y"),
}
_PATTERNS: dict[str, tuple[str, str]] = {
    # name: (regex, what a user reads as allowed)
    "email": (r"[^@\s]+@[^@\s]+\.[^@\s]+", "an e-mail address such as name@example.org"),
    "phone": (r"\(?[2-9]\d{2}\)?[\s.-]*[2-9]\d{2}[\s.-]*\d{4}"
              r"(\s*(#|x\.?|ext\.?|extension)\s*\d+)?",
              "a North American phone number such as (405) 321-1111"),
    "phone_australia": (r"(\(0[2-478]\)|0[2-478])?\s*\d{4}\s*\d{4}|04\d{2}\s*\d{3}\s*\d{3}",
                        "an Australian phone number"),
    "zipcode": (r"\d{5}(-\d{4})?", "a U.S. ZIP code (12345 or 12345-6789)"),
    "alpha_only": (r"[A-Za-z]+", "letters A-Z only"),
    "ssn": (r"\d{3}-\d{2}-\d{4}", "a U.S. social security number 123-45-6789"),
    "mrn_10d": (r"\d{10}", "a 10-digit medical record number"),
    "mrn_generic": (r"[A-Za-z0-9_-]+", "letters, digits, - and _"),
    "vmrn": (r"\d{4,9}", "a Vanderbilt MRN of 4-9 digits"),
    "postalcode_australia": (r"\d{4}", "a 4-digit Australian postal code"),
    "postalcode_canada": (r"[ABCEGHJ-NPRSTVXYabceghj-nprstvxy]\d[A-Za-z] ?\d[A-Za-z]\d",
                          "a Canadian postal code such as K1A 0B1"),
    "postalcode_french": (r"((0?[1-9])|([1-8][0-9])|(9[0-8]))[0-9]{3}",
                          "a 5-digit French postal code"),
    "postalcode_germany": (r"\d{5}", "a 5-digit German postal code"),
}
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
_NUMBER_COMMA = re.compile(r"[-+]?(\d+,?\d*|,\d+)([eE][-+]?\d+)?")
_INTEGER = re.compile(r"[-+]?\d+")
_NDP = re.compile(r"number_([1-4])dp(_comma_decimal)?")

#: Validation names REDCap ships, by the name the data dictionary uses.
KNOWN_VALIDATIONS: frozenset[str] = frozenset({
    "date_ymd", "date_mdy", "date_dmy",
    "datetime_ymd", "datetime_mdy", "datetime_dmy",
    "datetime_seconds_ymd", "datetime_seconds_mdy", "datetime_seconds_dmy",
    "time", "time_hh_mm_ss", "time_mm_ss",
    "integer", "number", "number_comma_decimal",
    *(f"number_{n}dp" for n in range(1, 5)),
    *(f"number_{n}dp_comma_decimal" for n in range(1, 5)),
    *_PATTERNS,
    "signature",
})


def validation_kind(f: Field) -> str:
    """The kind of value a field holds: ``text``, ``date``, ``datetime``, ``time``,
    ``integer``, ``number``, ``choice``, ``checkbox``, ``boolean``, ``none``."""
    t = f.field_type
    if t in ("dropdown", "radio"):
        return "choice"
    if t == "checkbox":
        return "checkbox"
    if t in ("yesno", "truefalse"):
        return "boolean"
    if t == "slider":
        return "integer"
    if t == "calc":
        return "number"
    if t == "descriptive":
        return "none"
    if t != "text":
        return "text"
    v = f.validation
    if v.startswith("datetime"):
        return "datetime"
    if v.startswith("date_"):
        return "date"
    if v.startswith("time"):
        return "time"
    if v == "integer":
        return "integer"
    if v.startswith("number"):
        return "number"
    return "text"


def validate_value(f: Field, raw: str) -> Value | Problem:
    """The typed value of ``raw`` (not empty) for field ``f``, or the Problem rejecting it."""
    kind = validation_kind(f)
    if kind == "none":
        return _bad(f, raw, "a descriptive field holds no data", "no value")
    if kind == "choice":
        if f.choice(raw) is None:
            return _bad(f, raw, "not one of the field's choice codes", _choices_text(f))
        return raw
    if kind == "checkbox":
        return _bad(f, raw, "a checkbox is given as field___code columns", "0 or 1 per code")
    if kind == "boolean":
        if raw in ("0", "1"):
            return raw == "1"
        allowed = "1 (Yes) or 0 (No)" if f.field_type == "yesno" else "1 (True) or 0 (False)"
        return _bad(f, raw, "not a coded answer", allowed)
    if f.field_type == "slider":
        if not _INTEGER.fullmatch(raw):
            return _bad(f, raw, "a slider value is a whole number", _slider_text(f))
        value = int(raw)
        low, high = _slider_range(f)
        if not low <= value <= high:
            return _bad(f, raw, "outside the slider's range", _slider_text(f))
        return value
    if kind == "date":
        return _parse_dt(f, raw, date=True)
    if kind == "datetime":
        return _parse_dt(f, raw, date=False)
    if kind == "time":
        return _parse_time(f, raw)
    if kind == "integer":
        if not _INTEGER.fullmatch(raw):
            return _bad(f, raw, "not a whole number", "an integer such as 42")
        return int(raw)
    if kind == "number":
        return _parse_number(f, raw)
    pattern = _PATTERNS.get(f.validation)
    if pattern and not re.fullmatch(pattern[0], raw):
        return _bad(f, raw, f"not valid for validation {f.validation}", pattern[1])
    return raw


def parse_bound(f: Field, text: str) -> Value | None:
    """A min/max of the dictionary as a typed value; ``today``/``now`` resolve to the clock."""
    text = text.strip()
    if not text:
        return None
    kind = validation_kind(f)
    if text in ("today", "now"):
        now = datetime.now()
        if kind == "date":
            return now.date()
        if kind == "datetime":
            return now.replace(microsecond=0)
        return None
    if kind in ("date", "datetime", "time", "integer", "number") or f.field_type == "slider":
        probe = Field(f.name, f.form, f.field_type, f.label, validation=f.validation,
                      choices=f.choices)
        parsed = validate_value(probe, text)
        if isinstance(parsed, Problem):
            if kind in ("integer", "number"):
                try:
                    return Decimal(text)
                except InvalidOperation:
                    return None
            return None
        return parsed
    return None


def range_problem(f: Field, value: Value) -> Problem | None:
    """The Problem of a value outside the field's min/max (REDCap: soft), else None."""
    if f.field_type == "slider":
        return None
    low = parse_bound(f, f.validation_min)
    high = parse_bound(f, f.validation_max)
    if low is None and high is None:
        return None
    try:
        below = low is not None and value < low  # type: ignore[operator]
        above = high is not None and value > high  # type: ignore[operator]
    except TypeError:
        return None
    if below or above:
        allowed = f"{f.validation_min or '-'} to {f.validation_max or '-'}"
        return Problem(f.name, "outside the field's range", format_value(f, value), allowed)
    return None


def format_value(f: Field, value: Value) -> str:
    """The text REDCap stores and exports for a typed value (inverse of validate_value)."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, datetime):
        seconds = "seconds" in f.validation
        return value.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        if f.validation == "time_mm_ss":
            return value.strftime("%M:%S")
        return value.strftime("%H:%M:%S" if f.validation == "time_hh_mm_ss" else "%H:%M")
    if isinstance(value, Decimal):
        text = str(value)
        return text.replace(".", ",") if "comma" in f.validation else text
    if isinstance(value, frozenset):
        return ",".join(sorted(value))
    return str(value)


# -- helpers -------------------------------------------------------------------------------


def _bad(f: Field, raw: str, why: str, allowed: str) -> Problem:
    return Problem(f.name, f"{f.label[:60]!r}: {why}" if f.label else why, raw, allowed)


def _choices_text(f: Field) -> str:
    text = ", ".join(f"{c.code} ({c.label})" for c in f.choices[:12])
    return text + (", ..." if len(f.choices) > 12 else "")


def _slider_range(f: Field) -> tuple[int, int]:
    low, high = 0, 100
    if _INTEGER.fullmatch(f.validation_min.strip()):
        low = int(f.validation_min)
    if _INTEGER.fullmatch(f.validation_max.strip()):
        high = int(f.validation_max)
    return low, high


def _slider_text(f: Field) -> str:
    low, high = _slider_range(f)
    return f"a whole number from {low} to {high}"


def _parse_dt(f: Field, raw: str, *, date: bool) -> Value | Problem:
    order = f.validation.rsplit("_", 1)[-1]
    formats = list(_DATE_FORMATS["ymd"])
    if order in ("mdy", "dmy"):
        formats += _DATE_FORMATS[order]
    if not date:
        suffix = " %H:%M:%S" if "seconds" in f.validation else " %H:%M"
        formats = [fmt + suffix for fmt in formats]
    for fmt in formats:
        try:
            parsed = datetime.strptime(raw, fmt)
        except ValueError:
            continue
        return parsed.date() if date else parsed
    shown = " or ".join(_human(fmt) for fmt in formats)
    what = "a date" if date else "a date and time"
    return _bad(f, raw, f"not {what} in the field's format ({f.validation})", shown)


def _human(fmt: str) -> str:
    return (fmt.replace("%Y", "YYYY").replace("%m", "MM").replace("%d", "DD")
            .replace("%H", "HH").replace("%M", "MM").replace("%S", "SS"))


def _parse_time(f: Field, raw: str) -> Value | Problem:
    fmt = {"time_hh_mm_ss": "%H:%M:%S", "time_mm_ss": "%M:%S"}.get(f.validation, "%H:%M")
    if re.fullmatch(r"\d\d:\d\d(:\d\d)?", raw):
        try:
            return datetime.strptime(raw, fmt).time()
        except ValueError:
            pass
    return _bad(f, raw, f"not a time in the field's format ({f.validation})", _human(fmt))


def _parse_number(f: Field, raw: str) -> Value | Problem:
    v = f.validation
    comma = "comma" in v
    ndp = _NDP.fullmatch(v)
    if ndp:
        sep = "," if comma else r"\."
        if not re.fullmatch(rf"[-+]?\d+{sep}\d{{{ndp.group(1)}}}", raw):
            sep_text = "a comma" if comma else "a point"
            return _bad(f, raw, "not a number with the field's decimal places",
                        f"a number with exactly {ndp.group(1)} decimal(s) after {sep_text}")
    elif not (_NUMBER_COMMA if comma else _NUMBER).fullmatch(raw):
        allowed = "a number with a decimal comma" if comma else "a number such as 12.5"
        return _bad(f, raw, "not a number", allowed)
    try:
        return Decimal(raw.replace(",", ".") if comma else raw)
    except InvalidOperation:
        return _bad(f, raw, "not a number", "a number")
