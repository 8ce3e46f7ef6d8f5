"""Safety monitoring: the protocol's stopping rules (evaluated on each adverse-event entry).

A rule counts adverse events of one kind across the whole study and fires when the count
reaches ``threshold``: e.g. "related serious adverse events ≥ 2" or "deaths within 30 days
of an administration ≥ 1". The trial services evaluate every rule on each adverse-event
entry and record a safety signal when one is met (see docs/data-model.md).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from strokecell.protocol.models._base import Code, Issues, NonEmptyStr, StrictModel

__all__ = ["Safety", "StoppingRule"]

#: What a rule counts: any adverse event, serious ones (ICH E2A), or deaths (outcome fatal).
CountedEvent = Literal["adverse_event", "serious_adverse_event", "death"]


class StoppingRule(StrictModel):
    """Fire when at least ``threshold`` events of kind ``count`` match the filters.

    ``related``: only events at least possibly related (WHO-UMC possible, probable or
    definite) to the cell product or to the procedure. ``min_grade``: CTCAE grade at least.
    ``within_days_of_administration``: only events whose onset is 0 to N days after the
    subject's first cell administration (subjects never given cells do not count).
    """

    code: Code
    label: NonEmptyStr | None = None
    count: CountedEvent
    related: bool = False
    min_grade: int | None = Field(default=None, ge=1, le=5)
    within_days_of_administration: float | None = Field(default=None, gt=0, le=3650)
    threshold: int = Field(ge=1, le=10_000)
    source: NonEmptyStr | None = None  # e.g. "DSMB charter §4"

    @property
    def text(self) -> str:
        """The rule in words, e.g. ``related serious_adverse_event >= 2``."""
        parts = ["related" if self.related else "", self.count.replace("_", " ") + "s",
                 f"grade >= {self.min_grade}" if self.min_grade else "",
                 f"within {self.within_days_of_administration:g} days of administration"
                 if self.within_days_of_administration else ""]
        return " ".join(p for p in parts if p) + f" >= {self.threshold}"


class Safety(StrictModel):
    """The protocol's ``safety`` section: stopping rules (codes unique)."""

    stopping_rules: list[StoppingRule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_codes(self) -> Safety:
        issues = Issues()
        seen: dict[str, int] = {}
        for i, rule in enumerate(self.stopping_rules):
            if rule.code in seen:
                issues.add(f"stopping_rules[{i}].code",
                           f"duplicates stopping_rules[{seen[rule.code]}]", rule.code,
                           "a code used once")
            seen.setdefault(rule.code, i)
        issues.raise_if_any()
        return self
