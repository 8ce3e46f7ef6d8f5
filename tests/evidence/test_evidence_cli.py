"""``strokecell evidence summary|meta|page``: exit codes, JSON keys, messages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from strokecell.cli import app

RUNNER = CliRunner()
REFERENCE_PROTOCOL = Path(__file__).resolve().parents[2] / "protocols" / \
    "reference-ich-ia-ucmsc.yaml"


def _run(*args: str) -> Any:
    return RUNNER.invoke(app, ["evidence", *args])


def test_summary_json_lists_every_comparison() -> None:
    result = _run("summary", "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    # trials.csv: 16 trials, 17 comparisons (IBIS has a low- and a high-dose arm)
    assert payload["n_trials"] == 16 and payload["n_comparisons"] == 17
    first = payload["trials"][0]
    assert {"trial_id", "design", "n_rand1", "n_rand2", "cell_type", "phase", "route",
            "dose_category", "outcomes", "verification", "citation"} <= set(first)
    li = next(t for t in payload["trials"] if t["trial_id"] == "li2013")
    assert {"row_id": "li2013_bi_6mo", "outcome": "bi", "time": "6 months",
            "usable": True} in li["outcomes"]


def test_summary_table() -> None:
    result = RUNNER.invoke(app, ["evidence", "summary"], env={"COLUMNS": "220"})
    assert result.exit_code == 0, result.output
    assert "TREASURE" in result.output and "bi: 6mo*" in result.output


def test_meta_json_keys_and_numbers() -> None:
    result = _run("meta", "--outcome", "mortality", "--by", "dose", "--regress", "dose,days",
                  "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert {"outcome", "measure", "method", "test", "time", "direction", "direction_note", "k",
            "studies", "overall", "by", "regressions", "left_out", "notes",
            "available"} <= set(out)
    assert out["outcome"] == "death" and out["k"] == 2
    assert {"estimate", "ci_lb", "ci_ub", "pval", "tau2", "I2", "Q", "ratio"} <= set(
        out["overall"])
    by = out["by"]["dose"]
    assert {"subgroups", "Q_between", "Q_between_df", "Q_between_pval"} <= set(by)
    assert [g["level"] for g in by["subgroups"]] == ["high", "low"]  # TREASURE 1.2e9, STARTING 5e7
    assert set(out["regressions"]) == {"dose", "days"}
    assert "need k >= 3" in out["regressions"]["dose"]["message"]
    assert out["left_out"] == [{"row_id": "houkin2024_death_d90",
                                "trial_label": "Houkin 2024 (TREASURE)", "stage": "time",
                                "reason": out["left_out"][0]["reason"], "reported": None}]


def test_meta_text_and_forest(tmp_path: Path) -> None:
    png = tmp_path / "forest.png"
    result = _run("meta", "--outcome", "bi", "--time", "6mo", "--forest", str(png))
    assert result.exit_code == 0, result.output
    assert "MD 10.49 [1.83, 19.15]" in result.output
    assert "prasad2014_bi_d180" in result.output  # left out, with its reason
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_meta_rows_without_numbers_exit_0_with_k0() -> None:
    result = _run("meta", "--outcome", "MBI", "--time", "6mo", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["k"] == 0 and out["overall"] is None
    assert out["left_out"][0]["row_id"] == "bhasin2011_mbi_24wk"


def test_meta_no_match_exits_2_listing_what_is_available() -> None:
    result = _run("meta", "--outcome", "MBI", "--time", "9mo")
    assert result.exit_code == 2
    assert "no rows for outcome mbi at 9 months" in result.output
    assert "available: 3 months" in result.output


def test_meta_no_match_as_json() -> None:
    result = _run("meta", "--outcome", "mbi", "--time", "9mo", "--json")
    assert result.exit_code == 2
    payload = json.loads(result.output)
    assert payload["error"] == "EvidenceSelectionError"
    assert payload["problems"][0]["location"] == "time"


@pytest.mark.parametrize(("args", "needle"), [
    (["--outcome", "qol"], "unknown outcome"),
    (["--outcome", "bi", "--time", "soon"], "not a time point"),
    (["--outcome", "bi", "--by", "colour"], "unknown aspect"),
    (["--outcome", "death", "--measure", "SMD"], "RR, OR, RD"),
    (["--outcome", "mbi", "--time", "6mo", "--forest", "x.png"], "no forest plot"),
])
def test_meta_bad_input_exits_2(args: list[str], needle: str) -> None:
    result = _run("meta", *args)
    assert result.exit_code == 2
    assert needle in result.output


def test_page_writes_html(tmp_path: Path) -> None:
    out = tmp_path / "evidence.html"
    result = _run("page", "--protocol", str(REFERENCE_PROTOCOL), "--out", str(out))
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert "Yuan et al." in html and "data:image/png;base64," in html


def test_page_unknown_arm_exits_2(tmp_path: Path) -> None:
    result = _run("page", "--protocol", str(REFERENCE_PROTOCOL), "--out",
                  str(tmp_path / "x.html"), "--arm", "control")
    assert result.exit_code == 2
    assert "transplant" in result.output
