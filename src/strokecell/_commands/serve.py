"""CLI: ``strokecell serve [--db URL] [--host H] [--port P] [--workers N]`` runs the web
application.

Creates or migrates the database schema first (Alembic, to the newest revision). Without
``--db`` it uses ``strokecell.sqlite`` in the working folder. Prints the address and, when
the database holds no study yet, how to create the study and its first admin
(``strokecell init``). Settings come from ``STROKECELL_WEB_*`` environment variables (see
docs/web.md); outside development a secret key of 32+ bytes and TLS are required.

``--workers N`` runs N server processes on one port (uvicorn's supervisor), each with its
own database connections, sharing sessions and sign-in lockouts through the database; on
SQLite their writes queue for the one writer. Every process builds the application with
:func:`app_from_env` from the environment this command sets (the database URL, and in
development without a secret key one random key for all of them, so that a CSRF token
made by one process is accepted by the others).
"""

from __future__ import annotations

import gc
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from strokecell._commands._output import fail
from strokecell.errors import InputError, Problem, StrokecellError

if TYPE_CHECKING:
    from fastapi import FastAPI

DEFAULT_DB_FILE = "strokecell.sqlite"
#: The database URL the worker processes open (set by :func:`serve`).
DB_ENV = "STROKECELL_SERVE_DB"
MAX_WORKERS = 32


def serve(
    db: str | None = typer.Option(None, "--db", help="Database URL: sqlite:///FILE or "
                                  "postgresql+psycopg://USER@HOST:PORT/DB (default: "
                                  f"sqlite:///./{DEFAULT_DB_FILE})."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port to listen on."),
    env: str | None = typer.Option(None, "--env", help="development, test or production "
                                   "(default: STROKECELL_WEB_ENV, else development)."),
    study: str | None = typer.Option(None, "--study", help="Study code prefilled on the "
                                     "sign-in page (default: the only study, if one)."),
    access_log: bool = typer.Option(True, "--access-log/--no-access-log",
                                    help="Log every request (uvicorn's access log)."),
    workers: int = typer.Option(1, "--workers", min=1, max=MAX_WORKERS,
                                help="Server processes (one per core is a good start)."),
) -> None:
    """Run the web application (JSON API under /api/v1 and the pages)."""
    import uvicorn
    from pydantic import ValidationError
    from sqlalchemy import select

    from strokecell.store import make_engine, read_session, upgrade_to_head
    from strokecell.store import models as m
    from strokecell.web import Settings

    url = db or f"sqlite:///{Path.cwd() / DEFAULT_DB_FILE}"
    try:
        try:
            settings = Settings.from_env(env=env)
        except ValidationError as exc:
            raise InputError([Problem(".".join(str(x) for x in e["loc"]) or "settings",
                                      e["msg"]) for e in exc.errors()],
                             context="web settings") from None
        engine = make_engine(url)
        revision = upgrade_to_head(engine)
        with read_session(engine) as s:
            studies = list(s.scalars(select(m.Study.code).order_by(m.Study.code)).all())
    except StrokecellError as exc:
        fail(exc)
    chosen = study or settings.default_study or (studies[0] if len(studies) == 1 else None)
    shown = engine.url.render_as_string(hide_password=True)
    engine.dispose()
    # The worker processes read everything from the environment (see app_from_env).
    os.environ[DB_ENV] = engine.url.render_as_string(hide_password=False)
    os.environ["STROKECELL_WEB_ENV"] = settings.env
    if chosen:
        os.environ["STROKECELL_WEB_DEFAULT_STUDY"] = chosen
    if settings.secret_key is None:  # development only (Settings refuses it elsewhere)
        os.environ["STROKECELL_WEB_SECRET_KEY"] = secrets.token_urlsafe(48)
    typer.echo(f"strokecell web on http://{host}:{port}/ (database {shown}, schema "
               f"{revision}, env {settings.env}, {workers} worker"
               f"{'s' if workers > 1 else ''})")
    if not studies:
        typer.echo("no study yet: create it and its first admin, then sign in as that admin:\n"
                   f"  STROKECELL_ADMIN_PASSWORD=... strokecell init --protocol FILE "
                   f"--db {shown}")
    else:
        typer.echo(f"studies: {', '.join(studies)}; sign in at http://{host}:{port}/login")
    uvicorn.run(f"{__name__}:app_from_env", factory=True, host=host, port=port,
                workers=workers, log_level="info", access_log=access_log,
                proxy_headers=settings.https, server_header=False)


def app_from_env() -> FastAPI:
    """The application of one server process, from the environment :func:`serve` set.

    Parses the protocols and loads the forms before the first request, so that the first
    users do not wait for it, and freezes what it loaded out of the garbage collector."""
    from strokecell.store import make_engine
    from strokecell.trial import warm_up
    from strokecell.web import Settings, create_app

    url = os.environ.get(DB_ENV)
    if not url:
        raise RuntimeError(f"{DB_ENV} is not set: start the server with `strokecell serve`")
    engine = make_engine(url)
    warm_up(engine)
    app = create_app(Settings.from_env(), engine)
    # What is loaded by now lives as long as the process: moved out of the collector's
    # sight, so that its full collections (which otherwise scan every module, model and
    # schema each time, stalling all requests for up to ~0.2 s) stay short.
    gc.collect()
    gc.freeze()
    return app


def register(app: typer.Typer) -> None:
    """Add ``strokecell serve`` to ``app``."""
    app.command("serve")(serve)
