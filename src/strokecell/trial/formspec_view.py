"""Read-only layouts of the forms, for data-entry screens (web pages, the API).

:func:`form_layout` describes a form as a screen needs it: item by item, in form order, with
the allowed values as choices (scale levels from ``instruments/``; CRF codes, booleans),
units, ranges, conditions, the section an item belongs to, and which items add up to a
total so that a screen can show a running total. The engines stay the judges: a layout only
describes, and a save is validated and scored by :func:`strokecell.trial.save_form`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from sqlalchemy import Engine

from strokecell.errors import NotFoundError
from strokecell.instruments import CompositeInstrument, Instrument, load_instrument
from strokecell.trial._authz import Action
from strokecell.trial._context import ServiceContext, authorize
from strokecell.trial._crf import CrfField, load_crf
from strokecell.trial._formspec import PARAMCD, form_codes, form_spec
from strokecell.trial._tx import reading

__all__ = ["ChoiceLayout", "FieldLayout", "FormLayout", "SumLayout", "form_layout",
           "get_form_layout", "list_form_layouts"]


@dataclass(frozen=True)
class ChoiceLayout:
    value: str  # exactly the text a save accepts ("10", "UN", "true", "lobar")
    label: str
    points: float | None = None  # what the value adds to a total (None: adds nothing)


@dataclass(frozen=True)
class FieldLayout:
    code: str
    label: str
    kind: str  # "choice", "integer", "decimal", "text", "date", "datetime", "boolean"
    choices: tuple[ChoiceLayout, ...] = ()
    unit: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None
    required: bool = True
    when_field: str | None = None  # applies only when when_field == when_equals
    when_equals: str | None = None
    section: str | None = None
    allowed: str = ""


@dataclass(frozen=True)
class SumLayout:
    """A derived value that is a plain sum of items (a running total a screen can show)."""

    param: str
    items: tuple[str, ...]
    maximum: float | None = None


@dataclass(frozen=True)
class FormLayout:
    code: str
    name: str
    kind: str  # "scale" or "crf"
    version: str
    repeating: bool
    unblinded_only: bool
    roles: tuple[str, ...]
    fields: tuple[FieldLayout, ...]
    sums: tuple[SumLayout, ...]
    note: str | None = None


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _sections(instrument: Instrument) -> dict[str, str]:
    """Item code -> label of the innermost section listing it."""
    out: dict[str, str] = {}
    parts = instrument.components if isinstance(instrument, CompositeInstrument) \
        else (instrument,)
    for part in parts:
        for section in part.definition.sections:
            for item in section.items:
                key = instrument.key_for(part.code, item) \
                    if isinstance(instrument, CompositeInstrument) else item
                out[key] = section.label
    return out


def _scale(code: str) -> FormLayout:
    instrument = load_instrument(code)
    sections = _sections(instrument)
    # Items of a one-of rule (MBI ambulation or wheelchair) are each optional on their own.
    either = {i for r in instrument.definition.rules if r.kind == "one_of" for i in r.items}
    fields: list[FieldLayout] = []
    for key in instrument.item_codes:
        item = instrument.item(key)
        if item.quantity is not None:
            q = item.quantity
            fields.append(FieldLayout(key, item.label, "decimal", unit=q.unit,
                                      minimum=q.minimum, maximum=q.maximum,
                                      section=sections.get(key),
                                      allowed=f"a number from {_text(q.minimum)} to "
                                              f"{_text(q.maximum)} {q.unit}"))
            continue
        choices = [ChoiceLayout(str(level.value), f"{level.value} – {level.label}",
                                float(level.value)) for level in item.levels]
        if item.untestable is not None:
            choices.append(ChoiceLayout("UN", f"UN – {item.untestable.label}", 0.0))
        fields.append(FieldLayout(key, item.label, "choice", tuple(choices),
                                  required=key not in either, section=sections.get(key),
                                  allowed=", ".join(c.value for c in choices)))
    spec = form_spec(code)
    param = PARAMCD.get(code, code.upper())
    total = SumLayout(param, instrument.item_codes, float(instrument.max_total))
    rules = [getattr(r, "message", "") for r in instrument.definition.rules]
    return FormLayout(code, instrument.name, "scale", spec.version, spec.repeating,
                      spec.unblinded_only, tuple(r.value for r in spec.roles),
                      tuple(fields), (total,), " ".join(m.strip() for m in rules if m) or None)


def _crf_field(f: CrfField) -> FieldLayout:
    choices: tuple[ChoiceLayout, ...] = ()
    if f.type == "code":
        choices = tuple(ChoiceLayout(c, c.replace("_", " ")) for c in f.choices or [])
    elif f.type == "boolean":
        choices = (ChoiceLayout("true", "yes"), ChoiceLayout("false", "no"))
    when_field = f.when.field if f.when else None
    when_equals = _text(f.when.equals) if f.when else None
    return FieldLayout(f.code, f.label, "choice" if f.type == "code" else f.type, choices,
                       f.unit, f.min, f.max, f.max_length, f.required, when_field,
                       when_equals, None, f.allowed())


def _crf(code: str) -> FormLayout:
    crf = load_crf(code)
    spec = form_spec(code)
    sums = tuple(SumLayout(d.param, tuple(d.sum)) for d in crf.derived if d.sum)
    return FormLayout(code, crf.name, "crf", spec.version, spec.repeating, spec.unblinded_only,
                      tuple(r.value for r in spec.roles),
                      tuple(_crf_field(f) for f in crf.fields), sums)


@functools.cache
def form_layout(code: str) -> FormLayout:
    """The layout of form ``code`` (NotFoundError for an unknown code, like form_spec).

    Describes the form only; whether the caller may see or enter it (blinding, roles) is
    decided by the services that read and save forms.
    """
    spec = form_spec(code)
    return _scale(code) if spec.kind == "scale" else _crf(code)


def get_form_layout(db: Engine, ctx: ServiceContext, code: str) -> FormLayout:
    """:func:`form_layout` for a signed-in caller: a form only unblinded roles may see (the
    administration page) is reported to blinded roles like a form that does not exist."""
    with reading(db) as s:
        scope = authorize(s, ctx, Action.READ_STUDY)
    missing = NotFoundError(f"form_code: no form {code!r} here among those you can see")
    if not isinstance(code, str) or code not in form_codes():
        raise missing
    if form_spec(code).unblinded_only and scope.blinded:
        raise missing
    return form_layout(code)


def list_form_layouts(db: Engine, ctx: ServiceContext) -> list[FormLayout]:
    """Every form the caller may see, as layouts."""
    with reading(db) as s:
        scope = authorize(s, ctx, Action.READ_STUDY)
    return [form_layout(c) for c in form_codes()
            if not (form_spec(c).unblinded_only and scope.blinded)]
