"""What services return: plain frozen views, never ORM rows, with the arm masked when blinded.

Every view that could carry an allocation gets its arm through :func:`arm_shown`, the one
place that applies the blinding rule: a blinded role sees ``arm=None`` and a label such as
``"randomized #7"``; an unblinded role (cell lab / pharmacy) sees the arm code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from strokecell.trial._context import Scope

__all__ = ["AllocationView", "ArmView", "FailedCriterion", "FormStatusView", "FormView",
           "ScreeningView", "SiteView", "StudyView", "SubjectView", "UnblindingView",
           "UserView", "VisitView", "arm_shown"]


def arm_shown(scope: Scope, arm_code: str | None, sequence: int | None) -> tuple[str | None, str]:
    """The arm as ``scope`` may see it, and the label to display."""
    if arm_code is None or sequence is None:
        return None, "not randomized"
    if scope.blinded:
        return None, f"randomized #{sequence}"
    return arm_code, arm_code


@dataclass(frozen=True)
class ArmView:
    code: str
    name: str
    ratio_weight: int
    receives_cells: bool


@dataclass(frozen=True)
class StudyView:
    code: str
    title: str
    status: str
    protocol_version: str
    protocol_sha256: str
    arms: tuple[ArmView, ...]
    randomization_method: str | None


@dataclass(frozen=True)
class SiteView:
    code: str
    name: str
    country: str | None
    timezone: str
    active: bool


@dataclass(frozen=True)
class UserView:
    username: str
    full_name: str
    email: str | None
    active: bool
    roles: tuple[tuple[str, str | None], ...]  # (role, site code or None = all sites)


@dataclass(frozen=True)
class FailedCriterion:
    criterion: str
    reason: str


@dataclass(frozen=True)
class ScreeningView:
    screening_number: str
    site_code: str
    outcome: str
    eligible: bool
    failed: tuple[FailedCriterion, ...]
    answers: dict[str, tuple[str | None, bool | None]]  # criterion -> (as entered, met)
    subject_code: str | None = None


@dataclass(frozen=True)
class SubjectView:
    subject_code: str
    site_code: str
    status: str
    enrolled_at: datetime
    anchor_date: date | None
    strata: dict[str, Any]
    randomized: bool
    randomization_number: int | None
    arm: str | None  # None for blinded roles, always
    arm_label: str
    protocol_version: str
    version: int


@dataclass(frozen=True)
class AllocationView:
    subject_code: str
    sequence_number: int
    stratum: str
    strata: dict[str, Any]
    allocated_at: datetime
    allocated_by: str
    arm: str | None  # None for blinded roles
    label: str
    blinded: bool


@dataclass(frozen=True)
class UnblindingView:
    subject_code: str
    arm: str
    emergency: bool
    reason: str
    unblinded_at: datetime
    unblinded_by: str


@dataclass(frozen=True)
class FormStatusView:
    form_code: str
    status: str  # "not_started", "incomplete" or "complete"
    version: int | None


@dataclass(frozen=True)
class VisitView:
    code: str
    label: str
    number: int
    expected_date: date
    window_start: date
    window_end: date
    actual_date: date | None
    status: str
    version: int
    forms: tuple[FormStatusView, ...] = ()


@dataclass(frozen=True)
class FormView:
    subject_code: str
    form_code: str
    visit_code: str | None
    repeat_index: int
    status: str
    version: int
    protocol_version: str
    assessment_date: date | None
    items: dict[str, Any]
    raw: dict[str, str | None]
    derived: dict[str, float | str | None]
    problems: tuple[str, ...] = field(default=())  # what keeps an incomplete form open
