"""Export: subjects, observations (ADaM long table) and adverse events, CSV and Parquet;
blinded unless the study is locked and the export is asked for unblinded."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from strokecell.cli import app
from strokecell.errors import PermissionDeniedError
from strokecell.store import Role, read_session
from strokecell.store import models as m
from strokecell.trial import (
    build_datasets,
    export_datasets,
    lock_records,
    record_administration,
    report_adverse_event,
    save_form,
)

from .conftest import MBI_0, PASSWORD, World, chain_ok
from .partb import AE_MILD, adm_items, released_lot, subjects_by_arm

NIHSS = {"1a_loc": 0, "1b_loc_questions": 0, "1c_loc_commands": 0, "2_gaze": 0,
         "3_visual": 0, "4_facial_palsy": 1, "5a_motor_arm_left": "UN",
         "5b_motor_arm_right": 2, "6a_motor_leg_left": 0, "6b_motor_leg_right": 1,
         "7_limb_ataxia": 0, "8_sensory": 1, "9_language": 0, "10_dysarthria": 1,
         "11_extinction": 0}


def _trial(world: World) -> dict[str, str]:
    arms = subjects_by_arm(world)
    rater = world.ctx(Role.BLINDED_ASSESSOR)
    for code in arms.values():
        save_form(world.db, rater, code, "mbi", {**MBI_0, "feeding": 5},
                  visit_code="baseline", assessment_date=world.clock.now.date())
        save_form(world.db, rater, code, "nihss", NIHSS, visit_code="baseline")
    released_lot(world)
    record_administration(world.db, world.ctx(Role.CELL_LAB, "ALL"), arms["transplant"],
                          adm_items(world))
    report_adverse_event(world.db, world.ctx(Role.INVESTIGATOR), arms["control"], AE_MILD)
    return arms


def test_blinded_export_files_and_analysis_ready_rows(world: World, tmp_path: Path) -> None:
    arms = _trial(world)
    stat = world.ctx(Role.STATISTICIAN, "ALL")
    result = export_datasets(world.db, stat, tmp_path / "out")
    assert not result.unblinded and result.rows["subjects"] == len(
        build_datasets(world.db, stat)["subjects"])
    assert set(result.files) == {f"{t}.{e}" for t in ("subjects", "observations",
                                                       "adverse_events")
                                 for e in ("csv", "parquet")}
    obs = pq.read_table(result.files["observations.parquet"]).to_pylist()
    subject = arms["transplant"]
    mine = {r["PARAMCD"]: r for r in obs if r["USUBJID"] == subject}
    assert mine["MBI"]["AVAL"] == 5.0 and mine["MBI"]["AVISIT"] == "Baseline"
    assert mine["MBI"]["AVISITN"] == 0 and mine["MBI"]["ADT"] == world.clock.now.date()
    assert mine["MBI_FEEDING"]["AVAL"] == 5.0 and mine["MBI_FEEDING"]["ITEMCD"] == "feeding"
    assert mine["MBI_FEEDING"]["FORMCD"] == "mbi" and mine["MBI_FEEDING"]["FORMSEQ"]
    un = mine["NIHSS_5A_MOTOR_ARM_LEFT"]
    assert un["AVALC"] == "UN" and un["AVAL"] is None
    assert mine["NIHSS"]["AVAL"] == 6.0
    assert {r["ARMCD"] for r in obs} == {None}
    assert not any(r["FORMCD"] == "administration" for r in obs)
    # the administration summary is for unblinded exports only: no table, no column
    assert "administrations" not in build_datasets(world.db, stat)
    assert not {"EXNUM", "EXCELLS", "DOSEKG", "ROUTE"} & {
        c for rows in build_datasets(world.db, stat).values() for r in rows for c in r}
    subjects = pq.read_table(result.files["subjects.parquet"]).to_pylist()
    assert {r["ARMCD"] for r in subjects} == {None} and {r["TRTSDT"] for r in subjects} == {None}
    with open(result.files["observations.csv"], encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(obs) and {r["ARMCD"] for r in rows} == {""}
    assert {"USUBJID", "SITEID", "ARMCD", "AVISIT", "AVISITN", "PARAMCD", "AVAL",
            "AVALC", "ADT"} <= set(rows[0])
    aes = pq.read_table(result.files["adverse_events.parquet"]).to_pylist()
    assert [(r["USUBJID"], r["AETERM"], r["AESER"]) for r in aes] == [
        (arms["control"], "Headache", "N")]
    with pytest.raises(PermissionDeniedError, match="export"):
        export_datasets(world.db, world.ctx(Role.INVESTIGATOR), tmp_path / "x")


def test_unblinded_export_needs_a_locked_study_and_is_audited(world: World,
                                                             tmp_path: Path) -> None:
    arms = _trial(world)
    stat = world.ctx(Role.STATISTICIAN, "ALL")
    with pytest.raises(PermissionDeniedError, match="locked study"):
        export_datasets(world.db, stat, tmp_path, unblinded=True)
    with pytest.raises(PermissionDeniedError, match="study-wide"):
        build_datasets(world.db, world.ctx(Role.STATISTICIAN, "S01"), unblinded=True)
    lock_records(world.db, world.ctx(Role.DATA_MANAGER, "ALL"), "study")
    result = export_datasets(world.db, stat, tmp_path / "u", unblinded=True)
    subjects = {r["USUBJID"]: r for r in
                pq.read_table(result.files["subjects.parquet"]).to_pylist()}
    assert subjects[arms["transplant"]]["ARMCD"] == "transplant"
    assert subjects[arms["control"]]["ARMCD"] == "control"
    assert subjects[arms["transplant"]]["TRTSDT"] is not None
    # administration summary per subject who received cells (adm_items: 3.0e7 cells, 70 kg)
    assert set(result.files) >= {"administrations.csv", "administrations.parquet"}
    adm = pq.read_table(result.files["administrations.parquet"]).to_pylist()
    assert [r["USUBJID"] for r in adm] == [arms["transplant"]]
    row = adm[0]
    assert row["EXNUM"] == 1 and row["EXCELLS"] == 3.0e7 and row["EXWTKG"] == 70.0
    assert row["DOSEKG"] == pytest.approx(3.0e7 / 70) == row["TOTDOSKG"]
    assert row["ROUTE"] == "intra_arterial" and row["ARMCD"] == "transplant"
    assert row["TRTSDT"] == subjects[arms["transplant"]]["TRTSDT"]
    assert row["ONSETDY"] == 12.0 and 12 * 24 <= row["ONSETHR"] < 13 * 24  # screened day 12
    with read_session(world.db) as s:
        audit = s.scalars(select(m.AuditLog).where(m.AuditLog.table_name == "exports")).all()
    assert {a.field_name for a in audit} == {"unblinded", "out_dir", "subjects"}
    assert chain_ok(world.db)


def test_export_command(world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _trial(world)
    world.ctx(Role.STATISTICIAN, "ALL")
    url = world.db.url.render_as_string(hide_password=False)
    monkeypatch.setenv("SC_TEST_PASSWORD", PASSWORD)
    result = CliRunner().invoke(app, ["export", "--db", url, "--out", str(tmp_path / "cli"),
                                      "--username", "statistician.all", "--password-env",
                                      "SC_TEST_PASSWORD", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["unblinded"] is False and data["rows"]["subjects"] >= 2
    assert Path(data["files"]["observations.parquet"]).exists()
    bad = CliRunner().invoke(app, ["export", "--db", url, "--out", str(tmp_path / "no"),
                                   "--username", "statistician.all", "--password-env",
                                   "SC_TEST_PASSWORD", "--unblinded"])
    assert bad.exit_code != 0 and "locked study" in bad.output
