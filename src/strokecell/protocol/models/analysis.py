"""The planned analysis, kept small here; the analysis layer reads it."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from strokecell.protocol.models._base import Issues, StrictModel

__all__ = ["AnalysisSettings"]

Covariance = Literal["us", "toep", "ar1", "cs", "ad", "csh", "toeph", "ar1h"]


def _default_fallback() -> list[Covariance]:
    return ["toep", "ar1", "cs"]


class AnalysisSettings(StrictModel):
    """MMRM with an unstructured covariance by default, with the fallbacks tried in order
    if it does not converge (as pre-specified in a SAP), and the denominator df method."""

    primary_model: Literal["mmrm"] = "mmrm"
    covariance: Covariance = "us"
    covariance_fallback: list[Covariance] = Field(default_factory=_default_fallback)
    df_method: Literal["kenward_roger", "satterthwaite", "between_within", "residual"] = (
        "kenward_roger")
    alpha: float = Field(default=0.05, gt=0, le=0.2)

    @model_validator(mode="after")
    def _fallbacks_distinct(self) -> AnalysisSettings:
        issues = Issues()
        if self.covariance in self.covariance_fallback:
            issues.add("covariance_fallback", f"repeats the primary structure "
                       f"{self.covariance!r}", self.covariance_fallback, "other structures")
        if len(set(self.covariance_fallback)) != len(self.covariance_fallback):
            issues.add("covariance_fallback", "lists a structure twice",
                       self.covariance_fallback, "distinct structures")
        issues.raise_if_any()
        return self
