"""Exporting a strokecell study: ODM 1.3.2 (schema + round trip), REDCap, XPT/SAV/DTA.

The protocol study is the reference trial built through the services (tests/trial): two
randomized subjects with MBI and NIHSS (an untestable item) at baseline, an administration
(unblinded page) and an adverse event. The ODM test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyreadstat
import pytest
from lxml import etree
from typer.testing import CliRunner

from strokecell.cli import app
from strokecell.errors import PermissionDeniedError
from strokecell.interop import read_odm
from strokecell.interop.redcap import read_project
from strokecell.interop.study import export_study, import_odm, import_redcap
from strokecell.interop.study._stats import _map_names
from strokecell.store import Role
from strokecell.trial import (
    context_for,
    list_forms,
    list_sites,
    list_subjects,
    list_visits,
    save_form,
    sign,
)
from trial.conftest import MBI_0, PASSWORD, World
from trial.partb import AE_MILD, adm_items, released_lot, subjects_by_arm
from trial.test_export import NIHSS

from .conftest import REDCAP
from .test_study_import import PW, fresh_db, study_state


def _trial(world: World) -> dict[str, str]:
    from strokecell.trial import record_administration, report_adverse_event

    arms = subjects_by_arm(world)
    rater = world.ctx(Role.BLINDED_ASSESSOR)
    for code in arms.values():
        save_form(world.db, rater, code, "mbi", {**MBI_0, "feeding": 5},
                  visit_code="baseline", assessment_date=world.clock.now.date())
        save_form(world.db, rater, code, "nihss", NIHSS, visit_code="baseline")
    save_form(world.db, world.ctx(Role.INVESTIGATOR), arms["control"], "consent",
              {"consent_date": "2026-05-03", "consent_form_version": "v2.1",
               "consented_by": "patient", "copy_given": True}, visit_code="baseline")
    released_lot(world)
    record_administration(world.db, world.ctx(Role.CELL_LAB, "ALL"), arms["transplant"],
                          adm_items(world))
    report_adverse_event(world.db, world.ctx(Role.INVESTIGATOR), arms["control"], AE_MILD)
    sign(world.db, world.ctx(Role.INVESTIGATOR), password=PASSWORD,
         subject_code=arms["control"], scope="form", form_code="consent",
         visit_code="baseline")
    return arms


def _forms(db: Any, ctx: Any) -> dict[tuple[str, str | None, str, int], dict[str, Any]]:
    out = {}
    for subj in list_subjects(db, ctx):
        for f in list_forms(db, ctx, subj.subject_code):
            out[(subj.subject_code, f.visit_code, f.form_code, f.repeat_index)] = dict(f.items)
    return out


def test_odm_export_validates_and_imports_back_into_an_equal_study(
        world: World, tmp_path: Path, odm_schema: etree.XMLSchema) -> None:
    arms = _trial(world)
    stat = world.ctx(Role.STATISTICIAN, "ALL")
    result = export_study(world.db, stat, "odm", tmp_path / "study.xml")
    xml = Path(result.files["study.xml"]).read_bytes()
    doc = etree.fromstring(xml)
    assert odm_schema.validate(doc), odm_schema.error_log
    ns = {"o": "http://www.cdisc.org/ns/odm/v1.3"}
    # metadata: the scales' grids as CodeLists (NIHSS with UN), AdminData users and sites
    assert doc.xpath("//o:CodeList/o:CodeListItem[@CodedValue='UN']", namespaces=ns)
    assert {e.get("OID") for e in doc.xpath("//o:AdminData/o:Location", namespaces=ns)} \
        == {"S01", "S02"}
    assert doc.xpath("//o:AdminData/o:User[@OID='investigator.s01']", namespaces=ns)
    # clinical data with the audit trail per value and the signature
    audits = doc.xpath("//o:ItemData/o:AuditRecord", namespaces=ns)
    assert audits and all(a.find("o:UserRef", ns) is not None for a in audits)
    assert doc.xpath("//o:FormData[@FormOID='F.consent']/o:Signature", namespaces=ns)
    # blinded: no administration page, no arm anywhere
    assert b"F.administration" not in xml and b"transplant" not in xml
    assert arms["transplant"].encode() in xml  # the subject is there, its arm is not
    # back into a new study: the same subjects, visits, forms and values
    project = read_odm(xml)
    assert {r.record_id for r in project.records} == set(arms.values())
    db2 = fresh_db(tmp_path, "odm-back") if world.db.dialect.name == "sqlite" else None
    if db2 is None:
        return  # PostgreSQL: export and schema checked; the re-import runs on SQLite
    back = import_odm(db2, Path(result.files["study.xml"]), username="importer",
                      password=PW, study_code="ODM-BACK")
    assert back.imported, back.report.errors
    ctx2 = context_for(db2, "importer", study_code="ODM-BACK", role=Role.DATA_MANAGER)
    before = {k: v for k, v in _forms(world.db, stat).items() if k[2] != "administration"}
    after = _forms(db2, ctx2)
    assert before == after
    assert [s.code for s in list_sites(db2, ctx2)] == ["S01", "S02"]
    visits = {(s.subject_code, v.code, v.number)
              for s in list_subjects(world.db, stat) for v in list_visits(world.db, stat,
                                                                           s.subject_code)}
    visits2 = {(s.subject_code, v.code, v.number)
               for s in list_subjects(db2, ctx2) for v in list_visits(db2, ctx2,
                                                                      s.subject_code)}
    assert visits == visits2


def test_redcap_export_of_a_protocol_study_reimports(world: World, tmp_path: Path) -> None:
    if world.db.dialect.name != "sqlite":
        pytest.skip("SQLite only (the ODM test covers PostgreSQL)")
    _trial(world)
    stat = world.ctx(Role.STATISTICIAN, "ALL")
    export_study(world.db, stat, "redcap", tmp_path / "rc")
    project = read_project(tmp_path / "rc").project
    nihss = project.dictionary["nihss_5a_motor_arm_left"]
    assert nihss.field_type == "radio" and "UN" in nihss.codes
    assert project.dictionary["mbi_total"].field_type == "calc"
    values = [e.values for r in project.records for e in r.entries if e.form == "mbi"]
    assert values and all(v["mbi_total"] == Decimal(5) for v in values)
    db2 = fresh_db(tmp_path, "rc-back")
    back = import_redcap(db2, tmp_path / "rc", username="importer", password=PW)
    assert back.imported, back.report.errors
    ctx2 = context_for(db2, "importer", study_code=back.study_code or "",
                       role=Role.DATA_MANAGER)
    before = {k: v for k, v in _forms(world.db, stat).items() if k[2] != "administration"}
    assert _forms(db2, ctx2) == before


def test_statistical_files_read_back_with_labels_and_values(world: World,
                                                            tmp_path: Path) -> None:
    if world.db.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    arms = _trial(world)
    stat = world.ctx(Role.STATISTICIAN, "ALL")
    for fmt, reader in (("xpt", pyreadstat.read_xport), ("sav", pyreadstat.read_sav),
                        ("dta", pyreadstat.read_dta)):
        result = export_study(world.db, stat, fmt, tmp_path / fmt)
        with Path(result.files["name_map"]).open(encoding="utf-8") as handle:
            names = {r["dataset"] + "." + r["variable"]: r for r in csv.DictReader(handle)}
        frame, meta = reader(result.files["mbi"])
        col = names["mbi.feeding"]["name"]
        assert frame[col].tolist() == [5.0, 5.0]
        assert meta.column_names_to_labels[col] == names["mbi.feeding"]["label"][
            :40 if fmt == "xpt" else 256]
        if fmt != "xpt":  # XPT has no value labels (they are in name_map.csv)
            assert meta.variable_value_labels[col][10 if fmt == "dta" else 10.0]
        frame, meta = reader(result.files["nihss"])
        un = names["nihss.5a_motor_arm_left"]["name"]
        assert set(frame[un]) == {"UN"}  # untestable stays UN, never 0
        frame, meta = reader(result.files["subjects"])
        ids = names["subjects.USUBJID"]["name"]
        assert sorted(frame[ids]) == sorted(arms.values())
        assert not any("ARM" in c for c in frame.columns)  # blinded: no arm
        assert "administration" not in result.files
        if fmt == "xpt":
            assert all(len(c) <= 8 for c in frame.columns)
            assert len(names["nihss.5a_motor_arm_left"]["name"]) <= 8


def test_name_mapping_is_deterministic_and_unique() -> None:
    names = ["nihss_5a_motor_arm_left", "nihss_5b_motor_arm_right", "1a_loc", "USUBJID"]
    first = _map_names(names, 8, True)
    assert first == _map_names(names, 8, True)
    assert first["1a_loc"] == "V1A_LOC" and first["USUBJID"] == "USUBJID"
    assert first["nihss_5a_motor_arm_left"] == "NIHSS_5A"
    assert first["nihss_5b_motor_arm_right"] == "NIHSS_5B"
    clash = _map_names(["abcdefghij", "abcdefghik"], 8, True)
    assert clash == {"abcdefghij": "ABCDEFGH", "abcdefghik": "ABCDEF_2"}


def test_export_command_formats(world: World, tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    if world.db.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    _trial(world)
    world.ctx(Role.STATISTICIAN, "ALL")
    url = world.db.url.render_as_string(hide_password=False)
    monkeypatch.setenv("SC_TEST_PASSWORD", PASSWORD)
    base = ["export", "--db", url, "--username", "statistician.all", "--password-env",
            "SC_TEST_PASSWORD", "--json"]
    for fmt in ("odm", "redcap", "sav"):
        result = CliRunner().invoke(app, [*base, "--format", fmt, "--out",
                                          str(tmp_path / fmt)])
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["format"] == fmt
    default = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "csv")])
    assert default.exit_code == 0, default.output
    assert (tmp_path / "csv" / "observations.parquet").exists()
    bad = CliRunner().invoke(app, [*base, "--format", "odm", "--unblinded", "--out",
                                   str(tmp_path / "x")])
    assert bad.exit_code != 0


def test_export_needs_the_export_role(world: World, tmp_path: Path) -> None:
    if world.db.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    with pytest.raises(PermissionDeniedError):
        export_study(world.db, world.ctx(Role.INVESTIGATOR), "odm", tmp_path / "x")


def test_imported_study_exports_to_every_format(tmp_path: Path,
                                                odm_schema: etree.XMLSchema) -> None:
    db = fresh_db(tmp_path, "dag")
    result = import_redcap(db, REDCAP / "dag", username="importer", password=PW)
    ctx = context_for(db, "importer", study_code=result.study_code or "",
                      role=Role.DATA_MANAGER)
    odm = export_study(db, ctx, "odm", tmp_path / "odm")
    assert odm_schema.validate(etree.parse(next(iter(odm.files.values()))))
    for fmt in ("xpt", "sav", "dta"):
        out = export_study(db, ctx, fmt, tmp_path / fmt)
        assert Path(out.files["subjects"]).exists()
    state = study_state(db, ctx)
    assert {s for s, *_ in state} == {"331-1", "331-2", "332-3"}
