"""A keyed, counter-based random stream for allocation engines.

Draw ``i`` of stream ``label`` under ``seed`` is the first 8 bytes of
``HMAC-SHA256(key=seed, msg=label NUL i)``. The stream is therefore

* reproducible on any machine and Python version (no dependence on ``random``'s internals);
* resumable from two small numbers (the label and the counter), which makes engine state
  serialisable as plain JSON;
* unpredictable without the seed: knowing every past draw tells nothing about the next one,
  so the seed is the secret that conceals the allocation sequence.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

_TWO_64 = 1 << 64
_TWO_53 = float(1 << 53)


class KeyedStream:
    """Uniform draws from HMAC-SHA256 in counter mode (see module docstring)."""

    __slots__ = ("_key", "_prefix", "counter", "label")

    def __init__(self, seed: str, label: str, counter: int = 0) -> None:
        self._key = seed.encode("utf-8")
        self.label = label
        self._prefix = label.encode("utf-8") + b"\x00"
        self.counter = counter

    def next_u64(self) -> int:
        """The next draw as an integer in [0, 2**64)."""
        msg = self._prefix + str(self.counter).encode("ascii")
        self.counter += 1
        digest = hmac.new(self._key, msg, hashlib.sha256).digest()
        return int.from_bytes(digest[:8], "big")

    def below(self, n: int) -> int:
        """A uniform integer in [0, n), without modulo bias (rejection sampling)."""
        if n <= 0:
            raise ValueError(f"n must be positive, got {n}")
        limit = _TWO_64 - (_TWO_64 % n)
        while True:
            u = self.next_u64()
            if u < limit:
                return u % n

    def uniform(self) -> float:
        """A uniform float in [0, 1) with 53 random bits."""
        return (self.next_u64() >> 11) / _TWO_53

    def shuffle(self, items: list[str]) -> None:
        """Shuffle ``items`` in place (Fisher-Yates)."""
        for i in range(len(items) - 1, 0, -1):
            j = self.below(i + 1)
            items[i], items[j] = items[j], items[i]


def choose_weighted(u: float, options: Sequence[tuple[str, float]]) -> str:
    """The option whose cumulative-probability interval holds ``u`` (probabilities sum to 1)."""
    total = 0.0
    for name, prob in options:
        total += prob
        if u < total:
            return name
    return options[-1][0]
