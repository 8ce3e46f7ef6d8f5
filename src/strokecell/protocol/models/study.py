"""Study identity: who runs which study of which condition."""

from __future__ import annotations

from pydantic import Field

from strokecell.protocol.codes import Condition
from strokecell.protocol.models._base import NonEmptyStr, StrictModel, Text40, Text400

__all__ = ["Study"]


class Study(StrictModel):
    # STUDYID in CDISC data sets: upper case, digits, dashes.
    id: str = Field(pattern=r"^[A-Z0-9][A-Z0-9_-]*$", max_length=40)
    title: Text400  # studies.title
    version: Text40  # protocol_versions.version_label; quote it in YAML ("1.0")
    sponsor: NonEmptyStr
    registry_id: NonEmptyStr | None = None  # e.g. NCT02283879, ChiCTR...
    condition: Condition
    planned_n: int | None = Field(default=None, ge=1)
    source: NonEmptyStr | None = None  # where the design comes from (paper, registry entry)
