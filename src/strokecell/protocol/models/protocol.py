"""The whole protocol: study, arms, schedule, endpoints, randomisation, eligibility."""

from __future__ import annotations

from pydantic import Field, ValidationInfo, model_validator

from strokecell.errors import NotFoundError
from strokecell.protocol.crossref import cross_reference_problems
from strokecell.protocol.models._base import Issues, StrictModel
from strokecell.protocol.models.analysis import AnalysisSettings
from strokecell.protocol.models.arm import Arm
from strokecell.protocol.models.eligibility import Eligibility
from strokecell.protocol.models.endpoints import Endpoint
from strokecell.protocol.models.randomization import Randomization
from strokecell.protocol.models.safety import Safety, StoppingRule
from strokecell.protocol.models.schedule import Schedule, Visit
from strokecell.protocol.models.study import Study

__all__ = ["CROSS_CHECKED", "Protocol"]

# Validation context key: the loader has already run the cross-reference checks on the raw
# mapping (so they report together with field errors) and they need not run again.
CROSS_CHECKED = "strokecell_cross_checked"


class Protocol(StrictModel):
    study: Study
    arms: list[Arm] = Field(min_length=1)
    schedule: Schedule
    endpoints: list[Endpoint] = Field(min_length=1)
    randomization: Randomization | None = None  # none for a single-arm study
    eligibility: Eligibility
    analysis: AnalysisSettings | None = None
    safety: Safety | None = None  # stopping rules (optional)

    @model_validator(mode="after")
    def _cross_references(self, info: ValidationInfo) -> Protocol:
        if info.context and info.context.get(CROSS_CHECKED):
            return self
        issues = Issues()
        for problem in cross_reference_problems(self.model_dump(mode="json")):
            issues.add(problem.location, problem.message, problem.value, problem.allowed)
        issues.raise_if_any()
        return self

    def arm(self, code: str) -> Arm:
        for arm in self.arms:
            if arm.code == code:
                return arm
        raise NotFoundError(f"no arm {code!r} in protocol {self.study.id}; arms: "
                            f"{', '.join(a.code for a in self.arms)}")

    def visit(self, code: str) -> Visit:
        for visit in self.schedule.visits:
            if visit.code == code:
                return visit
        raise NotFoundError(f"no visit {code!r} in protocol {self.study.id}; visits: "
                            f"{', '.join(v.code for v in self.schedule.visits)}")

    @property
    def primary_endpoint(self) -> Endpoint:
        return next(e for e in self.endpoints if e.role == "primary")

    @property
    def tested_endpoints(self) -> list[Endpoint]:
        """Primary and key secondary endpoints in hierarchical testing order."""
        tested = [e for e in self.endpoints if e.role in ("primary", "key_secondary")]
        return sorted(tested, key=lambda e: e.order or 0)

    @property
    def allocation_ratio(self) -> dict[str, int]:
        return {arm.code: arm.ratio for arm in self.arms}

    @property
    def stopping_rules(self) -> list[StoppingRule]:
        return list(self.safety.stopping_rules) if self.safety else []

    @property
    def cell_therapy_arms(self) -> list[Arm]:
        return [arm for arm in self.arms if arm.is_cell_therapy]
