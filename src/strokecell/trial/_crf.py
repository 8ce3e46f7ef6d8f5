"""The small form engine for CRF pages that are not scales (``crf/*.yaml``).

A form file lists fields with a type (integer, decimal, text, code, date, datetime, boolean),
unit, range, choices, ``required``, an optional condition ``when: {field, equals}`` (the field
applies only then: required then, refused otherwise) and ``not_before`` (a date field that
must not precede another). ``derived`` names values computed from the fields (a ``sum`` or a
named ``rule``), stored as derived values, never typed.

Values are read as strictly as the scales read theirs (``strokecell.instruments``): exact
strings only (``"10"`` for 10, ``"2026-05-04"`` for a date), nothing guessed, every problem
reported at once as an :class:`~strokecell.errors.InputError` of :class:`Problem` (field,
message, value, what is allowed).
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from strokecell.errors import InputError, NotFoundError, Problem
from strokecell.instruments import biomarker_panel
from strokecell.store import ValueType

__all__ = ["CrfDefinition", "CrfField", "crf_codes", "load_crf", "parse_field"]

_INT = re.compile(r"-?(0|[1-9][0-9]*)")
_DECIMAL = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

FieldType = Literal["integer", "decimal", "text", "code", "date", "datetime", "boolean"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Condition(_Strict):
    field: str
    equals: str | bool | int


class CrfField(_Strict):
    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=60)
    label: str
    type: FieldType
    unit: str | None = None
    min: float | None = None
    max: float | None = None
    choices: list[str] | None = None
    max_length: int | None = None
    required: bool = False
    when: Condition | None = None
    not_before: str | None = None

    @property
    def value_type(self) -> ValueType:
        return ValueType(self.type)

    def allowed(self) -> str:
        if self.type == "code":
            return ", ".join(self.choices or [])
        if self.type in ("integer", "decimal"):
            lo = "" if self.min is None else f"{self.min:g}"
            hi = "" if self.max is None else f"{self.max:g}"
            unit = f" {self.unit}" if self.unit else ""
            kind = "an integer" if self.type == "integer" else "a number"
            return f"{kind} from {lo or '-inf'} to {hi or 'inf'}{unit}"
        return {"date": "a date YYYY-MM-DD", "boolean": "true or false",
                "datetime": "a date and time with UTC offset, e.g. 2026-05-04T09:30:00+08:00",
                "text": f"text of up to {self.max_length or 'any'} characters"}[self.type]


class Derived(_Strict):
    param: str
    sum: list[str] | None = None
    rule: Literal["ich_score"] | None = None


class CrfDefinition(_Strict):
    code: str
    name: str
    version: str
    repeating: bool = False
    unblinded_only: bool = False
    roles: list[str] | None = None
    fields: list[CrfField]
    derived: list[Derived] = Field(default_factory=list)
    fields_from_biomarker_panel: bool = False

    def field(self, code: str) -> CrfField | None:
        return next((f for f in self.fields if f.code == code), None)

    def check(self, items: Mapping[str, object], *, partial: bool) -> dict[str, Any]:
        """Validate ``items``; return them typed (in form order) or raise InputError."""
        problems: list[Problem] = []
        values: dict[str, Any] = {}
        for key, raw in items.items():
            spec = self.field(key)
            if spec is None:
                problems.append(Problem(key, f"unknown field of form {self.code}", key,
                                        ", ".join(f.code for f in self.fields)))
                continue
            parsed = parse_field(spec, raw)
            if isinstance(parsed, Problem):
                problems.append(parsed)
            else:
                values[key] = parsed
        for spec in self.fields:
            applies = self._applies(spec, values)
            if spec.code in values and applies is False:
                cond = spec.when
                where = f"{cond.field} = {_text(cond.equals)}" if cond else "its condition"
                problems.append(Problem(spec.code, f"{spec.label}: applies only when {where}",
                                        items[spec.code], "leave it empty"))
            elif spec.required and spec.code not in values and applies is not False \
                    and not partial and spec.code not in items:
                problems.append(Problem(spec.code, f"{spec.label}: missing",
                                        allowed=spec.allowed()))
            if spec.not_before and spec.code in values and spec.not_before in values \
                    and values[spec.code] < values[spec.not_before]:
                other = self.field(spec.not_before)
                label = other.label if other else spec.not_before
                problems.append(Problem(spec.code, f"{spec.label} is before {label} "
                                        f"({values[spec.not_before]})", items[spec.code],
                                        f"on or after {values[spec.not_before]}"))
        if problems:
            raise InputError(problems, context=self.code)
        order = [f.code for f in self.fields]
        return dict(sorted(values.items(), key=lambda kv: order.index(kv[0])))

    def _applies(self, spec: CrfField, values: Mapping[str, Any]) -> bool | None:
        """True/False when decided by the values given, None when not decidable yet."""
        if spec.when is None:
            return True
        if spec.when.field not in values:
            return None
        return bool(values[spec.when.field] == spec.when.equals)

    def derive(self, values: Mapping[str, Any]) -> dict[str, float | None]:
        """The derived values of a complete form (None when not applicable)."""
        out: dict[str, float | None] = {}
        for d in self.derived:
            if d.sum is not None:
                out[d.param] = float(sum(values[c] for c in d.sum))
            elif d.rule is not None:
                out[d.param] = _RULES[d.rule](values)
        return out


def _text(value: object) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _ich_score(v: Mapping[str, Any]) -> float | None:
    # Hemphill JC et al. Stroke 2001;32:891-897 (see baseline_stroke.yaml).
    if v.get("stroke_type") != "intracerebral_haemorrhage":
        return None
    gcs = v["gcs_eye"] + v["gcs_verbal"] + v["gcs_motor"]
    score = 2 if gcs <= 4 else 1 if gcs <= 12 else 0
    score += v["ich_volume"] >= 30
    score += bool(v["intraventricular_extension"])
    score += v["ich_location"] in ("cerebellum", "brainstem")
    score += v["age_years"] >= 80
    return float(score)


_RULES: dict[str, Callable[[Mapping[str, Any]], float | None]] = {"ich_score": _ich_score}


def parse_field(spec: CrfField, raw: object) -> Any:
    """The typed value of ``raw`` for ``spec``, or the :class:`Problem` rejecting it."""
    def bad(message: str) -> Problem:
        return Problem(spec.code, f"{spec.label}: {message}", raw, spec.allowed())

    kind = spec.type
    if isinstance(raw, bool) and kind != "boolean":
        return bad("a boolean is not a value of this field")
    if kind == "boolean":
        if isinstance(raw, bool):
            return raw
        if raw in ("true", "false"):
            return raw == "true"
        return bad("expected true or false")
    if kind in ("integer", "decimal"):
        return _number(spec, raw, bad)
    if kind == "code":
        if not isinstance(raw, str) or raw not in (spec.choices or []):
            return bad("not one of the allowed codes")
        return raw
    if kind == "text":
        if not isinstance(raw, str) or not raw.strip():
            return bad("expected non-empty text")
        if spec.max_length is not None and len(raw) > spec.max_length:
            return bad(f"longer than {spec.max_length} characters")
        return raw
    if kind == "date":
        if isinstance(raw, date) and not isinstance(raw, datetime):
            return raw
        if isinstance(raw, str) and _DATE.fullmatch(raw):
            try:
                return date.fromisoformat(raw)
            except ValueError:
                return bad("not a calendar date")
        return bad("expected a date YYYY-MM-DD")
    moment: datetime | None = raw if isinstance(raw, datetime) else None
    if isinstance(raw, str):
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            return bad("expected an ISO 8601 date and time")
    if moment is None or moment.utcoffset() is None:
        return bad("expected a date and time with its UTC offset (no naive times)")
    return moment


def _number(spec: CrfField, raw: object, bad: Callable[[str], Problem]) -> Any:
    value: float
    if spec.type == "integer":
        if isinstance(raw, int):
            value = raw
        elif isinstance(raw, str) and _INT.fullmatch(raw):
            value = int(raw)
        else:
            return bad("expected a whole number")
    elif isinstance(raw, int | float) or (isinstance(raw, str) and _DECIMAL.fullmatch(raw)):
        value = float(raw)
        if not math.isfinite(value):
            return bad("not a finite number")
    else:
        return bad(f"expected a plain number{' in ' + spec.unit if spec.unit else ''}")
    if (spec.min is not None and value < spec.min) or (spec.max is not None and value > spec.max):
        return bad(f"{value:g} is out of range")
    return value


def _panel_fields() -> list[CrfField]:
    return [CrfField(code=code, label=f"{b.abbreviation} ({b.name})", type="decimal",
                     unit=b.canonical_unit, min=0, max=1e9)
            for code, b in biomarker_panel().items()]


_CRF_DIR = "crf"


def crf_codes() -> list[str]:
    """Codes of every shipped CRF page, sorted."""
    folder = resources.files("strokecell.trial") / _CRF_DIR
    return sorted(e.name[:-5] for e in folder.iterdir() if e.name.endswith(".yaml"))


@functools.cache
def load_crf(code: str) -> CrfDefinition:
    """The CRF page ``code`` (read and validated once per process)."""
    if code not in crf_codes():
        raise NotFoundError(f"form: no CRF page {code!r} (known: {', '.join(crf_codes())})")
    entry = resources.files("strokecell.trial") / _CRF_DIR / f"{code}.yaml"
    data = yaml.safe_load(entry.read_text(encoding="utf-8"))
    definition = CrfDefinition.model_validate(data)
    if definition.fields_from_biomarker_panel:
        definition = definition.model_copy(
            update={"fields": [*definition.fields, *_panel_fields()]})
    return definition
