"""CLI: ``strokecell serve [--db URL] [--host H] [--port P]`` runs the web application.

Creates or migrates the database schema first (Alembic, to the newest revision). Without
``--db`` it uses ``strokecell.sqlite`` in the working folder. Prints the address and, when
the database holds no study yet, how to create the study and its first admin
(``strokecell init``). Settings come from ``STROKECELL_WEB_*`` environment variables (see
docs/web.md); outside development a secret key of 32+ bytes and TLS are required.
"""

from __future__ import annotations

from pathlib import Path

import typer

from strokecell._commands._output import fail
from strokecell.errors import InputError, Problem, StrokecellError

DEFAULT_DB_FILE = "strokecell.sqlite"


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
) -> None:
    """Run the web application (JSON API under /api/v1 and the pages)."""
    import uvicorn
    from pydantic import ValidationError
    from sqlalchemy import select

    from strokecell.store import make_engine, read_session, upgrade_to_head
    from strokecell.store import models as m
    from strokecell.web import Settings, create_app

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
    if chosen != settings.default_study:
        settings = settings.model_copy(update={"default_study": chosen})
    shown = engine.url.render_as_string(hide_password=True)
    typer.echo(f"strokecell web on http://{host}:{port}/ (database {shown}, schema "
               f"{revision}, env {settings.env})")
    if not studies:
        typer.echo("no study yet: create it and its first admin, then sign in as that admin:\n"
                   f"  STROKECELL_ADMIN_PASSWORD=... strokecell init --protocol FILE "
                   f"--db {shown}")
    else:
        typer.echo(f"studies: {', '.join(studies)}; sign in at http://{host}:{port}/login")
    uvicorn.run(create_app(settings, engine), host=host, port=port, log_level="info",
                access_log=access_log, proxy_headers=settings.https, server_header=False)


def register(app: typer.Typer) -> None:
    """Add ``strokecell serve`` to ``app``."""
    app.command("serve")(serve)
