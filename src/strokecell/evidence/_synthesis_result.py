"""The result of :func:`~strokecell.evidence.synthesize`: numbers, a text summary, a dict.

Every effect is on the analysis scale of its measure (mean difference, Hedges' g, log risk
ratio, log odds ratio, risk difference); for RR and OR the dict adds the back-transformed
ratios under ``ratio``. ``direction`` says how to read the sign (see docs/evidence.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from strokecell.evidence._aspects import REGRESSORS, format_time
from strokecell.evidence._selection import LeftOut, Study
from strokecell.evidence._timepoint import TimeWindow
from strokecell.evidence._vocab import OUTCOMES, Outcome

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from strokecell.stats.meta import MetaResult, SubgroupResult

    FloatArray = npt.NDArray[np.float64]

__all__ = ["AspectSynthesis", "Regression", "SubgroupLevel", "Synthesis"]

RATIO_MEASURES = ("RR", "OR")


def _num(x: float | None) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _fit_dict(fit: MetaResult, measure: str) -> dict[str, Any]:
    out = fit.to_dict()
    if measure in RATIO_MEASURES and fit.int_only:
        out["ratio"] = {key: (None if out.get(key) is None else math.exp(out[key]))
                        for key in ("estimate", "ci_lb", "ci_ub", "pi_lb", "pi_ub")}
    return out


@dataclass(frozen=True, eq=False)
class SubgroupLevel:
    """The fit in one level of an aspect."""

    level: str
    labels: tuple[str, ...]
    fit: MetaResult

    @property
    def k(self) -> int:
        return self.fit.k


@dataclass(frozen=True, eq=False)
class AspectSynthesis:
    """Subgroup analysis by one aspect: a fit per level and the test of differences."""

    aspect: str
    levels: tuple[SubgroupLevel, ...]
    Q_between: float | None = None
    Q_between_df: int | None = None
    Q_between_pval: float | None = None
    message: str | None = None
    left_out: tuple[LeftOut, ...] = ()
    result: SubgroupResult | None = None  # the engine's result, for the forest plot

    def to_dict(self, measure: str) -> dict[str, Any]:
        levels = []
        for lev in self.levels:
            d = _fit_dict(lev.fit, measure)
            d.pop("studies", None)
            levels.append({"level": lev.level, "studies": list(lev.labels), **d})
        return {"aspect": self.aspect, "subgroups": levels, "Q_between": _num(self.Q_between),
                "Q_between_df": self.Q_between_df, "Q_between_pval": _num(self.Q_between_pval),
                "message": self.message, "left_out": [x.to_dict() for x in self.left_out]}


@dataclass(frozen=True, eq=False)
class Regression:
    """Meta-regression on one moderator (dose or days from onset)."""

    moderator: str
    k: int
    fit: MetaResult | None = None
    message: str | None = None
    left_out: tuple[LeftOut, ...] = ()
    values: tuple[float, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"moderator": self.moderator,
                               "description": REGRESSORS.get(self.moderator),  # type: ignore[call-overload]
                               "k": self.k, "values": list(self.values), "message": self.message,
                               "left_out": [x.to_dict() for x in self.left_out]}
        if self.fit is not None:
            d = self.fit.to_dict()
            for key in ("coefficients", "QM", "QM_df", "QM_pval", "R2", "tau2", "I2", "method",
                        "test"):
                out[key] = d.get(key)
        return out


@dataclass(frozen=True, eq=False)
class Synthesis:
    """One outcome at one time point: studies, pooled effect, subgroups, regressions, and
    every row left out with its reason."""

    outcome: Outcome
    measure: str
    method: str
    test: str
    window: TimeWindow | None
    direction: str
    direction_note: str
    studies: tuple[Study, ...]
    yi: FloatArray
    vi: FloatArray
    overall: MetaResult | None
    by: dict[str, AspectSynthesis] = field(default_factory=dict)
    regressions: dict[str, Regression] = field(default_factory=dict)
    left_out: tuple[LeftOut, ...] = ()
    notes: tuple[str, ...] = ()
    available: tuple[str, ...] = ()

    @property
    def k(self) -> int:
        return len(self.studies)

    @property
    def kind(self) -> str:
        return OUTCOMES[self.outcome].kind.value

    @property
    def time_label(self) -> str:
        return self.window.label if self.window else "longest follow-up of each comparison"

    def format_effect(self, x: float) -> str:
        return f"{math.exp(x):.2f}" if self.measure in RATIO_MEASURES else f"{x:.2f}"

    def study_dicts(self) -> list[dict[str, Any]]:
        z = 1.959963984540054
        weights = list(self.overall.weights) if self.overall is not None else [None] * self.k
        out = []
        for s, y, v, w in zip(self.studies, self.yi, self.vi, weights, strict=True):
            r = s.record
            out.append({
                "row_id": r.row_id, "trial_id": r.trial_id, "label": s.label,
                "comparison": r.comparison, "time": format_time(r), "time_days": r.time_days,
                "n1": r.n1, "n2": s.n2, "control_split": s.control_split,
                "yi": float(y), "vi": float(v), "ci_lb": float(y) - z * math.sqrt(v),
                "ci_ub": float(y) + z * math.sqrt(v), "weight": _num(w),
                "cell_type": r.cell_type.value, "route": r.route.value,
                "phase": r.phase.value if r.phase else None,
                "days_from_onset": r.days_from_onset, "dose_total": r.dose_total,
                "dose_per_kg": r.dose_per_kg, "stroke_type": r.stroke_type.value,
                "randomized": r.randomized.value,
                "blinding": r.blinding.value if r.blinding else None,
                "verification": r.verification.value, "citation": r.citation,
                "numbers_source": r.numbers_source, "numbers_locator": r.numbers_locator})
        return out

    def to_dict(self) -> dict[str, Any]:
        """The JSON of ``strokecell evidence meta --json``."""
        return {
            "outcome": self.outcome.value,
            "outcome_label": OUTCOMES[self.outcome].label,
            "kind": self.kind,
            "measure": self.measure,
            "method": self.method,
            "test": self.test,
            "time": self.window.to_dict() if self.window else {"requested": "latest",
                                                                 "label": self.time_label},
            "direction": self.direction,
            "direction_note": self.direction_note,
            "k": self.k,
            "studies": self.study_dicts(),
            "overall": _fit_dict(self.overall, self.measure) if self.overall else None,
            "by": {name: a.to_dict(self.measure) for name, a in self.by.items()},
            "regressions": {name: r.to_dict() for name, r in self.regressions.items()},
            "left_out": [x.to_dict() for x in self.left_out],
            "notes": list(self.notes),
            "available": list(self.available),
        }

    def pooled_line(self, fit: MetaResult) -> str:
        est, lb, ub = float(fit.beta[0]), float(fit.ci_lb_beta[0]), float(fit.ci_ub_beta[0])
        fmt = self.format_effect
        text = (f"{self.measure} {fmt(est)} [{fmt(lb)}, {fmt(ub)}], "
                f"p = {float(fit.pval_beta[0]):.3g}, k = {fit.k}")
        if fit.is_random:
            text += f", tau^2 = {fit.tau2:.3g}"
        if fit.I2 is not None and fit.k > 1:
            text += f", I^2 = {fit.I2:.0f}%"
        if fit.pi_lb is not None and fit.pi_ub is not None and fit.k > 1:
            text += f", PI [{self.format_effect(fit.pi_lb)}, {self.format_effect(fit.pi_ub)}]"
        return text

    def summary(self) -> str:
        """Plain text for the terminal."""
        scale = " (ratios back-transformed)" if self.measure in RATIO_MEASURES else ""
        lines = [f"Outcome: {self.outcome.value} - {OUTCOMES[self.outcome].label} "
                 f"({self.kind}); time: {self.time_label}"
                 + (f" (+/- {self.window.tolerance_days:.1f} days)" if self.window else ""),
                 f"Measure: {self.measure}{scale}; tau^2: {self.method}; test: {self.test}",
                 f"Direction: {self.direction_note}", ""]
        lines.append(f"Studies (k = {self.k}):")
        for d in self.study_dicts():
            w = f"{d['weight']:5.1f}%" if d["weight"] is not None else ""
            split = f" (control n split /{d['control_split']})" if d["control_split"] > 1 else ""
            lines.append(f"  {d['label']:<34} {d['time']:<28} n {d['n1']} vs {d['n2']:g}{split}"
                         f"  {self.format_effect(d['yi'])} [{self.format_effect(d['ci_lb'])}, "
                         f"{self.format_effect(d['ci_ub'])}] {w}  ({d['citation']})")
        lines.append("")
        if self.overall is not None:
            lines.append("Pooled: " + self.pooled_line(self.overall))
        else:
            lines.append("Pooled: none (no study with usable numbers)")
        for name, asp in self.by.items():
            lines.append(f"\nBy {name}:")
            for lev in asp.levels:
                lines.append(f"  {lev.level:<16} {self.pooled_line(lev.fit)}")
            if asp.Q_between is not None:
                lines.append(f"  Test of subgroup differences: Q_between = {asp.Q_between:.3f}, "
                             f"df = {asp.Q_between_df}, p = {asp.Q_between_pval:.3g}")
            if asp.message:
                lines.append(f"  note: {asp.message}")
            if asp.left_out:
                lines.append("  not in these subgroups (no value coded): "
                             + ", ".join(x.row_id for x in asp.left_out))
        for name, reg in self.regressions.items():
            lines.append(f"\nMeta-regression on {name} ({REGRESSORS.get(name, name)}):")  # type: ignore[call-overload]
            if reg.fit is not None:
                for c in reg.fit.coefficients:
                    lines.append(f"  {c.term:<14} {c.estimate:9.4f} [{c.ci_lb:.4f}, "
                                 f"{c.ci_ub:.4f}], p = {c.pval:.3g}")
                if reg.fit.QM is not None and reg.fit.QMp is not None:
                    lines.append(f"  QM = {reg.fit.QM:.3f}, p = {reg.fit.QMp:.3g}, "
                                 f"k = {reg.k}")
            if reg.message:
                lines.append(f"  note: {reg.message}")
            if reg.left_out:
                lines.append("  not in this regression (not reported): "
                             + ", ".join(x.row_id for x in reg.left_out))
        if not self.studies and self.available:
            lines.append(f"\nTime points of {self.outcome.value} in the data set:")
            lines.extend(f"  {a}" for a in self.available)
        if self.left_out:
            lines.append(f"\nLeft out ({len(self.left_out)}):")
            for x in self.left_out:
                lines.append(f"  {x.row_id} ({x.trial_label}) [{x.stage}]: {x.reason}")
        if self.notes:
            lines.append("\nNotes:")
            lines.extend(f"  - {n}" for n in self.notes)
        return "\n".join(lines)
