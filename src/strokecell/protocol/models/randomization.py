"""Randomisation settings; the allocation ratio comes from the arms' ``ratio`` weights."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from strokecell.protocol.models._base import Code, Issues, NonEmptyStr, StrictModel

__all__ = ["Randomization", "StratumFactor"]


class StratumFactor(StrictModel):
    factor: Code
    levels: list[Code] = Field(min_length=2)
    label: NonEmptyStr | None = None


class Randomization(StrictModel):
    """``stratified_block``: permuted blocks within strata (block sizes must be multiples of
    the ratio sum, checked against the arms by the protocol); ``minimization``: Pocock-Simon
    over ``stratify_by``, assigning the arm that minimises imbalance with probability
    ``random_element`` (e.g. 0.8) and another arm otherwise; ``simple``: coin toss."""

    method: Literal["stratified_block", "minimization", "simple"]
    block_sizes: list[int] | None = Field(default=None, min_length=1)
    strata: list[StratumFactor] = Field(default_factory=list)
    stratify_by: list[Code] = Field(default_factory=list)
    random_element: float | None = Field(default=None, gt=0.5, le=1.0)

    @model_validator(mode="after")
    def _settings_fit_method(self) -> Randomization:
        issues = Issues()
        if self.method == "stratified_block" and not self.block_sizes:
            issues.add("block_sizes", "is required for stratified_block", None,
                       "e.g. [2, 4]: multiples of the sum of the arm ratios")
        if self.method != "stratified_block" and self.block_sizes:
            issues.add("block_sizes", f"applies to stratified_block only, not {self.method}",
                       self.block_sizes, "leave it out")
        if self.method == "minimization" and self.random_element is None:
            issues.add("random_element", "is required for minimization", None,
                       "probability of the minimising arm, in (0.5, 1], e.g. 0.8")
        if self.method != "minimization" and self.random_element is not None:
            issues.add("random_element", f"applies to minimization only, not {self.method}",
                       self.random_element, "leave it out")
        if self.method == "minimization" and not self.stratify_by:
            issues.add("stratify_by", "minimization needs at least one factor", None,
                       "factor codes defined under strata")
        if self.method == "simple" and self.stratify_by:
            issues.add("stratify_by", "simple randomisation is not stratified",
                       self.stratify_by, "leave it out")
        for i, size in enumerate(self.block_sizes or []):
            if size < 2:
                issues.add(f"block_sizes[{i}]", "a block holds at least two patients", size,
                           ">= 2")
        issues.raise_if_any()
        return self
