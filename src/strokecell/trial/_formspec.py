"""One interface over both kinds of form: the scales of ``instruments/`` and the CRF pages.

:func:`form_spec` returns a :class:`FormSpec` for a form code: ``check`` validates items
(partially or completely) and returns them typed, ``complete`` scores a complete form and
returns its derived values by PARAMCD. The scales stay in ``instruments/``; nothing here
re-implements their rules.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from strokecell.errors import InputError, NotFoundError
from strokecell.instruments import list_instruments, load_instrument
from strokecell.store import Role, ValueType
from strokecell.trial._crf import crf_codes, load_crf

__all__ = ["PARAMCD", "DerivedResult", "FormSpec", "TypedValue", "form_codes", "form_spec"]

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
    kind: str  # "scale" or "crf"
    name: str
    repeating: bool
    unblinded_only: bool
    roles: tuple[Role, ...]

    @property
    def instrument_code(self) -> str | None:
        return self.code if self.kind == "scale" else None

    def check(self, items: Mapping[str, object], *, partial: bool) -> dict[str, TypedValue]:
        """Validate ``items``; raise ScoringError (scales) or InputError (CRF pages)."""
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

