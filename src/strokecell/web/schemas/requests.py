"""What API clients send. Unknown fields are refused (``extra="forbid"``); values are handed
to the services as given (exact text for dates and item values), which judge them."""

from __future__ import annotations

from datetime import date

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictBool, StrictInt

__all__ = ["EnrolRequest", "FormSaveRequest", "ItemValue", "LoginRequest", "RandomizeRequest",
           "RoleGrantRequest", "RoleRevokeRequest", "ScreeningRequest", "SiteCreateRequest",
           "TokenCreateRequest", "TokenRevokeRequest", "UnblindRequest", "UserCreateRequest",
           "VisitDateRequest"]

#: An item value as entered: an exact integer or decimal, a string ("10", "UN", a date,
#: a code), a boolean, or null to clear a saved item.
ItemValue = StrictInt | float | str | StrictBool | None
Text80 = Field(min_length=1, max_length=80)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginRequest(_Body):
    username: str = Field(min_length=1, max_length=80)
    password: str = Field(min_length=1, max_length=1024)
    study_code: str = Field(min_length=1, max_length=80)
    role: str = Field(min_length=1, max_length=40)
    offset_minutes: StrictInt = Field(0, ge=-14 * 60, le=14 * 60,
                                      description="your clock's UTC offset in minutes")


class TokenCreateRequest(_Body):
    label: str = Field(min_length=1, max_length=120, description="what the token is for")
    role: str = Field(min_length=1, max_length=40)
    site_code: str | None = Field(None, max_length=20, description="None: every site")


class TokenRevokeRequest(_Body):
    reason: str = Field(min_length=1, max_length=500)


class SiteCreateRequest(_Body):
    code: str = Field(min_length=1, max_length=20)
    name: str = Field(min_length=1, max_length=200)
    country: str | None = Field(None, max_length=2)
    timezone: str = Field("UTC", max_length=64)


class UserCreateRequest(_Body):
    username: str = Field(min_length=1, max_length=80)
    full_name: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1024)
    email: str | None = Field(None, max_length=200)


class RoleGrantRequest(_Body):
    role: str = Field(min_length=1, max_length=40)
    site_code: str | None = Field(None, max_length=20)


class RoleRevokeRequest(RoleGrantRequest):
    reason: str = Field(min_length=1, max_length=500)


class ScreeningRequest(_Body):
    site_code: str = Field(min_length=1, max_length=20)
    screening_number: str = Field(min_length=1, max_length=40)
    age_years: StrictInt
    stroke_type: str = Field(max_length=60)
    stroke_onset_at: AwareDatetime = Field(description="date and time with UTC offset")
    consent_date: str | None = Field(None, max_length=10, description="YYYY-MM-DD")
    severity: dict[str, dict[str, ItemValue]] = Field(
        default_factory=dict, description="items of each baseline-severity instrument")
    inclusion: list[StrictBool] = Field(default_factory=list, max_length=50)
    exclusion: list[StrictBool] = Field(default_factory=list, max_length=50)


class EnrolRequest(_Body):
    anchor_date: str | None = Field(None, max_length=10, description="day 0, YYYY-MM-DD")
    strata: dict[str, str] | None = None


class RandomizeRequest(_Body):
    strata: dict[str, str] | None = Field(None, description="default: strata at enrolment")


class UnblindRequest(_Body):
    reason: str = Field(min_length=1, max_length=1000)


class VisitDateRequest(_Body):
    actual_date: str = Field(max_length=10, description="YYYY-MM-DD")
    version: StrictInt | None = None
    reason: str | None = Field(None, max_length=1000)


class FormSaveRequest(_Body):
    items: dict[str, ItemValue] = Field(description="item code -> value (null clears)")
    version: StrictInt | None = Field(None, description="the version read; none at first")
    reason: str | None = Field(None, max_length=1000, description="reason for change")
    assessment_date: str | None = Field(None, max_length=10, description="YYYY-MM-DD")


# --- part B: safety, data quality, product -----------------------------------------------

class ItemsRequest(_Body):
    items: dict[str, ItemValue] = Field(description="CRF item code -> value as entered")


class AdverseEventUpdateRequest(ItemsRequest):
    version: StrictInt
    reason: str = Field(min_length=1, max_length=1000)


class ExpeditedReportRequest(_Body):
    version: StrictInt
    reported_at: AwareDatetime | None = None


class QueryOpenRequest(_Body):
    subject_code: str = Field(min_length=1, max_length=80)
    form_code: str = Field(min_length=1, max_length=40)
    message: str = Field(min_length=1, max_length=4000)
    item_code: str | None = Field(None, max_length=60)
    visit_code: str | None = Field(None, max_length=40)
    repeat_index: StrictInt = Field(1, ge=1, le=10_000)


class MessageRequest(_Body):
    message: str = Field(min_length=1, max_length=4000)


class LockRequest(_Body):
    scope: str = Field(max_length=20, description="study, subject, visit or form")
    subject_code: str | None = Field(None, max_length=80)
    visit_code: str | None = Field(None, max_length=40)
    form_code: str | None = Field(None, max_length=40)
    repeat_index: StrictInt = Field(1, ge=1, le=10_000)


class ReasonRequest(_Body):
    reason: str = Field(min_length=1, max_length=1000)


class SignRequest(_Body):
    password: str = Field(min_length=1, max_length=1024, description="re-authentication")
    subject_code: str = Field(min_length=1, max_length=80)
    scope: str = Field("subject", max_length=20)
    meaning: str | None = Field(None, max_length=1000)
    visit_code: str | None = Field(None, max_length=40)
    form_code: str | None = Field(None, max_length=40)
    repeat_index: StrictInt = Field(1, ge=1, le=10_000)


class LotRegisterRequest(_Body):
    lot_number: str = Field(min_length=1, max_length=60)
    cell_type: str = Field(max_length=60)
    source_tissue: str = Field(max_length=60)
    donor_type: str = Field(max_length=30)
    donor_code: str | None = Field(None, max_length=60)
    manufactured_on: date | None = Field(None, description="YYYY-MM-DD")
    expires_at: AwareDatetime | None = None
    total_cells: float | None = None
    volume_ml: float | None = None


class LotReleaseRequest(_Body):
    results: dict[str, ItemValue] = Field(description="release test code -> result")
    password: str = Field(min_length=1, max_length=1024, description="re-authentication")
    meaning: str | None = Field(None, max_length=1000)
    note: str | None = Field(None, max_length=2000)


class LotWithdrawRequest(_Body):
    status: str = Field(max_length=20, description="rejected or expired")
    reason: str = Field(min_length=1, max_length=1000)
