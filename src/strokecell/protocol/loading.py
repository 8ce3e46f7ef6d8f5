"""Load and validate a protocol, reporting every problem at its YAML path (and line)."""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path as FilePath
from typing import Any

from pydantic import BaseModel, ValidationError

from strokecell.errors import Problem, ProtocolError
from strokecell.protocol._yaml import Path, YamlDocument, format_path, read_yaml
from strokecell.protocol.crossref import cross_reference_problems
from strokecell.protocol.models import Protocol
from strokecell.protocol.models._base import CHECKS_ERROR_TYPE, VALUE_ERROR_TYPE
from strokecell.protocol.models.protocol import CROSS_CHECKED

__all__ = ["LocatedProblem", "load_protocol", "parse_path", "parse_protocol",
           "problems_from_validation"]


@dataclass(frozen=True)
class LocatedProblem(Problem):
    """A problem with the YAML line it was found on, when the protocol came from text."""

    line: int | None = None

    def __str__(self) -> str:
        if self.line is None:
            return super().__str__()
        where = f"{self.location} (line {self.line})" if self.location else f"line {self.line}"
        return str(Problem(where, self.message, self.value, self.allowed))

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "line": self.line}


def load_protocol(path: str | FilePath) -> Protocol:
    """Read and validate a protocol YAML file; raise :class:`ProtocolError` with every
    problem found."""
    file = FilePath(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProtocolError(Problem(str(file), f"cannot read the protocol file: "
                                    f"{exc.strerror if isinstance(exc, OSError) else exc}"),
                            context=str(file)) from None
    return parse_protocol(text, source=str(file))


def parse_protocol(content: str | Mapping[str, Any], *, source: str = "<protocol>") -> Protocol:
    """Validate a protocol given as YAML text or as an already parsed mapping."""
    doc = read_yaml(content) if isinstance(content, str) else YamlDocument(content)
    problems: list[Problem] = list(doc.problems)
    if doc.data is None and not problems:
        problems.append(Problem("", "the protocol is empty"))
    elif doc.data is not None and not isinstance(doc.data, Mapping):
        problems.append(Problem("", "a protocol is a mapping of sections", type(doc.data).__name__,
                                "study, arms, schedule, endpoints, randomization, eligibility, "
                                "analysis"))
    if problems:
        raise ProtocolError(_locate(problems, doc), context=source)
    problems = cross_reference_problems(doc.data)
    protocol: Protocol | None = None
    try:
        protocol = Protocol.model_validate(doc.data, context={CROSS_CHECKED: True})
    except ValidationError as exc:
        problems = [*problems_from_validation(exc, doc.data), *problems]
    if problems or protocol is None:
        raise ProtocolError(_locate(problems, doc), context=source)
    return protocol


def _locate(problems: list[Problem], doc: YamlDocument) -> list[Problem]:
    located: dict[tuple[str, str], LocatedProblem] = {}
    for p in problems:
        line = doc.line_of(parse_path(p.location)) if doc.lines and p.location else None
        located.setdefault((p.location, p.message),
                           LocatedProblem(p.location, p.message, p.value, p.allowed, line))
    ordered: list[LocatedProblem] = sorted(
        located.values(), key=lambda item: (item.line or 0, item.location))
    return list(ordered)


_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def parse_path(text: str) -> Path:
    """'arms[1].dose.volume' -> ('arms', 1, 'dose', 'volume')."""
    return tuple(int(i) if i else name for name, i in _PATH_PART.findall(text))


_ABSENT = object()


def _child(node: Any, part: str | int) -> Any:
    if isinstance(node, Mapping) and part in node:
        return node[part]
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return _ABSENT


def _data_path(loc: tuple[str | int, ...], data: Any) -> Path:
    # Keep the loc elements that exist in the data; the last may be a missing or unknown key.
    path: list[str | int] = []
    node = data
    for n, part in enumerate(loc):
        child = _child(node, part)
        if child is not _ABSENT:
            node = child
        elif n < len(loc) - 1:
            continue  # a pydantic-internal label (union member, function validator)
        path.append(part)
    return tuple(path)


def _value_at(path: Path, data: Any) -> Any:
    for part in path:
        data = _child(data, part)
        if data is _ABSENT:
            return None
    return None if isinstance(data, (Mapping, list)) else data


def problems_from_validation(exc: ValidationError, data: Any) -> list[Problem]:
    """One Problem per pydantic error (several per cross-field check), at YAML paths."""
    return list(_iter_validation(exc, data))


def _iter_validation(exc: ValidationError, data: Any) -> Iterator[Problem]:
    for err in exc.errors(include_url=False):
        path = _data_path(tuple(err["loc"]), data)
        ctx = err.get("ctx") or {}
        kind = err["type"]
        if kind == CHECKS_ERROR_TYPE:
            for issue in ctx["issues"]:
                sub = (*path, *parse_path(issue["field"]))
                yield Problem(format_path(sub), issue["message"], issue["value"],
                              issue["allowed"])
        elif kind == VALUE_ERROR_TYPE:
            yield Problem(format_path(path), ctx["message"], _value_at(path, data),
                          ctx.get("allowed"))
        elif kind == "extra_forbidden":
            yield _unknown_key(path)
        elif kind == "missing":
            yield Problem(format_path(path), "is required")
        elif kind in ("literal_error", "enum"):
            yield _not_in_list(path, err["input"], str(ctx.get("expected", "")))
        elif kind == "string_type" and isinstance(err["input"], (int, float)):
            # YAML reads `version: 1.0` as a number; the fix is quoting, say so.
            yield Problem(format_path(path), "should be text: YAML read a number; quote it",
                          err["input"], f'"{err["input"]}"')
        else:
            yield Problem(format_path(path), err["msg"], _value_at(path, data),
                          _bounds(ctx) or None)


_BOUND_SIGNS = {"gt": ">", "ge": ">=", "lt": "<", "le": "<=", "min_length": "length >=",
                "max_length": "length <=", "pattern": "matching"}


def _bounds(ctx: Mapping[str, Any]) -> str:
    return ", ".join(f"{sign} {ctx[key]}" for key, sign in _BOUND_SIGNS.items() if key in ctx)


def _not_in_list(path: Path, value: Any, expected: str) -> Problem:
    choices = re.findall(r"'([^']*)'", expected)
    close = difflib.get_close_matches(str(value), choices, n=1) if choices else []
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return Problem(format_path(path), f"is not one of the accepted codes{hint}", value,
                   ", ".join(choices) or expected)


def _unknown_key(path: Path) -> Problem:
    known = sorted(_fields_at(path[:-1]))
    key = str(path[-1])
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return Problem(format_path(path), f"unknown key{hint}", key, ", ".join(known) or None)


def _fields_at(path: Path) -> set[str]:
    """Field names of the model that sits at ``path`` of a protocol (for suggestions)."""
    current: Any = Protocol
    for part in path:
        current = _unwrap(current)
        if isinstance(part, int):
            args = typing.get_args(current)
            current = args[0] if args else None
        elif isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(part)
            current = field.annotation if field else None
        else:
            return set()
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return set(current.model_fields)
    return set()


def _unwrap(annotation: Any) -> Any:
    # X | None -> X; Annotated[X, ...] -> X (lists are kept: an index selects the item).
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = members[0] if len(members) == 1 else annotation
            if len(members) != 1:
                return annotation
        else:
            return annotation
