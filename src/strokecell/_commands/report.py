"""CLI: ``strokecell report --db URL --out report.html``: the trial report from the record.

Signs in (the password from an environment variable, ``STROKECELL_PASSWORD`` by default,
never from the command line), derives the analysis data sets from the trial record through
the trial services (read only), runs the protocol's planned analyses and writes one
self-contained HTML file (and a PDF with ``--pdf``). The view follows the export rules of
the trial record: by arm for a study-wide statistician or data manager once the study is
locked, otherwise blinded (all arms pooled). ``--dsmb`` writes the closed-session report of
the data safety monitoring board (by arm) and is refused for a blinded caller.

Exit status: 0 on success; 2 on anything the user can fix (bad URL, wrong password, role,
``--dsmb`` while blinded, a study without randomised subjects, PDF unavailable), printed to
stderr, or as JSON with ``--json``. The glue is :func:`strokecell._commands._trial_report.
build_trial_report` (also used by ``strokecell demo``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from strokecell._commands._output import emit_json, fail
from strokecell.errors import InputError, Problem, StrokecellError

DEFAULT_PASSWORD_ENV = "STROKECELL_PASSWORD"
DEFAULT_SEED = 20261126


def report(
    db: Annotated[str, typer.Option("--db", help="Database URL: sqlite:///FILE or "
                                    "postgresql+psycopg://USER@HOST:PORT/DB.")],
    out: Annotated[Path, typer.Option("--out", help="The HTML report to write.")],
    pdf: Annotated[Path | None, typer.Option("--pdf", help="Also write the report as PDF "
                                             "(WeasyPrint).")] = None,
    username: Annotated[str, typer.Option("--username", help="Who builds the report (signs "
                                          "in; needs a statistician or data manager role)."
                                          )] = "",
    password_env: Annotated[str, typer.Option(
        "--password-env", help="Environment variable holding the user's password.")
    ] = DEFAULT_PASSWORD_ENV,
    role: Annotated[str | None, typer.Option(
        "--role", help="Acting role: statistician or data_manager (default: the first of "
        "these the user holds).")] = None,
    study: Annotated[str | None, typer.Option(
        "--study", help="Study code (STUDYID); needed only when the database holds several "
        "studies.")] = None,
    dsmb: Annotated[bool, typer.Option(
        "--dsmb", help="The DSMB closed-session report (by arm): refused for blinded "
        "callers.")] = False,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the multiple imputation "
                                      "(recorded in the report).")] = DEFAULT_SEED,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")
                       ] = False,
) -> None:
    """Write the trial report (HTML, optionally PDF) from a trial database."""
    try:
        if not username:
            raise InputError(Problem("--username", "is required", None,
                                     "the user name of a statistician or data manager"))
        password = os.environ.get(password_env)
        if not password:
            raise InputError(Problem("--password-env", f"environment variable {password_env} "
                                     "is not set", password_env,
                                     "the name of a variable holding the password"))
        from rich.console import Console

        from strokecell._commands._trial_report import build_trial_report

        console = Console(stderr=True)
        with console.status("building the report…", spinner="dots") if not as_json \
                and console.is_terminal else _Quiet():
            result = build_trial_report(db, out, pdf=pdf, username=username,
                                        password=password, role=role, study=study,
                                        seed=seed, dsmb=dsmb)
    except StrokecellError as exc:
        fail(exc, as_json=as_json)
    if as_json:
        emit_json(result)
        return
    view = ("DSMB closed session, by arm" if result["kind"] == "dsmb" else
            "blinded: all arms pooled" if result["blinded"] else "unblinded: by arm")
    written = result["html"] + (f" and {result['pdf']}" if result["pdf"] else "")
    typer.echo(f"report of {result['study']} written to {written} ({view}; "
               f"{result['subjects']} randomised subjects; {result['seconds']:.1f} s)")


class _Quiet:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def register(app: typer.Typer) -> None:
    """Add ``strokecell report`` to ``app``."""
    app.command("report")(report)
