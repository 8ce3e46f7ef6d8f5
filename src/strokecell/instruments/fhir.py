"""FHIR R4 ``Questionnaire`` export of a scale, built from the same data file that scores it.

Choice items become ``choice`` questions whose ``answerOption.valueCoding.code`` is the score
value and ``display`` the level label, with the value also as an ``ordinalValue`` extension so
that FHIR tools can sum it. ``UN`` is an answer option without an ordinal value. Sections
become ``group`` items; a measurement becomes a ``decimal`` question with its UCUM unit and
bounds. The output is a plain dict, valid against the R4 (R4B) Questionnaire model.
"""

from __future__ import annotations

from typing import Any

from strokecell.instruments._schema import GatedBySectionRule, Item, OneOfRule, Section
from strokecell.instruments._values import UN
from strokecell.instruments.engine import Instrument

#: Canonical URL base of the exported questionnaires. A URN until the project has a domain.
FHIR_BASE_URL = "urn:strokecell:fhir:Questionnaire"

_ORDINAL = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
_UNIT = "http://hl7.org/fhir/StructureDefinition/questionnaire-unit"
_MIN = "http://hl7.org/fhir/StructureDefinition/minValue"
_MAX = "http://hl7.org/fhir/StructureDefinition/maxValue"
_UCUM = "http://unitsofmeasure.org"


def to_fhir_questionnaire(instrument: Instrument) -> dict[str, Any]:
    """The FHIR R4 Questionnaire (as JSON-ready dict) of ``instrument``."""
    scale = instrument.definition
    resource_id = scale.code.replace("_", "-")  # FHIR ids allow [A-Za-z0-9-.] only
    sections = {s.code: s for s in scale.sections}
    children = {c for s in scale.sections for c in s.sections}
    optional = _optional_items(instrument)
    if scale.sections:
        top = [_group(s, sections, instrument, optional)
               for s in scale.sections if s.code not in children]
    else:
        top = [_question(item, optional) for item in scale.items]
    return {
        "resourceType": "Questionnaire",
        "id": resource_id,
        "url": f"{FHIR_BASE_URL}:{resource_id}",
        "version": scale.version,
        "name": scale.code.upper(),
        "title": scale.name,
        "status": "active",
        "subjectType": ["Patient"],
        "description": scale.source.citation,
        "item": top,
    }


def _optional_items(instrument: Instrument) -> dict[str, list[dict[str, Any]]]:
    """Items that are not always answered, with their ``enableWhen`` conditions if any."""
    out: dict[str, list[dict[str, Any]]] = {}
    for rule in instrument.definition.rules:
        if isinstance(rule, OneOfRule):
            first, *rest = rule.items
            out[first] = []
            for code in rest:
                # The alternative is answered only when the first item is not (MBI wheelchair).
                out[code] = [{"question": first, "operator": "exists", "answerBoolean": False}]
        elif isinstance(rule, GatedBySectionRule):
            out[rule.item] = []
    return out


def _group(section: Section, sections: dict[str, Section], instrument: Instrument,
           optional: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    items: list[dict[str, Any]] = [
        _group(sections[c], sections, instrument, optional) for c in section.sections
    ]
    items += [_question(instrument.item(code), optional) for code in section.items]
    return {
        "linkId": section.code,
        "text": f"{section.label} (max {section.maximum})",
        "type": "group",
        "item": items,
    }


def _question(item: Item, optional: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    out: dict[str, Any] = {"linkId": item.code, "text": item.label,
                           "required": item.code not in optional}
    if optional.get(item.code):
        out["enableWhen"] = optional[item.code]
    if item.quantity is not None:
        q = item.quantity
        out["type"] = "decimal"
        out["extension"] = [
            {"url": _UNIT, "valueCoding": {"system": _UCUM, "code": q.ucum, "display": q.unit}},
            {"url": _MIN, "valueDecimal": q.minimum},
            {"url": _MAX, "valueDecimal": q.maximum},
        ]
        return out
    options: list[dict[str, Any]] = [
        {
            "valueCoding": {"code": str(level.value), "display": level.label},
            "extension": [{"url": _ORDINAL, "valueDecimal": level.value}],
        }
        for level in item.levels
    ]
    if item.untestable is not None:
        options.append({"valueCoding": {"code": UN, "display": item.untestable.label}})
    out["type"] = "choice"
    out["answerOption"] = options
    return out
