"""The four aspects of a treatment as the synthesis groups them, and the names users type.

* ``cell_type``, ``route`` and ``phase`` are the coded columns of ``trials.csv``.
* ``dose`` is a category of cells **per administration**: ``low`` (< 10^8 cells),
  ``medium`` (10^8 to < 10^9) or ``high`` (>= 10^9). A dose given only per kg is put in a
  category with the same cut-points per kg at a 70 kg reference weight (< 1.43 x 10^6/kg,
  < 1.43 x 10^7/kg): a grouping convention, not an estimate of the dose a trial gave; the
  meta-regression on dose keeps the two bases apart (``dose``: log10 cells, ``dose_per_kg``:
  log10 cells/kg).

Protocol files use longer codes (``mesenchymal_stem_cells``, ``intracerebral_haemorrhage``,
``acute-subacute``); :func:`normalise_aspect` maps them to the codes of the data set, so the
report layer can pass the aspects of a protocol as plain strings.
"""

from __future__ import annotations

import math
from typing import Final, Literal

from strokecell.errors import InputError, Problem
from strokecell.evidence._model import TrialRecord
from strokecell.evidence._vocab import (
    DAYS_PER_UNIT,
    OUTCOMES,
    CellType,
    Outcome,
    Phase,
    Route,
    StrokeType,
    TimeUnit,
)

__all__ = [
    "ASPECTS",
    "DOSE_CATEGORIES",
    "DOSE_CUTS_CELLS",
    "REFERENCE_WEIGHT_KG",
    "REGRESSORS",
    "Aspect",
    "Regressor",
    "aspect_value",
    "dose_category",
    "format_time",
    "normalise_aspect",
    "outcome_label",
    "parse_aspect",
    "parse_outcome",
    "parse_regressor",
    "regressor_value",
    "short_time",
]

Aspect = Literal["cell_type", "phase", "route", "dose"]
Regressor = Literal["dose", "dose_per_kg", "days"]

#: The four aspects, in the order DESIGN.md lists them (type, time, route, number).
ASPECTS: Final[tuple[Aspect, ...]] = ("cell_type", "phase", "route", "dose")
#: Moderators of the meta-regressions and what they measure.
REGRESSORS: Final[dict[Regressor, str]] = {
    "dose": "log10 cells per administration (trials reporting a total dose)",
    "dose_per_kg": "log10 cells per kg per administration (trials reporting a per-kg dose)",
    "days": "days from onset to cells (mean, else median, else midpoint of the range)",
}

REFERENCE_WEIGHT_KG: Final = 70.0
DOSE_CUTS_CELLS: Final = (1e8, 1e9)
DOSE_CATEGORIES: Final[dict[str, str]] = {
    "low": "< 1e8 cells per administration (< 1.43e6/kg)",
    "medium": "1e8 to < 1e9 cells per administration (1.43e6 to < 1.43e7/kg)",
    "high": ">= 1e9 cells per administration (>= 1.43e7/kg)",
}

_ASPECT_ALIASES: Final[dict[str, Aspect]] = {
    "cell_type": "cell_type", "cell": "cell_type", "cells": "cell_type", "type": "cell_type",
    "phase": "phase", "timing": "phase", "time": "phase",
    "route": "route",
    "dose": "dose", "number": "dose", "dose_category": "dose",
}
_REGRESSOR_ALIASES: Final[dict[str, Regressor]] = {
    "dose": "dose", "log10_dose": "dose", "dose_total": "dose",
    "dose_per_kg": "dose_per_kg", "per_kg": "dose_per_kg",
    "days": "days", "days_from_onset": "days", "onset": "days",
}
_OUTCOME_ALIASES: Final[dict[str, Outcome]] = {
    "mortality": Outcome.DEATH, "deaths": Outcome.DEATH, "barthel": Outcome.BI,
    "modified_barthel": Outcome.MBI, "fugl_meyer": Outcome.FMA, "fm": Outcome.FMA,
    "rankin": Outcome.MRS, "serious_adverse_events": Outcome.SAE,
}
# Protocol-layer codes (strokecell.protocol.codes) -> codes of trials.csv.
_PROTOCOL_CODES: Final[dict[str, dict[str, str]]] = {
    "cell_type": {
        "mesenchymal_stem_cells": CellType.MSC,
        "modified_mesenchymal_stem_cells": CellType.MODIFIED_MSC,
        "neural_stem_cells": CellType.NSC,
        "bone_marrow_mononuclear_cells": CellType.BM_MNC,
        "cord_blood_cells": CellType.UC_MNC,
        "multipotent_adult_progenitor_cells": CellType.MAPC,
        "cd34_positive_cells": CellType.CD34,
        "aldh_bright_cells": CellType.ALDH_BR,
    },
    "stroke_type": {
        "ischaemic_stroke": StrokeType.ISCHAEMIC,
        "ischemic": StrokeType.ISCHAEMIC,
        "intracerebral_haemorrhage": StrokeType.ICH,
        "intracerebral_hemorrhage": StrokeType.ICH,
    },
}
_VOCABULARY: Final[dict[str, tuple[str, ...]]] = {
    "cell_type": tuple(c.value for c in CellType),
    "route": tuple(r.value for r in Route),
    "phase": tuple(p.value for p in Phase),
    "stroke_type": tuple(s.value for s in StrokeType),
}


def _key(text: str) -> str:
    return text.strip().lower().replace("-", "_").replace(" ", "_")


def parse_outcome(text: str | Outcome) -> Outcome:
    """The outcome code for ``text`` (case-insensitive; ``mortality`` is ``death``)."""
    if isinstance(text, Outcome):
        return text
    key = _key(str(text))
    if key in _OUTCOME_ALIASES:
        return _OUTCOME_ALIASES[key]
    try:
        return Outcome(key)
    except ValueError:
        allowed = ", ".join(o.value for o in Outcome) + " (aliases: " + ", ".join(
            _OUTCOME_ALIASES) + ")"
        raise InputError(Problem("outcome", "unknown outcome", text, allowed)) from None


def parse_aspect(text: str) -> Aspect:
    """The aspect named by ``text`` (``cell_type``, ``phase``/``timing``, ``route``, ``dose``)."""
    key = _key(text)
    if key not in _ASPECT_ALIASES:
        raise InputError(Problem("by", "unknown aspect", text, ", ".join(ASPECTS)))
    return _ASPECT_ALIASES[key]


def parse_regressor(text: str) -> Regressor:
    """The meta-regression moderator named by ``text`` (``dose``, ``dose_per_kg``, ``days``)."""
    key = _key(text)
    if key not in _REGRESSOR_ALIASES:
        raise InputError(Problem("regress", "unknown moderator", text, ", ".join(REGRESSORS)))
    return _REGRESSOR_ALIASES[key]


def normalise_aspect(name: str, value: str) -> tuple[str, ...]:
    """The data-set code(s) for an aspect value given in data-set or protocol vocabulary.

    ``name`` is ``cell_type``, ``route``, ``phase`` or ``stroke_type``. A protocol phase
    spanning two bands (``acute-subacute``) gives both codes.
    """
    if name not in _VOCABULARY:
        raise InputError(Problem("aspect", "unknown aspect", name, ", ".join(_VOCABULARY)))
    allowed = _VOCABULARY[name]
    parts = [value] if name != "phase" else value.split("-")
    out: list[str] = []
    for part in parts:
        key = _key(part)
        code = _PROTOCOL_CODES.get(name, {}).get(key, key)
        if code not in allowed:
            extra = list(_PROTOCOL_CODES.get(name, {}))
            raise InputError(Problem(name, "unknown value", value,
                                     ", ".join([*allowed, *extra])))
        out.append(str(code))
    return tuple(dict.fromkeys(out))


def dose_category(record: TrialRecord) -> str | None:
    """``low``, ``medium`` or ``high`` cells per administration (see the module docstring)."""
    if record.dose_total is not None:
        cells = record.dose_total
    elif record.dose_per_kg is not None:
        cells = record.dose_per_kg * REFERENCE_WEIGHT_KG
    else:
        return None
    if cells < DOSE_CUTS_CELLS[0]:
        return "low"
    return "medium" if cells < DOSE_CUTS_CELLS[1] else "high"


def aspect_value(record: TrialRecord, aspect: Aspect) -> str | None:
    """The subgroup a record falls in for ``aspect`` (None when not coded)."""
    if aspect == "dose":
        return dose_category(record)
    value = getattr(record, aspect)
    return None if value is None else str(value.value)


def regressor_value(record: TrialRecord, regressor: Regressor) -> float | None:
    """The moderator value of a record (None when the trial does not report it)."""
    if regressor == "dose":
        return None if record.dose_total is None else math.log10(record.dose_total)
    if regressor == "dose_per_kg":
        return None if record.dose_per_kg is None else math.log10(record.dose_per_kg)
    return record.days_from_onset


def format_time(record: TrialRecord) -> str:
    """The record's time point as written in the file, with months for other units."""
    if record.time_value is None or record.time_unit is None:
        return "no time point"
    unit = record.time_unit.value[:-1] if record.time_value == 1 else record.time_unit.value
    text = f"{record.time_value:g} {unit}"
    if record.time_unit is not TimeUnit.MONTHS:
        months = record.time_value * DAYS_PER_UNIT[record.time_unit] / DAYS_PER_UNIT[
            TimeUnit.MONTHS]
        text += f" (~{months:.1f} months)"
    return text


def short_time(record: TrialRecord) -> str:
    """``6mo``, ``260wk``, ``90d``, ``1y`` (``no time``)."""
    if record.time_value is None or record.time_unit is None:
        return "no time"
    abbr = {"days": "d", "weeks": "wk", "months": "mo", "years": "y"}[record.time_unit.value]
    return f"{record.time_value:g}{abbr}"


def outcome_label(outcome: Outcome) -> str:
    """The outcome's label from the outcome table."""
    return OUTCOMES[outcome].label
