"""Finding, reading and validating the shipped scale files, each once per process."""

from __future__ import annotations

import difflib
import functools
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

import yaml
from pydantic import ValidationError

from strokecell.errors import InputError, NotFoundError, Problem
from strokecell.instruments._schema import ScaleFile
from strokecell.instruments.engine import Instrument

_SUFFIX = ".yaml"


class ScaleFileError(InputError):
    """A scale or panel data file that does not parse or does not validate (a packaging bug)."""


def _scales_dir() -> Traversable:
    return resources.files("strokecell.instruments") / "scales"


def list_instruments() -> list[str]:
    """Codes of every shipped scale, sorted."""
    return sorted(
        entry.name[: -len(_SUFFIX)]
        for entry in _scales_dir().iterdir()
        if entry.name.endswith(_SUFFIX)
    )


@functools.cache
def load_instrument(code: str) -> Instrument:
    """The scale ``code`` (e.g. ``"mbi"``), read and validated on first use, then cached."""
    codes = list_instruments()
    if code not in codes:
        close = difflib.get_close_matches(code.lower(), codes, n=2, cutoff=0.5)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        raise NotFoundError(f"no instrument {code!r}{hint} (known: {', '.join(codes)})")
    entry = _scales_dir() / f"{code}{_SUFFIX}"
    data = read_yaml(entry)
    try:
        definition = ScaleFile.model_validate(data)
    except ValidationError as exc:
        raise ScaleFileError(validation_problems(exc), context=str(entry)) from exc
    if definition.code != code:
        raise ScaleFileError(Problem("code", "does not match the file name", definition.code,
                                     code), context=str(entry))
    return Instrument(definition)


def read_yaml(entry: Traversable) -> Any:
    """Parse one packaged YAML file, failing loudly with its path."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(entry.read_text(encoding="utf-8"), Loader=loader)
    except yaml.YAMLError as exc:
        raise ScaleFileError(f"not valid YAML: {exc}", context=str(entry)) from exc


def validation_problems(exc: ValidationError) -> list[Problem]:
    """One :class:`Problem` per pydantic error, located by its path in the file."""
    problems = []
    for err in exc.errors():
        location = ".".join(str(part) for part in err["loc"]) or "(file)"
        value = err.get("input") if not isinstance(err.get("input"), dict | list) else None
        problems.append(Problem(location, err["msg"], value))
    return problems
