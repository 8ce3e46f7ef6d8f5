"""``strokecell audit verify --db URL`` on a good and a tampered database."""

from __future__ import annotations

import json

import typer
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from strokecell._commands import audit as audit_commands
from strokecell.store import Actor, record_change, session_scope


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """Test root."""

    audit_commands.register(app)
    return app


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def test_verify_reports_a_good_chain_and_a_broken_one(isolated_engine: Engine) -> None:
    with session_scope(isolated_engine) as s:
        for i in range(3):
            record_change(s, Actor(1, "alice", "coordinator"), table="subjects", row_key=i,
                          action="insert", field="subject_code", new=f"S-{i}")
    runner = CliRunner()
    ok = runner.invoke(_app(), ["audit", "verify", "--db", _url(isolated_engine), "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["ok"] is True and json.loads(ok.stdout)["rows_checked"] == 3

    with isolated_engine.begin() as conn:
        if isolated_engine.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER audit_log_no_update"))
        else:
            conn.execute(text("DROP TRIGGER audit_log_append_only ON audit_log"))
        conn.execute(text("UPDATE audit_log SET new_value = 'S-X' WHERE seq = 2"))
    bad = runner.invoke(_app(), ["audit", "verify", "--db", _url(isolated_engine)])
    assert bad.exit_code == 1
    assert "BROKEN at seq 2" in bad.output and "row edited" in bad.output


def test_verify_refuses_a_bad_url() -> None:
    result = CliRunner().invoke(_app(), ["audit", "verify", "--db", "mysql://x@y/z"])
    assert result.exit_code == 2 and "unsupported database driver" in result.output
