"""``strokecell demo`` runs the reference case: dose plan, the literal-unit warning, scores."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from strokecell.cli import app


def test_demo_reports_reference_dose_unit_slip_and_scores(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out == json.loads((tmp_path / "demo.json").read_text(encoding="utf-8"))

    # DESIGN.md reference case: 1.5 mL of 2.0×10⁷ cells/mL = 3.0×10⁷ cells, plausible IA dose.
    plan = out["dose_plan"]
    assert {p["arm"] for p in plan} == {"transplant"}
    for p in plan:
        assert p["cells_per_administration"] == 3.0e7
        assert p["warnings"] == []
    # Read literally, 2.0×10⁷ per litre × 1.5 mL = 2.0×10⁷ × 1.5×10⁻³ = 3.0×10⁴ cells.
    literal = out["literal_reading"]
    assert abs(literal["cells_per_administration"] - 3.0e4) < 1e-6
    messages = " ".join(w["message"] for w in literal["warnings"])
    assert "below" in messages and "unit slip" in messages

    scores = {s["instrument"]: s for s in out["scores"]}
    # Shah MBI items 4+1+8+5+2+5+10+8+8+12 = 63: "moderate" band 61-90 (Shah 1989).
    assert (scores["mbi"]["total"], scores["mbi"]["band"]) == (63, "moderate dependency")
    # NIHSS 1+1+2+2+1+1+1 = 9 with 5b untestable (UN counts 0): "moderate" 5-15.
    assert scores["nihss"]["total"] == 9
    assert scores["nihss"]["untestable"] == ["5b_motor_arm_right"]


def test_demo_human_output_names_each_step(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    for text in ("dose plan", "2.0×10⁷ L⁻¹", "unit slip", "mbi: total 63"):
        assert text in result.output
