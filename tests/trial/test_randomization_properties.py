"""Balance and concealment properties measured over many simulated enrolments.

Measured on this code (seeded, so the numbers are exact and repeatable):

* minimization vs simple randomization, 200 patients, 3 factors (2, 3 and 2 levels),
  500 replications: mean maximum marginal imbalance |n_A - n_B| 2.85 (worst 9) vs 15.2;
* 2:1, 3000 subjects: share of the 2-weight arm 0.666 (minimization), 0.668 (blocks),
  0.665 (simple), for 2/3;
* the Bayes-optimal guesser who knows every past arm in the stratum but not the block
  sizes: correct 0.75 with fixed blocks of 2 (every second allocation is certain),
  0.722 with sizes {2, 4} and 0.694 with {4, 6}; the share of allocations it can
  predict with certainty falls from 0.50 to 0.108 and 0.052;
* a blinded role that sees only the number of subjects per stratum: about 0.50.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from strokecell.trial import (
    MinimizationRandomizer,
    PermutedBlockRandomizer,
    Randomizer,
    SimpleRandomizer,
)

FACTORS = {"sex": ["F", "M"], "nihss": ["mild", "moderate", "severe"], "type": ["ICH", "IS"]}


def _cohort(rng: random.Random, n: int) -> list[dict[str, str]]:
    return [{k: rng.choice(v) for k, v in FACTORS.items()} for _ in range(n)]


def _max_marginal_imbalance(engine: Randomizer, cohort: Sequence[dict[str, str]],
                            weights: tuple[int, int] = (1, 1)) -> int:
    counts: dict[tuple[str, str], list[int]] = {}
    for p in cohort:
        arm = engine.allocate(p).arm
        for k, v in p.items():
            counts.setdefault((k, v), [0, 0])[0 if arm == "A" else 1] += 1
    wa, wb = weights
    return max(abs(wb * a - wa * b) for a, b in counts.values())


def test_minimization_marginal_imbalance_far_below_simple_randomization() -> None:
    reps, n = 500, 200
    mini, simple = [], []
    for rep in range(reps):
        cohort = _cohort(random.Random(rep), n)
        mini.append(_max_marginal_imbalance(
            MinimizationRandomizer({"A": 1, "B": 1}, factors=FACTORS, seed=rep), cohort))
        simple.append(_max_marginal_imbalance(
            SimpleRandomizer({"A": 1, "B": 1}, seed=rep, factors=FACTORS), cohort))
    mean_mini, mean_simple = sum(mini) / reps, sum(simple) / reps
    # Simple randomization: |n_A - n_B| on a margin of m subjects is about 0.8 * sqrt(m);
    # the largest of the 7 margins (m from about 67 to 100) averages about 15.
    assert 10.0 < mean_simple < 22.0, mean_simple
    assert mean_mini < 4.0, mean_mini
    assert mean_mini < 0.3 * mean_simple, (mean_mini, mean_simple)
    assert max(mini) <= 10


def test_variance_minimization_also_balances() -> None:
    reps, n = 100, 200
    total = 0
    for rep in range(reps):
        cohort = _cohort(random.Random(rep), n)
        total += _max_marginal_imbalance(MinimizationRandomizer(
            {"A": 1, "B": 1}, factors=FACTORS, seed=rep, imbalance="variance"), cohort)
    assert total / reps < 4.0


def test_allocation_ratio_is_respected_in_the_long_run() -> None:
    n = 3000
    cohort = _cohort(random.Random(1), n)
    engines: list[Randomizer] = [
        MinimizationRandomizer({"A": 2, "B": 1}, factors=FACTORS, seed=11),
        PermutedBlockRandomizer({"A": 2, "B": 1}, block_sizes=[3, 6], seed=11,
                                factors=FACTORS),
        SimpleRandomizer({"A": 2, "B": 1}, seed=11, factors=FACTORS),
    ]
    for engine in engines:
        share = sum(engine.allocate(p).arm == "A" for p in cohort) / n
        tol = 0.03 if isinstance(engine, SimpleRandomizer) else 0.01
        assert abs(share - 2 / 3) < tol, (engine.method, share)
    # and the 2:1 minimization keeps the margins near 2:1
    imbalance = _max_marginal_imbalance(
        MinimizationRandomizer({"A": 2, "B": 1}, factors=FACTORS, seed=5),
        _cohort(random.Random(5), 300), weights=(2, 1))
    assert imbalance <= 12


def _bayes_guesser(sizes: Sequence[int]) -> tuple[Callable[[], tuple[str, float]],
                                                   Callable[[str], None]]:
    """The optimal predictor for 1:1 blocks knowing past arms and the set of sizes only.

    Filters the hidden state (block size, A and B so far in the current block) forward;
    the next arm's probability follows from sampling without replacement within a block.
    """
    start = {(s, 0, 0): 1.0 / len(sizes) for s in sizes}
    dist = dict(start)

    def predict() -> tuple[str, float]:
        pa = sum(p * (s / 2 - a) / (s - a - b) for (s, a, b), p in dist.items())
        return ("A" if pa > 0.5 else "B"), max(pa, 1 - pa)

    def observe(arm: str) -> None:
        new: dict[tuple[int, int, int], float] = {}
        for (s, a, b), p in dist.items():
            left = (s / 2 - a) if arm == "A" else (s / 2 - b)
            if left <= 0:
                continue
            p *= left / (s - a - b)
            a2, b2 = (a + 1, b) if arm == "A" else (a, b + 1)
            if a2 + b2 == s:
                for key, q in start.items():
                    new[key] = new.get(key, 0.0) + p * q
            else:
                new[(s, a2, b2)] = new.get((s, a2, b2), 0.0) + p
        z = sum(new.values())
        dist.clear()
        dist.update({k: v / z for k, v in new.items()})

    return predict, observe


def _predictability(sizes: list[int], sequences: int = 150, length: int = 60,
                    ) -> tuple[float, float]:
    correct = certain = total = 0
    for seed in range(sequences):
        engine = PermutedBlockRandomizer({"A": 1, "B": 1}, block_sizes=sizes, seed=seed,
                                         list_length=0)
        predict, observe = _bayes_guesser(sizes)
        for _ in range(length):
            guess, confidence = predict()
            arm = engine.allocate().arm
            correct += guess == arm
            certain += confidence > 1 - 1e-9
            total += 1
            observe(arm)
    return correct / total, certain / total


def test_random_block_sizes_make_the_next_allocation_harder_to_predict() -> None:
    fixed2, fixed2_certain = _predictability([2])
    mixed24, mixed24_certain = _predictability([2, 4])
    mixed46, mixed46_certain = _predictability([4, 6])
    assert 0.73 < fixed2 < 0.78 and fixed2_certain == 0.5
    assert mixed24 < fixed2 - 0.015 and mixed24_certain < 0.15
    assert mixed46 < 0.72 and mixed46_certain < 0.08
    assert mixed46 < fixed2 - 0.04


def test_blinded_role_seeing_only_counts_per_stratum_guesses_at_chance() -> None:
    # A blinded role sees how many subjects each stratum holds, never their arms; whatever
    # rule it applies to those counts (parity, position, stratum), it is right about half
    # the time.
    rules: dict[str, Callable[[int, str], str]] = {
        "always A": lambda n, s: "A",
        "parity": lambda n, s: "A" if n % 2 == 0 else "B",
        "position in 4": lambda n, s: "AABB"[n % 4],
        "stratum": lambda n, s: "A" if s.endswith("S01") else "B",
    }
    engine = PermutedBlockRandomizer({"A": 1, "B": 1}, block_sizes=[2, 4], seed=2024,
                                     factors={"site": ["S01", "S02", "S03"]})
    rng = random.Random(7)
    seen: dict[str, int] = {}
    hits = dict.fromkeys(rules, 0)
    n = 6000
    for _ in range(n):
        site = rng.choice(["S01", "S02", "S03"])
        key = f"site={site}"
        before = seen.get(key, 0)
        arm = engine.allocate({"site": site}).arm
        for name, rule in rules.items():
            hits[name] += rule(before, key) == arm
        seen[key] = before + 1
    for name, h in hits.items():
        assert abs(h / n - 0.5) < 0.03, (name, h / n)  # 0.03 is about 4.6 standard errors
