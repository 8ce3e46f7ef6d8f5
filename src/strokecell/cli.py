"""The ``strokecell`` command.

Each command family lives in ``strokecell._commands.<family>`` (found by name, so a new family
needs no edit here) and registers itself with ``register(app)``.
Command modules import only Typer at module level; numpy, scipy, pint, SQLAlchemy and the
like are imported inside the command that needs them, so ``strokecell --help`` and
``strokecell score`` start in well under a second.

Exit status: 0 on success, 2 on bad input (every problem printed to stderr, or as JSON with
``--json``), 1 on an unexpected failure.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import typer

from strokecell import __version__, _commands
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


# Every public module of strokecell._commands is a command family with register(app); the
# ones a newcomer needs first come first in --help, the rest follow alphabetically.
_FIRST = ("demo", "protocol", "dose", "score")


def _families() -> list[str]:
    names = [m.name for m in pkgutil.iter_modules(_commands.__path__) if not m.name.startswith("_")]
    return sorted(names, key=lambda n: (_FIRST.index(n) if n in _FIRST else len(_FIRST), n))


for _name in _families():
    importlib.import_module(f"strokecell._commands.{_name}").register(app)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the app, turning strokecell errors into exit status 2."""
    try:
        app(args=argv, standalone_mode=True)
    except StrokecellError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":  # pragma: no cover
    main()
