"""``strokecell mmrm``: JSON output, human output, errors (exit status 2)."""

from __future__ import annotations

import json

from mmrm_refdata import SHARED
from typer.testing import CliRunner

from strokecell.cli import app

RUNNER = CliRunner()
FORMULA = "FEV1 ~ ARMCD * AVISIT + RACE + SEX + us(AVISIT | USUBJID)"


def test_cli_json_matches_the_sas_model() -> None:
    """Keys of issue 3; numbers as fev_sas_reference.json (neg2_loglik 3386.44987722)."""
    result = RUNNER.invoke(app, [
        "mmrm", str(SHARED / "fev_data.csv"), "--formula", FORMULA, "--lsmeans", "ARMCD",
        "--by", "AVISIT", "--reference", "ARMCD=PBO", "--reference", "AVISIT=VIS1", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert abs(out["neg2_loglik"] - 3386.44987722) < 1e-3
    assert out["visits"] == ["VIS1", "VIS2", "VIS3", "VIS4"]
    assert {row["label"] for row in out["contrasts"]} == {"TRT - PBO"}
    assert len(out["lsmeans"]) == 8 and "ARMCD" in out["lsmeans"][0]
    assert {row["term"] for row in out["type3"]} == {"ARMCD", "AVISIT", "RACE", "SEX",
                                                     "ARMCD:AVISIT"}


def test_cli_human_output_and_options() -> None:
    result = RUNNER.invoke(app, [
        "mmrm", str(SHARED / "fev_data.csv"), "--formula",
        FORMULA.replace("us(", "cs("), "--ml", "--df", "kenward-roger", "--lsmeans", "ARMCD"])
    assert result.exit_code == 0, result.output
    assert "Type III" in result.output and "converged" in result.output


def test_cli_errors_exit_2() -> None:
    result = RUNNER.invoke(app, [
        "mmrm", str(SHARED / "fev_data.csv"), "--formula", "FEV1 ~ NOPE + us(AVISIT | USUBJID)",
        "--json"])
    assert result.exit_code == 2
    assert "NOPE" in json.loads(result.output)["message"]
    result = RUNNER.invoke(app, ["mmrm", "missing.csv", "--formula", FORMULA])
    assert result.exit_code == 2
    result = RUNNER.invoke(app, ["mmrm", str(SHARED / "fev_data.csv"), "--formula", FORMULA,
                                 "--reference", "ARMCD"])
    assert result.exit_code == 2
