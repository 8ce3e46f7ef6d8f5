"""CDISC ODM 1.3.2: exports validate against CDISC's schema and read back equal."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from lxml import etree

from strokecell.errors import InputError
from strokecell.interop import (
    AuditInfo,
    Project,
    Record,
    Signature,
    SignatureDef,
    User,
    read_odm,
    write_odm,
)
from strokecell.interop.redcap import CsvOptions, read_project, read_project_xml, scales_project

from .conftest import PROJECTS, REDCAP, WRITTEN_BY_R

NS = {"odm": "http://www.cdisc.org/ns/odm/v1.3"}
WHEN = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)


def _valid(schema: etree.XMLSchema, data: bytes) -> etree._Element:
    doc = etree.fromstring(data)
    assert schema.validate(doc), schema.error_log.last_error
    return doc


@pytest.mark.parametrize("name", PROJECTS)
def test_parsed_projects_export_valid_odm_and_read_back(name: str,
                                                         odm_schema: etree.XMLSchema) -> None:
    options = CsvOptions.written_by_r() if name in WRITTEN_BY_R else None
    for project in (read_project(REDCAP / name, policy="skip_invalid", options=options).project,
                    read_project_xml(REDCAP / name / "project.xml",
                                     policy="skip_invalid").project):
        data = write_odm(project, created=WHEN)
        doc = _valid(odm_schema, data)
        assert doc.get("ODMVersion") == "1.3.2" and doc.get("FileType") == "Snapshot"
        assert read_odm(data) == project


def test_scales_export_valid_odm_with_codelists_and_units(odm_schema: etree.XMLSchema) -> None:
    project = scales_project()
    doc = _valid(odm_schema, write_odm(project, created=WHEN))
    ataxia = doc.find(".//odm:CodeList[@OID='CL.nihss_7_limb_ataxia']", NS)
    assert ataxia is not None
    assert [i.get("CodedValue") for i in ataxia] == ["0", "1", "2", "UN"]
    assert ataxia.get("DataType") == "text"
    loc = doc.find(".//odm:CodeList[@OID='CL.nihss_1a_loc']", NS)
    assert loc is not None and loc.get("DataType") == "integer"
    unit = doc.find(".//odm:BasicDefinitions/odm:MeasurementUnit", NS)
    assert unit is not None and unit.get("Name") == "mL"
    volume = doc.find(".//odm:ItemDef[@OID='I.lesion_volume_lesion_volume']", NS)
    assert volume is not None and volume.get("DataType") == "float"
    assert [c.get("Comparator") for c in volume.findall("odm:RangeCheck", NS)] == ["GE", "LE"]
    assert volume.find("odm:MeasurementUnitRef", NS) is not None
    assert read_odm(write_odm(project)).dictionary == project.dictionary


def _audited() -> Project:
    project = read_project(REDCAP / "dag").project
    records = []
    for r in project.records:
        (entry,) = r.entries
        audit = {"first_name": AuditInfo("u.coordinator", r.dag or "", WHEN,
                                         "typo corrected", "paper CRF p.2")}
        sig = Signature("u.investigator", r.dag or "", "SD.pi", WHEN)
        records.append(Record(r.record_id, (replace(entry, audit=audit, signature=sig),),
                              r.dag))
    return replace(project, records=tuple(records),
                   users=(User("u.coordinator", "Ann", "Lee"), User("u.investigator")),
                   signature_defs=(SignatureDef("SD.pi", "Approval",
                                                "21 CFR Part 11 electronic signature"),))


def test_audit_trail_admin_data_and_signatures(odm_schema: etree.XMLSchema) -> None:
    project = _audited()
    data = write_odm(project, created=WHEN, file_oid="F.test")
    doc = _valid(odm_schema, data)
    assert doc.get("FileOID") == "F.test" and doc.get("CreationDateTime") == "2026-11-26T09:30:00Z"
    admin = doc.find("odm:AdminData", NS)
    assert admin is not None
    assert [u.get("OID") for u in admin.findall("odm:User", NS)] == ["u.coordinator",
                                                                      "u.investigator"]
    assert [(x.get("OID"), x.get("Name")) for x in admin.findall("odm:Location", NS)] == [
        ("daga", "dag-a"), ("dagb", "dag-b")]
    assert admin.find("odm:SignatureDef/odm:LegalReason", NS) is not None
    audit = doc.find(".//odm:ItemData[@ItemOID='I.first_name']/odm:AuditRecord", NS)
    assert audit is not None
    assert audit.findtext("odm:ReasonForChange", namespaces=NS) == "typo corrected"
    assert audit.find("odm:UserRef", NS).get("UserOID") == "u.coordinator"  # type: ignore[union-attr]
    assert doc.find(".//odm:SubjectData/odm:SiteRef", NS).get("LocationOID") == "daga"  # type: ignore[union-attr]
    assert doc.find(".//odm:FormData/odm:Signature/odm:SignatureRef", NS) is not None
    assert read_odm(data) == project


def test_longitudinal_repeating_and_typed_values(odm_schema: etree.XMLSchema) -> None:
    project = read_project(REDCAP / "longitudinal").project
    doc = _valid(odm_schema, write_odm(project))
    events = doc.findall(".//odm:Protocol/odm:StudyEventRef", NS)
    assert len(events) == 12
    height = doc.find(".//odm:ItemDef[@OID='I.height']", NS)
    assert height is not None and height.get("DataType") == "float"
    rep = read_project(REDCAP / "repeating-instruments").project
    rdoc = _valid(odm_schema, write_odm(rep))
    keys = [f.get("FormRepeatKey") for f in rdoc.findall(".//odm:FormData[@FormOID='F.bp']", NS)]
    assert keys == ["1", "2", "3", "1"]
    vt = read_project_xml(REDCAP / "validation-types-1" / "project.xml").project
    (entry,) = vt.records[0].entries
    assert entry.values["f_calculated"] == Decimal(7)


def test_reader_refuses_values_that_break_the_metadata() -> None:
    project = read_project(REDCAP / "clinical-trial-1").project
    data = write_odm(replace(project, records=project.records[:1]))
    broken = data.replace(b'ItemOID="I.dob" Value="1991-05-13"',
                          b'ItemOID="I.dob" Value="13/05/1991"')
    assert broken != data
    with pytest.raises(InputError, match="record 1, field dob"):
        read_odm(broken)
