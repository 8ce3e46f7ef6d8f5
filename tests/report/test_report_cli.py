"""``strokecell report``: from a trial database to the HTML (and PDF) report, with the view
the export rules allow (by arm after the study lock for a study-wide statistician or data
manager, pooled otherwise), the DSMB closed report refused while blinded, and the empty
study refused with a clear message. The trial: tests/analysis/record_trial.py (SQLite)."""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
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
from strokecell.store import Role, make_engine, read_session
from strokecell.store import models as m
from strokecell.trial import context_for, record_unblinded_report
from trial.conftest import (  # noqa: F401 (autouse fixture)
    _fast_passwords,
    build_world,
    snapshot,
)

from . import summary as test_summary

ENV = {"STROKECELL_PASSWORD": PASSWORD}


@pytest.fixture(scope="session")
def recorded(sqlite_template: Path,  # noqa: F811 (the store's fixture)
             tmp_path_factory: pytest.TempPathFactory) -> RecordedFiles:
    return recorded_files(sqlite_template, tmp_path_factory.mktemp("recorded"))


def _copy(recorded: RecordedFiles, folder: Path, *, locked: bool = True) -> str:
    """A private copy of the recorded trial: a report by arm writes its audit row, and the
    recorded files are shared by the session (read only)."""
    path = folder / ("locked.sqlite" if locked else "unlocked.sqlite")
    shutil.copyfile(recorded.locked if locked else recorded.unlocked, path)
    return f"sqlite:///{path}"


def _report_audit(url: str) -> list[m.AuditLog]:
    engine = make_engine(url)
    try:
        with read_session(engine) as s:
            return list(s.scalars(select(m.AuditLog).where(m.AuditLog.table_name == "reports")
                                  .order_by(m.AuditLog.seq)).all())
    finally:
        engine.dispose()


def _run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["report", *args], env=ENV if env is None else env)
    return result.exit_code, result.stdout, result.stderr


def _self_contained(html: str) -> bool:
    return not re.search(r"(src|href)\s*=\s*[\"']?\s*(https?:|//)", html, re.I) \
        and "http://" not in html and "https://" not in html


def test_unblinded_report_on_the_locked_study(recorded: RecordedFiles, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    code, stdout, _ = _run("--db", _copy(recorded, tmp_path), "--out", str(out), "--username",
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
    # the study lock set the status: the footer says locked (once), not "active, locked"
    assert re.search(r"<th>study status</th><td>locked</td>", html), html[-3000:]


def test_blinded_report_names_no_arm(recorded: RecordedFiles, tmp_path: Path) -> None:
    out = tmp_path / "blinded.html"
    code, stdout, _ = _run("--db", recorded.url(locked=False), "--out", str(out),
                           "--username", "statistician.all", "--role", "statistician")
    assert code == 0
    assert "blinded: all arms pooled" in stdout
    html = out.read_text(encoding="utf-8")
    assert _self_contained(html) and STUDY in html and "Blinded report" in html
    assert re.search(r"<th>study status</th><td>active</td>", html)
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
    url = _copy(recorded, tmp_path)
    result = build_trial_report(url, out, username="data_manager.all",
                                password=PASSWORD, seed=1, dsmb=True)
    [*_, kind, _, _, _] = _report_audit(url)
    assert (kind.field_name, kind.new_value, kind.role) == ("kind", "dsmb", "data_manager")
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


def test_footer_status_of_a_record_locked_before_the_status_rule() -> None:
    from strokecell._commands._trial_report import _status_text
    assert _status_text("locked", True) == "locked"
    assert _status_text("active", False) == "active"
    # a study lock made before locking set the status (older records)
    assert _status_text("active", True) == "active, with an active study lock"


def test_a_report_by_arm_is_written_to_the_audit_trail(recorded: RecordedFiles,
                                                       tmp_path: Path) -> None:
    url = _copy(recorded, tmp_path)
    out = tmp_path / "report.html"
    before = datetime.now(UTC)
    result = build_trial_report(url, out, username="statistician.all", password=PASSWORD,
                                seed=3)
    assert not result["blinded"]
    rows = _report_audit(url)
    # who, when and what: one row per fact, all in the same audit transaction
    assert {r.username for r in rows} == {"statistician.all"}
    assert {r.role for r in rows} == {"statistician"}
    assert {r.action.value for r in rows} == {"insert"} and len({r.row_key for r in rows}) == 1
    assert all(before <= r.occurred_at <= datetime.now(UTC) for r in rows)
    facts = {r.field_name: r.new_value for r in rows}
    assert facts["unblinded"] == "true" and facts["kind"] == "trial"
    assert facts["outputs"] == str(out) and facts["subjects"] == str(result["subjects"])
    assert facts["record_sha256"] == result["record_sha256"]
    # the report names its audit row, and the footer's chain head is that row or later
    html = out.read_text(encoding="utf-8")
    seq = max(r.seq for r in rows)
    assert f"audit_log seq {rows[0].seq} (table reports)" in html
    assert re.search(rf"seq {seq}, [0-9a-f]{{64}}", html)


def test_a_blinded_report_writes_nothing(recorded: RecordedFiles, tmp_path: Path) -> None:
    url = _copy(recorded, tmp_path, locked=False)
    engine = make_engine(url)
    before = snapshot(engine)
    result = build_trial_report(url, tmp_path / "r.html", username="statistician.all",
                                password=PASSWORD, seed=1)
    assert result["blinded"] and snapshot(engine) == before
    # and the audit service itself refuses a report by arm on the unlocked study
    ctx = context_for(engine, "statistician.all", study_code=STUDY, role=Role.STATISTICIAN)
    with pytest.raises(PermissionDeniedError, match="locked study"):
        record_unblinded_report(engine, ctx, kind="trial", outputs=["x.html"], subjects=1,
                                record_sha256="0" * 64)
    with pytest.raises(InputError, match="outputs"):
        record_unblinded_report(engine, ctx, kind="trial", outputs=[], subjects=1,
                                record_sha256="0" * 64)
    assert snapshot(engine) == before
    engine.dispose()
