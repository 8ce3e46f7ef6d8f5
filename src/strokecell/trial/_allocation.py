"""Shared pieces of the allocation engines: the ratio, the factors, the allocation record."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from strokecell.errors import InputError, Problem

__all__ = [
    "Allocation",
    "AllocationRatio",
    "BlockPosition",
    "Factors",
    "MinimizationScores",
]


@dataclass(frozen=True)
class AllocationRatio:
    """Arms in order with integer weights, e.g. ``(("CELL", 1), ("CTRL", 1))`` for 1:1."""

    arms: tuple[tuple[str, int], ...]

    @classmethod
    def parse(cls, ratio: AllocationRatio | Mapping[str, int] | Iterable[tuple[str, int]],
              ) -> AllocationRatio:
        if isinstance(ratio, AllocationRatio):
            return ratio
        pairs = tuple(ratio.items()) if isinstance(ratio, Mapping) else tuple(ratio)
        problems: list[Problem] = []
        if len(pairs) < 2:
            problems.append(Problem("ratio", "needs at least two arms", [p[0] for p in pairs],
                                    "two or more arm codes with positive integer weights"))
        seen: set[str] = set()
        for code, weight in pairs:
            if not isinstance(code, str) or not code:
                problems.append(Problem("ratio", "arm code must be a non-empty string", code))
            elif code in seen:
                problems.append(Problem(f"ratio.{code}", "arm listed twice", code,
                                        "each arm once"))
            seen.add(str(code))
            if isinstance(weight, bool) or not isinstance(weight, int) or weight < 1:
                problems.append(Problem(f"ratio.{code}", "weight must be a positive integer",
                                        weight, "1, 2, 3, ..."))
        if problems:
            raise InputError(problems, context="allocation ratio")
        return cls(tuple((str(c), int(w)) for c, w in pairs))

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(code for code, _ in self.arms)

    @property
    def total(self) -> int:
        return sum(w for _, w in self.arms)

    def weight(self, arm: str) -> int:
        return dict(self.arms)[arm]

    def to_json(self) -> list[list[Any]]:
        return [[code, weight] for code, weight in self.arms]

    def __str__(self) -> str:
        return ":".join(str(w) for _, w in self.arms)


@dataclass(frozen=True)
class Factors:
    """Stratification (or minimization) factors in order, each with its allowed levels."""

    items: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @classmethod
    def parse(cls, factors: Factors | Mapping[str, Sequence[str]] | None) -> Factors:
        if factors is None:
            return cls()
        if isinstance(factors, Factors):
            return factors
        problems: list[Problem] = []
        items: list[tuple[str, tuple[str, ...]]] = []
        for name, levels in factors.items():
            lv = tuple(str(v) for v in levels)
            if not name or not isinstance(name, str) or "|" in name or "=" in name:
                problems.append(Problem("factors", "factor name must be a non-empty string "
                                        "without '|' or '='", name))
            if len(lv) < 1 or len(set(lv)) != len(lv):
                problems.append(Problem(f"factors.{name}", "levels must be distinct and at "
                                        "least one", list(lv)))
            items.append((str(name), lv))
        if problems:
            raise InputError(problems, context="randomization factors")
        return cls(tuple(items))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.items)

    def check(self, values: Mapping[str, str]) -> dict[str, str]:
        """``values`` restricted to the factors, in factor order; every problem reported."""
        problems: list[Problem] = []
        out: dict[str, str] = {}
        for name, levels in self.items:
            if name not in values:
                problems.append(Problem(f"strata.{name}", "missing", None, ", ".join(levels)))
                continue
            value = str(values[name])
            if value not in levels:
                problems.append(Problem(f"strata.{name}", "unknown level", value,
                                        ", ".join(levels)))
            out[name] = value
        extra = sorted(set(values) - set(self.names))
        for name in extra:
            problems.append(Problem(f"strata.{name}", "not a randomization factor", name,
                                    ", ".join(self.names) or "no factors"))
        if problems:
            raise InputError(problems, context="allocation")
        return out

    def key(self, values: Mapping[str, str]) -> str:
        """Canonical stratum key, e.g. ``site=S01|nihss=5-15`` (``*`` with no factors)."""
        if not self.items:
            return "*"
        return "|".join(f"{name}={values[name]}" for name, _ in self.items)

    def all_keys(self) -> list[str]:
        keys = [""]
        for name, levels in self.items:
            keys = [f"{k}|{name}={lv}" if k else f"{name}={lv}" for k in keys for lv in levels]
        return keys if self.items else ["*"]

    def to_json(self) -> list[list[Any]]:
        return [[name, list(levels)] for name, levels in self.items]


@dataclass(frozen=True)
class BlockPosition:
    """Where a permuted-block allocation fell: block number in its stratum, size, position."""

    number: int
    size: int
    position: int


@dataclass(frozen=True)
class MinimizationScores:
    """What decided a minimization allocation."""

    scores: Mapping[str, float]
    preferred: tuple[str, ...]
    draw: float


@dataclass(frozen=True)
class Allocation:
    """One allocation: the arm, the stratum, and what decided it (concealed detail)."""

    arm: str
    method: str
    stratum: str
    strata: Mapping[str, str]
    sequence: int
    stratum_sequence: int
    probability: float | None = None
    block: BlockPosition | None = None
    minimization: MinimizationScores | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "arm": self.arm,
            "method": self.method,
            "stratum": self.stratum,
            "strata": dict(self.strata),
            "sequence": self.sequence,
            "stratum_sequence": self.stratum_sequence,
            "probability": self.probability,
        }
        if self.block is not None:
            out["block"] = {"number": self.block.number, "size": self.block.size,
                            "position": self.block.position}
        if self.minimization is not None:
            out["minimization"] = {"scores": dict(self.minimization.scores),
                                   "preferred": list(self.minimization.preferred),
                                   "draw": self.minimization.draw}
        return out
