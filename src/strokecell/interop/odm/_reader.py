"""Reading back an ODM 1.3.2 file that :func:`write_odm` wrote, into an equal project.

The REDCap metadata comes from the ``Alias`` elements (see :mod:`._common`); values are
validated with the same field validation as every import, so a hand-edited file that breaks a
field's rules is refused with the record and field named.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from strokecell.errors import InputError, Problem
from strokecell.interop._model import (
    Arm,
    AuditInfo,
    Choice,
    Dictionary,
    Event,
    Field,
    FormEntry,
    Location,
    Project,
    Record,
    RepeatSetting,
    Signature,
    SignatureDef,
    User,
    Value,
)
from strokecell.interop.odm._common import (
    ALIAS_PREFIX,
    ALIASED,
    DEFAULT_EVENT,
    ODM,
    SLIDER_LABELS,
    parse_stamp,
)
from strokecell.interop.redcap._records import checkbox_column
from strokecell.interop.redcap._validation import validate_value

__all__ = ["read_odm"]


def _aliases(e: ET.Element) -> list[tuple[str, str]]:
    return [(a.get("Context", "").removeprefix(ALIAS_PREFIX), a.get("Name", ""))
            for a in e.findall(f"{ODM}Alias")]


def _alias(e: ET.Element, context: str, default: str = "") -> str:
    for c, n in _aliases(e):
        if c == context:
            return n
    return default


def read_odm(source: bytes | str | Path) -> Project:
    """The project in an ODM file written by :func:`write_odm`."""
    try:
        data = source.read_bytes() if isinstance(source, Path) else (
            source.encode("utf-8") if isinstance(source, str) else source)
        root = ET.fromstring(data)
    except (ET.ParseError, OSError) as exc:
        raise InputError(Problem("ODM file", f"cannot read: {exc}")) from exc
    study = root.find(f"{ODM}Study")
    mdv = study.find(f"{ODM}MetaDataVersion") if study is not None else None
    if study is None or mdv is None:
        raise InputError(Problem("ODM file", "no Study/MetaDataVersion"))
    title = study.findtext(f"{ODM}GlobalVariables/{ODM}StudyName") or ""
    dictionary = _dictionary(mdv)
    events, arms, repeating = _events(mdv)
    users, locations, sigdefs = _admin(root)
    records = _records(root, dictionary, repeating)
    return Project(title, dictionary, arms, events, repeating,
                   tuple(loc.oid for loc in locations), records, users, locations, sigdefs,
                   study.get("OID", ""))


def _dictionary(mdv: ET.Element) -> Dictionary:
    codelists = {
        cl.get("OID", ""): tuple(
            Choice(ci.get("CodedValue", ""),
                   ci.findtext(f"{ODM}Decode/{ODM}TranslatedText") or "")
            for ci in cl.findall(f"{ODM}CodeListItem"))
        for cl in mdv.findall(f"{ODM}CodeList")}
    fields: list[Field] = []
    for item in mdv.findall(f"{ODM}ItemDef"):
        aliases = dict(_aliases(item))
        if "variable" not in aliases:
            continue
        name = aliases["variable"]
        kwargs: dict[str, object] = {}
        for context, attr in ALIASED:
            if context in aliases:
                kwargs[attr] = aliases[context] == "y" if attr in (
                    "identifier", "required", "matrix_ranking") else aliases[context]
        sliders = tuple(aliases[k] for k in sorted(aliases) if k.startswith(SLIDER_LABELS))
        choices = codelists.get(f"CL.{name}", ())
        fields.append(Field(name=name, form=aliases.get("form", ""),
                            field_type=str(kwargs.pop("field_type", "text")),
                            label=aliases.get("label", ""), choices=choices,
                            slider_labels=sliders, **kwargs))  # type: ignore[arg-type]
    labels = {_alias(fd, "form_name"): fd.get("Name", "") for fd in mdv.findall(f"{ODM}FormDef")}
    return Dictionary(tuple(fields), labels)


def _events(mdv: ET.Element) -> tuple[tuple[Event, ...], tuple[Arm, ...],
                                      tuple[RepeatSetting, ...]]:
    events: list[Event] = []
    arms: dict[int, Arm] = {}
    repeating: list[RepeatSetting] = []
    for sed in mdv.findall(f"{ODM}StudyEventDef"):
        oid = sed.get("OID", "")
        if oid == DEFAULT_EVENT:
            continue
        name = oid.removeprefix("SE.")
        arm_text = _alias(sed, "arm", "1|")
        number, _, arm_name = arm_text.partition("|")
        arms.setdefault(int(number), Arm(int(number), arm_name))
        offset = _alias(sed, "day_offset")
        forms = () if _alias(sed, "forms") == "unmapped" else tuple(
            fr.get("FormOID", "").removeprefix("F.") for fr in sed.findall(f"{ODM}FormRef"))
        events.append(Event(name, sed.get("Name", ""), int(number),
                            int(offset) if offset else None, forms, _alias(sed, "event_id")))
        if sed.get("Repeating") == "Yes":
            repeating.append(RepeatSetting(name, None))
    for fd in mdv.findall(f"{ODM}FormDef"):
        for context, value in _aliases(fd):
            if context == "repeat":
                event, _, label = value.partition("|")
                repeating.append(RepeatSetting(event or None, _alias(fd, "form_name"), label))
    return tuple(events), tuple(arms.values()), tuple(repeating)


def _admin(root: ET.Element) -> tuple[tuple[User, ...], tuple[Location, ...],
                                      tuple[SignatureDef, ...]]:
    users: list[User] = []
    locations: list[Location] = []
    sigdefs: list[SignatureDef] = []
    for admin in root.findall(f"{ODM}AdminData"):
        for u in admin.findall(f"{ODM}User"):
            users.append(User(u.get("OID", ""), u.findtext(f"{ODM}FirstName") or "",
                              u.findtext(f"{ODM}LastName") or ""))
        for loc in admin.findall(f"{ODM}Location"):
            locations.append(Location(loc.get("OID", ""), loc.get("Name", "")))
        for sd in admin.findall(f"{ODM}SignatureDef"):
            sigdefs.append(SignatureDef(
                sd.get("OID", ""), sd.findtext(f"{ODM}Meaning") or "",
                sd.findtext(f"{ODM}LegalReason") or "",
                "Digital" if sd.get("Methodology") == "Digital" else "Electronic"))
    return tuple(users), tuple(locations), tuple(sigdefs)


def _typed(f: Field, text: str, where: str) -> Value:
    if f.field_type == "text" and f.validation.startswith("datetime"):
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            pass
    if "comma" in f.validation:
        text = text.replace(".", ",")
    value = validate_value(f, text)
    if isinstance(value, Problem):
        raise InputError(Problem(where, value.message, text, value.allowed))
    return value


def _records(root: ET.Element, d: Dictionary,
             repeating: tuple[RepeatSetting, ...]) -> tuple[Record, ...]:
    checkbox_items: dict[str, tuple[str, str]] = {}
    for f in d:
        if f.field_type == "checkbox":
            for c in f.choices:
                checkbox_items[checkbox_column(f, c.code)] = (f.name, c.code)
    records: list[Record] = []
    for subject in root.iter(f"{ODM}SubjectData"):
        rid = subject.get("SubjectKey", "")
        site = subject.find(f"{ODM}SiteRef")
        entries: list[FormEntry] = []
        for sed in subject.findall(f"{ODM}StudyEventData"):
            oid = sed.get("StudyEventOID", "")
            event = None if oid == DEFAULT_EVENT else oid.removeprefix("SE.")
            event_key = sed.get("StudyEventRepeatKey")
            for fd in sed.findall(f"{ODM}FormData"):
                form = fd.get("FormOID", "").removeprefix("F.")
                key = fd.get("FormRepeatKey") or event_key
                entries.append(_entry(fd, d, rid, event, form, int(key) if key else None,
                                      checkbox_items))
        records.append(Record(rid, tuple(entries),
                              site.get("LocationOID") if site is not None else None))
    return tuple(records)


def _entry(fd: ET.Element, d: Dictionary, rid: str, event: str | None, form: str,
           instance: int | None, checkbox_items: Mapping[str, tuple[str, str]]) -> FormEntry:
    values: dict[str, Value] = {}
    audit: dict[str, AuditInfo] = {}
    status: int | None = None
    checked: dict[str, set[str]] = {}
    for item in fd.iter(f"{ODM}ItemData"):
        name = item.get("ItemOID", "").removeprefix("I.")
        text = item.get("Value", "")
        where = f"record {rid}, field {name}"
        if name == f"{form}_complete":
            status = int(text)
        elif name in checkbox_items:
            field_name, code = checkbox_items[name]
            chosen = checked.setdefault(field_name, set())
            if text == "1":
                chosen.add(code)
        elif name in d:
            values[name] = _typed(d[name], text, where)
        else:
            raise InputError(Problem(where, "item not defined in the metadata", name))
        ar = item.find(f"{ODM}AuditRecord")
        if ar is not None:
            user = ar.find(f"{ODM}UserRef")
            loc = ar.find(f"{ODM}LocationRef")
            audit[name] = AuditInfo(
                user.get("UserOID", "") if user is not None else "",
                loc.get("LocationOID", "") if loc is not None else "",
                parse_stamp(ar.findtext(f"{ODM}DateTimeStamp") or ""),
                ar.findtext(f"{ODM}ReasonForChange") or "", ar.findtext(f"{ODM}SourceID") or "")
    for field_name, codes in checked.items():
        values[field_name] = frozenset(codes)
    order = {f.name: i for i, f in enumerate(d)}
    values = dict(sorted(values.items(), key=lambda kv: order.get(kv[0], 0)))
    signature: Signature | None = None
    sig = fd.find(f"{ODM}Signature")
    if sig is not None:
        def ref(tag: str, attr: str) -> str:
            e = sig.find(f"{ODM}{tag}") if sig is not None else None
            return e.get(attr, "") if e is not None else ""
        signature = Signature(ref("UserRef", "UserOID"), ref("LocationRef", "LocationOID"),
                              ref("SignatureRef", "SignatureOID"),
                              parse_stamp(sig.findtext(f"{ODM}DateTimeStamp") or ""))
    return FormEntry(form, values, event, instance, status, audit, signature)
