"""What the API returns: plain copies of the services' frozen views (arm already masked by
the services for blinded roles)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = ["AllocationOut", "ArmOut", "AuditRowOut", "ChoiceOut", "DashboardOut", "DesignOut",
           "ErrorOut", "FieldOut", "FormLayoutOut", "FormOut", "FormStatusOut", "MeOut",
           "ProblemOut", "ScoreSeriesOut", "ScreeningOut", "SiteCountOut", "SiteOut",
           "StudyOut", "SubjectOut", "TokenOut", "UnblindingOut", "UserOut", "VisitOut"]


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ProblemOut(_Out):
    location: str
    message: str
    value: Any = None
    allowed: str | None = None


class ErrorOut(_Out):
    error: str
    detail: str
    context: str | None = None
    problems: list[ProblemOut] = []


class MeOut(_Out):
    username: str
    study_code: str
    role: str
    blinded: bool
    via: str
    csrf_token: str | None = None


class TokenOut(_Out):
    token: str
    username: str
    study_code: str
    role: str
    site_code: str | None
    note: str


class ArmOut(_Out):
    code: str
    name: str
    ratio_weight: int
    receives_cells: bool


class StudyOut(_Out):
    code: str
    title: str
    status: str
    protocol_version: str
    protocol_sha256: str
    arms: list[ArmOut]
    randomization_method: str | None


class SiteOut(_Out):
    code: str
    name: str
    country: str | None
    timezone: str
    active: bool


class UserOut(_Out):
    username: str
    full_name: str
    email: str | None
    active: bool
    roles: list[tuple[str, str | None]]


class FailedOut(_Out):
    criterion: str
    reason: str


class ScreeningOut(_Out):
    screening_number: str
    site_code: str
    outcome: str
    eligible: bool
    failed: list[FailedOut]
    answers: dict[str, tuple[str | None, bool | None]]
    subject_code: str | None = None


class SubjectOut(_Out):
    subject_code: str
    site_code: str
    status: str
    enrolled_at: datetime
    anchor_date: date | None
    strata: dict[str, Any]
    randomized: bool
    randomization_number: int | None
    arm: str | None
    arm_label: str
    protocol_version: str
    version: int


class AllocationOut(_Out):
    subject_code: str
    sequence_number: int
    stratum: str
    strata: dict[str, Any]
    allocated_at: datetime
    allocated_by: str
    arm: str | None
    label: str
    blinded: bool


class UnblindingOut(_Out):
    subject_code: str
    arm: str
    emergency: bool
    reason: str
    unblinded_at: datetime
    unblinded_by: str


class FormStatusOut(_Out):
    form_code: str
    status: str
    version: int | None


class VisitOut(_Out):
    code: str
    label: str
    number: int
    expected_date: date
    window_start: date
    window_end: date
    actual_date: date | None
    status: str
    version: int
    forms: list[FormStatusOut] = []


class FormOut(_Out):
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
    problems: list[str] = []


class ChoiceOut(_Out):
    value: str
    label: str
    points: float | None = None


class FieldOut(_Out):
    code: str
    label: str
    kind: str
    choices: list[ChoiceOut] = []
    unit: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None
    required: bool = True
    when_field: str | None = None
    when_equals: str | None = None
    section: str | None = None
    allowed: str = ""


class SumOut(_Out):
    param: str
    items: list[str]
    maximum: float | None = None


class FormLayoutOut(_Out):
    code: str
    name: str
    kind: str
    version: str
    repeating: bool
    unblinded_only: bool
    roles: list[str]
    fields: list[FieldOut]
    sums: list[SumOut]
    note: str | None = None


class SeverityOut(_Out):
    instrument: str
    minimum: float | None
    maximum: float | None


class StratumOut(_Out):
    factor: str
    label: str
    levels: list[str]


class VisitPlanOut(_Out):
    code: str
    label: str
    number: int
    target_day: int
    window_before: int
    window_after: int
    forms: list[str]


class DesignOut(_Out):
    protocol_version: str
    age_min_years: int
    age_max_years: int
    stroke_types: list[str]
    all_stroke_types: list[str]
    onset_min_days: float
    onset_max_days: float
    consent_required: bool
    severity: list[SeverityOut]
    inclusion: list[str]
    exclusion: list[str]
    strata: list[StratumOut]
    visits: list[VisitPlanOut]
    unscheduled_forms: list[str]


class SiteCountOut(_Out):
    site_code: str
    site_name: str
    enrolled: int
    randomized: int
    by_arm: dict[str, int] | None  # None for blinded roles


class VisitDueOut(_Out):
    subject_code: str
    visit_code: str
    visit_label: str
    expected_date: date
    window_start: date
    window_end: date
    status: str


class DashboardOut(_Out):
    study_code: str
    title: str
    role: str
    blinded: bool
    today: date
    sites: list[SiteCountOut]
    total_enrolled: int
    total_randomized: int
    by_arm: dict[str, int] | None
    visits_due: list[VisitDueOut]
    visits_overdue: list[VisitDueOut]
    open_queries: int | None = None  # None: not shown to the caller's role
    aes_awaiting_report: int | None = None  # expedited report required, not sent yet
    serious_aes: int | None = None
    signals_unacknowledged: int | None = None
    study_status: str = "active"  # setup, active, locked (the study lock), closed


class ScorePointOut(_Out):
    visit_code: str
    visit_number: int
    day: int | None
    value: float


class ScoreSeriesOut(_Out):
    param: str
    points: list[ScorePointOut]


class AuditRowOut(_Out):
    seq: int
    occurred_at: datetime
    offset_min: int
    username: str
    role: str
    table: str
    row_key: str
    action: str
    field: str | None
    old_value: str | None
    new_value: str | None
    reason: str | None
    item_code: str | None = None
