"""Studies imported from another system (REDCap, ODM): their forms, subjects and entry.

The trial services are protocol-driven: the forms a study collects are the shipped scales
and CRF pages that its protocol implies. A study migrated from REDCap also has forms of its
own (the REDCap instruments that are not strokecell scales). This module registers them:

- :class:`ImportedDesign` holds the imported forms (fields with type, choices, hard range,
  unit) and which visits collect which forms; the interop layer builds it, this module only
  validates values against it. ``source`` fields carry the other system's metadata (a REDCap
  dictionary row, events, arms) untouched, for a faithful export back.
- The design is stored with the study's first protocol version, in ``protocol_versions.note``
  behind the marker line :data:`DESIGN_MARKER` (no schema change): like the protocol text it
  is fixed for that version, and it is read back with :func:`imported_design`.
- :func:`create_imported_study` creates the study (generated protocol, arms, sites, the
  importing user as admin and data manager), the subjects with the record ids they had,
  their visits and every form, **in one transaction**: all values are checked first (the
  dry run, :func:`check_subjects`), nothing is written when one is refused, and every insert
  is audited with the caller's reason (``import from REDCap <file>``).
- :func:`save_imported_form` is :func:`~strokecell.trial.save_form` for imported forms
  (versions, reason for change, audit, locks); mapped scales and shipped CRF pages are
  entered with ``save_form`` itself.
- :func:`strokecell.trial.study_snapshot.study_snapshot` reads the whole study for the
  exporters (blinded: no arm).

Values of an imported form are given as text in the source system's storage form (``"1"``,
``"2026-05-04"``, ``"12:30"``, ``"1,5"`` for a comma decimal); ``raw_text`` keeps it exactly
and the typed column holds the value (decimals as numbers, times and local date-times as
text: they carry no UTC offset and are never given one silently).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from strokecell.errors import (
    ConflictError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
    Problem,
)
from strokecell.store import (
    AuditAction,
    FormStatus,
    Role,
    StudyStatus,
    ValueType,
    changes_of,
    hash_password,
    record_changes,
    verify_password,
)
from strokecell.store import models as m
from strokecell.trial._authz import Action
from strokecell.trial._context import Scope, ServiceContext, _utc_now, authorize, visible_subject
from strokecell.trial._design import design_of, sha256_text
from strokecell.trial._formspec import TypedValue, form_spec
from strokecell.trial._guards import ensure_writable
from strokecell.trial._tx import (
    audit_delete,
    audit_insert,
    audit_update,
    reading,
    require_reason,
    row_key,
    writing,
)

__all__ = [
    "DESIGN_MARKER",
    "EntryProblem",
    "ImportOutcome",
    "ImportedChoice",
    "ImportedDesign",
    "ImportedEntry",
    "ImportedField",
    "ImportedForm",
    "ImportedSubject",
    "check_subjects",
    "create_imported_study",
    "imported_design",
    "save_imported_form",
]

DESIGN_MARKER = "strokecell-imported-design/1"

_INT = re.compile(r"-?(0|[1-9][0-9]*)")
_DEC = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_DEC_COMMA = re.compile(r"-?[0-9]+(,[0-9]+)?")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}(:[0-9]{2})?")
_TIME = re.compile(r"[0-9]{2}:[0-9]{2}(:[0-9]{2})?")

FieldKind = Literal["integer", "decimal", "text", "code", "date", "datetime", "time", "boolean"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ImportedChoice(_Strict):
    code: str
    label: str


class ImportedField(_Strict):
    """A field of an imported form. ``min``/``max`` are hard limits (soft ones stay in
    ``source``); ``decimal_comma``: decimals written with a comma (``1,5``)."""

    code: str = Field(min_length=1, max_length=60)
    label: str
    type: FieldKind
    choices: list[ImportedChoice] = Field(default_factory=list)
    min: float | None = None
    max: float | None = None
    unit: str | None = None
    decimal_comma: bool = False
    source: dict[str, Any] = Field(default_factory=dict)

    def allowed(self) -> str:
        if self.type == "code":
            return ", ".join(c.code for c in self.choices)
        if self.type in ("integer", "decimal"):
            lo = "-inf" if self.min is None else f"{self.min:g}"
            hi = "inf" if self.max is None else f"{self.max:g}"
            sep = "a decimal comma" if self.decimal_comma else "a decimal point"
            return f"{'a whole number' if self.type == 'integer' else 'a number with ' + sep}" \
                   f" from {lo} to {hi}"
        return {"date": "a date YYYY-MM-DD", "datetime": "YYYY-MM-DD HH:MM[:SS] (local time)",
                "time": "HH:MM[:SS]", "boolean": "1 or 0", "text": "text"}[self.type]


class ImportedForm(_Strict):
    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)
    name: str
    repeating: bool = False
    fields: list[ImportedField]
    source: dict[str, Any] = Field(default_factory=dict)

    def field(self, code: str) -> ImportedField | None:
        return next((f for f in self.fields if f.code == code), None)


class ImportedDesign(_Strict):
    """The imported forms, the forms each visit collects (imported forms, mapped scales and
    shipped CRF pages), the visits each protocol arm's subjects have, and the source
    system's own metadata."""

    system: str
    source_file: str
    forms: list[ImportedForm] = Field(default_factory=list)
    visit_forms: dict[str, list[str]] = Field(default_factory=dict)
    repeating_forms: list[str] = Field(default_factory=list)
    arm_visits: dict[str, list[str]] = Field(default_factory=dict)
    source: dict[str, Any] = Field(default_factory=dict)

    def form(self, code: str) -> ImportedForm | None:
        return next((f for f in self.forms if f.code == code), None)

    def repeats(self, form_code: str) -> bool:
        spec = self.form(form_code)
        return form_code in self.repeating_forms or bool(spec and spec.repeating)

    def to_note(self) -> str:
        return f"{DESIGN_MARKER}\n{self.model_dump_json()}"

    @classmethod
    def from_note(cls, note: str | None) -> ImportedDesign | None:
        if not note or not note.startswith(DESIGN_MARKER + "\n"):
            return None
        return cls.model_validate_json(note[len(DESIGN_MARKER) + 1:])

    def check(self, form_code: str, items: Mapping[str, object]) -> dict[str, TypedValue]:
        """Type the items of an imported form; every problem at once as an InputError."""
        spec = self.form(form_code)
        if spec is None:
            raise NotFoundError(f"form_code: no imported form {form_code!r}")
        problems: list[Problem] = []
        out: dict[str, TypedValue] = {}
        for key, raw in items.items():
            f = spec.field(key)
            if f is None:
                problems.append(Problem(key, f"unknown field of form {form_code}", key,
                                        ", ".join(x.code for x in spec.fields)))
                continue
            typed = _parse(f, raw)
            if isinstance(typed, Problem):
                problems.append(typed)
            else:
                out[key] = typed
        if problems:
            raise InputError(problems, context=form_code)
        return out


def _parse(f: ImportedField, raw: object) -> TypedValue | Problem:
    def bad(why: str) -> Problem:
        return Problem(f.code, f"{f.label}: {why}", raw, f.allowed())

    if isinstance(raw, bool):
        if f.type != "boolean":
            return bad("a boolean is not a value of this field")
        return TypedValue(ValueType.BOOLEAN, raw, "1" if raw else "0", f.unit)
    if not isinstance(raw, str) or raw == "":
        return bad("expected the value as non-empty text")
    kind = f.type
    if kind == "boolean":
        if raw not in ("0", "1"):
            return bad("expected 1 or 0")
        return TypedValue(ValueType.BOOLEAN, raw == "1", raw, f.unit)
    if kind == "code":
        if raw not in {c.code for c in f.choices}:
            return bad("not one of the choices")
        return TypedValue(ValueType.CODE, raw, raw, f.unit)
    if kind in ("integer", "decimal"):
        number: float
        if kind == "integer":
            if not _INT.fullmatch(raw):
                return bad("expected a whole number")
            number = int(raw)
        else:
            pattern = _DEC_COMMA if f.decimal_comma else _DEC
            if not pattern.fullmatch(raw):
                return bad("expected a number")
            number = float(raw.replace(",", ".")) if f.decimal_comma else float(raw)
        if (f.min is not None and number < f.min) or (f.max is not None and number > f.max):
            return bad(f"{number:g} is out of range")
        vt = ValueType.INTEGER if kind == "integer" else ValueType.DECIMAL
        return TypedValue(vt, number, raw, f.unit)
    if kind == "date":
        if not _DATE.fullmatch(raw):
            return bad("expected a date YYYY-MM-DD")
        try:
            return TypedValue(ValueType.DATE, date.fromisoformat(raw), raw, f.unit)
        except ValueError:
            return bad("not a calendar date")
    if kind in ("datetime", "time"):
        pattern = _DATETIME if kind == "datetime" else _TIME
        if not pattern.fullmatch(raw):
            return bad(f"expected {f.allowed()}")
        try:
            if kind == "datetime":
                datetime.fromisoformat(raw)
            else:
                hh, mm = int(raw[:2]), int(raw[3:5])
                ss = int(raw[6:8]) if len(raw) > 5 else 0
                if hh > 23 or mm > 59 or ss > 59:
                    raise ValueError(raw)
        except ValueError:
            return bad("not a valid date or time")
        return TypedValue(ValueType.TEXT, raw, raw, f.unit)
    return TypedValue(ValueType.TEXT, raw, raw, f.unit)


@dataclass(frozen=True)
class ImportedEntry:
    """One form of a subject: at ``visit_code`` (None: outside a visit), its repeat, the
    items (code -> text) and, for imported forms, the status (None: decided by the engine).
    """

    form_code: str
    visit_code: str | None
    repeat_index: int
    items: Mapping[str, object]
    complete: bool | None = None


@dataclass(frozen=True)
class ImportedSubject:
    code: str
    site_code: str
    arm: str | None
    entries: tuple[ImportedEntry, ...]


def _spec_check(design: ImportedDesign, entry: ImportedEntry) -> dict[str, TypedValue]:
    if design.form(entry.form_code) is not None:
        return design.check(entry.form_code, entry.items)
    return form_spec(entry.form_code).check(entry.items, partial=True)


@dataclass(frozen=True)
class EntryProblem:
    """A value (or a whole form) the services refuse: subject, visit, form, repeat, item."""

    subject: str
    visit_code: str | None
    form_code: str | None
    repeat_index: int | None
    item: str | None
    problem: Problem

    def located(self) -> Problem:
        parts = [self.subject, self.visit_code or "-", f"{self.form_code}#{self.repeat_index}"]
        if self.item:
            parts.append(self.item)
        p = self.problem
        return Problem("/".join(parts), p.message, p.value, p.allowed)


def check_subjects(protocol_text: str, design: ImportedDesign,
                   subjects: Sequence[ImportedSubject]) -> list[EntryProblem]:
    """The dry run: every value of every subject checked as the services will check it."""
    plan = design_of(protocol_text)
    visits = {v.code for v in plan.visits}
    problems: list[EntryProblem] = []
    seen: set[str] = set()
    for subj in subjects:
        def whole(message: str, value: object, allowed: str | None = None,
                  e: ImportedEntry | None = None, code: str = subj.code) -> EntryProblem:
            return EntryProblem(code, e.visit_code if e else None,
                                e.form_code if e else None, e.repeat_index if e else None,
                                None, Problem("subject" if e is None else "form", message,
                                              value, allowed))
        if not subj.code or len(subj.code) > 40:
            problems.append(whole("a subject code is 1-40 characters", subj.code))
        if subj.code in seen:
            problems.append(whole("duplicate subject code", subj.code))
        seen.add(subj.code)
        keys: set[tuple[str | None, str, int]] = set()
        for e in subj.entries:
            key = (e.visit_code, e.form_code, e.repeat_index)
            if key in keys:
                problems.append(whole("the same form twice", e.form_code, e=e))
            keys.add(key)
            if e.visit_code is not None and e.visit_code not in visits:
                problems.append(whole("no such visit", e.visit_code,
                                      ", ".join(sorted(visits)), e))
                continue
            planned = design.visit_forms.get(e.visit_code or "", [])
            if e.form_code not in planned:
                problems.append(whole("form not collected at this visit", e.form_code,
                                      ", ".join(planned), e))
                continue
            if e.repeat_index < 1 or (e.repeat_index > 1 and not design.repeats(e.form_code)):
                problems.append(whole("not a repeat of this form", e.repeat_index,
                                      "1, 2, ... for a repeating form, else 1", e))
            try:
                _spec_check(design, e)
            except InputError as exc:
                for p in exc.problems:
                    item = p.location if p.location in e.items else None
                    problems.append(EntryProblem(subj.code, e.visit_code, e.form_code,
                                                 e.repeat_index, item, p))
    return problems


def _insert(s: Session, scope: Scope, obj: Any, table: str, reason: str, *,
            exclude: Sequence[str] = (), flush: bool = True) -> None:
    if flush:
        s.add(obj)
        s.flush()
    changes = [c for c in changes_of(obj, inserted=True) if c.field not in exclude]
    record_changes(s, scope.actor, table=table, row_key=row_key(obj),
                   action=AuditAction.INSERT, changes=changes, reason=reason,
                   study_id=scope.study_id, at=scope.ctx.now())


@dataclass(frozen=True)
class ImportOutcome:
    """What :func:`create_imported_study` wrote; ``ctx`` is the importer's admin context."""

    ctx: ServiceContext
    study_code: str
    subjects: int
    forms: int
    items: int
    sites: tuple[str, ...]


def create_imported_study(db: Engine, protocol_text: str, design: ImportedDesign,
                          subjects: Sequence[ImportedSubject], *,
                          sites: Sequence[tuple[str, str]], username: str, password: str,
                          reason: str, full_name: str = "Data import",
                          offset_minutes: int = 0,
                          clock: Callable[[], datetime] = _utc_now) -> ImportOutcome:
    """Create a whole imported study in one transaction (see the module docstring).

    An existing user must give its password; a new one is created with it. The user becomes
    the study's admin and data manager (study-wide). Every row written is audited with
    ``reason``. Raises InputError listing every refused value, ConflictError when the study
    exists; either way nothing is written.
    """
    plan = design_of(protocol_text)
    protocol = plan.protocol
    if not reason.strip():
        raise InputError(Problem("reason", "an import needs a reason", reason))
    problems = [p.located() for p in check_subjects(protocol_text, design, subjects)]
    site_codes = {c for c, _ in sites}
    for subj in subjects:
        if subj.site_code not in site_codes:
            problems.append(Problem(subj.code, "unknown site", subj.site_code,
                                    ", ".join(sorted(site_codes))))
    for code, _ in sites:
        if not code.isalnum() or len(code) > 20:
            problems.append(Problem("sites", "a site code is 1-20 letters or digits", code))
    if problems:
        raise InputError(problems, context=f"import into {protocol.study.id}")
    with writing(db) as s:
        if s.scalars(select(m.Study.id).where(m.Study.code == protocol.study.id)).first():
            raise ConflictError(f"study: {protocol.study.id} exists already")
        now = clock()
        user = s.scalars(select(m.User).where(m.User.username == username)).first()
        if user is not None and not verify_password(user.password_hash, password):
            raise InputError(Problem("password", "wrong password for an existing user",
                                     username))
        study = m.Study(code=protocol.study.id, title=protocol.study.title,
                        status=StudyStatus.ACTIVE, created_at=now,
                        created_offset_min=offset_minutes)
        s.add(study)
        s.flush()
        new_user = user is None
        if user is None:
            user = m.User(username=username, full_name=full_name, email=None,
                          password_hash=hash_password(password), created_at=now,
                          created_offset_min=offset_minutes)
            s.add(user)
            s.flush()
        ctx = ServiceContext(user.id, study.id, Role.ADMIN, offset_minutes, clock)
        scope = Scope(ctx, username, None)
        record_changes(s, scope.actor, table="studies", row_key=study.id,
                       action=AuditAction.INSERT, changes=changes_of(study, inserted=True),
                       reason=reason, study_id=study.id, at=ctx.now())
        if new_user:
            record_changes(s, scope.actor, table="users", row_key=user.id,
                           action=AuditAction.INSERT,
                           changes=[c for c in changes_of(user, inserted=True)
                                    if c.field != "password_hash"],
                           reason=reason, study_id=study.id, at=ctx.now())
        for role in (Role.ADMIN, Role.DATA_MANAGER):
            _insert(s, scope, m.RoleAssignment(user_id=user.id, study_id=study.id,
                                               site_id=None, role=role, granted_at=now,
                                               granted_offset_min=offset_minutes),
                    "role_assignments", reason)
        pv = m.ProtocolVersion(study_id=study.id, version_label=protocol.study.version,
                               yaml_text=protocol_text, sha256=sha256_text(protocol_text),
                               effective_at=now, effective_offset_min=offset_minutes,
                               note=design.to_note())
        _insert(s, scope, pv, "protocol_versions", reason, exclude=("yaml_text", "note"))
        for arm in protocol.arms:
            _insert(s, scope, m.Arm(study_id=study.id, protocol_version_id=pv.id,
                                    code=arm.code, name=arm.name, ratio_weight=arm.ratio,
                                    receives_cells=arm.is_cell_therapy), "arms", reason)
        site_rows: dict[str, m.Site] = {}
        for code, name in sites:
            site = m.Site(study_id=study.id, code=code, name=name or code, country=None,
                          timezone="UTC", active=True)
            _insert(s, scope, site, "sites", reason)
            site_rows[code] = site
        anchor = ctx.local_now().date()
        n_forms = n_items = 0
        for subj in subjects:
            subject = m.Subject(study_id=study.id, site_id=site_rows[subj.site_code].id,
                                screening_id=None, protocol_version_id=pv.id,
                                subject_code=subj.code, enrolled_at=now,
                                enrolled_offset_min=offset_minutes, enrolled_by_user_id=user.id,
                                anchor_date=anchor, strata={})
            _insert(s, scope, subject, "subjects", reason)
            wanted = set(design.arm_visits.get(subj.arm or "", [])) if subj.arm else None
            visits: dict[str, m.Visit] = {}
            for vp in plan.visits:
                if wanted is not None and vp.code not in wanted:
                    continue
                visit = m.Visit(subject_id=subject.id, protocol_version_id=pv.id,
                                visit_code=vp.code, visit_name=vp.label,
                                visit_number=vp.number, expected_date=vp.expected_date(anchor),
                                window_before_days=vp.window_before,
                                window_after_days=vp.window_after)
                _insert(s, scope, visit, "visits", reason)
                visits[vp.code] = visit
            for e in subj.entries:
                visit_row = visits.get(e.visit_code) if e.visit_code else None
                if e.visit_code is not None and visit_row is None:
                    raise InputError(Problem(f"{subj.code}/{e.visit_code}",
                                             "visit not in this subject's arm", subj.arm))
                n_items += _write_entry(s, scope, pv, subject, visit_row, design, e, reason)
                n_forms += 1
    return ImportOutcome(ctx, protocol.study.id, len(subjects), n_forms, n_items,
                         tuple(site_rows))


def _write_entry(s: Session, scope: Scope, pv: m.ProtocolVersion, subject: m.Subject,
                 visit: m.Visit | None, design: ImportedDesign, e: ImportedEntry,
                 reason: str) -> int:
    typed = _spec_check(design, e)
    imported = design.form(e.form_code) is not None
    derived: list[Any] = []
    if imported:
        complete = bool(e.complete)
        instrument, version = None, design.system
    else:
        spec = form_spec(e.form_code)
        complete = spec.is_complete(e.items)
        derived = spec.complete(e.items) if complete else []
        instrument, version = spec.instrument_code, spec.version
    ctx = scope.ctx
    now = ctx.now()
    inst = m.FormInstance(
        subject_id=subject.id, visit_id=visit.id if visit else None, protocol_version_id=pv.id,
        form_code=e.form_code, instrument_code=instrument, instrument_version=version,
        repeat_index=e.repeat_index,
        status=FormStatus.COMPLETE if complete else FormStatus.INCOMPLETE,
        assessment_date=None, created_at=now, created_offset_min=ctx.offset_minutes,
        created_by_user_id=ctx.user_id, updated_at=now, updated_offset_min=ctx.offset_minutes,
        updated_by_user_id=ctx.user_id)
    _insert(s, scope, inst, "form_instances", reason)
    rows = []
    for key, tv in typed.items():
        row = m.ItemValue(form_instance_id=inst.id, item_code=key)
        _assign(row, tv)
        rows.append(row)
    s.add_all(rows)
    s.flush()
    for row in rows:
        _insert(s, scope, row, "item_values", reason, flush=False)
    for d in derived:
        _insert(s, scope, m.DerivedValue(form_instance_id=inst.id, param_code=d.param,
                                         value_num=d.num, value_text=d.text, engine=d.engine,
                                         computed_at=now), "derived_values", reason)
    return len(typed)


_COLUMN = {ValueType.INTEGER: "value_int", ValueType.DECIMAL: "value_num",
           ValueType.TEXT: "value_text", ValueType.CODE: "value_text",
           ValueType.DATE: "value_date", ValueType.DATETIME: "value_datetime",
           ValueType.BOOLEAN: "value_bool"}


def _assign(row: m.ItemValue, tv: TypedValue) -> None:
    row.value_type = tv.value_type
    row.raw_text = tv.raw_text
    row.unit = tv.unit
    row.missing_reason = None
    for column in set(_COLUMN.values()):
        setattr(row, column, None)
    setattr(row, _COLUMN[tv.value_type], tv.value)


def imported_design(db: Engine, ctx: ServiceContext) -> ImportedDesign | None:
    """The imported design of the caller's study (None for a protocol-only study)."""
    with reading(db) as s:
        authorize(s, ctx, Action.READ_STUDY)
        return _design_in(s, ctx.study_id)


def _design_in(s: Session, study_id: int) -> ImportedDesign | None:
    pv = s.scalars(select(m.ProtocolVersion).where(m.ProtocolVersion.study_id == study_id)
                   .order_by(m.ProtocolVersion.id).limit(1)).first()
    return ImportedDesign.from_note(pv.note) if pv else None


def save_imported_form(db: Engine, ctx: ServiceContext, subject_code: str, form_code: str,
                       items: Mapping[str, object], *, visit_code: str | None = None,
                       repeat_index: int = 1, version: int | None = None,
                       reason: str | None = None, complete: bool | None = None) -> int:
    """Save items of an imported form (``None`` clears one); returns the new version.

    As ``save_form``: the first save has no version, later ones the version read; changing
    or clearing a saved item needs a reason; locks are honoured; audited. ``complete`` sets
    the form's status (kept when None).
    """
    with writing(db) as s:
        scope = authorize(s, ctx, Action.ENTER_FORM)
        if scope.role not in (Role.INVESTIGATOR, Role.COORDINATOR):
            raise PermissionDeniedError(
                f"{form_code}: not entered by role {scope.role.value}; allowed roles: "
                "investigator, coordinator")
        design = _design_in(s, ctx.study_id)
        if design is None or design.form(form_code) is None:
            raise NotFoundError(f"form_code: no imported form {form_code!r} in this study")
        subject = visible_subject(s, scope, subject_code)
        visit = next((v for v in subject.visits if v.visit_code == visit_code), None)
        if visit_code is not None and visit is None:
            raise NotFoundError(f"visit_code: no visit {visit_code!r} for {subject_code}")
        if form_code not in design.visit_forms.get(visit_code or "", []):
            raise InputError(Problem("form_code", f"{form_code} is not collected at "
                                     f"{visit_code or 'no visit'}", form_code))
        if repeat_index < 1 or (repeat_index > 1 and not design.repeats(form_code)):
            raise InputError(Problem("repeat_index", "not a repeat of this form",
                                     repeat_index))
        inst = s.scalars(select(m.FormInstance).where(
            m.FormInstance.subject_id == subject.id, m.FormInstance.form_code == form_code,
            m.FormInstance.repeat_index == repeat_index,
            m.FormInstance.visit_id.is_(None) if visit is None
            else m.FormInstance.visit_id == visit.id).with_for_update()).first()
        ensure_writable(s, scope.study_id, subject, visit, inst)
        if (inst is None) != (version is None) or (inst is not None and inst.version != version):
            raise ConflictError(f"version: {form_code} of {subject_code} is at version "
                                f"{inst.version if inst else 'unsaved'}, you gave {version}")
        old = {r.item_code: r for r in inst.items} if inst else {}
        typed = design.check(form_code, {k: v for k, v in items.items() if v is not None})
        changed = [k for k in items if k in old and (items[k] is None or
                                                     typed[k].raw_text != old[k].raw_text)]
        text = require_reason(reason, f"saved items of {form_code}") if changed else None
        now = ctx.now()
        if inst is None:
            pv = s.scalars(select(m.ProtocolVersion).where(
                m.ProtocolVersion.study_id == ctx.study_id)
                .order_by(m.ProtocolVersion.id.desc()).limit(1)).one()
            inst = m.FormInstance(
                subject_id=subject.id, visit_id=visit.id if visit else None,
                protocol_version_id=pv.id, form_code=form_code, instrument_code=None,
                instrument_version=design.system, repeat_index=repeat_index,
                status=FormStatus.COMPLETE if complete else FormStatus.INCOMPLETE,
                created_at=now, created_offset_min=ctx.offset_minutes,
                created_by_user_id=ctx.user_id, updated_at=now,
                updated_offset_min=ctx.offset_minutes, updated_by_user_id=ctx.user_id)
            audit_insert(s, scope, inst, "form_instances")
        else:
            if complete is not None:
                inst.status = FormStatus.COMPLETE if complete else FormStatus.INCOMPLETE
            inst.updated_at = now
            inst.updated_by_user_id = ctx.user_id
            inst.updated_offset_min = ctx.offset_minutes
            audit_update(s, scope, inst, "form_instances", text or "items added")
        for key, value in items.items():
            row = old.get(key)
            if value is None:
                if row is None:
                    raise InputError(Problem(key, "cannot clear an item that was never saved",
                                             None))
                inst.items.remove(row)
                audit_delete(s, scope, row, "item_values", text or "cleared")
            elif row is None:
                row = m.ItemValue(form_instance_id=inst.id, item_code=key)
                _assign(row, typed[key])
                audit_insert(s, scope, row, "item_values")
            elif typed[key].raw_text != row.raw_text:
                _assign(row, typed[key])
                audit_update(s, scope, row, "item_values", text or "re-entered")
        s.flush()
        s.refresh(inst)
        return inst.version
