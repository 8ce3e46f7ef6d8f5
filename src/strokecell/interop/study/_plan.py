"""A neutral project (REDCap, ODM) as a strokecell study: protocol, forms, sites, subjects.

Pure: builds what :func:`strokecell.trial.imported_forms.create_imported_study` writes.

- **Protocol** (generated YAML): visits from the events (REDCap's day offset as the target
  day, moved on by a day where two events share one, windows 0; an event named
  ``unscheduled`` holds forms outside visits); a project without events gets the visit
  ``event_1`` and a placeholder ``end`` visit (a protocol has two at least). Arms: one
  ``control`` arm per REDCap arm (``arm_<n>``; REDCap arms are schedules) and, because every
  strokecell protocol is a cell-therapy protocol, a ``placeholder`` cell-therapy arm nobody is
  allocated to. Endpoints: one per scale a form maps to (at the visits that collect it); the
  primary endpoint is adverse-event incidence. These are containers, not claims; the
  protocol's header comment says so.
- **Forms**: a form whose data fields all carry ``@strokecell scale=<code> item=<item>``
  (the annotation our REDCap export writes), or that a mapping file maps, becomes that
  scale (validated and scored by the instrument engine); ``@strokecell crf=<code>
  item=<field>`` maps onto a shipped CRF page; every other form is an imported form (one
  field per REDCap field, one boolean per checkbox option ``field___code``, and the form
  status as item ``redcap_status``).
- **Sites** from data access groups (site code = the DAG's letters and digits; records
  without a DAG at site ``MAIN``), **subjects** from records (the record id is the subject
  code), **visits** from events, repeat instances as the form's repeat index.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import yaml

from strokecell.instruments import list_instruments
from strokecell.interop._model import Field, ImportProblem, Project, Value
from strokecell.interop.redcap._records import checkbox_column
from strokecell.interop.redcap._validation import format_value, validation_kind
from strokecell.trial import crf_codes, form_codes
from strokecell.trial.imported_forms import (
    ImportedChoice,
    ImportedDesign,
    ImportedEntry,
    ImportedField,
    ImportedForm,
    ImportedSubject,
)

__all__ = ["STATUS_ITEM", "StudyPlan", "annotation_target", "plan_study"]

STATUS_ITEM = "redcap_status"
DEFAULT_SITE = "MAIN"
UNSCHEDULED = "unscheduled"
_ANNOT = re.compile(r"@strokecell\s+(scale|crf)=([a-z0-9_]+)\s+(item=([A-Za-z0-9_]+)|total)")
_CODE = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class StudyPlan:
    protocol_text: str
    design: ImportedDesign
    subjects: tuple[ImportedSubject, ...]
    sites: tuple[tuple[str, str], ...]
    problems: tuple[ImportProblem, ...] = ()  # records the plan cannot place (errors)
    warnings: tuple[ImportProblem, ...] = ()
    entry_keys: Mapping[tuple[str, str | None, str, int], tuple[str | None, int | None]] = \
        field(default_factory=dict)  # (subject, visit, form, repeat) -> (event, instance)
    item_fields: Mapping[tuple[str, str], str] = field(default_factory=dict)


def annotation_target(f: Field) -> tuple[str, str, str | None] | None:
    """``(kind, code, item)`` of a ``@strokecell`` annotation (item None for a total)."""
    match = _ANNOT.search(f.annotation or "")
    if not match:
        return None
    return match.group(1), match.group(2), match.group(4)


def _short(name: str, limit: int) -> str:
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:6]
    return f"{name[:limit - 7]}_{digest}"


def _study_id(title: str) -> str:
    slug = re.sub(r"[^A-Z0-9]+", "-", title.upper()).strip("-")[:40].strip("-")
    return slug if slug and slug[0].isalnum() else "REDCAP"


def _mapped_form(fields: list[Field], mapping: Mapping[str, Any]) -> tuple[str, str, dict[str, str]
                                                                         ] | None:
    """``(kind, code, {field: item})`` when every data field maps onto one scale/CRF."""
    targets: dict[str, str] = {}
    kind_code: set[tuple[str, str]] = set()
    for f in fields:
        if f.field_type == "descriptive":
            continue
        explicit = mapping.get(f.name)
        target = (explicit["kind"], explicit["code"], explicit.get("item")) if explicit \
            else annotation_target(f)
        if target is None:
            return None
        kind_code.add((target[0], target[1]))
        if target[2] is not None:
            targets[f.name] = target[2]
    if len(kind_code) != 1 or not targets:
        return None
    kind, code = kind_code.pop()
    known = list_instruments() if kind == "scale" else crf_codes()
    if code not in known:
        return None
    return kind, code, targets


def _imported_fields(f: Field) -> list[ImportedField]:
    kind = validation_kind(f)
    base: dict[str, Any] = {"label": f.label or f.name, "unit": f.unit or None}
    if kind == "checkbox":
        return [ImportedField(code=checkbox_column(f, c.code),
                              label=f"{f.label}: {c.label}", type="boolean",
                              source={"field": f.name, "code": c.code})
                for c in f.choices]
    if kind == "choice":
        return [ImportedField(code=f.name, type="code", **base,
                              choices=[ImportedChoice(code=c.code, label=c.label)
                                       for c in f.choices])]
    if kind == "boolean":
        return [ImportedField(code=f.name, type="boolean", **base)]
    if kind == "integer":
        lo = hi = None
        if f.field_type == "slider":
            lo = float(f.validation_min) if f.validation_min else 0.0
            hi = float(f.validation_max) if f.validation_max else 100.0
        return [ImportedField(code=f.name, type="integer", min=lo, max=hi, **base)]
    if kind == "number":
        return [ImportedField(code=f.name, type="decimal", decimal_comma="comma" in f.validation,
                              **base)]
    if kind == "date":
        return [ImportedField(code=f.name, type="date", **base)]
    if kind == "datetime":
        return [ImportedField(code=f.name, type="datetime", **base)]
    if kind == "time" and f.validation != "time_mm_ss":
        return [ImportedField(code=f.name, type="time", **base)]
    return [ImportedField(code=f.name, type="text", **base)]


def _item_values(f: Field, value: Value) -> dict[str, object]:
    """The items (code -> text) of one REDCap value of an imported form."""
    if isinstance(value, frozenset):
        return {checkbox_column(f, c.code): "1" if c.code in value else "0" for c in f.choices}
    return {f.name: format_value(f, value)}


def _scale_value(value: Value) -> object:
    if isinstance(value, str):
        return int(value) if re.fullmatch(r"-?[0-9]+", value) else value
    if isinstance(value, Decimal):
        return float(value)
    return value


def _crf_value(value: Value) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value if value.utcoffset() is not None else value.replace(tzinfo=UTC)
    return value


def _protocol(study_id: str, title: str, visits: list[tuple[str, str, int]],
              arms: list[tuple[str, str]], scale_visits: Mapping[str, list[str]],
              source: str) -> str:
    doc: dict[str, Any] = {
        "study": {"id": study_id, "title": title or study_id, "version": "import-1",
                  "sponsor": f"imported: {source}", "condition": "ischaemic_stroke",
                  "source": source},
        "arms": [{"code": c, "name": n, "type": "control"} for c, n in arms] + [{
            "code": "placeholder", "type": "cell_therapy",
            "name": "Placeholder: the imported project names no cell product",
            "product": {"cell_type": "mesenchymal_stem_cells",
                        "source_tissue": "umbilical_cord", "origin": "allogeneic",
                        "viability_min_percent": 70},
            "timing": {"min_days": 0, "max_days": 3650},
            "route": {"kind": "intravenous"},
            "dose": {"per_kg": "1.0e6 cells/kg", "concentration": "1.0e6 cells/mL",
                     "administrations": 1}}],
        "schedule": {"visits": [{"code": c, "label": label, "day": day,
                                 **({"baseline": True} if i == 0 else {})}
                                for i, (c, label, day) in enumerate(visits)]},
        "endpoints": [{"instrument": "adverse_events", "role": "primary",
                       "variable": "incidence", "visits": [visits[-1][0]], "order": 1}]
        + [{"instrument": code, "role": "secondary", "variable": "value", "visits": vs}
           for code, vs in scale_visits.items()],
        "eligibility": {"age_min_years": 0, "age_max_years": 120,
                        "stroke_types": ["ischaemic_stroke", "intracerebral_haemorrhage"],
                        "onset_min_days": 0, "onset_max_days": 36500,
                        "consent_required": False},
    }
    header = ("# Generated by strokecell from an imported project. Visits are its events;\n"
              "# the control arms are its arms (schedules, not treatments); the placeholder\n"
              "# cell-therapy arm and the primary endpoint exist because every strokecell\n"
              "# protocol needs them: nobody is allocated, nothing is claimed.\n")
    return header + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


def plan_study(project: Project, *, source: str, study_code: str | None = None,
               mapping: Mapping[str, Any] | None = None) -> StudyPlan:
    """Plan the study for ``project`` (its values already validated by part 1's readers)."""
    mapping = dict(mapping or {})
    d = project.dictionary
    record_id = d.record_id
    warnings: list[ImportProblem] = []
    problems: list[ImportProblem] = []
    used_codes = set(form_codes())
    form_code: dict[str, str] = {}
    forms: list[ImportedForm] = []
    mapped: dict[str, tuple[str, str, dict[str, str]]] = {}
    item_fields: dict[tuple[str, str], str] = {}
    for form in d.forms:
        fields = [f for f in d.form_fields(form.name) if f.name != record_id]
        target = _mapped_form(fields, mapping)
        if target is not None:
            mapped[form.name] = target
            form_code[form.name] = target[1]
            continue
        code = form.name if _CODE.match(form.name) else "f_" + re.sub(r"[^a-z0-9_]", "_",
                                                                        form.name.lower())
        if code in used_codes or len(code) > 40:
            code = _short(f"rc_{code}", 40)
        used_codes.add(code)
        form_code[form.name] = code
        ifields: list[ImportedField] = []
        for f in fields:
            if f.field_type == "descriptive":
                continue
            for x in _imported_fields(f):
                ifields.append(x)
                item_fields[(code, x.code)] = f.name
        ifields.append(ImportedField(code=STATUS_ITEM, label=f"{form.label}: form status",
                                     type="code", choices=[
                                         ImportedChoice(code="0", label="Incomplete"),
                                         ImportedChoice(code="1", label="Unverified"),
                                         ImportedChoice(code="2", label="Complete")]))
        forms.append(ImportedForm(code=code, name=form.label or form.name, fields=ifields,
                                  source={"redcap_form": form.name}))
        long_items = [x.code for x in ifields if len(x.code) > 60]
        if long_items:
            problems.append(ImportProblem.at("field names longer than 60 characters",
                                             field=long_items[0], value=long_items))

    # visits from events
    events = list(project.events)
    arms = list(project.arms)
    single_arm = len({e.arm for e in events}) <= 1
    visit_of: dict[str | None, str | None] = {}
    visits: list[tuple[str, str, int]] = []
    visit_forms: dict[str, list[str]] = {}
    arm_visits: dict[str, list[str]] = {}
    if not events:
        visits = [("event_1", "Event 1", 0), ("end", "End (placeholder, no REDCap event)", 1)]
        visit_of[None] = "event_1"
        visit_forms["event_1"] = [form_code[f.name] for f in d.forms]
        arm_visits["arm_1"] = ["event_1", "end"]
    else:
        taken: set[str] = set()
        day = -1
        ordered = sorted(enumerate(events), key=lambda ie: (ie[1].day_offset or 0, ie[0]))
        for i, (_, ev) in enumerate(ordered):
            name = ev.unique_name
            base = re.sub(r"_arm_[0-9]+$", "", name) if single_arm else name
            if base == UNSCHEDULED:
                visit_of[name] = None
                visit_forms.setdefault("", []).extend(form_code[f] for f in ev.forms
                                                      if f in form_code)
                continue
            code = base if _CODE.match(base) and len(base) <= 20 else f"ev{i + 1:02d}"
            while code in taken:
                code = _short(code + "_x", 20)
            taken.add(code)
            day = max(day + 1, ev.day_offset or 0)
            visits.append((code, ev.label or name, day))
            visit_of[name] = code
            visit_forms[code] = [form_code[f] for f in ev.forms if f in form_code] \
                if ev.forms else [form_code[f.name] for f in d.forms]
            arm_visits.setdefault(f"arm_{ev.arm}", []).append(code)
        if len(visits) == 1:
            visits.append(("end", "End (placeholder)", day + 1))
        if not visits:
            visits = [("event_1", "Event 1", 0), ("end", "End (placeholder)", 1)]
    arm_rows = [(f"arm_{a.number}", a.name or f"Arm {a.number}") for a in arms] \
        or [("arm_1", "Arm 1")]
    for code, _ in arm_rows:
        arm_visits.setdefault(code, [])
    # scales and CRF pages: where they are collected
    scale_visits: dict[str, list[str]] = {}
    for kind, code, _ in mapped.values():
        for vc, fs in visit_forms.items():
            if vc and code in fs and kind == "scale":
                scale_visits.setdefault(code, []).append(vc)
        if kind == "scale" and code not in scale_visits:
            scale_visits[code] = [visits[0][0]]
    repeating = sorted({form_code[s.form] for s in project.repeating
                        if s.form is not None and s.form in form_code})
    if any(s.form is None for s in project.repeating):  # repeating events: all their forms
        for s in project.repeating:
            if s.form is None:
                ev_forms = next((e.forms for e in events if e.unique_name == s.event), ())
                repeating = sorted({*repeating, *(form_code[f] for f in ev_forms
                                                  if f in form_code)})
    forms = [f.model_copy(update={"repeating": f.code in repeating}) for f in forms]

    # sites from DAGs
    site_of: dict[str | None, str] = {}
    sites: list[tuple[str, str]] = []
    names = {loc.oid: loc.name for loc in project.locations}
    for dag in project.dags:
        code = re.sub(r"[^A-Za-z0-9]", "", dag)[:20] or "DAG"
        while code in {c for c, _ in sites} or code == DEFAULT_SITE:
            code = _short(code + "X", 20)
        sites.append((code, names.get(dag, dag)))
        site_of[dag] = code
    if not sites or any(r.dag is None or r.dag not in site_of for r in project.records):
        sites.append((DEFAULT_SITE, "Records without a data access group"))

    study_id = study_code or _study_id(project.title)
    design = ImportedDesign(
        system="redcap", source_file=source, forms=forms,
        visit_forms={k: list(dict.fromkeys(v)) for k, v in visit_forms.items()},
        repeating_forms=repeating, arm_visits=arm_visits,
        source={"title": project.title, "oid": project.oid,
                "fields": [_field_json(f) for f in d.fields],
                "form_labels": dict(d.form_labels),
                "events": [asdict(e) for e in events], "arms": [asdict(a) for a in arms],
                "repeating": [asdict(r) for r in project.repeating],
                "dags": list(project.dags),
                "locations": [asdict(loc) for loc in project.locations],
                "form_codes": form_code, "visits": {v or "": e for e, v in visit_of.items()
                                                    if e is not None},
                "sites": {c: dag for dag, c in site_of.items() if dag is not None},
                "mapped": {f: {"kind": k, "code": c, "items": items}
                           for f, (k, c, items) in mapped.items()}})
    protocol_text = _protocol(study_id, project.title, visits, arm_rows, scale_visits, source)

    subjects: list[ImportedSubject] = []
    entry_keys: dict[tuple[str, str | None, str, int], tuple[str | None, int | None]] = {}
    arm_of_event = {e.unique_name: f"arm_{e.arm}" for e in events}
    for rec in project.records:
        entries: list[ImportedEntry] = []
        rec_arms = {arm_of_event.get(e.event or "", "arm_1") for e in rec.entries}
        if len(rec_arms) > 1:
            problems.append(ImportProblem.at(
                "the record is in several arms; a strokecell subject has one schedule",
                record=rec.record_id, value=sorted(rec_arms)))
            continue
        for e in rec.entries:
            if e.form not in form_code:
                continue
            vcode = visit_of.get(e.event) if e.event is not None or not events \
                else None
            if e.event is not None and e.event not in visit_of:
                problems.append(ImportProblem.at("unknown event", record=rec.record_id,
                                                 event=e.event))
                continue
            repeat = e.instance or 1
            items: dict[str, object] = {}
            complete: bool | None = None
            if e.form in mapped:
                kind, code, fmap = mapped[e.form]
                for fname, value in e.values.items():
                    if fname in fmap:
                        items[fmap[fname]] = _scale_value(value) if kind == "scale" \
                            else _crf_value(value)
                if not items:
                    continue
            else:
                for fname, value in e.values.items():
                    if fname == record_id or fname not in d:
                        continue
                    items.update(_item_values(d[fname], value))
                if e.status is not None:
                    items[STATUS_ITEM] = str(e.status)
                    complete = e.status == 2
                if not items:
                    continue
            entries.append(ImportedEntry(form_code[e.form], vcode, repeat, items, complete))
            entry_keys[(rec.record_id, vcode, form_code[e.form], repeat)] = (e.event,
                                                                            e.instance)
        arm = rec_arms.pop() if rec_arms else arm_rows[0][0]
        subjects.append(ImportedSubject(rec.record_id, site_of.get(rec.dag, DEFAULT_SITE),
                                        arm if events else None, tuple(entries)))
    return StudyPlan(protocol_text, design, tuple(subjects), tuple(sites), tuple(problems),
                     tuple(warnings), entry_keys, item_fields)


def _field_json(f: Field) -> dict[str, Any]:
    out = asdict(f)
    out["choices"] = [[c.code, c.label] for c in f.choices]
    out["slider_labels"] = list(f.slider_labels)
    return out


def field_from_json(data: Mapping[str, Any]) -> Field:
    from strokecell.interop._model import Choice

    values = dict(data)
    values["choices"] = tuple(Choice(c, label) for c, label in values.get("choices", []))
    values["slider_labels"] = tuple(values.get("slider_labels", []))
    return Field(**values)
