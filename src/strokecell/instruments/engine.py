"""The one engine that validates item values and scores every scale defined in ``scales/``.

What is stored is the item-level values; totals, subtotals, bands and the scoring mode are
always computed here, never entered. A rejected set of items raises one
:class:`~strokecell.errors.ScoringError` listing every problem and returns nothing partial.

A composite scale (:class:`CompositeInstrument`, e.g. ``fma_total`` = ``fma_ue`` + ``fma_le``)
routes each item to its component, lets each component validate and score its own items with
its own rules, and sums the component totals.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from strokecell.errors import Problem, ScoringError
from strokecell.instruments._schema import (
    ExpectWhenRule,
    GatedBySectionRule,
    Item,
    OneOfRule,
    ScaleFile,
    Section,
)
from strokecell.instruments._values import UN, Value, allowed_text, parse_value


@dataclass(frozen=True)
class ScoreWarning:
    """Something a monitor should look at that does not make the items invalid."""

    location: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"location": self.location, "message": self.message}


@dataclass(frozen=True)
class ScoreResult:
    """A scored assessment. ``items`` keeps ``"UN"`` as given; it counts 0 in ``total``."""

    instrument: str
    version: str
    total: int | float
    max_total: int | float
    band: str | None
    items: dict[str, Value]
    subtotals: dict[str, int] = field(default_factory=dict)
    warnings: tuple[ScoreWarning, ...] = ()
    mode: str | None = None
    untestable: tuple[str, ...] = ()
    derived: tuple[str, ...] = ()
    unit: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "instrument": self.instrument,
            "version": self.version,
            "total": self.total,
            "max_total": self.max_total,
            "band": self.band,
            "unit": self.unit,
            "mode": self.mode,
            "items": dict(self.items),
            "subtotals": dict(self.subtotals),
            "untestable": list(self.untestable),
            "derived": list(self.derived),
            "warnings": [w.to_dict() for w in self.warnings],
        }


@dataclass
class _Checked:
    values: dict[str, Value]
    problems: list[Problem]
    derived: list[str]
    mode: str | None


class Instrument:
    """A loaded scale: its definition plus validation and scoring."""

    def __init__(self, definition: ScaleFile) -> None:
        if definition.kind == "composite" and type(self) is Instrument:
            raise ValueError(f"{definition.code} is a composite: build it as a "
                             "CompositeInstrument with its components")
        self.definition = definition
        self._items = {item.code: item for item in definition.items}
        self._sections = {section.code: section for section in definition.sections}

    def __repr__(self) -> str:
        return f"Instrument({self.code!r})"

    @property
    def code(self) -> str:
        return self.definition.code

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def kind(self) -> str:
        return self.definition.kind

    @property
    def max_total(self) -> int | float:
        return self._number(self.definition.max_total)

    @property
    def item_codes(self) -> tuple[str, ...]:
        return tuple(self._items)

    def item(self, code: str) -> Item:
        return self._items[code]

    def has_item(self, code: str) -> bool:
        return code in self._items

    def validate_items(
        self, items: Mapping[str, object], *, partial: bool = False
    ) -> dict[str, Value]:
        """Check ``items`` and return them normalized (in scale order).

        With ``partial=True`` (a form saved half-way) missing items are not reported, but every
        given value and every rule that the given values already decide are checked.
        """
        checked = self._check(items, partial=partial)
        if checked.problems:
            raise ScoringError(checked.problems, context=self.code)
        return checked.values

    def score(self, items: Mapping[str, object]) -> ScoreResult:
        """Validate a complete set of items and compute total, subtotals, band and warnings."""
        checked = self._check(items, partial=False)
        if checked.problems:
            raise ScoringError(checked.problems, context=self.code)
        values = checked.values
        numbers = {code: _points(v) for code, v in values.items()}
        measurement = self.definition.kind == "measurement"
        total = float(sum(numbers.values())) if measurement else int(sum(numbers.values()))
        untestable = tuple(code for code, v in values.items() if v == UN)
        warnings = [*self._expectation_warnings(values)]
        if untestable:
            warnings.append(ScoreWarning(
                "total", f"{len(untestable)} item(s) untestable (UN), counted as 0: "
                + ", ".join(untestable)))
        quantity = self.definition.items[0].quantity if measurement else None
        return ScoreResult(
            instrument=self.code,
            version=self.definition.version,
            total=total,
            max_total=self._max_given(values),
            band=self._band(total),
            items=values,
            subtotals={s.code: self._subtotal(s, numbers) for s in self.definition.sections},
            warnings=tuple(warnings),
            mode=checked.mode,
            untestable=untestable,
            derived=tuple(checked.derived),
            unit=quantity.unit if quantity else None,
        )

    # -- checking -------------------------------------------------------------------------

    def _check(self, raw: Mapping[str, object], *, partial: bool) -> _Checked:
        problems: list[Problem] = []
        parsed: dict[str, Value] = {}
        for key, value in raw.items():
            item = self._items.get(key)
            if item is None:
                problems.append(self._unknown(key))
                continue
            result = parse_value(item, value)
            if isinstance(result, Problem):
                problems.append(result)
            else:
                parsed[key] = result
        checked = _Checked(parsed, problems, [], None)
        handled: set[str] = set()
        for rule in self.definition.rules:
            if isinstance(rule, OneOfRule):
                self._one_of(rule, raw, checked, partial)
                handled.update(rule.items)
            elif isinstance(rule, GatedBySectionRule):
                self._gated(rule, raw, checked, partial)
                handled.add(rule.item)
        if not partial:
            for code, item in self._items.items():
                if code not in raw and code not in handled:
                    problems.append(Problem(code, f"{item.label}: missing",
                                            allowed=allowed_text(item)))
        order = list(self._items)
        checked.values = dict(sorted(checked.values.items(), key=lambda kv: order.index(kv[0])))
        return checked

    def _unknown(self, key: str) -> Problem:
        codes = list(self._items)
        lowered = {c.lower(): c for c in codes}
        hits = difflib.get_close_matches(key.lower(), list(lowered), n=3, cutoff=0.6)
        hits += [c for c in codes if c.split("_")[0] == key.lower() and c not in hits]
        suggestion = [lowered.get(h, h) for h in hits]
        hint = f"; did you mean {' or '.join(suggestion)}?" if suggestion else ""
        return Problem(key, f"unknown item of {self.definition.short_name}{hint}", key,
                       ", ".join(codes))

    def _one_of(self, rule: OneOfRule, raw: Mapping[str, object], checked: _Checked,
                partial: bool) -> None:
        given = [code for code in rule.items if code in raw]
        names = " or ".join(rule.items)
        if len(given) > 1:
            shown = " and ".join(f"{c}={raw[c]}" for c in given)
            checked.problems.append(Problem(given[-1], f"both {shown} given: {rule.message}",
                                            allowed=f"exactly one of {names}"))
        elif given:
            checked.mode = rule.modes[given[0]]
        elif not partial:
            checked.problems.append(Problem(names, f"missing: {rule.message}",
                                            allowed=f"exactly one of {names}"))

    def _gated(self, rule: GatedBySectionRule, raw: Mapping[str, object], checked: _Checked,
               partial: bool) -> None:
        section = self._sections[rule.section]
        codes = _leaf_items(section, self._sections)
        if not all(isinstance(checked.values.get(c), int) for c in codes):
            # The section is not (validly) complete, so the rule cannot be decided yet; an
            # absent section item is already reported as missing when the save is complete.
            return
        subtotal = int(sum(_points(checked.values[c]) for c in codes))
        item = self._items[rule.item]
        value = checked.values.get(rule.item)
        if subtotal < section.maximum:
            if value is None and rule.item not in raw:
                checked.values[rule.item] = 0
                checked.derived.append(rule.item)
            elif isinstance(value, int) and value != 0:
                checked.problems.append(Problem(
                    rule.item,
                    f"{item.label} = {value} but {section.label} ({rule.section}) scores "
                    f"{subtotal} of {section.maximum}: {rule.message}",
                    value, "0 (or omit it) while the section is incomplete"))
        elif rule.item not in raw and not partial:
            checked.problems.append(Problem(
                rule.item, f"{item.label}: missing ({section.label} has its full score "
                f"{section.maximum}, so this item must be scored)", allowed=allowed_text(item)))

    # -- scoring --------------------------------------------------------------------------

    def _expectation_warnings(self, values: Mapping[str, Value]) -> list[ScoreWarning]:
        out: list[ScoreWarning] = []
        for rule in self.definition.rules:
            if not isinstance(rule, ExpectWhenRule) or values.get(rule.item) != rule.value:
                continue
            for exp in rule.expect:
                got = values.get(exp.item)
                if got != exp.value:
                    label = self._items[exp.item].label
                    out.append(ScoreWarning(exp.item, (
                        f"{rule.name} ({rule.item}={rule.value}): {label} is usually "
                        f"{exp.value}, got {got} [{exp.verified}: {exp.note}]")))
        return out

    def _max_given(self, values: Mapping[str, Value]) -> int | float:
        total = self.definition.max_total
        for rule in self.definition.rules:
            if isinstance(rule, OneOfRule):
                best = max(self._items[c].maximum for c in rule.items)
                chosen = next(c for c in rule.items if c in values)
                total += self._items[chosen].maximum - best
        return self._number(total)

    def _number(self, x: float) -> int | float:
        # Integer scales report integers; a measurement keeps its decimals.
        return float(x) if self.definition.kind == "measurement" else int(x)

    def _band(self, total: float) -> str | None:
        for band in self.definition.bands:
            if band.minimum <= total <= band.maximum:
                return band.label
        return None

    def _subtotal(self, section: Section, numbers: Mapping[str, float]) -> int:
        return int(sum(numbers[c] for c in _leaf_items(section, self._sections)))


class CompositeInstrument(Instrument):
    """A scale that is the sum of other scales (``kind: composite``), e.g. FMA UE + LE.

    Its items are the components' items, under their own codes when these are distinct
    across the components, otherwise all of them as ``<component>.<item>``. Each component
    validates its items with its own rules; the total is the sum of the component totals, and
    ``subtotals`` holds each component's total (``fma_ue``) and its sections (``fma_ue.a``).
    Problems and warnings keep the item as location and name the component (``[fma_ue] ...``).
    """

    def __init__(self, definition: ScaleFile, components: Sequence[Instrument]) -> None:
        codes = tuple(component.code for component in components)
        if definition.kind != "composite" or codes != definition.components:
            raise ValueError(f"{definition.code}: components {codes} do not match the "
                             f"definition ({definition.kind}, {definition.components})")
        super().__init__(definition)
        self.components = tuple(components)
        item_codes = [code for component in components for code in component.item_codes]
        #: True when two components share an item code, so that every key is namespaced.
        self.namespaced = len(set(item_codes)) != len(item_codes)
        self._route: dict[str, tuple[Instrument, str]] = {}
        for component in self.components:
            for code in component.item_codes:
                key = self.key_for(component.code, code)
                self._route[key] = (component, code)
                self._items[key] = component.item(code)

    def __repr__(self) -> str:
        return f"CompositeInstrument({self.code!r}, {[c.code for c in self.components]})"

    def key_for(self, component: str, item: str) -> str:
        """The key under which ``component``'s item ``item`` is given to this scale."""
        return f"{component}.{item}" if self.namespaced else item

    def locate(self, key: str) -> tuple[str, str]:
        """The component code and the component's own item code of the item ``key``."""
        component, code = self._route[key]
        return component.code, code

    def validate_items(
        self, items: Mapping[str, object], *, partial: bool = False
    ) -> dict[str, Value]:
        routed, problems = self._split(items)
        values: dict[str, Value] = {}
        for component in self.components:
            try:
                checked = component.validate_items(routed[component.code], partial=partial)
            except ScoringError as exc:
                problems += [self._relocate(component, p) for p in exc.problems]
                continue
            values.update({self.key_for(component.code, c): v for c, v in checked.items()})
        if problems:
            raise ScoringError(problems, context=self.code)
        return values

    def score(self, items: Mapping[str, object]) -> ScoreResult:
        """Score every component on its own items; the total is the sum of their totals."""
        routed, problems = self._split(items)
        results: list[tuple[Instrument, ScoreResult]] = []
        for component in self.components:
            try:
                results.append((component, component.score(routed[component.code])))
            except ScoringError as exc:
                problems += [self._relocate(component, p) for p in exc.problems]
        if problems:
            raise ScoringError(problems, context=self.code)
        values: dict[str, Value] = {}
        subtotals: dict[str, int] = {}
        warnings: list[ScoreWarning] = []
        untestable: list[str] = []
        derived: list[str] = []
        modes: list[str] = []
        for component, result in results:
            key = functools.partial(self.key_for, component.code)
            values.update({key(c): v for c, v in result.items.items()})
            subtotals[component.code] = int(result.total)
            subtotals.update({f"{component.code}.{s}": v for s, v in result.subtotals.items()})
            warnings += [ScoreWarning(self._where(component, w.location),
                                      f"[{component.code}] {w.message}") for w in result.warnings]
            untestable += [key(c) for c in result.untestable]
            derived += [key(c) for c in result.derived]
            if result.mode:
                modes.append(f"{component.code}: {result.mode}")
        total = self._number(sum(result.total for _, result in results))
        return ScoreResult(
            instrument=self.code,
            version=self.definition.version,
            total=total,
            max_total=self._number(sum(result.max_total for _, result in results)),
            band=self._band(total),
            items=values,
            subtotals=subtotals,
            warnings=tuple(warnings),
            mode="; ".join(modes) or None,
            untestable=tuple(untestable),
            derived=tuple(derived),
        )

    def _split(
        self, raw: Mapping[str, object]
    ) -> tuple[dict[str, dict[str, object]], list[Problem]]:
        routed: dict[str, dict[str, object]] = {c.code: {} for c in self.components}
        problems: list[Problem] = []
        for key, value in raw.items():
            target = self._route.get(key)
            if target is None:
                problems.append(self._unknown(key))
            else:
                component, code = target
                routed[component.code][code] = value
        return routed, problems

    def _where(self, component: Instrument, location: str) -> str:
        # An item keeps its key here; anything else (a rule's items, "total") is namespaced.
        if component.has_item(location):
            return self.key_for(component.code, location)
        return f"{component.code}.{location}" if location else component.code

    def _relocate(self, component: Instrument, problem: Problem) -> Problem:
        return dataclasses.replace(problem, location=self._where(component, problem.location),
                                   message=f"[{component.code}] {problem.message}")


def _leaf_items(section: Section, sections: Mapping[str, Section]) -> list[str]:
    codes = list(section.items)
    for child in section.sections:
        codes += _leaf_items(sections[child], sections)
    return codes


def _points(value: Value) -> float:
    return 0 if value == UN else float(value)


