"""``strokecell report``: from a trial database to the HTML (and PDF) report, with the view
the export rules allow (by arm after the study lock for a study-wide statistician or data
manager, pooled otherwise), the DSMB closed report refused while blinded, and the empty
study refused with a clear message. The trial: tests/analysis/record_trial.py (SQLite)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from analysis.record_trial import (
    ARM_WORDS,
    PASSWORD,
    STUDY,
    RecordedFiles,
    recorded_files,
    reference_text,
)
from store.conftest import sqlite_template  # noqa: F401 (pytest fixture, found by name)
from strokecell._commands._trial_report import build_trial_report, summary_from_protocol
from strokecell.cli import app
from strokecell.errors import InputError, PermissionDeniedError
from strokecell.report import CLOSED_SESSION, pdf_available
from strokecell.store import Role, make_engine
from trial.conftest import _fast_passwords, build_world  # noqa: F401 (autouse fixture)

from . import summary as test_summary

ENV = {"STROKECELL_PASSWORD": PASSWORD}


@pytest.fixture(scope="session")
def recorded(sqlite_template: Path,  # noqa: F811 (the store's fixture)
             tmp_path_factory: pytest.TempPathFactory) -> RecordedFiles:
    return recorded_files(sqlite_template, tmp_path_factory.mktemp("recorded"))


def _run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["report", *args], env=ENV if env is None else env)
    return result.exit_code, result.stdout, result.stderr


def _self_contained(html: str) -> bool:
    return not re.search(r"(src|href)\s*=\s*[\"']?\s*(https?:|//)", html, re.I) \
        and "http://" not in html and "https://" not in html


def test_unblinded_report_on_the_locked_study(recorded: RecordedFiles, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    code, stdout, _ = _run("--db", recorded.url(), "--out", str(out), "--username",
                           "statistician.all", "--seed", "7", "--json")
    assert code == 0, stdout
    result = json.loads(stdout)
    assert (result["blinded"], result["kind"], result["subjects"], result["screened"],
            result["seed"]) == (False, "trial", 6, 8, 7)
    html = out.read_text(encoding="utf-8")
    assert _self_contained(html) and STUDY in html
    assert "zqcells" in html and "Zeta cells arm" in html  # by arm
    assert result["data_snapshot"] in html and result["record_sha256"] in html
    assert "audit chain head" in html and "seed = 7" in html
    assert "record: DOSEKG (cells/kg) and ONSETDY from the unblinded" in html  # notes shown


def test_blinded_report_names_no_arm(recorded: RecordedFiles, tmp_path: Path) -> None:
    out = tmp_path / "blinded.html"
    code, stdout, _ = _run("--db", recorded.url(locked=False), "--out", str(out),
                           "--username", "statistician.all", "--role", "statistician")
    assert code == 0
    assert "blinded: all arms pooled" in stdout
    html = out.read_text(encoding="utf-8")
    assert _self_contained(html) and STUDY in html and "Blinded report" in html
    low = html.lower()
    for word in ARM_WORDS:
        assert word not in low, word


def test_dsmb_refused_for_a_blinded_role(recorded: RecordedFiles, tmp_path: Path) -> None:
    out = tmp_path / "dsmb.html"
    for url, user in ((recorded.url(locked=False), "statistician.all"),
                      (recorded.url(), "statistician.s01")):
        code, stdout, _ = _run("--db", url, "--out", str(out), "--username", user,
                               "--dsmb", "--json")
        assert code == 2
        err = json.loads(stdout)
        assert err["error"] == "PermissionDeniedError" and "--dsmb" in err["message"]
        assert not out.exists()
    code, _, stderr = _run("--db", recorded.url(locked=False), "--out", str(out),
                           "--username", "statistician.all", "--dsmb")
    assert code == 2 and "error: --dsmb: the closed DSMB report" in stderr


def test_dsmb_report_on_the_locked_study(recorded: RecordedFiles, tmp_path: Path) -> None:
    out = tmp_path / "dsmb.html"
    result = build_trial_report(recorded.url(), out, username="data_manager.all",
                                password=PASSWORD, seed=1, dsmb=True)
    assert result["kind"] == "dsmb" and not result["blinded"] and result["pdf"] is None
    html = out.read_text(encoding="utf-8")
    assert CLOSED_SESSION in html and "zqcells" in html and result["role"] == "data_manager"


@pytest.mark.skipif(not pdf_available(), reason="WeasyPrint/Pango not installed")
def test_pdf(recorded: RecordedFiles, tmp_path: Path) -> None:
    result = build_trial_report(recorded.url(locked=False), tmp_path / "r.html",
                                pdf=tmp_path / "r.pdf", username="statistician.s01",
                                password=PASSWORD, role="statistician", seed=1)
    assert result["blinded"] and Path(str(result["pdf"])).read_bytes()[:5] == b"%PDF-"


def test_refusals_exit_2(recorded: RecordedFiles, tmp_path: Path) -> None:
    out = str(tmp_path / "x.html")
    base = ["--db", recorded.url(), "--out", out]
    cases = [
        ([*base, "--username", "statistician.all"], {"STROKECELL_PASSWORD": "wrong"},
         "unknown user or wrong password"),
        ([*base, "--username", "statistician.all"], {}, "STROKECELL_PASSWORD is not set"),
        (base, ENV, "--username: is required"),
        ([*base, "--username", "investigator.s01", "--role", "investigator"], ENV,
         "export: not allowed for role investigator"),
        ([*base, "--username", "investigator.s01"], ENV, "holds none of the roles"),
        ([*base, "--username", "statistician.all", "--study", "NOPE"], ENV,
         "--study: no such study"),
        (["--db", f"sqlite:///{tmp_path / 'missing.sqlite'}", "--out", out, "--username",
          "statistician.all"], ENV, "no such SQLite file"),
    ]
    for args, env, message in cases:
        code, _, stderr = _run(*args, env=env)
        assert code == 2 and message in stderr, (args, stderr)
    assert not (tmp_path / "missing.sqlite").exists() and not Path(out).exists()


def test_study_without_subjects_is_refused(sqlite_template: Path,  # noqa: F811
                                           tmp_path: Path) -> None:
    """Decision: no randomised subject = nothing to analyse: exit 2 with a message saying
    so (rather than an empty report)."""
    path = tmp_path / "empty.sqlite"
    path.write_bytes(sqlite_template.read_bytes())
    engine = make_engine(f"sqlite:///{path}")
    world = build_world(engine, protocol_text=reference_text())
    world.ctx(Role.STATISTICIAN, "ALL")
    world.screen_one("S01")
    engine.dispose()
    code, _, stderr = _run("--db", f"sqlite:///{path}", "--out", str(tmp_path / "r.html"),
                           "--username", "statistician.all")
    assert code == 2
    assert ("has no randomised subject among those statistician.all can see (1 screened, "
            "0 enrolled)") in stderr
    with pytest.raises(InputError, match="nothing to analyse"):
        build_trial_report(f"sqlite:///{path}", tmp_path / "r.html",
                           username="statistician.all", password=PASSWORD, seed=1)
    with pytest.raises(PermissionDeniedError, match="--dsmb"):
        build_trial_report(f"sqlite:///{path}", tmp_path / "r.html",
                           username="statistician.all", password=PASSWORD, seed=1, dsmb=True)


def test_summary_from_protocol_lives_in_the_cli_glue() -> None:
    assert test_summary.summary_from_protocol is summary_from_protocol
