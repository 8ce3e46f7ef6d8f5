"""CLI: `strokecell protocol check` and `strokecell dose`: exit codes and JSON shape."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from protocol_testkit import IV_PROTOCOL, LITERAL_SLIP, REFERENCE, REPO
from typer.testing import CliRunner

from strokecell.cli import app, main

runner = CliRunner()


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def words(text: str) -> str:
    """Text with line wrapping undone (rich wraps long warnings)."""
    return " ".join(text.split())


def test_check_reference_protocol() -> None:
    code, out = run("protocol", "check", str(REFERENCE))
    assert code == 0, out
    assert "valid" in out and "SC-ICH-IA-UCMSC" in out
    assert "3.0×10⁷" in out and "no dose warnings" in out
    assert "subacute" in out and "Bernhardt" in out


def test_check_json() -> None:
    code, out = run("protocol", "check", str(REFERENCE), "--json", "--weights", "60,80")
    assert code == 0
    payload = json.loads(out)
    assert payload["valid"] is True
    assert payload["study"]["id"] == "SC-ICH-IA-UCMSC"
    assert [p["weight_kg"] for p in payload["dose_plan"]] == [60.0, 80.0]
    assert payload["dose_plan"][0]["cells_per_administration"] == 3.0e7
    assert payload["warnings"] == []
    assert payload["arms"][0]["phase"] == "subacute"
    assert payload["protocol"]["arms"][0]["dose"]["concentration"] == "2.0e7 cells/mL"


def test_check_slip_fixture_warns_but_is_valid() -> None:
    code, out = run("protocol", "check", str(LITERAL_SLIP))
    assert code == 0
    assert "1 dose warning" in out and "Likely unit slip" in words(out)
    payload = json.loads(run("protocol", "check", str(LITERAL_SLIP), "--json")[1])
    assert {w["code"] for w in payload["warnings"]} == {"implausible_dose"}
    assert len(payload["warnings"]) == 3  # one per reference weight


def test_check_invalid_protocol_exits_2_with_every_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(REFERENCE.read_text(encoding="utf-8")
                   .replace("volume: 1.5 mL", "volume: 1.5")
                   .replace("stratify_by: [baseline_mbi]", "stratify_by: [site]"),
                   encoding="utf-8")
    code, out = run("protocol", "check", str(bad), "--json")
    assert code == 2
    payload = json.loads(out)
    assert payload["error"] == "ProtocolError"
    assert [p["location"] for p in payload["problems"]] == [
        "arms[0].dose.volume", "randomization.stratify_by[0]"]
    assert all(p["line"] for p in payload["problems"])
    code, out = run("protocol", "check", str(bad))
    assert code == 2
    assert "arms[0].dose.volume" in out and "randomization.stratify_by[0]" in out


def test_check_missing_file_exits_2(tmp_path: Path) -> None:
    code, out = run("protocol", "check", str(tmp_path / "none.yaml"))
    assert code == 2 and "cannot read" in out


def test_check_bad_weights_exit_2() -> None:
    code, out = run("protocol", "check", str(REFERENCE), "--weights", "70,heavy")
    assert code == 2 and "--weights" in out
    code, out = run("protocol", "check", str(REFERENCE), "--weights", "7")
    assert code == 2 and "weight" in out


def test_dose_from_protocol_json() -> None:
    code, out = run("dose", "--protocol", str(IV_PROTOCOL), "--arm", "msc_iv",
                    "--weight", "70", "--json")
    assert code == 0, out
    payload = json.loads(out)
    # 70 kg × 1e6 cells/kg = 7e7 per infusion, × 3 = 2.1e8; 70 mL at 1e6 cells/mL.
    assert payload["cells_per_administration"] == 7.0e7
    assert payload["total_cells"] == 2.1e8
    assert payload["volume_ml"] == 70.0
    assert payload["warnings"] == []
    assert set(payload) >= {"cells_per_kg", "concentration_cells_per_ml", "rate_ml_per_min",
                            "infusion_minutes", "administrations", "route", "arm"}


def test_dose_single_cell_arm_needs_no_arm_option() -> None:
    code, out = run("dose", "--protocol", str(REFERENCE), "--weight", "70")
    assert code == 0 and "3.0×10⁷" in out


def test_dose_adhoc_literal_slip() -> None:
    code, out = run("dose", "--route", "intra_arterial", "--concentration", "2.0×10⁷ L⁻¹",
                    "--volume", "1.5 mL", "--rate", "0.5 mL/min", "--limit", "max_volume=2 mL",
                    "--limit", "max_rate=1 mL/min", "--json")
    assert code == 0
    payload = json.loads(out)
    assert payload["cells_per_administration"] == 3.0e4
    assert payload["infusion_minutes"] == 3.0
    (warning,) = payload["warnings"]
    assert warning["code"] == "implausible_dose" and "per mL" in warning["message"]


def test_dose_adhoc_plain_output() -> None:
    code, out = run("dose", "--route", "intra_arterial", "--concentration", "2e7 cells/mL",
                    "--volume", "1.5 mL", "--weight", "70")
    assert code == 0
    assert "3.0×10⁷" in out and "4.3×10⁵" in out
    # No IA volume or rate limit is published, so an ad hoc IA dose is asked for them.
    assert "--limit max_volume=VALUE" in words(out) and "--rate" in words(out)


@pytest.mark.parametrize(("args", "fragment"), [
    (["--route", "intravenous", "--per-kg", "1e6 cells/kg", "--concentration", "1e6"],
     "--concentration"),
    (["--route", "intravenous", "--per-kg", "1e6 cells/kg", "--concentration",
      "1e6 cells/mL"], "--weight"),
    (["--route", "intravenous", "--total-cells", "1e8 cells", "--volume", "10 mL",
      "--weight", "300"], "--weight"),
    (["--route", "oral", "--total-cells", "1e8 cells", "--volume", "10 mL"], "--route"),
    (["--route", "intravenous", "--volume", "10 mL"], "--per-kg"),
    (["--route", "intravenous", "--total-cells", "1e8 cells", "--volume", "10 mL",
      "--limit", "max_volume"], "--limit"),
    (["--protocol", str(REFERENCE), "--arm", "control", "--weight", "70"], "--arm"),
    (["--protocol", str(REFERENCE), "--arm", "nope", "--weight", "70"], "--arm"),
    (["--protocol", str(REFERENCE), "--volume", "2 mL"], "--volume"),
    ([], "--route"),
])
def test_dose_errors_exit_2_naming_the_option(args: list[str], fragment: str) -> None:
    code, out = run("dose", *args, "--json")
    assert code == 2, out
    payload = json.loads(out)
    assert fragment in json.dumps(payload)


def test_main_turns_errors_into_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["dose", "--route", "intravenous", "--total-cells", "1e8", "--volume", "1 mL"])
    assert info.value.code == 2
    assert "--total-cells" in capsys.readouterr().err


def test_help_does_not_import_heavy_libraries() -> None:
    # `strokecell --help` must stay fast: pint and pydantic load only inside commands.
    code = ("import sys; from strokecell.cli import app; "
            "bad = [m for m in ('pint', 'pydantic', 'strokecell.protocol') if m in sys.modules];"
            " print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=REPO).stdout.strip()
    assert "pint" not in out and "strokecell.protocol" not in out
