"""`strokecell score`: scoring, --json, --list, --fhir, and exit status 2 on bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from strokecell.cli import app

runner = CliRunner()

MBI_WHEELCHAIR = ["personal_hygiene=5", "bathing=4", "feeding=10", "toilet=8", "stairs=0",
                  "dressing=8", "bowels=10", "bladder=10", "wheelchair=4", "transfers=12"]


def test_json_result() -> None:
    result = runner.invoke(app, ["score", "mbi", *MBI_WHEELCHAIR, "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    # 5 + 4 + 10 + 8 + 0 + 8 + 10 + 10 + 4 + 12 = 71 of 90 (wheelchair mode), Shah band 61-90.
    assert payload["total"] == 71 and payload["max_total"] == 90
    assert payload["mode"] == "wheelchair"
    assert payload["band"] == "moderate dependency"
    assert payload["items"]["wheelchair"] == 4


def test_human_output_has_table_total_and_band() -> None:
    result = runner.invoke(app, ["score", "mbi", *MBI_WHEELCHAIR])
    assert result.exit_code == 0, result.output
    assert "Stair climbing" in result.stdout
    assert "71" in result.stdout and "moderate dependency" in result.stdout


@pytest.mark.parametrize(("args", "needle"), [
    (["feeding=7"], "allowed: 0, 2, 5, 8, 10"),
    (["wheelchair=3", "ambulation=12"], "wheelchair"),
    (["feedin=10"], "did you mean feeding"),
    (["feeding"], "expected ITEM=VALUE"),
])
def test_bad_input_exits_2_naming_item_and_allowed(args: list[str], needle: str) -> None:
    base = [a for a in MBI_WHEELCHAIR if not a.startswith(args[0].split("=")[0] + "=")]
    result = runner.invoke(app, ["score", "mbi", *base, *args])
    assert result.exit_code == 2
    assert needle in result.output


def test_missing_item_exits_2() -> None:
    result = runner.invoke(app, ["score", "mbi", *MBI_WHEELCHAIR[1:]])
    assert result.exit_code == 2
    assert "personal_hygiene" in result.output and "missing" in result.output


def test_error_as_json() -> None:
    base = [a for a in MBI_WHEELCHAIR[1:] if not a.startswith("feeding=")]
    result = runner.invoke(app, ["score", "mbi", *base, "feeding=7", "--json"])
    assert result.exit_code == 2
    payload = json.loads(result.stdout)
    assert payload["error"] == "ScoringError"
    assert {p["location"] for p in payload["problems"]} >= {"feeding", "personal_hygiene"}


def test_item_given_twice_exits_2() -> None:
    result = runner.invoke(app, ["score", "mbi", *MBI_WHEELCHAIR, "feeding=5"])
    assert result.exit_code == 2
    assert "given twice" in result.output


def test_unknown_instrument_exits_2() -> None:
    result = runner.invoke(app, ["score", "barthel", "feeding=10"])
    assert result.exit_code == 2
    assert "known: bi" in result.output


def test_list() -> None:
    result = runner.invoke(app, ["score", "--list", "--json"])
    assert result.exit_code == 0
    rows = {row["code"]: row for row in json.loads(result.stdout)}
    assert rows["fma_ue"]["max_total"] == 66 and rows["nihss"]["items"] == 15


def test_fhir() -> None:
    result = runner.invoke(app, ["score", "--fhir", "nihss"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["resourceType"] == "Questionnaire"


def test_un_from_the_command_line() -> None:
    args = [f"{code}=0" for code in (
        "1a_loc", "1b_loc_questions", "1c_loc_commands", "2_gaze", "3_visual",
        "4_facial_palsy", "5a_motor_arm_left", "5b_motor_arm_right", "6a_motor_leg_left",
        "6b_motor_leg_right", "8_sensory", "9_language", "10_dysarthria", "11_extinction")]
    result = runner.invoke(app, ["score", "nihss", *args, "7_limb_ataxia=UN", "--json"])
    payload = json.loads(result.stdout)
    assert payload["items"]["7_limb_ataxia"] == "UN" and payload["untestable"] == [
        "7_limb_ataxia"]


def test_entry_point_exit_status_and_no_heavy_imports() -> None:
    code = (
        "import sys\n"
        "from strokecell.cli import main\n"
        "try:\n"
        "    main(['score', 'mrs', 'mrs=9'])\n"
        "except SystemExit as exc:\n"
        "    heavy = [m for m in ('numpy', 'pint', 'pandas', 'scipy') if m in sys.modules]\n"
        "    print(exc.code, heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "2 []"
    assert "allowed: 0, 1, 2, 3, 4, 5, 6" in out.stderr
