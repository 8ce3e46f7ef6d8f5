"""Reading and validating ``trials.csv``: every row, every column, every cross-check.

An empty cell means "not reported / not found" and is read as ``None``; nothing is filled in.
Problems are collected over the whole file and raised together as one
:class:`~strokecell.errors.InputError`, each located as ``trials.csv line 12 (li2013_bi_6mo),
column sd1`` with the value found and what is allowed.
"""

from __future__ import annotations

import csv
import enum
import io
import re
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic.fields import FieldInfo

from strokecell.errors import InputError, Problem
from strokecell.evidence._model import CITATION_PATTERN, TrialRecord, cross_check

__all__ = [
    "COLUMNS",
    "TRIALS_FILE",
    "EvidenceFileError",
    "allowed_values",
    "load_trials",
    "read_trials_csv",
    "validate_rows",
]

TRIALS_FILE = "trials.csv"

#: The columns of ``trials.csv``, in file order (the fields of :class:`TrialRecord`).
COLUMNS: tuple[str, ...] = tuple(TrialRecord.model_fields)

# Columns that describe a trial as a whole and must agree on every row of one trial_id.
_TRIAL_LEVEL = ("trial_label", "reference", "stroke_type", "randomized", "control",
                "citation")
# Columns that describe one comparison of a trial and must agree within (trial_id, comparison).
_COMPARISON_LEVEL = ("cell_type", "cell_source", "donor", "route", "route_2", "dose_per_kg",
                     "dose_total", "n_rand1", "n_rand2", "phase", "blinding")


class EvidenceFileError(InputError):
    """The evidence data file (or rows offered for it) does not validate."""


def _unwrap(annotation: Any) -> tuple[Any, list[Any]]:
    """The bare type inside ``X | None`` and ``Annotated[X, ...]``, with its metadata."""
    metadata: list[Any] = []
    while True:
        origin = typing.get_origin(annotation)
        if origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = args[0]
        elif origin is typing.Annotated:
            annotation, *more = typing.get_args(annotation)
            metadata.extend(more)
        else:
            return annotation, metadata


def allowed_values(column: str) -> str | None:
    """What a column accepts, in words, for error messages (None for free text)."""
    field = TrialRecord.model_fields[column]
    inner, found = _unwrap(field.annotation)
    metadata: list[Any] = []
    for m in [*found, *field.metadata]:
        metadata.extend(m.metadata if isinstance(m, FieldInfo) else [m])
    if isinstance(inner, type) and issubclass(inner, enum.Enum):
        return ", ".join(str(m.value) for m in inner)
    pattern = next((m.pattern for m in metadata if getattr(m, "pattern", None)), None)
    if pattern == CITATION_PATTERN:
        return "doi:10.x/y, pmid:123, nct:NCT01234567 or url:https://..., joined by '; '"
    if pattern:
        return f"text matching {pattern}"
    bounds = [f"{op} {getattr(m, attr)}" for m in metadata
              for attr, op in (("gt", ">"), ("ge", ">=")) if getattr(m, attr, None) is not None]
    kind = {int: "a whole number", float: "a number"}.get(inner)
    if kind:
        return f"{kind} {' '.join(bounds)}".strip()
    return None


def _location(source: str, line: int, row_id: str | None, column: str | None) -> str:
    where = f"{source} line {line}"
    if row_id:
        where += f" ({row_id})"
    return f"{where}, column {column}" if column else where


def _line_of(location: str) -> int:
    match = re.search(r" line (\d+)", location)
    return int(match.group(1)) if match else 0


def _clean(raw: Mapping[str, str | None]) -> dict[str, str]:
    return {k: v.strip() for k, v in raw.items() if v is not None and v.strip() != ""}


def _parse_row(raw: Mapping[str, str | None], line: int,
               source: str) -> tuple[TrialRecord | None, list[Problem]]:
    data = _clean(raw)
    row_id = data.get("row_id")
    try:
        record = TrialRecord.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            column = str(err["loc"][0]) if err["loc"] else None
            if err["type"] == "extra_forbidden":
                problems.append(Problem(_location(source, line, row_id, column),
                                        "unknown column", err.get("input"),
                                        "the columns of trials.schema.yaml"))
                continue
            allowed = allowed_values(column) if column in TrialRecord.model_fields else None
            value = data.get(column) if column else None
            problems.append(Problem(_location(source, line, row_id, column), err["msg"],
                                    value, allowed))
        return None, problems
    findings = cross_check(record)
    return record, [
        Problem(_location(source, line, record.row_id, column), message, value, allowed)
        for column, message, value, allowed in findings
    ]


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def _cross_row(records: Sequence[tuple[int, TrialRecord]], source: str) -> list[Problem]:
    problems: list[Problem] = []
    first_line: dict[str, int] = {}
    trial_first: dict[str, tuple[int, TrialRecord]] = {}
    comparison_first: dict[tuple[str, str], tuple[int, TrialRecord]] = {}
    for line, rec in records:
        if rec.row_id in first_line:
            problems.append(Problem(_location(source, line, rec.row_id, "row_id"),
                                    f"duplicate of line {first_line[rec.row_id]}", rec.row_id,
                                    "a row_id used once"))
        else:
            first_line[rec.row_id] = line
        for key, columns, table in (
            (rec.trial_id, _TRIAL_LEVEL, trial_first),
            ((rec.trial_id, rec.comparison), _COMPARISON_LEVEL, comparison_first),
        ):
            seen = table.setdefault(key, (line, rec))  # type: ignore[arg-type]
            if seen[1] is rec:
                continue
            for column in columns:
                mine, theirs = _plain(getattr(rec, column)), _plain(getattr(seen[1], column))
                if mine != theirs:
                    problems.append(Problem(
                        _location(source, line, rec.row_id, column),
                        f"differs from line {seen[0]} of the same trial/comparison",
                        mine, f"{theirs!r} as on line {seen[0]}"))
    return problems


def validate_rows(rows: Iterable[Mapping[str, str | None]], *, source: str = TRIALS_FILE,
                  first_line: int = 2) -> list[TrialRecord]:
    """Validate rows given as column -> text (as :class:`csv.DictReader` yields them).

    ``first_line`` is the file line of the first row (2 after a header line). Raises
    :class:`EvidenceFileError` listing every problem of every row; returns the records.
    """
    problems: list[Problem] = []
    parsed: list[tuple[int, TrialRecord]] = []
    for offset, raw in enumerate(rows):
        line = first_line + offset
        extra = raw.get(None)  # type: ignore[call-overload]
        if extra:
            problems.append(Problem(_location(source, line, raw.get("row_id"), None),
                                    "more cells than header columns", extra,
                                    f"{len(COLUMNS)} cells"))
            continue
        record, found = _parse_row(raw, line, source)
        problems.extend(found)
        if record is not None:
            parsed.append((line, record))
    problems.extend(_cross_row(parsed, source))
    problems.sort(key=lambda p: _line_of(p.location))  # stable: file order, row by row
    if problems:
        raise EvidenceFileError(problems, context=source)
    return [rec for _, rec in parsed]


def read_trials_csv(text: str, *, source: str = TRIALS_FILE) -> list[TrialRecord]:
    """Parse and validate the text of a trials CSV (header line first)."""
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    missing = [c for c in COLUMNS if c not in header]
    unknown = [c for c in header if c not in COLUMNS]
    problems = [Problem(f"{source} line 1, column {c}", "missing column", None,
                        "every column of trials.schema.yaml") for c in missing]
    problems += [Problem(f"{source} line 1, column {c}", "unknown column", c,
                         "the columns of trials.schema.yaml") for c in unknown]
    if problems:
        raise EvidenceFileError(problems, context=source)
    return validate_rows(reader, source=source)


def load_trials(path: str | Path | None = None) -> list[TrialRecord]:
    """The curated trials (the packaged ``trials.csv``, or ``path``), every row validated."""
    if path is None:
        entry = resources.files("strokecell.evidence") / TRIALS_FILE
        return read_trials_csv(entry.read_text(encoding="utf-8"), source=TRIALS_FILE)
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise EvidenceFileError(Problem(str(file), f"cannot read: {exc.strerror}", str(file)),
                                context=str(file)) from exc
    return read_trials_csv(text, source=file.name)
