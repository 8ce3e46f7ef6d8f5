"""The ``strokecell`` command.

Each command family lives in ``strokecell._commands.<family>`` and registers itself here.
Command modules import only Typer at module level; numpy, scipy, pint, SQLAlchemy and the
like are imported inside the command that needs them, so ``strokecell --help`` and
``strokecell score`` start in well under a second.

Exit status: 0 on success, 2 on bad input (every problem printed to stderr, or as JSON with
``--json``), 1 on an unexpected failure.
"""

from __future__ import annotations

import sys

import typer

from strokecell import __version__
from strokecell._commands import (
    audit,
    demo,
    dose,
    evidence,
    meta,
    mmrm,
    power,
    protocol,
    score,
    trial,
)
from strokecell.errors import StrokecellError

app = typer.Typer(
    name="strokecell",
    help="strokecell: stem-cell therapy trials in stroke, from protocol to analysis.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"strokecell {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """strokecell: stem-cell therapy trials in stroke, from protocol to analysis."""


for _family in (demo, protocol, dose, score, mmrm, meta, audit, evidence, power, trial):
    _family.register(app)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the app, turning strokecell errors into exit status 2."""
    try:
        app(args=argv, standalone_mode=True)
    except StrokecellError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":  # pragma: no cover
    main()
