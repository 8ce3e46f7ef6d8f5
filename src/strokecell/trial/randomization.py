"""Seeded allocation engines with no database: permuted blocks, minimization, simple.

Every engine is deterministic given its seed, allocates one subject at a time with
``allocate(strata)`` and serialises its whole state with ``to_state()`` to a JSON-able dict;
``restore_randomizer(state)`` continues the sequence exactly where it stopped. The state holds
the seed and the pre-generated lists, so it is the concealed part of a trial: only unblinded
roles may read it (the store keeps it apart from the allocations).

Random draws come from :class:`~strokecell.trial._stream.KeyedStream` (HMAC-SHA256 in counter
mode), so the sequence cannot be predicted from past allocations without the seed, and is
the same on every machine.

* :class:`PermutedBlockRandomizer`: stratified permuted blocks with random block sizes; each
  stratum has its own stream and its own list of blocks, generated ``list_length``
  allocations ahead (and extended from the same stream when exhausted).
* :class:`MinimizationRandomizer`: Pocock-Simon minimization over the marginal totals of the
  factors, range or variance imbalance of the ratio-adjusted counts, the preferred arm(s)
  chosen with probability ``p_preferred``.
* :class:`SimpleRandomizer`: independent draws by ratio, for comparison.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar, Literal, Protocol

from strokecell.errors import InputError, Problem
from strokecell.trial._allocation import (
    Allocation,
    AllocationRatio,
    BlockPosition,
    Factors,
    MinimizationScores,
)
from strokecell.trial._minimization import imbalance_scores
from strokecell.trial._stream import KeyedStream, choose_weighted

__all__ = [
    "Allocation",
    "AllocationRatio",
    "BlockPosition",
    "Factors",
    "MinimizationRandomizer",
    "MinimizationScores",
    "PermutedBlockRandomizer",
    "Randomizer",
    "SimpleRandomizer",
    "restore_randomizer",
]

STATE_FORMAT = 1
RatioLike = AllocationRatio | Mapping[str, int] | Iterable[tuple[str, int]]
FactorsLike = Factors | Mapping[str, Sequence[str]] | None


class Randomizer(Protocol):
    """What every allocation engine offers."""

    method: ClassVar[str]
    ratio: AllocationRatio
    factors: Factors

    def allocate(self, strata: Mapping[str, str] | None = None) -> Allocation: ...

    def to_state(self) -> dict[str, Any]: ...


def _seed_text(seed: int | str) -> str:
    if isinstance(seed, bool) or not isinstance(seed, int | str) or seed == "":
        raise InputError(Problem("seed", "must be an integer or a non-empty string", seed))
    return str(seed)


def _check_state(state: Mapping[str, Any], method: str) -> None:
    if state.get("method") != method or state.get("format") != STATE_FORMAT:
        raise InputError(Problem("state.method", "state is not for this engine",
                                 f"{state.get('method')}/{state.get('format')}",
                                 f"{method}/{STATE_FORMAT}"))


class PermutedBlockRandomizer:
    """Stratified permuted blocks with block sizes drawn at random from ``block_sizes``."""

    method: ClassVar[str] = "permuted_blocks"

    def __init__(self, ratio: RatioLike, *, block_sizes: Sequence[int], seed: int | str,
                 factors: FactorsLike = None, list_length: int = 100) -> None:
        self.ratio = AllocationRatio.parse(ratio)
        self.factors = Factors.parse(factors)
        self.seed = _seed_text(seed)
        unit = self.ratio.total
        sizes = tuple(block_sizes)
        bad = [s for s in sizes
               if isinstance(s, bool) or not isinstance(s, int) or s < unit or s % unit]
        if not sizes or bad or len(set(sizes)) != len(sizes):
            raise InputError(Problem(
                "block_sizes", "each block size must be a distinct positive multiple of the "
                f"ratio sum {unit} (ratio {self.ratio})", list(sizes),
                f"e.g. {[unit, 2 * unit]} or {[2 * unit, 3 * unit]}"))
        if isinstance(list_length, bool) or not isinstance(list_length, int) or list_length < 0:
            raise InputError(Problem("list_length", "must be a non-negative integer",
                                     list_length))
        self.block_sizes = sizes
        self.list_length = list_length
        self.sequence = 0
        # stratum key -> {"blocks": [[arm, ...], ...], "used": n, "counter": stream counter}
        self.strata: dict[str, dict[str, Any]] = {}

    def _stream(self, key: str, counter: int) -> KeyedStream:
        return KeyedStream(self.seed, f"{self.method}|{key}", counter)

    def _extend(self, key: str, needed: int) -> dict[str, Any]:
        entry = self.strata.setdefault(key, {"blocks": [], "used": 0, "counter": 0})
        stream = self._stream(key, entry["counter"])
        length = sum(len(b) for b in entry["blocks"])
        while length < needed:
            size = self.block_sizes[stream.below(len(self.block_sizes))]
            per_weight = size // self.ratio.total
            block = [code for code, w in self.ratio.arms for _ in range(w * per_weight)]
            stream.shuffle(block)
            entry["blocks"].append(block)
            length += size
        entry["counter"] = stream.counter
        return entry

    def pregenerate(self) -> None:
        """Generate the list for every stratum now (a full randomization list up front)."""
        for key in self.factors.all_keys():
            self._extend(key, self.list_length)

    def allocate(self, strata: Mapping[str, str] | None = None) -> Allocation:
        values = self.factors.check(strata or {})
        key = self.factors.key(values)
        entry = self.strata.get(key)
        used = entry["used"] if entry else 0
        entry = self._extend(key, max(used + 1, self.list_length if entry is None else 0))
        index, start = 0, 0
        for index, block in enumerate(entry["blocks"]):  # noqa: B007
            if used < start + len(block):
                break
            start += len(block)
        block = entry["blocks"][index]
        arm = block[used - start]
        entry["used"] = used + 1
        self.sequence += 1
        return Allocation(arm=arm, method=self.method, stratum=key, strata=values,
                          sequence=self.sequence, stratum_sequence=used + 1,
                          block=BlockPosition(index + 1, len(block), used - start + 1))

    def to_state(self) -> dict[str, Any]:
        return {
            "method": self.method, "format": STATE_FORMAT, "seed": self.seed,
            "ratio": self.ratio.to_json(), "factors": self.factors.to_json(),
            "block_sizes": list(self.block_sizes), "list_length": self.list_length,
            "sequence": self.sequence,
            "strata": {k: {"blocks": [list(b) for b in v["blocks"]], "used": v["used"],
                           "counter": v["counter"]} for k, v in self.strata.items()},
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> PermutedBlockRandomizer:
        _check_state(state, cls.method)
        engine = cls([tuple(p) for p in state["ratio"]], block_sizes=state["block_sizes"],
                     seed=state["seed"], factors=dict(state["factors"]),
                     list_length=state["list_length"])
        engine.sequence = int(state["sequence"])
        engine.strata = {k: {"blocks": [list(b) for b in v["blocks"]], "used": int(v["used"]),
                             "counter": int(v["counter"])} for k, v in state["strata"].items()}
        return engine


class MinimizationRandomizer:
    """Pocock-Simon minimization with a random element and an allocation ratio."""

    method: ClassVar[str] = "minimization"

    def __init__(self, ratio: RatioLike, *, factors: FactorsLike, seed: int | str,
                 p_preferred: float = 0.8, imbalance: Literal["range", "variance"] = "range",
                 factor_weights: Mapping[str, float] | None = None) -> None:
        self.ratio = AllocationRatio.parse(ratio)
        self.factors = Factors.parse(factors)
        self.seed = _seed_text(seed)
        problems: list[Problem] = []
        if not self.factors.items:
            problems.append(Problem("factors", "minimization needs at least one factor", None))
        if isinstance(p_preferred, bool) or not isinstance(p_preferred, int | float) \
                or not 0.5 <= p_preferred <= 1.0:
            problems.append(Problem("p_preferred", "probability of the preferred arm",
                                    p_preferred, "a number from 0.5 to 1"))
        if imbalance not in ("range", "variance"):
            problems.append(Problem("imbalance", "unknown imbalance measure", imbalance,
                                    "range, variance"))
        weights = dict(factor_weights or {})
        for name, w in weights.items():
            if name not in self.factors.names:
                problems.append(Problem(f"factor_weights.{name}", "not a factor", name,
                                        ", ".join(self.factors.names)))
            elif isinstance(w, bool) or not isinstance(w, int | float) or w <= 0:
                problems.append(Problem(f"factor_weights.{name}", "must be positive", w))
        if problems:
            raise InputError(problems, context="minimization")
        self.p_preferred = float(p_preferred)
        self.imbalance: Literal["range", "variance"] = imbalance
        self.factor_weights = {n: float(weights.get(n, 1.0)) for n in self.factors.names}
        self.sequence = 0
        self.counter = 0
        self.counts: dict[str, dict[str, dict[str, int]]] = {
            name: {lv: dict.fromkeys(self.ratio.codes, 0) for lv in levels}
            for name, levels in self.factors.items}

    def allocate(self, strata: Mapping[str, str] | None = None) -> Allocation:
        values = self.factors.check(strata or {})
        rows = [(self.counts[name][values[name]], self.factor_weights[name])
                for name in self.factors.names]
        scores, preferred = imbalance_scores(self.ratio, rows, self.imbalance)
        weights = dict(self.ratio.arms)
        others = [a for a in self.ratio.codes if a not in preferred]
        if not others:
            total = float(sum(weights.values()))
            options = [(a, weights[a] / total) for a in self.ratio.codes]
        else:
            wp = float(sum(weights[a] for a in preferred))
            wo = float(sum(weights[a] for a in others))
            options = [(a, self.p_preferred * weights[a] / wp if a in preferred
                        else (1.0 - self.p_preferred) * weights[a] / wo)
                       for a in self.ratio.codes]
        stream = KeyedStream(self.seed, self.method, self.counter)
        draw = stream.uniform()
        self.counter = stream.counter
        arm = choose_weighted(draw, options)
        for name in self.factors.names:
            self.counts[name][values[name]][arm] += 1
        self.sequence += 1
        return Allocation(arm=arm, method=self.method, stratum=self.factors.key(values),
                          strata=values, sequence=self.sequence,
                          stratum_sequence=self.sequence, probability=dict(options)[arm],
                          minimization=MinimizationScores(scores, preferred, draw))

    def to_state(self) -> dict[str, Any]:
        return {
            "method": self.method, "format": STATE_FORMAT, "seed": self.seed,
            "ratio": self.ratio.to_json(), "factors": self.factors.to_json(),
            "p_preferred": self.p_preferred, "imbalance": self.imbalance,
            "factor_weights": dict(self.factor_weights), "sequence": self.sequence,
            "counter": self.counter,
            "counts": {f: {lv: dict(c) for lv, c in levels.items()}
                       for f, levels in self.counts.items()},
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> MinimizationRandomizer:
        _check_state(state, cls.method)
        engine = cls([tuple(p) for p in state["ratio"]], factors=dict(state["factors"]),
                     seed=state["seed"], p_preferred=state["p_preferred"],
                     imbalance=state["imbalance"], factor_weights=state["factor_weights"])
        engine.sequence = int(state["sequence"])
        engine.counter = int(state["counter"])
        engine.counts = {f: {lv: {a: int(n) for a, n in c.items()} for lv, c in levels.items()}
                         for f, levels in state["counts"].items()}
        return engine


class SimpleRandomizer:
    """Independent draws by the allocation ratio (the comparison for balance)."""

    method: ClassVar[str] = "simple"

    def __init__(self, ratio: RatioLike, *, seed: int | str, factors: FactorsLike = None,
                 ) -> None:
        self.ratio = AllocationRatio.parse(ratio)
        self.factors = Factors.parse(factors)
        self.seed = _seed_text(seed)
        self.sequence = 0
        self.counter = 0

    def allocate(self, strata: Mapping[str, str] | None = None) -> Allocation:
        values = self.factors.check(strata or {})
        total = float(self.ratio.total)
        options = [(a, w / total) for a, w in self.ratio.arms]
        stream = KeyedStream(self.seed, self.method, self.counter)
        arm = choose_weighted(stream.uniform(), options)
        self.counter = stream.counter
        self.sequence += 1
        return Allocation(arm=arm, method=self.method, stratum=self.factors.key(values),
                          strata=values, sequence=self.sequence,
                          stratum_sequence=self.sequence, probability=dict(options)[arm])

    def to_state(self) -> dict[str, Any]:
        return {"method": self.method, "format": STATE_FORMAT, "seed": self.seed,
                "ratio": self.ratio.to_json(), "factors": self.factors.to_json(),
                "sequence": self.sequence, "counter": self.counter}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> SimpleRandomizer:
        _check_state(state, cls.method)
        engine = cls([tuple(p) for p in state["ratio"]], seed=state["seed"],
                     factors=dict(state["factors"]))
        engine.sequence = int(state["sequence"])
        engine.counter = int(state["counter"])
        return engine


_ENGINES: dict[str, Any] = {
    PermutedBlockRandomizer.method: PermutedBlockRandomizer,
    MinimizationRandomizer.method: MinimizationRandomizer,
    SimpleRandomizer.method: SimpleRandomizer,
}


def restore_randomizer(state: Mapping[str, Any]) -> Randomizer:
    """The engine that ``state`` (from ``to_state()``) describes, ready to continue."""
    method = state.get("method") if isinstance(state, Mapping) else None
    engine = _ENGINES.get(str(method))
    if engine is None:
        raise InputError(Problem("state.method", "unknown randomization method", method,
                                 ", ".join(_ENGINES)))
    restored: Randomizer = engine.from_state(state)
    return restored
