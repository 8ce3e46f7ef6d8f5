"""strokecell's scales as REDCap instruments.

Each scale of :mod:`strokecell.instruments` becomes one instrument (form) named by its code.
An ordinal item is a ``radio`` field ``<scale>_<item>`` whose choices are the item's grid
(``0, alert | 1, not alert ...``); a measurement item is a ``text`` field validated as a
number with the scale's range and its unit. The total is a ``calc`` field ``<scale>_total``:
``sum([a], [b], ...)`` (REDCap's ``sum`` skips blanks, which is how MBI's ``ambulation`` /
``wheelchair`` alternative adds up). A composite (``fma_total``) is an instrument holding only
its calc, the sum of its components' totals.

NIHSS "untestable": the items that allow it get the choice code ``UN`` (label from the scale
file). ``UN`` is not a number, so the total wraps those items as
``if([nihss_7_limb_ataxia]='UN', 0, [nihss_7_limb_ataxia])``: UN counts 0, as the scoring
engine counts it, and stays distinguishable from a scored 0 in the data.
"""

from __future__ import annotations

from collections.abc import Sequence

from strokecell.instruments import CompositeInstrument, Instrument, list_instruments
from strokecell.instruments import load_instrument as _load
from strokecell.interop._model import Choice, Dictionary, Field, Project

__all__ = ["instrument_fields", "scales_dictionary", "scales_project", "total_field"]


def _name(scale: str, item: str) -> str:
    return f"{scale}_{item}".lower()


def total_field(scale: str) -> str:
    """The name of a scale's calc total field."""
    return f"{scale}_total"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def instrument_fields(code: str) -> tuple[Field, ...]:
    """The REDCap fields of one scale: its items, then its total."""
    inst = _load(code)
    if isinstance(inst, CompositeInstrument):
        parts = ", ".join(f"[{total_field(c.code)}]" for c in _components(inst))
        return (Field(total_field(code), code, "calc", f"{inst.name}: total",
                      calculation=f"sum({parts})",
                      annotation=f"@strokecell scale={code} total max={_number(inst.max_total)}"
                      ),)
    return (*_items(inst), _total(inst))


def _components(inst: CompositeInstrument) -> Sequence[Instrument]:
    return [_load(c) for c in inst.definition.components]


def _items(inst: Instrument) -> list[Field]:
    fields: list[Field] = []
    headers: dict[str, str] = {}
    for section in inst.definition.sections:
        if section.items:
            headers.setdefault(section.items[0], section.label)
    for code in inst.item_codes:
        item = inst.item(code)
        name = _name(inst.code, code)
        note = f"@strokecell scale={inst.code} item={code}"
        header = headers.get(code, "")
        if item.quantity is not None:
            q = item.quantity
            fields.append(Field(name, inst.code, "text", f"{item.label} ({q.unit})",
                                section_header=header, validation="number",
                                validation_min=_number(q.minimum),
                                validation_max=_number(q.maximum), unit=q.ucum,
                                field_note=q.unit, annotation=note))
            continue
        choices = [Choice(str(level.value), level.label) for level in item.levels]
        if item.untestable is not None:
            choices.append(Choice("UN", item.untestable.label))
        fields.append(Field(name, inst.code, "radio", item.label, section_header=header,
                            choices=tuple(choices), annotation=note))
    return fields


def _total(inst: Instrument) -> Field:
    terms = []
    for code in inst.item_codes:
        ref = f"[{_name(inst.code, code)}]"
        if inst.item(code).untestable is not None:
            terms.append(f"if({ref}='UN',0,{ref})")
        else:
            terms.append(ref)
    return Field(total_field(inst.code), inst.code, "calc", f"{inst.name}: total",
                 calculation=f"sum({', '.join(terms)})",
                 annotation=f"@strokecell scale={inst.code} total "
                            f"max={_number(inst.max_total)}")


def scales_dictionary(codes: Sequence[str] | None = None, *,
                      record_id: str = "record_id") -> Dictionary:
    """A data dictionary with a record id form and one instrument per scale (all by default;
    a composite brings its components)."""
    wanted: list[str] = []
    for code in codes if codes is not None else list_instruments():
        inst = _load(code)
        if isinstance(inst, CompositeInstrument):
            for c in inst.definition.components:
                if c not in wanted:
                    wanted.append(c)
        if code not in wanted:
            wanted.append(code)
    fields = [Field(record_id, "enrolment", "text", "Subject ID")]
    labels = {"enrolment": "Enrolment"}
    for code in wanted:
        fields.extend(instrument_fields(code))
        labels[code] = _load(code).name
    return Dictionary(tuple(fields), labels)


def scales_project(codes: Sequence[str] | None = None, *, title: str = "strokecell scales"
                   ) -> Project:
    """A project (no records) holding the scales as instruments."""
    return Project(title, scales_dictionary(codes))
