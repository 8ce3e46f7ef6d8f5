"""REDCap's project XML (CDISC ODM 1.3.1 with ``redcap:`` extensions) into the neutral model.

Metadata: ``MetaDataVersion`` / ``FormDef`` / ``ItemGroupDef`` / ``ItemDef`` with
``redcap:Variable``, ``redcap:FieldType`` (REDCap's internal names: ``textarea`` is notes,
``select`` dropdown), ``redcap:TextValidationType`` (``int``, ``float`` are integer, number),
``redcap:BranchingLogic``, ``redcap:Calculation``, ``redcap:RequiredField``, ``CodeList`` and
``RangeCheck``; events and arms from ``StudyEventDef``; repeating instruments and events and
data access groups from ``GlobalVariables``. A checkbox is one ItemDef per option
(``race___1``) sharing its ``redcap:Variable``; its choices are ``redcap:CheckboxChoices``.

Records: ``ClinicalData`` / ``SubjectData`` (``redcap:DataAccessGroup`` or the
``redcap_data_access_group`` item) / ``StudyEventData`` / ``FormData`` (``FormRepeatKey``) /
``ItemGroupData`` / ``ItemData``; a file's ``ItemDataBase64Binary`` keeps its document name.
They are laid out as the flat export's rows and validated by the same code as a records CSV.

The XML is read with the standard library's expat parser, which refuses external entities and
limits entity expansion.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass

from strokecell.errors import InputError, Problem
from strokecell.interop._model import (
    Arm,
    Choice,
    Dictionary,
    Event,
    Field,
    ImportReport,
    Location,
    Project,
    RepeatSetting,
)
from strokecell.interop.redcap._csv import Source
from strokecell.interop.redcap._dictionary import (
    DictionaryResult,
    check_dictionary,
    normalize_validation,
    parse_choices,
)
from strokecell.interop.redcap._records import Policy, checkbox_column, records_from_rows

__all__ = ["ProjectXml", "read_project_xml", "unique_dag_name"]

ODM = "{http://www.cdisc.org/ns/odm/v1.3}"
RC = "{https://projectredcap.org}"
_TYPES = {"textarea": "notes", "select": "dropdown"}


@dataclass(frozen=True)
class ProjectXml:
    """What a project XML holds: its metadata result, the project with records, the report."""

    metadata: DictionaryResult
    project: Project
    report: ImportReport


def _root(source: Source) -> ET.Element:
    try:
        if isinstance(source, str):
            data = source.encode("utf-8")
        elif isinstance(source, bytes):
            data = source
        else:
            data = source.read_bytes()
        return ET.fromstring(data)
    except ET.ParseError as exc:
        raise InputError(Problem("project XML", f"not well-formed XML: {exc}")) from exc
    except OSError as exc:
        raise InputError(Problem(str(source), f"cannot read the project XML: {exc}")) from exc


def read_project_xml(source: Source, *, policy: Policy = "all_or_nothing",
                     hard_ranges: bool = False) -> ProjectXml:
    """Read metadata and records of a REDCap project XML (path, text or bytes)."""
    root = _root(source)
    study = root.find(f"{ODM}Study")
    if root.tag != f"{ODM}ODM" or study is None:
        raise InputError(Problem("project XML", "not an ODM file with a Study",
                                 root.tag, "a REDCap project XML (ODM 1.3.1)"))
    gv = study.find(f"{ODM}GlobalVariables")
    title = (gv.findtext(f"{ODM}StudyName") if gv is not None else None) or study.get("OID") or ""
    mdv = study.find(f"{ODM}MetaDataVersion")
    if mdv is None:
        raise InputError(Problem("project XML", "no MetaDataVersion"))
    fields, form_labels = _fields(mdv)
    checked = check_dictionary(fields)
    dictionary = Dictionary(checked.dictionary.fields, form_labels)
    metadata = DictionaryResult(dictionary, checked.report, checked.branching,
                                checked.calculations)
    events, arms = _events(mdv)
    repeating, sites = _globals(gv, bool(events))
    dags = tuple(site.oid for site in sites)
    rows = _rows(root, dictionary, bool(events), repeating)
    project, report = records_from_rows(
        rows, dictionary, events=events, arms=arms, repeating=repeating, dags=dags, title=title,
        policy=policy, hard_ranges=hard_ranges, what="project XML")
    return ProjectXml(metadata, Project(
        title, dictionary, project.arms, project.events, tuple(repeating), project.dags,
        project.records, locations=sites, oid=study.get("OID", "")), checked.report.merged(report))


def _fields(mdv: ET.Element) -> tuple[list[Field], dict[str, str]]:
    items = {e.get("OID", ""): e for e in mdv.findall(f"{ODM}ItemDef")}
    groups = {e.get("OID", ""): e for e in mdv.findall(f"{ODM}ItemGroupDef")}
    codelists = {e.get("OID", ""): e for e in mdv.findall(f"{ODM}CodeList")}
    fields: list[Field] = []
    seen: set[str] = set()
    labels: dict[str, str] = {}
    for form in mdv.findall(f"{ODM}FormDef"):
        form_name = form.get(f"{RC}FormName") or form.get("OID", "").removeprefix("Form.")
        labels[form_name] = form.get("Name", form_name)
        for gref in form.findall(f"{ODM}ItemGroupRef"):
            group = groups.get(gref.get("ItemGroupOID", ""))
            if group is None:
                continue
            for iref in group.findall(f"{ODM}ItemRef"):
                item = items.get(iref.get("ItemOID", ""))
                name = iref.get(f"{RC}Variable") or iref.get("ItemOID") or ""
                if (item is None or name in seen or name.startswith("redcap_")
                        or name == f"{form_name}_complete"):
                    continue
                seen.add(name)
                fields.append(_field(item, name, form_name, codelists,
                                     iref.get("Mandatory") == "Yes"))
    return fields, labels


def _field(item: ET.Element, name: str, form: str, codelists: dict[str, ET.Element],
           mandatory: bool) -> Field:
    def rc(attr: str) -> str:
        return item.get(f"{RC}{attr}", "")

    ftype = rc("FieldType") or "text"
    ftype = _TYPES.get(ftype, ftype)
    label = item.findtext(f"{ODM}Question/{ODM}TranslatedText") or ""
    choices: tuple[Choice, ...] = ()
    ref = item.find(f"{ODM}CodeListRef")
    codelist = codelists.get(ref.get("CodeListOID", "")) if ref is not None else None
    if ftype == "checkbox" and codelist is not None:
        choices, _ = parse_choices(codelist.get(f"{RC}CheckboxChoices", ""))
    elif ftype in ("dropdown", "radio") and codelist is not None:
        choices = tuple(
            Choice(ci.get("CodedValue", ""),
                   ci.findtext(f"{ODM}Decode/{ODM}TranslatedText") or "")
            for ci in codelist.findall(f"{ODM}CodeListItem"))
    low = high = ""
    for check in item.findall(f"{ODM}RangeCheck"):
        value = check.findtext(f"{ODM}CheckValue") or ""
        if check.get("Comparator") == "GE":
            low = value
        elif check.get("Comparator") == "LE":
            high = value
    slider = rc("SliderLabels")
    return Field(
        name=name, form=form, field_type=ftype, label=label, section_header=rc("SectionHeader"),
        choices=choices, calculation=rc("Calculation"),
        slider_labels=tuple(p.strip() for p in slider.split("|")) if slider else (),
        field_note=rc("FieldNote"), validation=normalize_validation(rc("TextValidationType")),
        validation_min=low, validation_max=high, identifier=rc("Identifier") == "y",
        branching_logic=rc("BranchingLogic"),
        required=rc("RequiredField") == "y" or mandatory,
        custom_alignment=rc("CustomAlignment"), question_number=rc("QuestionNumber"),
        matrix_group=rc("MatrixGroupName"), matrix_ranking=rc("MatrixRanking") == "y",
        annotation=rc("FieldAnnotation"),
    )


def _events(mdv: ET.Element) -> tuple[tuple[Event, ...], tuple[Arm, ...]]:
    events: list[Event] = []
    arms: dict[int, Arm] = {}
    for sed in mdv.findall(f"{ODM}StudyEventDef"):
        arm = int(sed.get(f"{RC}ArmNum") or 1)
        arms.setdefault(arm, Arm(arm, sed.get(f"{RC}ArmName") or f"Arm {arm}"))
        offset = sed.get(f"{RC}DayOffset")
        events.append(Event(
            sed.get(f"{RC}UniqueEventName") or sed.get("OID", "").removeprefix("Event."),
            sed.get(f"{RC}EventName") or sed.get("Name") or "", arm,
            int(float(offset)) if offset else None,
            tuple(fr.get(f"{RC}FormName") or fr.get("FormOID", "").removeprefix("Form.")
                  for fr in sed.findall(f"{ODM}FormRef"))))
    return tuple(events), tuple(arms.values())


def _globals(gv: ET.Element | None, longitudinal: bool
             ) -> tuple[tuple[RepeatSetting, ...], tuple[Location, ...]]:
    if gv is None:
        return (), ()
    repeating: list[RepeatSetting] = []
    for ri in gv.iter(f"{RC}RepeatingInstrument"):
        repeating.append(RepeatSetting(
            ri.get(f"{RC}UniqueEventName") if longitudinal else None,
            ri.get(f"{RC}RepeatInstrument"), ri.get(f"{RC}CustomLabel", "")))
    for re_ in gv.iter(f"{RC}RepeatingEvent"):
        repeating.append(RepeatSetting(re_.get(f"{RC}UniqueEventName"), None,
                                       re_.get(f"{RC}CustomLabel", "")))
    return tuple(repeating), tuple(
        Location(unique_dag_name(d.get("group_name", "")), d.get("group_name", ""))
        for d in gv.iter(f"{RC}DataAccessGroups"))


def unique_dag_name(display: str) -> str:
    """REDCap's unique name of a data access group: lower case, ``_`` for spaces, only
    letters, digits and ``_``, at most 18 characters (``dag-a`` is ``daga``)."""
    text = re.sub(r"[^a-z0-9_]", "", display.strip().lower().replace(" ", "_"))
    return text[:18]


def _rows(root: ET.Element, dictionary: Dictionary, longitudinal: bool,
          repeating: Sequence[RepeatSetting]) -> list[list[str]]:
    columns: list[str] = [dictionary.record_id]
    if longitudinal:
        columns.append("redcap_event_name")
    columns += ["redcap_repeat_instrument", "redcap_repeat_instance", "redcap_data_access_group"]
    for form_def in dictionary.forms:
        for f in dictionary.form_fields(form_def.name):
            if f.name == dictionary.record_id or f.field_type == "descriptive":
                continue
            if f.field_type == "checkbox":
                columns += [checkbox_column(f, c.code) for c in f.choices]
            else:
                columns.append(f.name)
        columns.append(f"{form_def.name}_complete")
    index = {c: i for i, c in enumerate(columns)}
    rows: dict[tuple[str, str, str, str], list[str]] = {}
    project = Project("", dictionary, repeating=tuple(repeating))
    for subject in root.iter(f"{ODM}SubjectData"):
        key_id = subject.get("SubjectKey", "")
        dag = subject.get(f"{RC}DataAccessGroup", "")
        events = subject.findall(f"{ODM}StudyEventData") or [subject]
        for sed in events:
            event = sed.get(f"{RC}UniqueEventName", "") if longitudinal else ""
            event_repeats = longitudinal and project.is_repeating("", event) and any(
                s.form is None and s.event == event for s in repeating)
            for fd in sed.findall(f"{ODM}FormData"):
                form = fd.get("FormOID", "").removeprefix("Form.")
                rform = rinst = ""
                if event_repeats:
                    rinst = sed.get("StudyEventRepeatKey", "1")
                elif any(s.form == form and (s.event is None or s.event == event)
                         for s in repeating):
                    rform, rinst = form, fd.get("FormRepeatKey", "1")
                row = rows.setdefault((key_id, event, rform, rinst), _blank_row(
                    columns, index, key_id, event, rform, rinst, dag))
                for item in fd.iter():
                    if item.tag == f"{ODM}ItemData":
                        value = item.get("Value", "")
                    elif item.tag == f"{ODM}ItemDataBase64Binary":
                        value = item.get(f"{RC}DocName", "") or "[document]"
                    else:
                        continue
                    oid = item.get("ItemOID", "")
                    if oid in index:
                        row[index[oid]] = value
    return [columns, *rows.values()]


def _blank_row(columns: list[str], index: dict[str, int], record: str, event: str, rform: str,
               rinst: str, dag: str) -> list[str]:
    row = [""] * len(columns)
    row[0] = record
    if "redcap_event_name" in index:
        row[index["redcap_event_name"]] = event
    row[index["redcap_repeat_instrument"]] = rform
    row[index["redcap_repeat_instance"]] = rinst
    row[index["redcap_data_access_group"]] = dag
    return row
