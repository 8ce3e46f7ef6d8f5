"""CDISC ODM 1.3.2 export of the neutral model (a Snapshot file).

Layout::

    ODM (FileOID, CreationDateTime, ODMVersion 1.3.2, FileType Snapshot)
      Study / GlobalVariables, BasicDefinitions (MeasurementUnit), MetaDataVersion
        Protocol (StudyEventRef per event), StudyEventDef (FormRef), FormDef (one ItemGroupRef),
        ItemGroupDef (ItemRef per item), ItemDef (DataType, Question, MeasurementUnitRef,
        RangeCheck, CodeListRef, Alias), CodeList (every choice list, form status)
      AdminData / User, Location (sites: data access groups), SignatureDef
      ClinicalData / SubjectData (SiteRef) / StudyEventData / FormData (Signature) /
        ItemGroupData / ItemData (AuditRecord: UserRef, LocationRef, DateTimeStamp,
        ReasonForChange)

A project that is not longitudinal gets one event, ``SE.DEFAULT``. A checkbox is one boolean
item per option (``I.race___1``) plus the CodeList of its options; a form's status is the item
``<form>_complete`` with its CodeList, as REDCap exports it. Ranges are soft checks (REDCap's);
a slider's is hard.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from datetime import UTC, datetime

from strokecell.interop._model import AuditInfo, Field, FormEntry, Location, Project, Value
from strokecell.interop.odm._common import (
    ALIAS_PREFIX,
    ALIASED,
    MDV_OID,
    NS,
    SLIDER_LABELS,
    STATUS_CHOICES,
    codelist_oid,
    data_type,
    event_oid,
    form_oid,
    group_oid,
    item_oid,
    stamp,
    unit_oid,
)
from strokecell.interop.redcap._records import checkbox_column
from strokecell.interop.redcap._validation import format_value

__all__ = ["odm_value", "write_odm"]


def _el(parent: ET.Element, tag: str, attrib: dict[str, str] | None = None,
        text: str | None = None) -> ET.Element:
    e = ET.SubElement(parent, tag, attrib or {})
    if text is not None:
        e.text = text
    return e


def _translated(parent: ET.Element, tag: str, text: str) -> None:
    _el(_el(parent, tag), "TranslatedText", {"xml:lang": "en"}, text)


def odm_value(f: Field, value: Value) -> str:
    """A typed value as ODM text: ISO dates and date-times, decimal point, ``1``/``0``."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S")
    text = format_value(f, value)
    return text.replace(",", ".") if "comma" in f.validation and not isinstance(
        value, str) else text


def _locations(project: Project) -> list[Location]:
    known = {loc.oid: loc for loc in project.locations}
    for dag in project.dags:
        known.setdefault(dag, Location(dag, dag))
    for r in project.records:
        if r.dag:
            known.setdefault(r.dag, Location(r.dag, r.dag))
    return list(known.values())


def write_odm(project: Project, *, file_oid: str = "", created: datetime | None = None,
              source_system: str = "strokecell") -> bytes:
    """The project as an ODM 1.3.2 Snapshot document (UTF-8 bytes)."""
    created = created or datetime.now(UTC).replace(microsecond=0)
    study_oid = project.oid or "S." + "".join(
        c if c.isalnum() else "_" for c in (project.title or "study"))
    root = ET.Element("ODM", {
        "xmlns": NS, "FileType": "Snapshot", "FileOID": file_oid or f"{study_oid}.export",
        "CreationDateTime": stamp(created), "ODMVersion": "1.3.2", "SourceSystem": source_system,
        "Granularity": "All",
    })
    study = _el(root, "Study", {"OID": study_oid})
    gv = _el(study, "GlobalVariables")
    _el(gv, "StudyName", text=project.title or study_oid)
    _el(gv, "StudyDescription", text=project.title or study_oid)
    _el(gv, "ProtocolName", text=project.title or study_oid)
    units = sorted({f.unit for f in project.dictionary if f.unit})
    if units:
        basic = _el(study, "BasicDefinitions")
        for unit in units:
            mu = _el(basic, "MeasurementUnit", {"OID": unit_oid(unit), "Name": unit})
            _translated(mu, "Symbol", unit)
    _metadata(_el(study, "MetaDataVersion", {"OID": MDV_OID, "Name": "Version 1"}), project)
    _admin(root, project, study_oid)
    _clinical(root, project, study_oid)
    ET.indent(root)
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data


def _metadata(mdv: ET.Element, project: Project) -> None:
    d = project.dictionary
    events = project.events or ()
    protocol = _el(mdv, "Protocol")
    for i, e in enumerate(events or [None], start=1):
        _el(protocol, "StudyEventRef", {"StudyEventOID": event_oid(e.unique_name if e else None),
                                        "OrderNumber": str(i), "Mandatory": "No"})
    all_forms = [fm.name for fm in d.forms]
    for e in events or [None]:
        name = e.unique_name if e else None
        repeating = any(s.form is None and s.event == name for s in project.repeating)
        sed = _el(mdv, "StudyEventDef", {
            "OID": event_oid(name), "Name": (e.label if e else "") or (name or "Default event"),
            "Repeating": "Yes" if repeating else "No", "Type": "Scheduled" if e else "Common"})
        for i, form_name in enumerate((e.forms if e and e.forms else all_forms), start=1):
            _el(sed, "FormRef", {"FormOID": form_oid(form_name), "OrderNumber": str(i),
                                 "Mandatory": "No"})
        if e is not None:
            _alias(sed, "arm", f"{e.arm}|{_arm_name(project, e.arm)}")
            if e.day_offset is not None:
                _alias(sed, "day_offset", str(e.day_offset))
            if e.event_id:
                _alias(sed, "event_id", e.event_id)
            if not e.forms:
                _alias(sed, "forms", "unmapped")
    for form_def in d.forms:
        repeats = [s for s in project.repeating if s.form == form_def.name]
        fd = _el(mdv, "FormDef", {"OID": form_oid(form_def.name),
                                  "Name": form_def.label or form_def.name,
                                  "Repeating": "Yes" if repeats else "No"})
        _el(fd, "ItemGroupRef", {"ItemGroupOID": group_oid(form_def.name), "Mandatory": "Yes"})
        _alias(fd, "form_name", form_def.name)
        for s in repeats:
            _alias(fd, "repeat", f"{s.event or ''}|{s.label}")
    for form in d.forms:
        ig = _el(mdv, "ItemGroupDef", {"OID": group_oid(form.name), "Name": form.name,
                                       "Repeating": "No"})
        for order, oid, mandatory in _item_refs(project, form.name):
            _el(ig, "ItemRef", {"ItemOID": oid, "OrderNumber": str(order),
                                "Mandatory": "Yes" if mandatory else "No"})
    for f in d:
        _item_defs(mdv, f)
    for form in d.forms:
        _status_def(mdv, form.name)
    for f in d:
        if f.choices:
            cl = _el(mdv, "CodeList", {"OID": codelist_oid(f.name), "Name": f.name,
                                       "DataType": "integer" if data_type(f) == "integer"
                                       and f.field_type != "checkbox" else "text"})
            for c in f.choices:
                _translated(_el(cl, "CodeListItem", {"CodedValue": c.code}), "Decode", c.label)
    for form in d.forms:
        cl = _el(mdv, "CodeList", {"OID": codelist_oid(f"{form.name}_complete"),
                                   "Name": f"{form.name}_complete", "DataType": "integer"})
        for code, label in STATUS_CHOICES:
            _translated(_el(cl, "CodeListItem", {"CodedValue": code}), "Decode", label)


def _arm_name(project: Project, number: int) -> str:
    for a in project.arms:
        if a.number == number:
            return a.name
    return ""


def _item_refs(project: Project, form: str) -> Iterable[tuple[int, str, bool]]:
    order = 1
    for f in project.dictionary.form_fields(form):
        oids = ([item_oid(checkbox_column(f, c.code)) for c in f.choices]
                if f.field_type == "checkbox" else [item_oid(f.name)])
        for oid in oids:
            yield order, oid, f.required
            order += 1
    yield order, item_oid(f"{form}_complete"), False


def _alias(parent: ET.Element, context: str, name: str) -> None:
    _el(parent, "Alias", {"Context": ALIAS_PREFIX + context, "Name": name})


def _item_defs(mdv: ET.Element, f: Field) -> None:
    options = ([(checkbox_column(f, c.code), c) for c in f.choices]
               if f.field_type == "checkbox" else [(f.name, None)])
    for name, choice in options:
        item = _el(mdv, "ItemDef", {"OID": item_oid(name), "Name": name,
                                    "DataType": "boolean" if choice else data_type(f)})
        label = f"{f.label} [{choice.label}]" if choice else f.label
        _translated(item, "Question", label)
        if f.unit:
            _el(item, "MeasurementUnitRef", {"MeasurementUnitOID": unit_oid(f.unit)})
        if choice is None:
            _range_checks(item, f)
            if f.choices:
                _el(item, "CodeListRef", {"CodeListOID": codelist_oid(f.name)})
        else:
            _alias(item, "checkbox", f"{f.name}|{choice.code}")
            if choice is not f.choices[0]:
                continue
        _alias(item, "variable", f.name)
        _alias(item, "form", f.form)
        _alias(item, "label", f.label)
        for context, attr in ALIASED:
            value = getattr(f, attr)
            if isinstance(value, bool):
                if value:
                    _alias(item, context, "y")
            elif value:
                _alias(item, context, value)
        for i, text in enumerate(f.slider_labels):
            _alias(item, f"{SLIDER_LABELS}{i}", text)


def _range_checks(item: ET.Element, f: Field) -> None:
    low, high = f.validation_min, f.validation_max
    soft = "Soft"
    if f.field_type == "slider":
        low, high, soft = low or "0", high or "100", "Hard"
    if data_type(f) not in ("integer", "float", "date", "datetime", "time"):
        return
    for comparator, value in (("GE", low), ("LE", high)):
        if value and value not in ("today", "now"):
            check = _el(item, "RangeCheck", {"Comparator": comparator, "SoftHard": soft})
            _el(check, "CheckValue", text=value)
            _translated(check, "ErrorMessage", f"{f.name}: outside {low or '-'} to "
                        f"{high or '-'}")


def _status_def(mdv: ET.Element, form: str) -> None:
    item = _el(mdv, "ItemDef", {"OID": item_oid(f"{form}_complete"), "Name": f"{form}_complete",
                                "DataType": "integer"})
    _translated(item, "Question", "Complete?")
    _el(item, "CodeListRef", {"CodeListOID": codelist_oid(f"{form}_complete")})
    _alias(item, "form_status", form)


def _admin(root: ET.Element, project: Project, study_oid: str) -> None:
    locations = _locations(project)
    if not (project.users or locations or project.signature_defs):
        return
    admin = _el(root, "AdminData", {"StudyOID": study_oid})
    for u in project.users:
        user = _el(admin, "User", {"OID": u.oid})
        _el(user, "LoginName", text=u.oid)
        if u.first_name:
            _el(user, "FirstName", text=u.first_name)
        if u.last_name:
            _el(user, "LastName", text=u.last_name)
    for loc in locations:
        location = _el(admin, "Location", {"OID": loc.oid, "Name": loc.name or loc.oid,
                                           "LocationType": "Site"})
        _el(location, "MetaDataVersionRef", {"StudyOID": study_oid,
                                             "MetaDataVersionOID": MDV_OID,
                                             "EffectiveDate": "2000-01-01"})
    for sd in project.signature_defs:
        sig = _el(admin, "SignatureDef", {"OID": sd.oid, "Methodology": sd.methodology})
        _el(sig, "Meaning", text=sd.meaning)
        _el(sig, "LegalReason", text=sd.legal_reason)


def _audit(parent: ET.Element, info: AuditInfo) -> None:
    record = _el(parent, "AuditRecord")
    _el(record, "UserRef", {"UserOID": info.user})
    _el(record, "LocationRef", {"LocationOID": info.location})
    _el(record, "DateTimeStamp", text=stamp(info.timestamp))
    if info.reason:
        _el(record, "ReasonForChange", text=info.reason)
    if info.source_id:
        _el(record, "SourceID", text=info.source_id)


def _clinical(root: ET.Element, project: Project, study_oid: str) -> None:
    clinical = _el(root, "ClinicalData", {"StudyOID": study_oid, "MetaDataVersionOID": MDV_OID})
    for record in project.records:
        subject = _el(clinical, "SubjectData", {"SubjectKey": record.record_id})
        if record.dag:
            _el(subject, "SiteRef", {"LocationOID": record.dag})
        by_event: dict[tuple[str | None, int | None], list[FormEntry]] = {}
        for entry in record.entries:
            event_repeats = any(s.form is None and s.event == entry.event
                                for s in project.repeating)
            key = (entry.event, entry.instance if event_repeats else None)
            by_event.setdefault(key, []).append(entry)
        for (event, event_instance), entries in by_event.items():
            attrs = {"StudyEventOID": event_oid(event)}
            if event_instance is not None:
                attrs["StudyEventRepeatKey"] = str(event_instance)
            sed = _el(subject, "StudyEventData", attrs)
            for entry in entries:
                _form_data(sed, project, entry, event_instance is None)


def _form_data(sed: ET.Element, project: Project, entry: FormEntry, own_instance: bool) -> None:
    attrs = {"FormOID": form_oid(entry.form)}
    if own_instance and entry.instance is not None:
        attrs["FormRepeatKey"] = str(entry.instance)
    fd = _el(sed, "FormData", attrs)
    if entry.signature is not None:
        s = entry.signature
        sig = _el(fd, "Signature")
        _el(sig, "UserRef", {"UserOID": s.user})
        _el(sig, "LocationRef", {"LocationOID": s.location})
        _el(sig, "SignatureRef", {"SignatureOID": s.signature_def})
        _el(sig, "DateTimeStamp", text=stamp(s.timestamp))
    ig = _el(fd, "ItemGroupData", {"ItemGroupOID": group_oid(entry.form)})
    d = project.dictionary
    for f in d.form_fields(entry.form):
        if f.name not in entry.values:
            continue
        value = entry.values[f.name]
        if f.field_type == "checkbox" and isinstance(value, frozenset):
            for c in f.choices:
                _el(ig, "ItemData", {"ItemOID": item_oid(checkbox_column(f, c.code)),
                                     "Value": "1" if c.code in value else "0"})
            continue
        item = _el(ig, "ItemData", {"ItemOID": item_oid(f.name), "Value": odm_value(f, value)})
        if f.name in entry.audit:
            _audit(item, entry.audit[f.name])
    if entry.status is not None:
        _el(ig, "ItemData", {"ItemOID": item_oid(f"{entry.form}_complete"),
                             "Value": str(entry.status)})
