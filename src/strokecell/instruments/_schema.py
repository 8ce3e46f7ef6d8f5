"""The file format of a scale definition (``scales/<code>.yaml``), as pydantic models.

A scale file is data, but a wrong number in it silently mis-scores every patient, so the
format is strict (``extra="forbid"``) and checked for internal consistency on load: unique
codes, sections and rules that name existing items, a declared maximum equal to the one the
items imply, and bands that tile the possible totals without gap or overlap.

A ``kind: composite`` file (e.g. ``fma_total`` = ``fma_ue`` + ``fma_le``) lists the codes of
its ``components`` instead of items. What one file can say about itself is checked here (at
least two distinct components, not itself, no items, sections or rules); what needs the other
files (components exist, no cycle, ``max_total`` = the sum of the component maxima) is checked
by the loader, which reads them.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: Evidence status of a fact in a data file, as in ``domain/README.md``:
#: V seen in a public source, K background knowledge not re-checked, A assumption.
Status = Literal["V", "K", "A"]

CODE_PATTERN = r"^[a-z0-9][a-z0-9_]*$"

#: Width of ``form_instances.instrument_version``, where every saved form keeps the version
#: text of its scale: a longer ``version`` is refused when the scale file is loaded.
VERSION_MAX_LENGTH = 200


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(_Strict):
    """Where a scale comes from, and what of it was checked against which public text."""

    citation: str
    doi: str | None = None
    pmid: str | None = None
    urls: tuple[str, ...] = ()
    status: Status
    note: str | None = None


class Level(_Strict):
    """One allowed value of a choice item, with the words a rater sees."""

    value: int
    label: str
    description: str | None = None


class Untestable(_Strict):
    """The ``UN`` answer of an item that may be untestable (kept apart from 0; scores 0)."""

    code: Literal["UN"] = "UN"
    label: str


class Item(_Strict):
    """One scored item. ``levels`` for an ordinal grid, ``quantity`` for a measurement."""

    code: Annotated[str, Field(pattern=CODE_PATTERN)]
    label: str
    levels: tuple[Level, ...] = ()
    untestable: Untestable | None = None
    quantity: Quantity | None = None
    verified: Status = "V"
    note: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Item:
        if bool(self.levels) == (self.quantity is not None):
            raise ValueError(f"item {self.code}: give either levels or quantity, not both")
        values = [level.value for level in self.levels]
        if len(set(values)) != len(values):
            raise ValueError(f"item {self.code}: duplicate level values {values}")
        if values != sorted(values):
            raise ValueError(f"item {self.code}: levels must be listed in increasing order")
        if self.untestable is not None and self.quantity is not None:
            raise ValueError(f"item {self.code}: a quantity cannot be untestable")
        return self

    @property
    def maximum(self) -> float:
        if self.quantity is not None:
            return self.quantity.maximum
        return max(level.value for level in self.levels)


class Quantity(_Strict):
    """A real-valued measurement with a fixed unit and a plausible range (inclusive)."""

    unit: str
    ucum: str
    minimum: float = 0.0
    maximum: float
    bound_note: str | None = None


class Section(_Strict):
    """A group of items (or of sections) with a subtotal, e.g. FMA ``A.II``."""

    code: Annotated[str, Field(pattern=CODE_PATTERN)]
    label: str
    items: tuple[str, ...] = ()
    sections: tuple[str, ...] = ()
    maximum: int

    @model_validator(mode="after")
    def _one_kind(self) -> Section:
        if bool(self.items) == bool(self.sections):
            raise ValueError(f"section {self.code}: list either items or sections")
        return self


class OneOfRule(_Strict):
    """Exactly one of ``items`` is given; which one is recorded as the scoring mode.

    MBI: ``wheelchair`` replaces ``ambulation`` for a patient who cannot walk.
    """

    kind: Literal["one_of"]
    items: tuple[str, ...]
    modes: dict[str, str]
    message: str


class GatedBySectionRule(_Strict):
    """``item`` is scored only when ``section`` has its full score; otherwise it is 0.

    FMA "normal reflex activity" (V) after "little or no synergy" (IV). A non-zero value with
    an incomplete section is an error; an omitted value with an incomplete section is 0.
    """

    kind: Literal["gated_by_full_section"]
    item: str
    section: str
    message: str


class Expectation(_Strict):
    item: str
    value: int
    verified: Status
    note: str


class ExpectWhenRule(_Strict):
    """When ``item`` equals ``value``, other items are expected at given values (warnings)."""

    kind: Literal["expect_when"]
    item: str
    value: int
    name: str
    expect: tuple[Expectation, ...]


Rule = Annotated[OneOfRule | GatedBySectionRule | ExpectWhenRule, Field(discriminator="kind")]


class Band(_Strict):
    minimum: float
    maximum: float
    label: str


class ScaleFile(_Strict):
    """A whole scale definition file."""

    # stored in form_instances.instrument_code (40 characters)
    code: Annotated[str, Field(pattern=CODE_PATTERN, max_length=40)]
    name: str
    short_name: str
    version: str
    kind: Literal["score", "measurement", "composite"]
    source: Source
    max_total: float
    components: tuple[Annotated[str, Field(pattern=CODE_PATTERN)], ...] = ()
    items: tuple[Item, ...] = ()
    sections: tuple[Section, ...] = ()
    rules: tuple[Rule, ...] = ()
    bands: tuple[Band, ...] = ()
    bands_source: str | None = None
    note: str | None = None

    @field_validator("version")
    @classmethod
    def _version_fits_the_record(cls, value: str) -> str:
        if len(value) > VERSION_MAX_LENGTH:
            raise ValueError(
                f"version is {len(value)} characters long; at most {VERSION_MAX_LENGTH} are "
                f"allowed (stored with every form in form_instances.instrument_version)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ScaleFile:
        if self.kind == "composite":
            self._check_composite()
            self._check_bands()
            return self
        if self.components:
            raise ValueError(f"only a composite scale lists components (kind is {self.kind})")
        if not self.items:
            raise ValueError(f"a {self.kind} scale needs items")
        codes = [item.code for item in self.items]
        if len(set(codes)) != len(codes):
            raise ValueError(f"duplicate item codes in {codes}")
        items = {item.code: item for item in self.items}
        sections = {section.code: section for section in self.sections}
        self._check_sections(items, sections)
        self._check_rules(items, sections)
        if self.kind == "score" and any(item.quantity for item in self.items):
            raise ValueError("a score scale has choice items only")
        declared = self.max_total
        implied = _implied_maximum(self)
        if declared != implied:
            raise ValueError(f"max_total is {declared} but the items add up to {implied}")
        self._check_bands()
        return self

    def _check_composite(self) -> None:
        if self.items or self.sections or self.rules:
            raise ValueError("a composite scale lists components, not items, sections or rules")
        if len(self.components) < 2:
            raise ValueError(f"a composite scale needs at least two components, got "
                             f"{list(self.components)}")
        if len(set(self.components)) != len(self.components):
            raise ValueError(f"duplicate components in {list(self.components)}")
        if self.code in self.components:
            raise ValueError(f"composite {self.code} lists itself as a component")

    def _check_sections(self, items: dict[str, Item], sections: dict[str, Section]) -> None:
        seen: set[str] = set()
        for section in self.sections:
            for code in section.items:
                if code not in items:
                    raise ValueError(f"section {section.code} names unknown item {code}")
                if code in seen:
                    raise ValueError(f"item {code} is in more than one section")
                seen.add(code)
            for code in section.sections:
                if code not in sections:
                    raise ValueError(f"section {section.code} names unknown section {code}")
            leaf_max = _section_maximum(section, items, sections)
            if leaf_max != section.maximum:
                raise ValueError(
                    f"section {section.code}: maximum is {section.maximum} "
                    f"but its items add up to {leaf_max}"
                )
        if self.sections and seen != set(items):
            raise ValueError(f"items in no section: {sorted(set(items) - seen)}")

    def _check_rules(self, items: dict[str, Item], sections: dict[str, Section]) -> None:
        for rule in self.rules:
            if isinstance(rule, OneOfRule):
                unknown = [c for c in rule.items if c not in items]
                if unknown or set(rule.modes) != set(rule.items):
                    raise ValueError(f"one_of rule: bad items {rule.items} / modes {rule.modes}")
            elif isinstance(rule, GatedBySectionRule):
                if rule.item not in items or rule.section not in sections:
                    raise ValueError(f"gated rule names unknown {rule.item} / {rule.section}")
            else:
                named = [rule.item, *(e.item for e in rule.expect)]
                unknown = [c for c in named if c not in items]
                if unknown:
                    raise ValueError(f"expect_when rule names unknown items {unknown}")

    def _check_bands(self) -> None:
        if not self.bands:
            return
        # Bands of an integer scale tile 0..max_total: each starts one above the last end.
        if self.bands[0].minimum != 0 or self.bands[-1].maximum != self.max_total:
            raise ValueError(f"bands must run from 0 to {self.max_total}")
        for before, after in zip(self.bands, self.bands[1:], strict=False):
            if after.minimum != before.maximum + 1 or after.minimum > after.maximum:
                raise ValueError(
                    f"bands {before.label!r} and {after.label!r} leave a gap or overlap")


def _section_maximum(section: Section, items: dict[str, Item], sections: dict[str, Section]) -> int:
    total = sum(int(items[code].maximum) for code in section.items)
    for code in section.sections:
        total += _section_maximum(sections[code], items, sections)
    return total


def _implied_maximum(scale: ScaleFile) -> float:
    # Items of a one_of group are alternatives: the maximum counts the best one only.
    grouped = [rule for rule in scale.rules if isinstance(rule, OneOfRule)]
    in_group = {code for rule in grouped for code in rule.items}
    items = {item.code: item for item in scale.items}
    total = sum(item.maximum for item in scale.items if item.code not in in_group)
    for rule in grouped:
        total += max(items[code].maximum for code in rule.items)
    return total


Item.model_rebuild()
