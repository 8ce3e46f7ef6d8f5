"""Treatment-effect scenarios: size at the primary visit, time course, aspect multipliers.

No effect is the default. A scenario gives, per instrument, the mean difference (treated −
control, on the latent scale before ceiling and floor) at the primary visit, e.g. MBI +8 at
month 12, and its time course in days since the (first) administration:

- ``recovery``: s(x) = 1 − exp(−x / τe), proportional to a recovery curve;
- ``peak``: s(x) = 1 − exp(−x / τe) + h · (x / p) · exp(1 − x / p), a transient extra gain
  peaking near day p = 91 (the source saw its most marked gain at 3 months, domain §8);
- ``constant``: s(x) = 1 from the day after administration.

s is scaled so s = 1 at the primary visit's target day, so ``effects`` is what the primary
analysis should recover. Each patient's effect is then multiplied by the aspect multipliers
of :class:`~strokecell.simulate.assumptions.EffectModifiers` (cell type, phase at
administration, route, dose), all 1 by default.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from strokecell.errors import InputError, Problem
from strokecell.simulate.assumptions import EffectModifiers
from strokecell.simulate.design import ArmDesign

__all__ = ["EFFECT_INSTRUMENTS", "Scenario", "aspect_multiplier"]

FloatArray = NDArray[np.float64]

#: Instruments a scenario can shift (mRS follows the functional state, i.e. the MBI).
EFFECT_INSTRUMENTS = ("mbi", "fma_ue", "fma_le", "fma_total", "nihss")


class Scenario(BaseModel):
    """Effect sizes (treated − control) at the primary visit; NIHSS: negative is better."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    effects: dict[str, float] = Field(default_factory=dict)
    time_course: Literal["recovery", "peak", "constant"] = "recovery"
    onset_weeks: float = Field(4.0, gt=0)  # [A] rise of the effect
    peak_day: float = Field(91.0, gt=0)  # [V §8: most marked gain at 3 months]
    peak_excess: float = Field(1.0, ge=0)  # [A] h: transient extra at the peak
    arms: tuple[str, ...] | None = None  # arms that receive it; default: cell-therapy arms

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise InputError([Problem(".".join(map(str, e["loc"])) or "scenario", e["msg"],
                                      e.get("input") if not isinstance(e.get("input"), dict)
                                      else None)
                              for e in exc.errors()], context="scenario") from None
        unknown = [k for k in self.effects if k not in EFFECT_INSTRUMENTS]
        if unknown:
            raise InputError([Problem(f"effects.{k}", "no treatment effect is modelled on this "
                                      "instrument", k, ", ".join(EFFECT_INSTRUMENTS))
                              for k in unknown], context="scenario")
        if "fma_total" in self.effects and ({"fma_ue", "fma_le"} & set(self.effects)):
            raise InputError(Problem("effects.fma_total", "give fma_total or fma_ue/fma_le, "
                                     "not both", self.effects["fma_total"],
                                     "fma_total alone (split 66:34) or the two parts"))

    @classmethod
    def parse(cls, items: Iterable[str], **settings: object) -> Scenario:
        """From ``["MBI=8", "nihss=-1.7"]`` (command-line form)."""
        effects: dict[str, float] = {}
        problems: list[Problem] = []
        for text in items:
            name, sep, value = text.partition("=")
            try:
                effects[name.strip().lower()] = float(value)
            except ValueError:
                problems.append(Problem("effect", "expected INSTRUMENT=NUMBER", text,
                                        ", ".join(f"{c}=..." for c in EFFECT_INSTRUMENTS)))
                continue
            if not sep:
                problems.append(Problem("effect", "expected INSTRUMENT=NUMBER", text, "MBI=8"))
        if problems:
            raise InputError(problems, context="scenario")
        return cls(effects=effects, **settings)

    @property
    def is_null(self) -> bool:
        return not any(self.effects.values())

    def effect_on(self, instrument: str) -> float:
        """Effect on a simulated component (fma_total splits 66:34 into UE and LE)."""
        if instrument in ("fma_ue", "fma_le") and "fma_total" in self.effects:
            share = 66.0 / 100.0 if instrument == "fma_ue" else 34.0 / 100.0
            return self.effects["fma_total"] * share
        return self.effects.get(instrument, 0.0)

    def receives(self, arm: ArmDesign) -> bool:
        return arm.code in self.arms if self.arms is not None else arm.cell_therapy

    def shape(self, days_since_administration: FloatArray, reference_day: float) -> FloatArray:
        """The time course, scaled to 1 at ``reference_day`` days after administration."""
        x = np.asarray(days_since_administration, dtype=float)
        raw = self._raw(np.maximum(x, 0.0))
        ref = float(self._raw(np.array([max(reference_day, 1.0)]))[0])
        out: FloatArray = np.where(x > 0, raw / ref, 0.0)
        return out

    def _raw(self, x: FloatArray) -> FloatArray:
        if self.time_course == "constant":
            return np.ones_like(x)
        rise: FloatArray = 1.0 - np.exp(-x / (7.0 * self.onset_weeks))
        if self.time_course == "recovery":
            return rise
        p = self.peak_day
        peaked: FloatArray = rise + self.peak_excess * (x / p) * np.exp(1.0 - x / p)
        return peaked


def aspect_multiplier(arm: ArmDesign, modifiers: EffectModifiers,
                      admin_day_after_onset: FloatArray, weight_kg: FloatArray) -> FloatArray:
    """Per-patient multiplier of the scenario effect from the four aspects."""
    n = np.shape(weight_kg)
    m = np.full(n, modifiers.cell_type.get(arm.cell_type or "", 1.0))
    m = m * modifiers.route.get(arm.route or "", 1.0)
    if modifiers.phase:
        days, inverse = np.unique(np.asarray(admin_day_after_onset, dtype=float),
                                  return_inverse=True)
        factors = np.array([modifiers.phase.get(arm.phase_at(float(d)), 1.0) for d in days])
        m = m * factors[inverse].reshape(n)
    if modifiers.dose_exponent != 0.0:
        if arm.cells_per_kg is not None:
            cells = arm.cells_per_kg * np.asarray(weight_kg, dtype=float)
        else:
            cells = np.full(n, arm.fixed_cells or modifiers.dose_reference_cells)
        m = m * (cells * arm.administrations / modifiers.dose_reference_cells) ** \
            modifiers.dose_exponent
    result: FloatArray = m
    return result
