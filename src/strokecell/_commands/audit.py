"""CLI: ``strokecell audit verify --db URL`` checks the audit trail's hash chain.

Exit status: 0 when every row verifies, 1 when the chain is broken (the first broken row and
the reason are printed), 2 on bad input (an unusable database URL).
"""

from __future__ import annotations

import typer

from strokecell._commands._output import emit_json, fail
from strokecell.errors import StrokecellError

audit_app = typer.Typer(help="The audit trail: verify its hash chain.", no_args_is_help=True)


@audit_app.command("verify")
def verify(
    db: str = typer.Option(..., "--db", help="Database URL: sqlite:///FILE or "
                           "postgresql+psycopg://USER@HOST:PORT/DB."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Recompute every audit row's hash and link; report the first broken row."""
    from sqlalchemy.exc import SQLAlchemyError

    from strokecell.store import make_engine, read_session, verify_chain

    try:
        engine = make_engine(db)
    except StrokecellError as exc:
        fail(exc, as_json=as_json)
    try:
        with read_session(engine) as session:
            result = verify_chain(session)
    except SQLAlchemyError as exc:
        message = str(exc).splitlines()[0]
        fail(StrokecellError(f"--db {db}: cannot read the audit trail ({message})"),
             as_json=as_json)
    finally:
        engine.dispose()
    if as_json:
        emit_json(result.to_dict())
    elif result.ok:
        typer.echo(f"audit chain verified: {result.rows_checked} rows, "
                   f"head seq {result.head_seq} hash {result.head_hash}")
    else:
        typer.echo(f"audit chain BROKEN at seq {result.first_broken_seq} "
                   f"({result.rows_checked} rows checked): {result.reason}", err=True)
    if not result.ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``strokecell audit ...`` to ``app``."""
    app.add_typer(audit_app, name="audit")
