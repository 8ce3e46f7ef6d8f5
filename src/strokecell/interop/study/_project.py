"""A strokecell study as the neutral model, for the REDCap and ODM writers.

- A study **imported** from REDCap goes back as it came: the dictionary, events, arms,
  repeating settings and data access groups kept with its design; values rebuilt from the
  text kept as entered (``raw_text``) by part 1's validator, so types, choices and exact
  decimals survive; forms mapped to scales get their fields back from the mapping.
- A **protocol** study: one record id field ``usubjid``; each scale as part 1's REDCap
  instrument (items as radio fields, the total as calc); each CRF page as an instrument of
  generic fields annotated ``@strokecell crf=<page> item=<field>`` (so a re-import maps them
  back); one event per visit (``<visit>_arm_1``, day offset = target day) and
  ``unscheduled_arm_1`` for the forms outside visits (adverse events, medications; repeating).
  Sites are data access groups. Blinded exports leave out the pages only unblinded roles see
  (the administration page) and carry no arm.

Audit: each value carries the last audit row of its item (user, time, reason) as an ODM
AuditRecord; users with a role in the study are AdminData users; sites are Locations; a
form signed (and still valid) carries a Signature.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from strokecell.errors import Problem
from strokecell.instruments import CompositeInstrument, load_instrument
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
from strokecell.interop.redcap._records import checkbox_column
from strokecell.interop.redcap._scales import instrument_fields
from strokecell.interop.redcap._validation import validate_value
from strokecell.interop.study._plan import STATUS_ITEM, annotation_target, field_from_json
from strokecell.trial import PARAMCD, form_spec, load_crf
from strokecell.trial.study_snapshot import SnapshotForm, SnapshotItem, StudySnapshot

__all__ = ["SIGNATURE_DEF", "crf_fields", "study_project"]

SIGNATURE_DEF = "SD.APPROVAL"
_UNSCHEDULED = "unscheduled_arm_1"


def crf_fields(code: str) -> tuple[Field, ...]:
    """A CRF page as REDCap fields (annotated so that a re-import maps them back)."""
    crf = load_crf(code)
    out = []
    for f in crf.fields:
        note = f"@strokecell crf={code} item={f.code}"
        common: dict[str, Any] = {"annotation": note, "unit": f.unit or "",
                                  "field_note": f.unit or "", "required": f.required}
        name = f"{code}_{f.code}"[:100]
        if f.type == "code":
            out.append(Field(name, code, "radio", f.label, choices=tuple(
                Choice(c, c) for c in f.choices or []), **common))
        elif f.type == "boolean":
            out.append(Field(name, code, "yesno", f.label, **common))
        elif f.type in ("integer", "decimal"):
            out.append(Field(name, code, "text", f.label,
                             validation="integer" if f.type == "integer" else "number",
                             validation_min="" if f.min is None else f"{f.min:g}",
                             validation_max="" if f.max is None else f"{f.max:g}", **common))
        elif f.type == "date":
            out.append(Field(name, code, "text", f.label, validation="date_ymd", **common))
        elif f.type == "datetime":
            out.append(Field(name, code, "text", f.label + " (UTC)",
                             validation="datetime_seconds_ymd", **common))
        else:
            long_text = f.max_length is None or f.max_length > 255
            out.append(Field(name, code, "notes" if long_text else "text", f.label, **common))
    return tuple(out)


def scale_fields(code: str) -> tuple[Field, ...]:
    """A scale as REDCap fields; a composite (``fma_total``) holds its components' items
    and totals, all annotated with the composite's code."""
    inst = load_instrument(code)
    if not isinstance(inst, CompositeInstrument):
        return instrument_fields(code)
    out: list[Field] = []
    for component in inst.definition.components:
        for f in instrument_fields(component):
            target = annotation_target(f)
            item = target[2] if target else None
            note = f"@strokecell scale={code} " + (f"item={item}" if item else "total")
            out.append(replace(f, form=code, annotation=note))
    out.extend(instrument_fields(code))
    return tuple(out)


def _total_param(name: str) -> str | None:
    scale = name[:-len("_total")] if name.endswith("_total") else None
    return PARAMCD.get(scale, scale.upper()) if scale else None


def _value_of(f: Field, item: SnapshotItem) -> Value | None:
    raw = item.raw_text
    v = item.value
    if raw is not None:
        typed = validate_value(f, raw)
        if not isinstance(typed, Problem):
            return typed
    if f.field_type in ("yesno", "truefalse") and isinstance(v, bool):
        return v
    if isinstance(v, datetime):
        return v.astimezone(UTC).replace(tzinfo=None, microsecond=0)
    if isinstance(v, date):
        return v
    if isinstance(v, bool):
        return v
    if isinstance(v, int) and f.field_type in ("radio", "dropdown"):
        return str(v)
    if isinstance(v, float):
        text = str(int(v)) if v.is_integer() and raw and "." not in raw else repr(v)
        return Decimal(raw) if raw and _is_decimal(raw) else Decimal(text)
    if raw is None:
        return None
    typed = validate_value(f, raw)
    return None if isinstance(typed, Problem) else typed


def _is_decimal(text: str) -> bool:
    try:
        Decimal(text)
    except ArithmeticError:
        return False
    return True


def _audit(item: SnapshotItem, location: str) -> AuditInfo | None:
    if item.audit_user is None or item.audit_at is None:
        return None
    return AuditInfo(item.audit_user, location, item.audit_at, item.audit_reason or "")


def study_project(snap: StudySnapshot) -> Project:
    """The study as a neutral :class:`Project` (see the module docstring)."""
    if snap.design is not None and snap.design.system == "redcap":
        return _imported_project(snap)
    return _protocol_project(snap)


def _users(snap: StudySnapshot) -> tuple[User, ...]:
    out = []
    for username, full_name in snap.users:
        first, _, last = full_name.partition(" ")
        out.append(User(username, first, last))
    return tuple(out)


def _signature(form: SnapshotForm, location: str) -> Signature | None:
    if form.signed_by is None or form.signed_at is None:
        return None
    return Signature(form.signed_by, location, SIGNATURE_DEF, form.signed_at)


_SIG_DEFS = (SignatureDef(SIGNATURE_DEF, "I approve the data of this form",
                          "21 CFR 11.50: electronic signature with re-authentication"),)


def _protocol_project(snap: StudySnapshot) -> Project:
    fields: list[Field] = [Field("usubjid", "enrolment", "text", "Subject (USUBJID)",
                                 identifier=False)]
    labels: dict[str, str] = {"enrolment": "Enrolment"}
    used: list[str] = []
    for _, _, _, _, forms in snap.visit_plan:
        used += [f for f in forms if f not in used]
    for subj in snap.subjects:
        used += [f.form_code for f in subj.forms if f.form_code not in used]
    codes = []
    for code in used:
        spec = form_spec(code)
        if spec.unblinded_only and snap.blinded:
            continue
        codes.append(code)
        if spec.kind == "scale":
            fields.extend(scale_fields(code))
        else:
            fields.extend(crf_fields(code))
        labels[code] = spec.name
    codes = [c for c in codes if any(f.form == c for f in fields)]
    d = Dictionary(tuple(fields), labels)
    events = [Event(f"{vc}_arm_1", label, 1, day, tuple(f for f in forms if f in codes))
              for vc, label, _, day, forms in snap.visit_plan]
    outside = sorted({f.form_code for s in snap.subjects for f in s.forms
                      if f.visit_code is None and f.form_code in codes})
    repeating: list[RepeatSetting] = []
    if outside:
        events.append(Event(_UNSCHEDULED, "Outside visits", 1, None, tuple(outside)))
        repeating = [RepeatSetting(_UNSCHEDULED, f) for f in outside
                     if form_spec(f).repeating]
    field_of: dict[tuple[str, str], Field] = {}
    for f in fields:
        target = annotation_target(f)
        if target and target[2] is not None:
            field_of[(f.form, target[2])] = f
    records = []
    for subj in snap.subjects:
        entries = []
        for form in subj.forms:
            if form.form_code not in codes:
                continue
            values: dict[str, Value] = {}
            audit: dict[str, AuditInfo] = {}
            for item in form.items:
                fld = field_of.get((form.form_code, item.code))
                if fld is None:
                    continue
                value = _value_of(fld, item)
                if value is None:
                    continue
                values[fld.name] = value
                info = _audit(item, subj.site_code)
                if info:
                    audit[fld.name] = info
            for f in fields:
                param = _total_param(f.name) if f.form == form.form_code \
                    and f.field_type == "calc" else None
                derived = form.derived.get(param) if param else None
                if isinstance(derived, float):
                    values[f.name] = Decimal(str(int(derived))) if derived.is_integer() \
                        else Decimal(repr(derived))
            event = f"{form.visit_code}_arm_1" if form.visit_code else _UNSCHEDULED
            instance = form.repeat_index if form.visit_code is None and \
                form_spec(form.form_code).repeating else None
            entries.append(FormEntry(form.form_code, values, event, instance,
                                     2 if form.status == "complete" else 0, audit,
                                     _signature(form, subj.site_code)))
        records.append(Record(subj.code, tuple(entries), subj.site_code))
    return Project(snap.title, d, (Arm(1, "Arm 1"),), tuple(events), tuple(repeating),
                   tuple(c for c, _ in snap.sites), tuple(records), _users(snap),
                   tuple(Location(c, n) for c, n in snap.sites), _SIG_DEFS,
                   oid=f"S.{snap.study_code}")


def _imported_project(snap: StudySnapshot) -> Project:
    design = snap.design
    if design is None:
        raise ValueError("not an imported study")
    src: Mapping[str, Any] = design.source
    fields = tuple(field_from_json(f) for f in src["fields"])
    d = Dictionary(fields, dict(src.get("form_labels", {})))
    events = tuple(Event(e["unique_name"], e["label"], e["arm"], e["day_offset"],
                         tuple(e["forms"]), e.get("event_id", "")) for e in src["events"])
    arms = tuple(Arm(a["number"], a["name"]) for a in src["arms"])
    repeating = tuple(RepeatSetting(r["event"], r["form"], r.get("label", ""))
                      for r in src["repeating"])
    locations = tuple(Location(loc["oid"], loc["name"]) for loc in src["locations"])
    redcap_form = {code: form for form, code in src["form_codes"].items()}
    event_of: Mapping[str, str] = src["visits"]
    dag_of: Mapping[str, str] = src["sites"]
    mapped: Mapping[str, Mapping[str, Any]] = src["mapped"]
    project0 = Project(src["title"], d, arms, events, repeating)
    records = []
    for subj in snap.subjects:
        entries = []
        for form in subj.forms:
            rform = redcap_form.get(form.form_code)
            if rform is None:
                continue
            event = event_of.get(form.visit_code or "") if events else None
            instance = form.repeat_index if project0.is_repeating(rform, event) else None
            values: dict[str, Value] = {}
            audit: dict[str, AuditInfo] = {}
            status: int | None = None
            location = dag_of.get(subj.site_code, subj.site_code)
            if rform in mapped:
                by_item = {item: name for name, item in mapped[rform]["items"].items()}
                for item in form.items:
                    name = by_item.get(item.code)
                    if name is None:
                        continue
                    value = _value_of(d[name], item)
                    if value is not None:
                        values[name] = value
                status = 2 if form.status == "complete" else 0
            else:
                boxes: dict[str, set[str]] = {}
                for item in form.items:
                    if item.code == STATUS_ITEM:
                        status = int(item.raw_text or "0")
                        continue
                    f = d.get(item.code)
                    if f is None:
                        owner = _checkbox_owner(d, rform, item.code)
                        if owner is not None:
                            box = boxes.setdefault(owner[0].name, set())
                            if item.value:
                                box.add(owner[1])
                        continue
                    value = _value_of(f, item)
                    if value is not None:
                        values[f.name] = value
                        info = _audit(item, location)
                        if info:
                            audit[f.name] = info
                for name, codes in boxes.items():
                    values[name] = frozenset(codes)
            entries.append(FormEntry(rform, values, event, instance, status, audit,
                                     _signature(form, location)))
        dag = dag_of.get(subj.site_code)
        records.append(Record(subj.code, tuple(entries), dag))
    return Project(src["title"], d, arms, events, repeating, tuple(src["dags"]),
                   tuple(records), _users(snap), locations, _SIG_DEFS, oid=src.get("oid", ""))


def _checkbox_owner(d: Dictionary, form: str, column: str) -> tuple[Field, str] | None:
    for f in d.form_fields(form):
        if f.field_type == "checkbox":
            for c in f.choices:
                if checkbox_column(f, c.code) == column:
                    return f, c.code
    return None
