"""``strokecell serve``: refuses unsafe settings before touching the database (the running
server itself is exercised by test_browser.py, which starts it on a free port)."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from strokecell._commands.serve import register


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.command("noop")
    def noop() -> None:  # a second command keeps "serve" a subcommand
        """Nothing."""

    return app


def test_serve_refuses_production_without_secret_key(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STROKECELL_WEB_SECRET_KEY", raising=False)
    monkeypatch.setenv("STROKECELL_WEB_ENV", "production")
    db = tmp_path / "x.sqlite"
    result = CliRunner().invoke(_app(), ["serve", "--db", f"sqlite:///{db}"])
    assert result.exit_code == 2
    assert "secret_key" in result.output
    assert not db.exists()  # nothing created


def test_serve_help_names_the_options() -> None:
    result = CliRunner().invoke(_app(), ["serve", "--help"])
    assert result.exit_code == 0
    for option in ("--db", "--host", "--port"):
        assert option in result.output
