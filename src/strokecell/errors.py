"""One exception hierarchy for all of strokecell.

Every error a user can cause names the field, the value and what is allowed, so that a
coordinator can correct the input without reading code. Nothing is changed when one is raised.

::

    StrokecellError
    ├── InputError                  bad input: a file, a form, a command-line value
    │   ├── ProtocolError           a protocol file that does not validate
    │   ├── ScoringError            item values off a scale's grid, unknown or missing items
    │   └── UnitError               a quantity whose unit is missing, unknown or of the wrong kind
    ├── ModelError                  a statistical model that cannot be fitted as specified
    │   └── ConvergenceError        an optimiser that did not converge (where failing is asked for)
    ├── NotFoundError               a named thing (instrument, arm, subject) that does not exist
    ├── PermissionDeniedError       a role or site that may not do or see this
    └── ConflictError               a change that contradicts the record (locked, duplicated, stale)

``InputError`` carries a list of :class:`Problem`, one per thing wrong, so that a file with
five mistakes reports five, each at its location (a YAML path such as ``arms[1].dose.volume``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ConflictError",
    "ConvergenceError",
    "InputError",
    "ModelError",
    "NotFoundError",
    "PermissionDeniedError",
    "Problem",
    "ProtocolError",
    "ScoringError",
    "StrokecellError",
    "UnitError",
]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where, what value, and what would have been accepted."""

    location: str
    message: str
    value: Any = None
    allowed: str | None = None

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}" if self.location else self.message
        if self.value is not None and repr(self.value) not in text:
            text += f" (got {self.value!r})"
        if self.allowed:
            text += f"; allowed: {self.allowed}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "location": self.location,
            "message": self.message,
            "value": self.value,
            "allowed": self.allowed,
        }


class StrokecellError(Exception):
    """Base of every error strokecell raises on purpose."""


class InputError(StrokecellError, ValueError):
    """Input that is not accepted; ``problems`` lists every reason."""

    def __init__(self, problems: Problem | Iterable[Problem] | str, *, context: str = "") -> None:
        if isinstance(problems, str):
            problems = [Problem("", problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: Sequence[Problem] = tuple(problems)
        self.context = context
        super().__init__(self._render())

    def _render(self) -> str:
        lines = [str(p) for p in self.problems]
        head = f"{self.context}: " if self.context else ""
        if len(lines) == 1:
            return head + lines[0]
        return head + f"{len(lines)} problems\n" + "\n".join(f"  - {line}" for line in lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "error": type(self).__name__,
            "context": self.context,
            "problems": [p.to_dict() for p in self.problems],
        }


class ProtocolError(InputError):
    """A protocol file that does not validate."""


class ScoringError(InputError):
    """Item values that a scale does not allow."""


class UnitError(InputError):
    """A quantity whose unit is missing, unknown, or of the wrong dimension."""


class ModelError(StrokecellError, ValueError):
    """A statistical model that cannot be fitted as specified (formula, data, structure)."""


class ConvergenceError(ModelError):
    """An optimiser that did not converge, raised only where the caller asked for failure."""


class NotFoundError(StrokecellError, LookupError):
    """A named thing that does not exist."""


class PermissionDeniedError(StrokecellError):
    """A role or site that may not do or see this."""


class ConflictError(StrokecellError):
    """A change that contradicts the record (locked data, duplicates, stale versions)."""
