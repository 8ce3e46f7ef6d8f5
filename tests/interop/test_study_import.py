"""Importing REDCap projects into strokecell studies (SQLite; one PostgreSQL case).

Each of the ten real projects in ../shared/external/redcap/ imports into a new study, or is
rejected as a whole with the report that names record, event, instance and field; with
``skip_invalid`` the valid values are imported and the refused ones listed. A round trip
import -> export (REDCap) -> import preserves fields, types, choices and values.
"""

from __future__ import annotations

import functools
import shutil
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from store.conftest import SKIP_PG
from strokecell.cli import app
from strokecell.errors import ConflictError, InputError, PermissionDeniedError
from strokecell.interop.redcap import CsvOptions, read_project
from strokecell.interop.study import export_study, import_redcap, plan_study
from strokecell.store import Role, make_engine, read_session, verify_chain
from strokecell.store import models as m
from strokecell.store.migrate import upgrade_to_head
from strokecell.trial import ServiceContext, context_for, create_user, grant_role, save_form
from strokecell.trial.imported_forms import (
    ImportedDesign,
    imported_design,
    save_imported_form,
)
from strokecell.trial.study_snapshot import study_snapshot

from .conftest import REDCAP, WRITTEN_BY_R

PW = "import-password-1"

#: project -> (subjects, forms, items) imported (skip_invalid where the default rejects).
EXPECTED = {
    "simple": (5, 15, 110), "longitudinal": (3, 40, 403), "repeating-instruments": (2, 6, 32),
    "checkboxes-1": (4, 8, 47), "dag": (3, 3, 9), "validation-types-1": (1, 1, 4),
    "potentially-problematic-dictionary": (0, 0, 0),
    "potentially-problematic-values": (2, 2, 4), "russian": (3, 42, 275),
}


@functools.cache
def _template() -> Path:
    path = Path(tempfile.mkdtemp(prefix="sc-interop-")) / "template.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    upgrade_to_head(engine)
    engine.dispose()
    with sqlite3.connect(path) as raw:
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw.close()
    return path


def fresh_db(tmp_path: Path, name: str) -> Engine:
    """A new migrated SQLite database (a copy of a template migrated once per run)."""
    path = tmp_path / f"{name}.sqlite"
    shutil.copyfile(_template(), path)
    return make_engine(f"sqlite:///{path}")


def study_state(db: Engine, ctx: ServiceContext) -> set[tuple[Any, ...]]:
    """Every value of the study: (subject, site, visit, form, repeat, item, raw text)."""
    snap = study_snapshot(db, ctx)
    return {(s.code, s.site_code, f.visit_code, f.form_code, f.repeat_index, i.code,
             i.raw_text) for s in snap.subjects for f in s.forms for i in f.items}


def _counts(db: Engine) -> tuple[int, int, int]:
    with read_session(db) as s:
        return (s.scalar(select(func.count()).select_from(m.Study)) or 0,
                s.scalar(select(func.count()).select_from(m.FormInstance)) or 0,
                s.scalar(select(func.count()).select_from(m.AuditLog)) or 0)


@pytest.mark.parametrize("project", sorted(EXPECTED))
def test_each_project_imports(project: str, tmp_path: Path) -> None:
    db = fresh_db(tmp_path, project)
    by_r = project in WRITTEN_BY_R
    clean = project not in ("simple", "potentially-problematic-values")
    result = import_redcap(db, REDCAP / project, username="importer", password=PW,
                           written_by_r=by_r)
    assert result.imported is clean, result.report.errors[:3]
    if not clean:
        assert _counts(db) == (0, 0, 0)  # rejected: nothing written
        result = import_redcap(db, REDCAP / project, username="importer", password=PW,
                               skip_invalid=True, written_by_r=by_r)
        assert result.imported and result.report.skipped
    assert (result.subjects, result.forms, result.items) == EXPECTED[project]
    ctx = context_for(db, "importer", study_code=result.study_code or "",
                      role=Role.DATA_MANAGER)
    state = study_state(db, ctx)
    assert len(state) == EXPECTED[project][2]
    with read_session(db) as s:
        assert verify_chain(s).ok
        reasons = set(s.scalars(select(m.AuditLog.reason).where(
            m.AuditLog.table_name == "item_values")).all())
    assert reasons in (set(), {f"import from REDCap {REDCAP / project}"})


def test_simple_rejected_with_a_per_record_report(tmp_path: Path) -> None:
    db = fresh_db(tmp_path, "simple")
    result = import_redcap(db, REDCAP / "simple", username="importer", password=PW)
    assert not result.imported and result.study_code is None
    by_record = result.report.by_record()
    assert set(by_record) == {"1", "2", "3", "4", "5"}
    assert all(set(fields) == {"sex"} for fields in by_record.values())
    assert {p.value for p in result.report.errors} == {"TRUE", "FALSE"}
    skipped = import_redcap(db, REDCAP / "simple", username="importer", password=PW,
                            skip_invalid=True)
    assert [p.field for p in skipped.report.skipped] == ["sex"] * 5
    ctx = context_for(db, "importer", study_code=skipped.study_code or "",
                      role=Role.DATA_MANAGER)
    assert not any(item == "sex" for *_, item, _ in study_state(db, ctx))
    assert len(skipped.report.warnings) == 4  # soft ranges: kept, reported


def test_problematic_values_report(tmp_path: Path) -> None:
    db = fresh_db(tmp_path, "ppv")
    result = import_redcap(db, REDCAP / "potentially-problematic-values", username="importer",
                           password=PW)
    assert not result.imported
    assert sorted((p.record, p.field) for p in result.report.errors) == [
        ("1", "date_before_validation"), ("1", "integer_before_validation"),
        ("2", "date_before_validation"), ("2", "integer_before_validation")]


def test_russian_without_the_r_option_is_rejected(tmp_path: Path) -> None:
    db = fresh_db(tmp_path, "ru")
    result = import_redcap(db, REDCAP / "russian", username="importer", password=PW)
    assert not result.imported and len(result.report.errors) > 100
    assert _counts(db) == (0, 0, 0)


def test_sites_visits_repeats_and_checkboxes(tmp_path: Path) -> None:
    db = fresh_db(tmp_path, "dag")
    result = import_redcap(db, REDCAP / "dag", username="importer", password=PW)
    assert result.sites == ("daga", "dagb")  # every record has its data access group
    ctx = context_for(db, "importer", study_code=result.study_code or "",
                      role=Role.DATA_MANAGER)
    assert {(s, site) for s, site, *_ in study_state(db, ctx)} == {
        ("331-1", "daga"), ("331-2", "daga"), ("332-3", "dagb")}
    db2 = fresh_db(tmp_path, "rep")
    rep = import_redcap(db2, REDCAP / "repeating-instruments", username="importer",
                        password=PW)
    ctx2 = context_for(db2, "importer", study_code=rep.study_code or "",
                       role=Role.DATA_MANAGER)
    repeats = {(s, f, r) for s, _, _, f, r, *_ in study_state(db2, ctx2) if f == "bp"}
    assert repeats == {("1", "bp", 1), ("1", "bp", 2), ("1", "bp", 3), ("2", "bp", 1)}
    db3 = fresh_db(tmp_path, "long")
    lon = import_redcap(db3, REDCAP / "longitudinal", username="importer", password=PW)
    ctx3 = context_for(db3, "importer", study_code=lon.study_code or "",
                       role=Role.DATA_MANAGER)
    visits = {v for _, _, v, *_ in study_state(db3, ctx3)}
    assert len(visits) > 3 and all(v for v in visits)
    design = imported_design(db3, ctx3)
    assert isinstance(design, ImportedDesign) and len(design.arm_visits) == 2


def test_clinical_trial_dry_run_checks_all_500_records(tmp_path: Path) -> None:
    db = fresh_db(tmp_path, "ct")
    result = import_redcap(db, REDCAP / "clinical-trial-1", username="importer",
                           password=PW, dry_run=True)
    assert result.dry_run and not result.imported and result.report.ok
    assert (result.subjects, result.forms) == (500, 500)
    assert _counts(db) == (0, 0, 0)


@pytest.mark.slow
def test_clinical_trial_imports_500_records(tmp_path: Path) -> None:
    db = fresh_db(tmp_path, "ct")
    result = import_redcap(db, REDCAP / "clinical-trial-1", username="importer", password=PW)
    assert (result.subjects, result.forms, result.items) == (500, 500, 6000)


@pytest.mark.parametrize("project", ["longitudinal", "checkboxes-1", "repeating-instruments",
                                     "validation-types-1", "dag", "russian"])
def test_round_trip_import_export_import(project: str, tmp_path: Path) -> None:
    by_r = project in WRITTEN_BY_R
    db = fresh_db(tmp_path, "a")
    first = import_redcap(db, REDCAP / project, username="importer", password=PW,
                          written_by_r=by_r)
    ctx = context_for(db, "importer", study_code=first.study_code or "",
                      role=Role.DATA_MANAGER)
    export_study(db, ctx, "redcap", tmp_path / "out")
    original = read_project(REDCAP / project,
                            options=CsvOptions.written_by_r() if by_r else None).project
    exported = read_project(tmp_path / "out").project
    assert exported.dictionary == original.dictionary  # fields, types, choices, validation
    assert exported.records == original.records  # values, events, instances, DAGs
    db2 = fresh_db(tmp_path, "b")
    second = import_redcap(db2, tmp_path / "out", username="importer", password=PW)
    assert second.imported, second.report.errors[:3]
    ctx2 = context_for(db2, "importer", study_code=second.study_code or "",
                       role=Role.DATA_MANAGER)
    assert study_state(db2, ctx2) == study_state(db, ctx)


def test_scale_forms_map_onto_the_instruments(tmp_path: Path) -> None:
    """A REDCap project of strokecell scales (annotated fields) becomes scale forms,
    scored by the instrument engine; an off-grid value is refused by the services."""
    from strokecell.interop.redcap import scales_project, write_project

    base = scales_project(["mbi", "nihss"])
    plan = plan_study(base, source="scales")
    # both scales map onto the instruments; only the record-id form stays generic
    assert [f.code for f in plan.design.forms] == ["enrolment"]
    folder = tmp_path / "scales"
    write_project(base, folder)
    (folder / "data.csv").write_text(
        "record_id,mbi_feeding,mbi_bathing,nihss_1a_loc,nihss_5a_motor_arm_left\n"
        "1,5,0,1,UN\n2,7,0,0,0\n", encoding="utf-8")
    db = fresh_db(tmp_path, "scales")
    rejected = import_redcap(db, folder, username="importer", password=PW)
    assert not rejected.imported
    assert [(p.record, p.field) for p in rejected.report.errors] == [("2", "mbi_feeding")]
    ok = import_redcap(db, folder, username="importer", password=PW, skip_invalid=True)
    assert ok.imported and [p.field for p in ok.report.skipped] == ["mbi_feeding"]
    ctx = context_for(db, "importer", study_code=ok.study_code or "",
                      role=Role.DATA_MANAGER)
    state = study_state(db, ctx)
    assert ("1", "MAIN", "event_1", "nihss", 1, "5a_motor_arm_left", "UN") in state
    # data entry after the migration goes through save_form (the scale is planned there)
    admin = context_for(db, "importer", study_code=ok.study_code or "", role=Role.ADMIN)
    create_user(db, admin, "inv", "Investigator", PW)
    grant_role(db, admin, "inv", Role.INVESTIGATOR, None)
    inv = context_for(db, "inv", study_code=ok.study_code or "", role=Role.INVESTIGATOR)
    view = save_form(db, inv, "2", "mbi", {"feeding": 10}, visit_code="event_1", version=1)
    assert view.items["feeding"] == 10


def test_data_entry_on_an_imported_form(tmp_path: Path) -> None:
    db = fresh_db(tmp_path, "simple")
    result = import_redcap(db, REDCAP / "dag", username="importer", password=PW)
    code = result.study_code or ""
    admin = context_for(db, "importer", study_code=code, role=Role.ADMIN)
    create_user(db, admin, "inv", "Investigator", PW)
    grant_role(db, admin, "inv", Role.INVESTIGATOR, None)
    inv = context_for(db, "inv", study_code=code, role=Role.INVESTIGATOR)
    design = imported_design(db, inv)
    assert design is not None
    form = design.forms[0].code
    snap = study_snapshot(db, context_for(db, "importer", study_code=code,
                                          role=Role.DATA_MANAGER))
    entry = snap.subjects[0].forms[0]
    text_field = next(f.code for f in design.forms[0].fields if f.type == "text")
    with pytest.raises(ConflictError):  # the version read must be given
        save_imported_form(db, inv, snap.subjects[0].code, form, {text_field: "x"},
                           visit_code=entry.visit_code)
    with read_session(db) as s:
        version = s.scalars(select(m.FormInstance.version).where(
            m.FormInstance.form_code == form)).first()
    with pytest.raises(InputError):  # changing a value needs a reason
        save_imported_form(db, inv, snap.subjects[0].code, form, {text_field: "new"},
                           visit_code=entry.visit_code, version=version)
    new_version = save_imported_form(db, inv, snap.subjects[0].code, form,
                                     {text_field: "new"}, visit_code=entry.visit_code,
                                     version=version, reason="transcription error")
    assert new_version == (version or 0) + 1
    grant_role(db, admin, "inv", Role.BLINDED_ASSESSOR, None)
    rater = context_for(db, "inv", study_code=code, role=Role.BLINDED_ASSESSOR)
    with pytest.raises(PermissionDeniedError):
        save_imported_form(db, rater, snap.subjects[0].code, form, {text_field: "y"},
                           visit_code=entry.visit_code, version=new_version, reason="r")


def test_import_command_reports_and_exit_codes(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    db = fresh_db(tmp_path, "cli")
    url = db.url.render_as_string(hide_password=False)
    monkeypatch.setenv("SC_IMPORT_PW", PW)
    args = ["import", "redcap", str(REDCAP / "potentially-problematic-values"), "--db", url,
            "--username", "importer", "--password-env", "SC_IMPORT_PW"]
    bad = CliRunner().invoke(app, args)
    assert bad.exit_code == 1
    assert "record 1" in bad.output and "date_before_validation" in bad.output
    assert _counts(db)[0] == 0
    good = CliRunner().invoke(app, [*args, "--skip-invalid"])
    assert good.exit_code == 0, good.output
    assert "skipped" in good.output and "integer_before_validation" in good.output
    again = CliRunner().invoke(app, [*args, "--skip-invalid"])
    assert again.exit_code != 0 and "exists already" in again.output


@pytest.mark.parametrize("db_kind", [pytest.param("postgresql", marks=SKIP_PG)])
def test_import_on_postgresql(engine: Engine) -> None:
    result = import_redcap(engine, REDCAP / "longitudinal", username="importer", password=PW)
    assert result.imported and result.forms == 40
    ctx = context_for(engine, "importer", study_code=result.study_code or "",
                      role=Role.DATA_MANAGER)
    assert len(study_state(engine, ctx)) == 403
    with read_session(engine) as s:
        assert verify_chain(s).ok


def test_a_value_the_services_refuse_rejects_the_whole_import(tmp_path: Path) -> None:
    """create_imported_study checks every value before writing and writes in one
    transaction: a refused value leaves the database exactly as it was."""
    from strokecell.trial.imported_forms import (
        ImportedEntry,
        ImportedSubject,
        create_imported_study,
    )

    plan = plan_study(read_project(REDCAP / "dag").project, source="dag")
    bad = plan.subjects[0]
    entry = bad.entries[0]
    broken = ImportedSubject(bad.code, bad.site_code, bad.arm, (ImportedEntry(
        entry.form_code, entry.visit_code, 1, {**entry.items, "redcap_status": "7"}),))
    db = fresh_db(tmp_path, "atomic")
    before = _counts(db)
    with pytest.raises(InputError) as caught:
        create_imported_study(db, plan.protocol_text, plan.design,
                              [broken, *plan.subjects[1:]], sites=plan.sites,
                              username="importer", password=PW, reason="test")
    assert "redcap_status" in str(caught.value) and "331-1" in str(caught.value)
    assert _counts(db) == before
    outcome = create_imported_study(db, plan.protocol_text, plan.design, plan.subjects,
                                    sites=plan.sites, username="importer", password=PW,
                                    reason="test")
    assert outcome.subjects == 3
    with pytest.raises(ConflictError):  # the same study twice
        create_imported_study(db, plan.protocol_text, plan.design, plan.subjects,
                              sites=plan.sites, username="importer", password=PW,
                              reason="test")


def test_csv_export_of_an_imported_study(tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import pyarrow.parquet as pq

    db = fresh_db(tmp_path, "csv")
    import_redcap(db, REDCAP / "checkboxes-1", username="importer", password=PW)
    monkeypatch.setenv("SC_IMPORT_PW", PW)
    url = db.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(app, ["export", "--db", url, "--username", "importer",
                                      "--role", "data_manager", "--password-env",
                                      "SC_IMPORT_PW", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    table = pq.read_table(tmp_path / "out" / "observations.parquet").to_pylist()
    assert len(table) == 47 and all(r["ARMCD"] is None for r in table)


def test_mapping_file_maps_unannotated_fields_onto_a_scale(tmp_path: Path) -> None:
    from strokecell.interop.study import load_mapping

    folder = tmp_path / "adl"
    folder.mkdir()
    (folder / "dictionary.csv").write_text(
        "field_name,form_name,section_header,field_type,field_label,"
        "select_choices_or_calculations,field_note,text_validation_type_or_show_slider_number,"
        "text_validation_min,text_validation_max,identifier,branching_logic,required_field,"
        "custom_alignment,question_number,matrix_group_name,matrix_ranking,field_annotation\n"
        "record_id,adl,,text,ID,,,,,,,,,,,,,\n"
        'q_feeding,adl,,radio,Feeding,"0, unable | 2, help | 5, some help | 8, minimal | '
        '10, independent",,,,,,,,,,,,\n', encoding="utf-8")
    (folder / "data.csv").write_text("record_id,q_feeding,adl_complete\n1,8,2\n",
                                     encoding="utf-8")
    (tmp_path / "map.yaml").write_text("fields:\n  q_feeding: {scale: mbi, item: feeding}\n",
                                       encoding="utf-8")
    mapping = load_mapping(tmp_path / "map.yaml")
    db = fresh_db(tmp_path, "map")
    result = import_redcap(db, folder, username="importer", password=PW, mapping=mapping)
    assert result.imported, result.report.errors
    ctx = context_for(db, "importer", study_code=result.study_code or "",
                      role=Role.DATA_MANAGER)
    assert ("1", "MAIN", "event_1", "mbi", 1, "feeding", "8") in study_state(db, ctx)
    with pytest.raises(InputError):
        (tmp_path / "bad.yaml").write_text("fields:\n  q: {item: x}\n", encoding="utf-8")
        load_mapping(tmp_path / "bad.yaml")
