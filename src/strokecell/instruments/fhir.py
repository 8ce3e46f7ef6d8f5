"""FHIR R4 ``Questionnaire`` export of a scale, built from the same data file that scores it.

Choice items become ``choice`` questions whose ``answerOption.valueCoding.code`` is the score
value and ``display`` the level label, with the value also as an ``ordinalValue`` extension so
that FHIR tools can sum it. ``UN`` is an answer option without an ordinal value. Sections
become ``group`` items; a measurement becomes a ``decimal`` question with its UCUM unit and
bounds. A composite scale (``fma_total``) has one ``group`` per component, linkId the
component code, holding that component's groups and questions; inside it a section group is
``<component>.<section>`` (as in the result's ``subtotals``) and a question keeps the key the
composite scores it under. The output is a plain dict, valid against the R4 (R4B)
Questionnaire model.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from strokecell.instruments._schema import GatedBySectionRule, Item, OneOfRule, Section
from strokecell.instruments._values import UN
from strokecell.instruments.engine import CompositeInstrument, Instrument

#: Maps a code of the scale being exported to the linkId it gets in the questionnaire.
_Rename = Callable[[str], str]

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
    top = _content(instrument, _same, _same)
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


def _same(code: str) -> str:
    return code


def _content(instrument: Instrument, key: _Rename, group: _Rename) -> list[dict[str, Any]]:
    """The top-level items of ``instrument``: ``key`` names questions, ``group`` groups."""
    if isinstance(instrument, CompositeInstrument):
        return [
            {
                "linkId": group(component.code),
                "text": f"{component.name} (max {component.max_total})",
                "type": "group",
                "item": _content(component,
                                 functools.partial(_inner_key, instrument, component.code, key),
                                 functools.partial(_inner_group, component.code, group)),
            }
            for component in instrument.components
        ]
    scale = instrument.definition
    sections = {s.code: s for s in scale.sections}
    children = {c for s in scale.sections for c in s.sections}
    optional = _optional_items(instrument, key)
    if scale.sections:
        return [_group(s, sections, instrument, optional, key, group)
                for s in scale.sections if s.code not in children]
    return [_question(item, optional, key) for item in scale.items]


def _inner_key(composite: CompositeInstrument, component: str, key: _Rename, code: str) -> str:
    return key(composite.key_for(component, code))


def _inner_group(component: str, group: _Rename, code: str) -> str:
    return group(f"{component}.{code}")


def _optional_items(instrument: Instrument, key: _Rename) -> dict[str, list[dict[str, Any]]]:
    """Items that are not always answered, with their ``enableWhen`` conditions if any."""
    out: dict[str, list[dict[str, Any]]] = {}
    for rule in instrument.definition.rules:
        if isinstance(rule, OneOfRule):
            first, *rest = rule.items
            out[first] = []
            for code in rest:
                # The alternative is answered only when the first item is not (MBI wheelchair).
                out[code] = [{"question": key(first), "operator": "exists",
                              "answerBoolean": False}]
        elif isinstance(rule, GatedBySectionRule):
            out[rule.item] = []
    return out


def _group(section: Section, sections: dict[str, Section], instrument: Instrument,
           optional: dict[str, list[dict[str, Any]]], key: _Rename,
           group: _Rename) -> dict[str, Any]:
    items: list[dict[str, Any]] = [
        _group(sections[c], sections, instrument, optional, key, group) for c in section.sections
    ]
    items += [_question(instrument.item(code), optional, key) for code in section.items]
    return {
        "linkId": group(section.code),
        "text": f"{section.label} (max {section.maximum})",
        "type": "group",
        "item": items,
    }


def _question(item: Item, optional: dict[str, list[dict[str, Any]]],
              key: _Rename) -> dict[str, Any]:
    out: dict[str, Any] = {"linkId": key(item.code), "text": item.label,
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
