"""Import a REDCap project (or an ODM file) into a new strokecell study.

Order: part 1's reader validates every value against its REDCap field (all or nothing, or
skip invalid); :func:`plan_study` places records, events and forms; the services' own checks
run over every value as a **dry run** (:func:`check_subjects`: the same code the write
uses); then **one transaction** writes the study, its sites, subjects, visits and forms,
every row audited with the reason ``import from REDCap <file>``. By default any problem
rejects the run and nothing is written; ``skip_invalid`` leaves the refused values out and
lists them in the report.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Engine

from strokecell.errors import InputError, Problem
from strokecell.interop._model import ImportProblem, ImportReport, Project, RedcapImportError
from strokecell.interop.study._plan import StudyPlan, plan_study
from strokecell.trial._context import _utc_now
from strokecell.trial.imported_forms import (
    EntryProblem,
    ImportedSubject,
    check_subjects,
    create_imported_study,
)

__all__ = ["StudyImportResult", "import_odm", "import_project", "import_redcap", "load_mapping"]


@dataclass(frozen=True)
class StudyImportResult:
    """``imported``: the study was written. ``report``: every error (rejected run), skipped
    value (``skip_invalid``) and warning, each naming record, event, instance and field."""

    imported: bool
    report: ImportReport
    study_code: str | None = None
    subjects: int = 0
    forms: int = 0
    items: int = 0
    sites: tuple[str, ...] = ()
    dry_run: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"imported": self.imported, "study": self.study_code, "subjects": self.subjects,
                "forms": self.forms, "items": self.items, "sites": list(self.sites),
                "dry_run": self.dry_run, **self.report.to_dict()}


def load_mapping(path: Path) -> dict[str, Any]:
    """A mapping file: ``fields: {redcap_field: {scale: nihss, item: 1a_loc}}`` (or
    ``crf: <page>``); fields not listed keep their ``@strokecell`` annotation."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    out: dict[str, Any] = {}
    problems: list[Problem] = []
    for name, target in (data.get("fields") or {}).items():
        if not isinstance(target, dict) or len({"scale", "crf"} & set(target)) != 1:
            problems.append(Problem(f"fields.{name}", "give scale: or crf: (and item:)",
                                    target))
            continue
        kind = "scale" if "scale" in target else "crf"
        out[name] = {"kind": kind, "code": target[kind], "item": target.get("item")}
    if problems:
        raise InputError(problems, context=str(path))
    return out


def _service_problem(plan: StudyPlan, p: EntryProblem) -> ImportProblem:
    event, instance = plan.entry_keys.get(
        (p.subject, p.visit_code, p.form_code or "", p.repeat_index or 0), (None, None))
    fieldname = plan.item_fields.get((p.form_code or "", p.item or ""), p.item) \
        if p.item else None
    return ImportProblem.at(f"{p.form_code}: {p.problem.message}", record=p.subject,
                            field=fieldname or p.item, event=event or p.visit_code,
                            instance=instance, value=p.problem.value,
                            allowed=p.problem.allowed, where="strokecell services")


def _drop(plan: StudyPlan, refused: list[EntryProblem]) -> StudyPlan:
    items = {(p.subject, p.visit_code, p.form_code, p.repeat_index, p.item)
             for p in refused if p.item}
    forms = {(p.subject, p.visit_code, p.form_code, p.repeat_index)
             for p in refused if not p.item}
    subjects = []
    for s in plan.subjects:
        entries = []
        for e in s.entries:
            key = (s.code, e.visit_code, e.form_code, e.repeat_index)
            if key in forms:
                continue
            kept = {k: v for k, v in e.items.items() if (*key, k) not in items}
            if kept:
                entries.append(replace(e, items=kept))
        subjects.append(ImportedSubject(s.code, s.site_code, s.arm, tuple(entries)))
    return replace(plan, subjects=tuple(subjects))


def import_project(db: Engine, project: Project, report: ImportReport, *, source: str,
                   username: str, password: str, skip_invalid: bool = False,
                   study_code: str | None = None, mapping: Mapping[str, Any] | None = None,
                   dry_run: bool = False, system: str = "REDCap",
                   clock: Callable[[], datetime] = _utc_now) -> StudyImportResult:
    """Write ``project`` (already read, with part 1's report) as a new study."""
    plan = plan_study(project, source=source, study_code=study_code, mapping=mapping)
    refused = check_subjects(plan.protocol_text, plan.design, plan.subjects)
    service = [_service_problem(plan, p) for p in refused]
    if skip_invalid:
        skipped_records = {p.record for p in plan.problems}
        plan = replace(plan, subjects=tuple(s for s in plan.subjects
                                            if s.code not in skipped_records))
        plan = _drop(plan, refused)
        again = check_subjects(plan.protocol_text, plan.design, plan.subjects)
        if again:  # a form-level rule (e.g. a condition) still refuses: leave the form out
            service += [_service_problem(plan, p) for p in again]
            plan = _drop(plan, [replace(p, item=None) for p in again])
        report = ImportReport(report.errors, report.warnings + plan.warnings,
                              report.skipped + plan.problems + tuple(service))
    else:
        report = ImportReport(report.errors + plan.problems + tuple(service),
                              report.warnings + plan.warnings, report.skipped)
        if report.errors:
            return StudyImportResult(False, report)
    if dry_run:
        return StudyImportResult(False, report, None, len(plan.subjects),
                                 sum(len(s.entries) for s in plan.subjects), dry_run=True)
    outcome = create_imported_study(
        db, plan.protocol_text, plan.design, plan.subjects, sites=plan.sites,
        username=username, password=password, reason=f"import from {system} {source}",
        clock=clock)
    return StudyImportResult(True, report, outcome.study_code, outcome.subjects,
                             outcome.forms, outcome.items, outcome.sites)


def import_redcap(db: Engine, path: Path, *, username: str, password: str,
                  skip_invalid: bool = False, written_by_r: bool = False,
                  study_code: str | None = None, mapping: Mapping[str, Any] | None = None,
                  dry_run: bool = False, clock: Callable[[], datetime] = _utc_now,
                  ) -> StudyImportResult:
    """Import the REDCap project at ``path`` (a folder or a project XML file)."""
    from strokecell.interop.redcap import CsvOptions, read_project

    options = CsvOptions.written_by_r() if written_by_r else None
    try:
        result = read_project(path, policy="skip_invalid" if skip_invalid else "all_or_nothing",
                              options=options)
    except RedcapImportError as exc:
        return StudyImportResult(False, exc.report)
    return import_project(db, result.project, result.report, source=str(path),
                          username=username, password=password, skip_invalid=skip_invalid,
                          study_code=study_code, mapping=mapping, dry_run=dry_run, clock=clock)


def import_odm(db: Engine, path: Path, *, username: str, password: str,
               study_code: str | None = None, skip_invalid: bool = False,
               clock: Callable[[], datetime] = _utc_now) -> StudyImportResult:
    """Import an ODM 1.3.2 file written by strokecell (or REDCap's XML via ``import_redcap``)."""
    from strokecell.interop.odm import read_odm

    project = read_odm(path)
    return import_project(db, project, ImportReport(), source=str(path), username=username,
                          password=password, skip_invalid=skip_invalid, study_code=study_code,
                          system="ODM", clock=clock)
