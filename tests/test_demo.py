"""``strokecell demo``: dose plan, the literal-unit warning, scores, then a small in-silico
trial through the services, the audit check and the report (``--n`` keeps it small here;
``make demo`` runs the protocol's 45)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from strokecell.cli import app
from strokecell.store import make_engine, read_session, verify_chain


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("demo")
    result = CliRunner().invoke(app, ["demo", "--out", str(out), "--n", "8", "--seed", "7"])
    assert result.exit_code == 0, result.output
    return out, result.output


def test_demo_writes_database_report_and_users(demo_run: tuple[Path, str]) -> None:
    out, _ = demo_run
    db = out / "strokecell-demo.db"
    assert db.is_file()
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "SC-ICH-IA-UCMSC" in html and "CONSORT" in html
    users = (out / "demo-users.txt").read_text(encoding="utf-8")
    assert stat.S_IMODE((out / "demo-users.txt").stat().st_mode) == 0o600
    rows = [line.split("\t") for line in users.splitlines() if not line.startswith("#")]
    assert {r[1] for r in rows} >= {"admin", "investigator", "coordinator",
                                    "blinded_assessor", "cell_lab", "data_manager",
                                    "monitor", "statistician"}
    assert all(len(r) == 4 and len(r[3]) >= 12 for r in rows)  # generated passwords
    engine = make_engine(f"sqlite:///{db}")
    try:
        with read_session(engine) as s:
            assert verify_chain(s).ok
    finally:
        engine.dispose()

    summary = json.loads((out / "demo.json").read_text(encoding="utf-8"))
    trial = summary["trial"]
    assert trial["n_randomized"] == 8 and trial["seed"] == 7
    assert sum(trial["arm_counts"].values()) == 8
    assert trial["signatures"] == 8 and trial["locks"] == 9
    assert "password" not in json.dumps(summary["trial"]["users"])
    assert summary["audit_chain"]["ok"] is True
    assert summary["report"]["blinded"] is False  # the statistician after database lock
    assert summary["report"]["subjects"] == 8
    assert summary["serve"] == f"strokecell serve --db sqlite:///{db.resolve()}"


def test_demo_reports_reference_dose_unit_slip_and_scores(demo_run: tuple[Path, str]) -> None:
    out, _ = demo_run
    summary = json.loads((out / "demo.json").read_text(encoding="utf-8"))
    # DESIGN.md reference case: 1.5 mL of 2.0×10⁷ cells/mL = 3.0×10⁷ cells, plausible IA dose.
    plan = summary["dose_plan"]
    assert {p["arm"] for p in plan} == {"transplant"}
    for p in plan:
        assert p["cells_per_administration"] == 3.0e7
        assert p["warnings"] == []
    # Read literally, 2.0×10⁷ per litre × 1.5 mL = 2.0×10⁷ × 1.5×10⁻³ = 3.0×10⁴ cells.
    literal = summary["literal_reading"]
    assert abs(literal["cells_per_administration"] - 3.0e4) < 1e-6
    messages = " ".join(w["message"] for w in literal["warnings"])
    assert "below" in messages and "unit slip" in messages

    scores = {s["instrument"]: s for s in summary["scores"]}
    # Shah MBI items 4+1+8+5+2+5+10+8+8+12 = 63: "moderate" band 61-90 (Shah 1989).
    assert (scores["mbi"]["total"], scores["mbi"]["band"]) == (63, "moderate dependency")
    # NIHSS 1+1+2+2+1+1+1 = 9 with 5b untestable (UN counts 0): "moderate" 5-15.
    assert scores["nihss"]["total"] == 9
    assert scores["nihss"]["untestable"] == ["5b_motor_arm_right"]


def test_demo_human_output_names_each_step_and_how_to_serve(
        demo_run: tuple[Path, str]) -> None:
    out, text = demo_run
    flat = " ".join(text.split())
    for words in ("dose plan", "2.0×10⁷ L⁻¹", "unit slip", "mbi: total 63",
                  "in-silico trial", "8 randomized", "audit chain: verified",
                  "casebooks signed", "report.html", "demo-users.txt",
                  "strokecell serve --db sqlite:///", "statistician", "blinded_assessor"):
        assert words in flat, words
    assert str((out / "strokecell-demo.db").resolve()) in flat


def test_demo_json_is_what_demo_json_holds(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path), "--n", "4", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out == json.loads((tmp_path / "demo.json").read_text(encoding="utf-8"))
    assert out["trial"]["n_randomized"] == 4
    assert out["files"]["report_html"] == str(tmp_path / "report.html")
