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

__all__ = ["AdministrationView", "AdverseEventView", "AllocationView", "ArmView",
           "ChainLinkView", "DeviationView", "ExportResult", "FailedCriterion",
           "FormStatusView", "FormView", "LockView", "LotView", "QueryMessageView",
           "QueryView", "ReleaseCriterionView", "ReleaseTestView", "SafetySignalView",
           "ScreeningView", "SignatureView", "SiteView", "StudyView", "SubjectView",
           "UnblindingView", "UserView", "VisitView", "arm_shown"]


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


# --- part B -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReleaseTestView:
    test_code: str
    raw_text: str
    value: float | None
    unit: str | None
    specification: str
    passed: bool


@dataclass(frozen=True)
class ReleaseCriterionView:
    """One release test a lot needs, as the release form shows it: how the result is given
    (``kind``: ``word`` = one of ``choices``, ``percent`` or ``number`` in ``unit``) and the
    limit it is judged against (``specification``; ``min_value``/``max_value`` for numbers)."""

    test_code: str
    kind: str
    unit: str | None
    specification: str
    choices: tuple[str, ...] = ()
    min_value: float | None = None
    max_value: float | None = None


@dataclass(frozen=True)
class ChainLinkView:
    """One step of the chain of identity: lot -> subject (cell lab only)."""

    subject_code: str
    administration_number: int
    administered_at: datetime
    operator: str


@dataclass(frozen=True)
class LotView:
    lot_number: str
    cell_type: str
    source_tissue: str
    donor_type: str
    donor_code: str | None
    status: str
    manufactured_on: date | None
    expires_at: datetime | None
    total_cells: float | None
    volume_ml: float | None
    version: int
    decision: str | None = None
    decided_at: datetime | None = None
    decided_by: str | None = None
    meaning: str | None = None
    tests: tuple[ReleaseTestView, ...] = ()
    administered_to: tuple[ChainLinkView, ...] = ()


@dataclass(frozen=True)
class DeviationView:
    id: int
    subject_code: str | None
    category: str
    description: str
    major: bool
    detected_at: datetime
    administration_number: int | None = None


@dataclass(frozen=True)
class AdministrationView:
    subject_code: str
    administration_number: int
    lot_number: str
    administered_at: datetime
    weight_kg: float
    cell_count: float
    viability_pct: float
    dose_cells_per_kg: float
    concentration_cells_per_ml: float
    volume_ml: float
    route: str
    vessel: str | None
    infusion_rate_ml_per_min: float | None
    hours_since_onset: float
    days_since_onset: float
    post_imaging_done: bool | None
    new_dwi_lesions: int | None
    operator: str
    planned: dict[str, Any]  # the protocol's dose plan for the recorded weight
    deviations: tuple[DeviationView, ...]
    form_version: int
    version: int
    post_imaging_at: datetime | None = None


@dataclass(frozen=True)
class SafetySignalView:
    id: int
    rule_code: str
    description: str
    observed: int
    threshold: int
    triggered_at: datetime
    subject_code: str | None  # of the event that tipped it; None for blinded readers
    acknowledged_at: datetime | None


@dataclass(frozen=True)
class AdverseEventView:
    subject_code: str
    ae_number: int
    term: str
    body_system: str
    onset_date: date
    resolution_date: date | None
    ongoing: bool
    ctcae_grade: int
    serious: bool
    serious_criteria: tuple[str, ...]
    related_to_product: str
    related_to_procedure: str
    related: bool  # possible, probable or definite to product or procedure
    expected: bool
    action_taken: str
    outcome: str
    expedited_report_required: bool
    expedited_report_days: int | None  # 7 or 15 (ICH E2A), None when not required
    expedited_report_due: date | None
    expedited_reported_at: datetime | None
    reported_at: datetime
    version: int
    form_version: int
    signals: tuple[SafetySignalView, ...] = ()  # raised by this entry (unblinded readers)


@dataclass(frozen=True)
class QueryMessageView:
    action: str
    body: str
    author: str
    role: str | None
    written_at: datetime


@dataclass(frozen=True)
class QueryView:
    id: int
    subject_code: str
    form_code: str | None
    visit_code: str | None
    repeat_index: int | None
    item_code: str | None
    check_code: str | None
    status: str
    opened_at: datetime
    opened_by: str
    closed_at: datetime | None
    messages: tuple[QueryMessageView, ...]


@dataclass(frozen=True)
class LockView:
    id: int
    scope: str
    subject_code: str | None
    visit_code: str | None
    form_code: str | None
    repeat_index: int | None
    locked_at: datetime
    locked_by: str
    active: bool
    unlocked_at: datetime | None = None
    unlock_reason: str | None = None


@dataclass(frozen=True)
class SignatureView:
    id: int
    scope: str
    subject_code: str | None
    visit_code: str | None
    form_code: str | None
    repeat_index: int | None
    signer: str
    role: str
    meaning: str
    content_sha256: str
    signed_at: datetime
    valid: bool
    invalidated_at: datetime | None = None
    invalidated_reason: str | None = None


@dataclass(frozen=True)
class ExportResult:
    out_dir: str
    unblinded: bool
    files: dict[str, str]  # name.ext -> path
    rows: dict[str, int]  # table -> rows
