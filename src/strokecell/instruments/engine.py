"""The one engine that validates item values and scores every scale defined in ``scales/``.

What is stored is the item-level values; totals, subtotals, bands and the scoring mode are
always computed here, never entered. A rejected set of items raises one
:class:`~strokecell.errors.ScoringError` listing every problem and returns nothing partial.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
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


def _leaf_items(section: Section, sections: Mapping[str, Section]) -> list[str]:
    codes = list(section.items)
    for child in section.sections:
        codes += _leaf_items(sections[child], sections)
    return codes


def _points(value: Value) -> float:
    return 0 if value == UN else float(value)


