"""Finding, reading and validating the shipped scale files, each once per process.

A composite scale is checked here against the files it names: every component exists, no
composite contains itself through its components (a cycle), no scale is counted twice, no
component is a measurement, and ``max_total`` equals the sum of the component maxima.
"""

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
from strokecell.instruments.engine import CompositeInstrument, Instrument

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
    definition = _read_definition(code)
    if definition.kind != "composite":
        return Instrument(definition)
    context = str(_entry(code))
    _check_composition(code, context)
    components = [load_instrument(component) for component in definition.components]
    measured = [c.code for c in components if c.kind == "measurement"]
    if measured:
        raise ScaleFileError(Problem(
            "components", "a composite sums scores; a measurement cannot be a component",
            ", ".join(measured)), context=context)
    implied = sum(component.max_total for component in components)
    if definition.max_total != implied:
        parts = " + ".join(f"{c.code} {c.max_total}" for c in components)
        raise ScaleFileError(Problem(
            "max_total", f"is {definition.max_total:g} but the components add up to {implied} "
            f"({parts})", definition.max_total, str(implied)), context=context)
    return CompositeInstrument(definition, components)


def _entry(code: str) -> Traversable:
    return _scales_dir() / f"{code}{_SUFFIX}"


@functools.cache
def _read_definition(code: str) -> ScaleFile:
    codes = list_instruments()
    if code not in codes:
        close = difflib.get_close_matches(code.lower(), codes, n=2, cutoff=0.5)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        raise NotFoundError(f"no instrument {code!r}{hint} (known: {', '.join(codes)})")
    entry = _entry(code)
    data = read_yaml(entry)
    try:
        definition = ScaleFile.model_validate(data)
    except ValidationError as exc:
        raise ScaleFileError(validation_problems(exc), context=str(entry)) from exc
    if definition.code != code:
        raise ScaleFileError(Problem("code", "does not match the file name", definition.code,
                                     code), context=str(entry))
    return definition


def _check_composition(code: str, context: str) -> None:
    """Walk the components of composite ``code``: all exist, no cycle, no scale twice."""
    known = list_instruments()
    leaves: list[str] = []

    def walk(current: str, path: tuple[str, ...]) -> None:
        definition = _read_definition(current)
        if definition.kind != "composite":
            leaves.append(current)
            return
        for component in definition.components:
            if component in (*path, current):
                cycle = " -> ".join((*path, current, component))
                raise ScaleFileError(Problem("components", f"cycle of composites: {cycle}",
                                             component), context=context)
            if component not in known:
                raise ScaleFileError(Problem(
                    "components", f"{current} names an unknown instrument", component,
                    ", ".join(known)), context=context)
            walk(component, (*path, current))

    walk(code, ())
    twice = sorted({leaf for leaf in leaves if leaves.count(leaf) > 1})
    if twice:
        raise ScaleFileError(Problem(
            "components", f"counts {', '.join(twice)} more than once (through nested "
            "composites)", ", ".join(twice)), context=context)


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
