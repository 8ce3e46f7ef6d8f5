"""What the simulator needs from a protocol, flattened into plain frozen records.

:meth:`Design.from_protocol` reads arms (with the four aspects), the visit schedule, the
primary endpoint and the eligibility ranges; a :class:`Design` can also be built by hand for
a power calculation without a protocol file.
"""

from __future__ import annotations

from dataclasses import dataclass

from strokecell.errors import InputError, Problem
from strokecell.protocol import Protocol, phase_of_day

__all__ = ["SIMULATED_INSTRUMENTS", "ArmDesign", "Design", "VisitDesign"]

#: Instruments the virtual-patient model generates item values for.
SIMULATED_INSTRUMENTS = ("mbi", "fma_ue", "fma_le", "fma_total", "nihss", "mrs",
                         "lesion_volume")


@dataclass(frozen=True)
class ArmDesign:
    code: str
    cell_therapy: bool = False
    ratio: int = 1
    cell_type: str | None = None
    route: str | None = None
    timing_days: tuple[float, float] | None = None  # administration window after onset
    administrations: int = 1
    interval_days: float | None = None
    cells_per_kg: float | None = None  # per-kg regimen
    fixed_cells: float | None = None  # fixed regimen (per administration)

    def cells_for(self, weight_kg: float) -> float | None:
        """Cells per administration for a patient of ``weight_kg``."""
        if self.cells_per_kg is not None:
            return self.cells_per_kg * weight_kg
        return self.fixed_cells

    def phase_at(self, day_after_onset: float) -> str:
        """acute / subacute / chronic on the SRRR time line (protocol.phases)."""
        fine = phase_of_day(day_after_onset)
        return {"hyperacute": "acute", "acute": "acute", "early_subacute": "subacute",
                "late_subacute": "subacute"}.get(fine, "chronic")


@dataclass(frozen=True)
class VisitDesign:
    code: str
    target_day: int
    window: tuple[int, int]
    baseline: bool = False


@dataclass(frozen=True)
class Design:
    """A trial as the simulator sees it. Days count from ``day_zero``."""

    study_id: str
    condition: str  # ischaemic_stroke or intracerebral_haemorrhage
    arms: tuple[ArmDesign, ...]
    visits: tuple[VisitDesign, ...]
    primary_instrument: str = "mbi"
    primary_visit: str = ""
    day_zero: str = "randomisation"
    age_range: tuple[int, int] = (18, 80)
    onset_range: tuple[float, float] = (7.0, 18.0)  # randomisation, days after onset
    severity: tuple[tuple[str, float | None, float | None], ...] = ()

    def __post_init__(self) -> None:
        problems: list[Problem] = []
        if not self.arms:
            problems.append(Problem("arms", "no arms", None, "at least one arm"))
        if sum(v.baseline for v in self.visits) != 1:
            problems.append(Problem("visits", "exactly one visit must be the baseline",
                                    [v.code for v in self.visits if v.baseline],
                                    "one visit with baseline=True"))
        if self.primary_instrument not in SIMULATED_INSTRUMENTS:
            problems.append(Problem("primary_instrument", "is not simulated",
                                    self.primary_instrument, ", ".join(SIMULATED_INSTRUMENTS)))
        codes = [v.code for v in self.visits]
        if self.primary_visit and self.primary_visit not in codes:
            problems.append(Problem("primary_visit", "is not a visit", self.primary_visit,
                                    ", ".join(codes)))
        for instrument, _, _ in self.severity:
            if instrument not in SIMULATED_INSTRUMENTS:
                problems.append(Problem("severity", "eligibility on an instrument that is "
                                        "not simulated", instrument,
                                        ", ".join(SIMULATED_INSTRUMENTS)))
        if problems:
            raise InputError(problems, context="simulation design")

    @property
    def baseline_index(self) -> int:
        return next(i for i, v in enumerate(self.visits) if v.baseline)

    @property
    def primary_index(self) -> int:
        code = self.primary_visit or self.visits[-1].code
        return next(i for i, v in enumerate(self.visits) if v.code == code)

    @property
    def arm_codes(self) -> tuple[str, ...]:
        return tuple(a.code for a in self.arms)

    def arm(self, code: str) -> ArmDesign:
        for arm in self.arms:
            if arm.code == code:
                return arm
        raise InputError(Problem("arm", "is not an arm of the design", code,
                                 ", ".join(self.arm_codes)))

    @classmethod
    def from_protocol(cls, protocol: Protocol) -> Design:
        arms = []
        for arm in protocol.arms:
            dose = arm.dose
            per_kg = dose.per_kg.value if dose and dose.per_kg else None
            fixed: float | None = None
            if dose and per_kg is None:
                if dose.total_cells is not None:
                    fixed = dose.total_cells.value
                elif dose.concentration is not None and dose.volume is not None:
                    fixed = dose.concentration.value * dose.volume.value
            arms.append(ArmDesign(
                code=arm.code, cell_therapy=arm.is_cell_therapy, ratio=arm.ratio,
                cell_type=arm.product.cell_type if arm.product else None,
                route=arm.route.kind if arm.route else None,
                timing_days=(arm.timing.min_days, arm.timing.max_days) if arm.timing else None,
                administrations=dose.administrations if dose else 1,
                interval_days=dose.interval_days if dose else None,
                cells_per_kg=per_kg, fixed_cells=fixed))
        visits = tuple(VisitDesign(v.code, v.target_day, v.window, v.baseline)
                       for v in protocol.schedule.visits)
        primary = protocol.primary_endpoint
        elig = protocol.eligibility
        return cls(
            study_id=protocol.study.id, condition=protocol.study.condition, arms=tuple(arms),
            visits=visits, primary_instrument=primary.instrument,
            primary_visit=primary.visits[-1], day_zero=protocol.schedule.day_zero,
            age_range=(elig.age_min_years, elig.age_max_years),
            onset_range=(elig.onset_min_days, elig.onset_max_days),
            severity=tuple((s.instrument, s.min, s.max) for s in elig.baseline_severity))


def as_design(design: Design | Protocol) -> Design:
    return design if isinstance(design, Design) else Design.from_protocol(design)
