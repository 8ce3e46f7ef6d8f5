"""One interface over both kinds of form: the scales of ``instruments/`` and the CRF pages.

:func:`form_spec` returns a :class:`FormSpec` for a form code: ``check`` validates items
(partially or completely) and returns them typed, ``complete`` scores a complete form and
returns its derived values by PARAMCD. The scales stay in ``instruments/``; nothing here
re-implements their rules.

A study imported from another system (REDCap) also has forms of its own, defined in its
imported design (``trial/imported_forms.py``, stored with its first protocol version).
:func:`study_form_spec` / :func:`study_form_codes` are the lookups for the forms *of a
study*: the shipped forms, then the study's imported forms (kind ``imported``: typed by the
imported field definitions, no derived values, status as imported or saved). The services
that read stored forms (``get_form``, ``list_forms``, ``sign``, exports) use them.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from strokecell.errors import InputError, NotFoundError
from strokecell.instruments import list_instruments, load_instrument
from strokecell.store import Role, ValueType
from strokecell.store import models as m
from strokecell.trial._crf import crf_codes, load_crf

__all__ = ["PARAMCD", "DerivedResult", "FormSpec", "TypedValue", "form_codes", "form_spec",
           "study_form_codes", "study_form_spec", "unblinded_only_form"]

#: CDISC PARAMCD of each scale's total (issue 4), and of composite component subtotals.
PARAMCD: Mapping[str, str] = {
    "mbi": "MBI", "bi": "BI", "fma_ue": "FMAUE", "fma_le": "FMALE", "fma_total": "FMATOT",
    "nihss": "NIHSS", "mrs": "MRS", "lesion_volume": "LESVOL",
}

_SCALE_ROLES = (Role.INVESTIGATOR, Role.COORDINATOR, Role.BLINDED_ASSESSOR)
_CRF_ROLES = (Role.INVESTIGATOR, Role.COORDINATOR)


@dataclass(frozen=True)
class TypedValue:
    """An item as stored: its type, typed value, the text as entered and the unit."""

    value_type: ValueType
    value: Any
    raw_text: str | None
    unit: str | None = None


@dataclass(frozen=True)
class DerivedResult:
    """A computed value of a complete form (``num`` or ``text``), with the engine's name."""

    param: str
    num: float | None
    text: str | None
    engine: str


def _raw_text(raw: object) -> str | None:
    if raw is None:
        return None
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, datetime | date):
        return raw.isoformat()
    return str(raw)


@dataclass(frozen=True)
class FormSpec:
    """A form: its code, version, kind (scale or crf) and who may enter it."""

    code: str
    version: str
    kind: str  # "scale", "crf" or "imported" (a form of an imported study)
    name: str
    repeating: bool
    unblinded_only: bool
    roles: tuple[Role, ...]
    #: the study's ImportedDesign, for kind "imported"
    imported: Any = field(default=None, compare=False, repr=False)

    @property
    def instrument_code(self) -> str | None:
        return self.code if self.kind == "scale" else None

    def check(self, items: Mapping[str, object], *, partial: bool) -> dict[str, TypedValue]:
        """Validate ``items``; raise ScoringError (scales) or InputError (CRF pages)."""
        if self.kind == "imported":
            # Values of imported forms are given as text in the source system's storage form;
            # values already typed (read back from the record) stand as they are. Imported
            # forms have no completeness rules: their status is the one imported or saved.
            text = {k: v for k, v in items.items() if isinstance(v, str | bool)}
            typed: dict[str, TypedValue] = self.imported.check(self.code, text) if text else {}
            return typed
        if self.kind == "scale":
            values = load_instrument(self.code).validate_items(items, partial=partial)
            return {k: self._scale_value(k, v, items[k]) for k, v in values.items()
                    if k in items}
        crf = load_crf(self.code)
        typed = crf.check(items, partial=partial)
        out: dict[str, TypedValue] = {}
        for key, value in typed.items():
            spec = crf.field(key)
            vt = spec.value_type if spec else ValueType.TEXT
            out[key] = TypedValue(vt, value, _raw_text(items[key]), spec.unit if spec else None)
        return out

    def _scale_value(self, key: str, value: object, raw: object) -> TypedValue:
        instrument = load_instrument(self.code)
        unit = None
        item = instrument.item(key)
        if item.quantity is not None:
            unit = item.quantity.unit
        if isinstance(value, str):  # "UN": untestable, counted 0 by the engine
            return TypedValue(ValueType.CODE, value, _raw_text(raw), unit)
        if isinstance(value, float):
            return TypedValue(ValueType.DECIMAL, value, _raw_text(raw), unit)
        return TypedValue(ValueType.INTEGER, value, _raw_text(raw), unit)

    def is_complete(self, items: Mapping[str, object]) -> bool:
        try:
            self.check(items, partial=False)
        except InputError:
            return False
        return True

    def complete(self, items: Mapping[str, object]) -> list[DerivedResult]:
        """Score a complete form: totals (by PARAMCD), band and subtotals; never typed."""
        if self.kind == "imported":
            return []
        engine = f"{self.code} {self.version}"
        if self.kind == "crf":
            crf = load_crf(self.code)
            derived = crf.derive(crf.check(items, partial=False))
            return [DerivedResult(p, v, None, engine) for p, v in derived.items()
                    if v is not None]
        result = load_instrument(self.code).score(items)
        param = PARAMCD.get(self.code, self.code.upper())
        out = [DerivedResult(param, float(result.total), None, engine)]
        if result.band is not None:
            out.append(DerivedResult(f"{param}BAND", None, result.band, engine))
        for sub, total in result.subtotals.items():
            if sub in PARAMCD:  # composite components (FMAUE, FMALE); sections stay items
                out.append(DerivedResult(PARAMCD[sub], float(total), None, engine))
        return out


def form_codes() -> list[str]:
    """Every form a study can use: the scales and the CRF pages."""
    return sorted({*list_instruments(), *crf_codes()})


@functools.cache
def form_spec(code: str) -> FormSpec:
    """The form ``code`` (a scale of ``instruments/`` or a CRF page of ``trial/crf/``)."""
    if not isinstance(code, str) or code not in form_codes():
        raise NotFoundError(f"form_code: no form {code!r}; known: {', '.join(form_codes())}")
    if code in list_instruments():
        instrument = load_instrument(code)
        return FormSpec(code, instrument.definition.version, "scale", instrument.name,
                        repeating=False, unblinded_only=False, roles=_SCALE_ROLES)
    crf = load_crf(code)
    roles = tuple(Role(r) for r in crf.roles) if crf.roles else _CRF_ROLES
    return FormSpec(code, crf.version, "crf", crf.name, crf.repeating, crf.unblinded_only,
                    roles)



def unblinded_only_form(code: str) -> bool:
    """Whether form ``code`` is for unblinded roles only (a shipped page such as
    ``administration``); the forms of an imported study never are."""
    return code in form_codes() and form_spec(code).unblinded_only


@functools.lru_cache(maxsize=16)
def _design_from_note(note: str) -> Any:
    from strokecell.trial.imported_forms import ImportedDesign  # imports this module

    return ImportedDesign.from_note(note)


def _imported_design(s: Session, study_id: int) -> Any:
    """The study's ImportedDesign (None for a protocol-only study)."""
    note = s.scalars(select(m.ProtocolVersion.note).where(
        m.ProtocolVersion.study_id == study_id).order_by(m.ProtocolVersion.id).limit(1)).first()
    return _design_from_note(note) if note else None


def study_form_codes(s: Session, study_id: int) -> list[str]:
    """Every form of the study: the shipped forms and, if imported, its own forms."""
    design = _imported_design(s, study_id)
    return sorted({*form_codes(), *(f.code for f in design.forms)} if design is not None
                  else form_codes())


def study_form_spec(s: Session, study_id: int, code: str) -> FormSpec:
    """:func:`form_spec`, else the form ``code`` of the study's imported design; an unknown
    code is a NotFoundError naming the study's forms."""
    if isinstance(code, str) and code in form_codes():
        return form_spec(code)
    design = _imported_design(s, study_id) if isinstance(code, str) else None
    form = design.form(code) if design is not None else None
    if form is None:
        raise NotFoundError(f"form_code: no form {code!r}; known: "
                            f"{', '.join(study_form_codes(s, study_id))}")
    return FormSpec(code, design.system, "imported", form.name, design.repeats(code),
                    unblinded_only=False, roles=_CRF_ROLES, imported=design)
