"""Shared output helpers for the CLI: JSON to stdout, errors to stderr with exit status 2."""

from __future__ import annotations

import json
import math
import sys
from typing import Any, NoReturn

import typer

from strokecell.errors import InputError, StrokecellError


def _clean(obj: Any) -> Any:
    # JSON has no NaN or infinity: a missing statistic is null, never a fake number.
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalars
        return _clean(obj.item())
    return obj


def emit_json(obj: Any) -> None:
    """Print ``obj`` as indented JSON on stdout."""
    typer.echo(json.dumps(_clean(obj), indent=2, ensure_ascii=False))


def fail(exc: StrokecellError, *, as_json: bool = False) -> NoReturn:
    """Report an error (as JSON on stdout when asked) and exit with status 2."""
    if as_json:
        payload = exc.to_dict() if isinstance(exc, InputError) else {
            "error": type(exc).__name__, "message": str(exc)}
        typer.echo(json.dumps(_clean(payload), indent=2, ensure_ascii=False))
    else:
        typer.echo(f"error: {exc}", err=True)
    sys.exit(2)
