"""A treatment arm; a cell-therapy arm carries the four aspects (product, timing, route, dose)."""

from __future__ import annotations

from pydantic import Field, model_validator

from strokecell.protocol.codes import ArmType
from strokecell.protocol.models._base import (
    Issues,
    NonEmptyStr,
    ShortCode,
    StrictModel,
    Text200,
)
from strokecell.protocol.models.dose_regimen import AGREEMENT_TOLERANCE, DoseRegimen
from strokecell.protocol.models.product import CellProduct
from strokecell.protocol.models.route import Route
from strokecell.protocol.models.timing import Timing

__all__ = ["Arm"]

_ASPECTS = ("product", "timing", "route", "dose")


class Arm(StrictModel):
    code: ShortCode  # arms.code
    name: Text200  # arms.name
    type: ArmType
    ratio: int = Field(default=1, ge=1, le=10)  # allocation weight: 2 and 1 make 2:1
    planned_n: int | None = Field(default=None, ge=1)
    description: NonEmptyStr | None = None
    product: CellProduct | None = None
    timing: Timing | None = None
    route: Route | None = None
    dose: DoseRegimen | None = None

    @property
    def is_cell_therapy(self) -> bool:
        return self.type == "cell_therapy"

    @model_validator(mode="after")
    def _aspects_match_type(self) -> Arm:
        issues = Issues()
        for aspect in _ASPECTS:
            given = getattr(self, aspect) is not None
            if self.type == "cell_therapy" and not given:
                issues.add(aspect, "is required for a cell_therapy arm", None,
                           "the four aspects product, timing, route, dose")
            if self.type == "control" and given:
                issues.add(aspect, "a control arm receives no cells", aspect,
                           "leave it out, or type: cell_therapy")
        self._check_deposit_volume(issues)
        issues.raise_if_any()
        return self

    def _check_deposit_volume(self, issues: Issues) -> None:
        # For stereotactic grafts the total volume is the sum of the deposits.
        route, dose = self.route, self.dose
        if route is None or dose is None or dose.volume is None:
            return
        if route.deposits is None or route.volume_per_deposit is None:
            return
        implied = route.deposits * route.volume_per_deposit.value
        if abs(implied - dose.volume.value) > AGREEMENT_TOLERANCE * implied:
            issues.add("dose.volume", f"differs from route.deposits × "
                       f"route.volume_per_deposit ({route.deposits} × "
                       f"{route.volume_per_deposit.text} = {implied:.4g} mL)", dose.volume,
                       f"{implied:.4g} mL")
