"""CLI: ``strokecell init --protocol FILE --db URL`` creates (or migrates) the database and
sets the study up from the protocol, with its first admin user; ``strokecell export --db URL
--out DIR --username U`` writes the analysis tables (see :mod:`strokecell.trial.export`).

The admin password is read from an environment variable (``--admin-password-env``, default
``STROKECELL_ADMIN_PASSWORD``), never from the command line, where it would end up in the
shell history and the process list. Exit status: 0 on success, 2 on bad input (an invalid
protocol, a missing password, a study that exists already).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import typer

from strokecell._commands._output import emit_json, fail
from strokecell.errors import InputError, Problem, StrokecellError

DEFAULT_PASSWORD_ENV = "STROKECELL_ADMIN_PASSWORD"


def init(
    protocol: str = typer.Option(..., "--protocol", help="The protocol YAML file."),
    db: str = typer.Option(..., "--db", help="Database URL: sqlite:///FILE or "
                           "postgresql+psycopg://USER@HOST:PORT/DB."),
    admin_username: str = typer.Option("admin", "--admin-username",
                                       help="User name of the first admin."),
    admin_email: str | None = typer.Option(None, "--admin-email",
                                           help="E-mail address of the first admin."),
    admin_password_env: str = typer.Option(
        DEFAULT_PASSWORD_ENV, "--admin-password-env",
        help="Environment variable holding the admin's password (10+ characters)."),
    seed: str | None = typer.Option(
        None, "--seed", help="Seed of the randomization list (default: a random 128-bit "
        "seed). It is kept in the concealed randomization state."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Create or migrate the database and set the study up from the protocol."""
    from strokecell.store import make_engine, upgrade_to_head
    from strokecell.trial import get_study, init_study

    try:
        password = os.environ.get(admin_password_env)
        if not password:
            raise InputError(Problem("--admin-password-env", f"environment variable "
                                     f"{admin_password_env} is not set", admin_password_env,
                                     "the name of a variable holding the admin password"))
        try:
            text = Path(protocol).read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(Problem("--protocol", f"cannot read the file: {exc.strerror}",
                                     protocol)) from None
        engine = make_engine(db)
        try:
            revision = upgrade_to_head(engine)
            ctx = init_study(engine, text, admin_username=admin_username,
                             admin_password=password, admin_email=admin_email, seed=seed)
            study = get_study(engine, ctx)
        finally:
            engine.dispose()
    except StrokecellError as exc:
        fail(exc, as_json=as_json)
    arms = [a.code for a in study.arms]
    result = {"study": study.code, "title": study.title,
              "protocol_version": study.protocol_version,
              "protocol_sha256": study.protocol_sha256,
              "arms": arms,
              "randomization": study.randomization_method, "schema_revision": revision,
              "admin": admin_username}
    if as_json:
        emit_json(result)
    else:
        typer.echo(f"study {study.code} set up from {protocol} (version "
                   f"{study.protocol_version}, sha256 {study.protocol_sha256[:12]}…), arms "
                   f"{', '.join(arms)}, randomization {study.randomization_method}; "
                   f"admin user {admin_username}; schema at {revision}")


DEFAULT_USER_PASSWORD_ENV = "STROKECELL_PASSWORD"


def export(
    db: str = typer.Option(..., "--db", help="Database URL: sqlite:///FILE or "
                           "postgresql+psycopg://USER@HOST:PORT/DB."),
    out: str = typer.Option(..., "--out", help="Directory for the files (odm: a directory "
                            "or a .xml file)."),
    username: str = typer.Option(..., "--username", help="Who exports (signs in)."),
    fmt: str = typer.Option("csv", "--format", help="csv or parquet (the analysis tables, "
                            "both written: the default), xpt (SAS transport v5), sav (SPSS), "
                            "dta (Stata), odm (CDISC ODM 1.3.2), redcap (dictionary and "
                            "records)."),
    role: str = typer.Option("statistician", "--role",
                             help="Acting role: statistician or data_manager."),
    password_env: str = typer.Option(
        DEFAULT_USER_PASSWORD_ENV, "--password-env",
        help="Environment variable holding the user's password."),
    study: str | None = typer.Option(None, "--study", help="Study code (STUDYID); needed "
                                     "only when the database holds several studies."),
    unblinded: bool = typer.Option(False, "--unblinded", help="Fill ARMCD: needs a "
                                   "study-wide export role and a locked study (audited)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Write subjects, observations and adverse_events as CSV and Parquet (blinded unless
    --unblinded), or the study as XPT, SAV, DTA, ODM or REDCap (--format; always blinded)."""
    from sqlalchemy import select

    from strokecell.store import make_engine, read_session
    from strokecell.store import models as m
    from strokecell.trial import export_datasets, sign_in

    tables: dict[str, Any] | None = None
    try:
        formats = ("csv", "parquet", "xpt", "sav", "dta", "odm", "redcap")
        if fmt not in formats:
            raise InputError(Problem("--format", "unknown export format", fmt,
                                     ", ".join(formats)))
        if unblinded and fmt not in ("csv", "parquet"):
            raise InputError(Problem("--unblinded", f"the {fmt} export is always blinded",
                                     fmt, "--format csv or parquet for an unblinded export"))
        password = os.environ.get(password_env)
        if not password:
            raise InputError(Problem("--password-env", f"environment variable {password_env} "
                                     "is not set", password_env,
                                     "the name of a variable holding the password"))
        engine = make_engine(db)
        try:
            code = study
            if code is None:
                with read_session(engine) as s:
                    codes = list(s.scalars(select(m.Study.code)).all())
                if len(codes) != 1:
                    raise InputError(Problem("--study", f"the database holds {len(codes)} "
                                             "studies: name one", None, ", ".join(codes)))
                code = codes[0]
            ctx = sign_in(engine, username, password, study_code=code, role=role)
            if fmt not in ("csv", "parquet"):
                from strokecell.interop.study import export_study

                other = export_study(engine, ctx, fmt, Path(out))
            else:
                from strokecell.trial.imported_forms import imported_design

                design = imported_design(engine, ctx)
                if design is not None and design.forms and not unblinded:
                    # a study imported from REDCap: its own forms are not shipped forms
                    from strokecell.interop.study import write_imported_tables

                    tables = write_imported_tables(engine, ctx, Path(out))
                else:
                    result = export_datasets(engine, ctx, out, unblinded=unblinded)
        finally:
            engine.dispose()
    except StrokecellError as exc:
        fail(exc, as_json=as_json)
    if fmt not in ("csv", "parquet"):
        if as_json:
            emit_json({"format": other.format, "out": other.out, "unblinded": False,
                       "files": other.files, "subjects": other.subjects,
                       "warnings": list(other.warnings)})
        else:
            typer.echo(f"exported {other.subjects} subjects to {other.out} as {fmt} "
                       f"(blinded): {', '.join(sorted(other.files))}")
            for warning in other.warnings:
                typer.echo(f"warning: {warning}", err=True)
        return
    if fmt in ("csv", "parquet") and tables is not None:
        if as_json:
            emit_json(tables)
        else:
            rows = ", ".join(f"{k} {v}" for k, v in tables["rows"].items())
            typer.echo(f"exported to {tables['out']} (imported study, blinded: ARMCD empty): "
                       f"{rows} rows, as CSV and Parquet")
        return
    if as_json:
        emit_json({"out": result.out_dir, "unblinded": result.unblinded,
                   "files": result.files, "rows": result.rows})
    else:
        rows = ", ".join(f"{k} {v}" for k, v in result.rows.items())
        how = "unblinded" if result.unblinded else "blinded: ARMCD empty"
        typer.echo(f"exported to {result.out_dir} ({how}): {rows} rows, as CSV and Parquet")


def register(app: typer.Typer) -> None:
    """Add ``strokecell init`` and ``strokecell export`` to ``app``."""
    app.command("init")(init)
    app.command("export")(export)
