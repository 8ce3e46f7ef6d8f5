"""CLI: ``strokecell import redcap PATH --db URL [--skip-invalid]``: a REDCap project into a
new strokecell study (see :mod:`strokecell.interop.study` and docs/interop.md).

PATH is a folder holding ``data.csv`` with ``dictionary.csv`` or ``project.xml`` (optionally
``event.csv``, ``arm.csv``), or a project XML file. The database is created or migrated as
needed. The importing user (``--username``, password from ``--password-env``) is created
when new and becomes the study's admin and data manager.

Exit status: 0 when the study was written (with ``--skip-invalid`` also when values were
left out: they are listed), 1 when the import was rejected (the report lists every problem
by record, event, instance and field; nothing was written), 2 on bad input (a missing
password, a study that exists already).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import typer

from strokecell._commands._output import emit_json, fail
from strokecell.errors import InputError, Problem, StrokecellError

DEFAULT_PASSWORD_ENV = "STROKECELL_PASSWORD"

import_app = typer.Typer(help="Import a study from another system.", no_args_is_help=True)


def _report_lines(report: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for kind in ("errors", "skipped", "warnings"):
        rows = report[kind]
        if not rows:
            continue
        lines.append(f"{kind} ({len(rows)}):")
        by_record: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            by_record.setdefault(str(row["record"] or "-"), []).append(row)
        for record, items in by_record.items():
            lines.append(f"  record {record}:" if record != "-" else "  project:")
            for row in items:
                where = ", ".join(f"{k} {row[k]}" for k in ("event", "instance", "field")
                                  if row[k] not in (None, ""))
                value = "" if row["value"] is None else f" (got {row['value']!r})"
                allowed = f"; allowed: {row['allowed']}" if row["allowed"] else ""
                lines.append(f"    {where + ': ' if where else ''}{row['message']}"
                             f"{value}{allowed}")
    return lines


@import_app.command("redcap")
def redcap(
    path: str = typer.Argument(..., help="Project folder or project XML file."),
    db: str = typer.Option(..., "--db", help="Database URL: sqlite:///FILE or "
                           "postgresql+psycopg://USER@HOST:PORT/DB."),
    skip_invalid: bool = typer.Option(False, "--skip-invalid", help="Import the valid "
                                      "values, list the invalid ones (exit 0)."),
    username: str = typer.Option("importer", "--username", help="Who imports."),
    password_env: str = typer.Option(DEFAULT_PASSWORD_ENV, "--password-env",
                                     help="Environment variable holding the password."),
    study: str | None = typer.Option(None, "--study", help="Study code (STUDYID); default "
                                     "from the project title."),
    mapping: str | None = typer.Option(None, "--mapping", help="YAML file mapping REDCap "
                                       "fields onto strokecell scale items or CRF fields."),
    written_by_r: bool = typer.Option(False, "--written-by-r", help="data.csv was written "
                                      "by R: NA is empty and <U+XXXX> escapes are undone."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check everything, write nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Import a REDCap project into a new study: all or nothing unless --skip-invalid."""
    from strokecell.interop.study import import_redcap, load_mapping
    from strokecell.store import make_engine, upgrade_to_head

    try:
        password = os.environ.get(password_env)
        if not password:
            raise InputError(Problem("--password-env", f"environment variable {password_env} "
                                     "is not set", password_env,
                                     "the name of a variable holding the password"))
        mapped = load_mapping(Path(mapping)) if mapping else None
        engine = make_engine(db)
        try:
            upgrade_to_head(engine)
            result = import_redcap(engine, Path(path), username=username, password=password,
                                   skip_invalid=skip_invalid, written_by_r=written_by_r,
                                   study_code=study, mapping=mapped, dry_run=dry_run)
        finally:
            engine.dispose()
    except StrokecellError as exc:
        fail(exc, as_json=as_json)
    data = result.to_dict()
    if as_json:
        emit_json(data)
    else:
        if result.imported:
            typer.echo(f"imported {path} as study {result.study_code}: {result.subjects} "
                       f"subjects, {result.forms} forms, {result.items} values, sites "
                       f"{', '.join(result.sites)}")
        elif result.dry_run and result.report.ok:
            typer.echo(f"dry run of {path}: {result.subjects} subjects, {result.forms} forms "
                       "would be imported; nothing written")
        else:
            typer.echo(f"rejected {path}: {len(result.report.errors)} problems; nothing "
                       "written (fix them, or import with --skip-invalid)")
        for line in _report_lines(data):
            typer.echo(line)
    if not result.imported and not (result.dry_run and result.report.ok):
        sys.exit(1)


def register(app: typer.Typer) -> None:
    """Add ``strokecell import redcap`` to ``app``."""
    app.add_typer(import_app, name="import")
