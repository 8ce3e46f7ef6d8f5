"""Analysis exports: ``subjects``, ``observations`` and ``adverse_events`` as CSV and Parquet.

``observations`` is the analysis-ready long table (CDISC ADaM BDS names): one row per
subject, visit and parameter, for every form saved at a visit. Parameters are the computed
totals (PARAMCD ``MBI``, ``BI``, ``FMAUE``, ``FMALE``, ``FMATOT``, ``NIHSS``, ``MRS``,
``LESVOL``, bands as ``<PARAMCD>BAND``, CRF derived values such as ``GCS``) and every item,
as ``<PREFIX>_<ITEM>`` (prefix: the scale's PARAMCD, or the CRF page code in capitals), e.g.
``MBI_FEEDING``. Numbers go to ``AVAL``; codes, text, dates and booleans (``Y``/``N``) to
``AVALC`` (an untestable NIHSS item stays ``UN`` in AVALC with AVAL empty, never 0). Each
row links back to its source: ``FORMCD``, ``ITEMCD``, ``FORMSEQ`` (the form instance id),
``FORMSTAT`` and the protocol version.

Who and blinding: statistician and data manager (``export``), for the subjects of their
sites. A **blinded** export (the default) leaves ``ARMCD``/``ARM`` and the treatment start
date empty (null in Parquet, an empty cell in CSV): a masked but consistent code ("A"/"B")
would still split the subjects into the true groups, which is half of the unblinding. An
**unblinded** export needs the explicit flag, a study-wide export role and a locked study
(an active study-level lock, or status ``locked``): the arms are revealed for the final
analysis after database lock. It is recorded in the audit trail (table ``exports``).
A report by arm built from the record elsewhere (``strokecell report``, the demo) reads the
same unblinded tables and is recorded the same way, by :func:`record_unblinded_report`
(table ``reports``).

Only the unblinded export has a fourth table, ``administrations``: one row per subject who
received cells, summarising the administration pages (which are for the cell lab only and
never exported as observations): number of administrations, total cells, the weight recorded
at the first administration and the cells per kg computed from it (first administration and
summed over all), days and hours from stroke onset to the first administration, and the
route(s). A blinded export has no such table (its existence per subject reveals the arm).
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from strokecell.errors import InputError, PermissionDeniedError, Problem
from strokecell.store import (
    AuditAction,
    FieldChange,
    LockScope,
    StudyStatus,
    ValueType,
    record_changes,
)
from strokecell.store import models as m
from strokecell.trial._authz import Action
from strokecell.trial._context import Scope, ServiceContext, authorize
from strokecell.trial._formspec import PARAMCD, study_form_spec
from strokecell.trial._tx import reading, writing
from strokecell.trial.forms import stored_value
from strokecell.trial.views import ExportResult
from strokecell.trial.visits import subject_death_date

__all__ = ["SCHEMAS", "UNBLINDED_ONLY", "build_datasets", "export_datasets",
           "record_unblinded_report"]

_S, _F, _I, _D = pa.string(), pa.float64(), pa.int64(), pa.date32()

#: Column name -> Arrow type of each exported table (CSV has the same columns).
SCHEMAS: Mapping[str, pa.Schema] = {
    "subjects": pa.schema([
        ("STUDYID", _S), ("USUBJID", _S), ("SITEID", _S), ("ARMCD", _S), ("ARM", _S),
        ("RANDFL", _S), ("RANDNUM", _I), ("RANDDT", _D), ("STRATUM", _S), ("SUBJSTAT", _S),
        ("ENRLDT", _D), ("ONSETDTC", _S), ("ANCHORDT", _D), ("TRTSDT", _D), ("DTHFL", _S),
        ("DTHDT", _D), ("PROTVER", _S)]),
    "observations": pa.schema([
        ("STUDYID", _S), ("USUBJID", _S), ("SITEID", _S), ("ARMCD", _S), ("AVISIT", _S),
        ("AVISITN", _I), ("ADT", _D), ("PARAMCD", _S), ("PARAM", _S), ("PARAMTYP", _S),
        ("AVAL", _F), ("AVALC", _S), ("AVALU", _S), ("FORMCD", _S), ("ITEMCD", _S),
        ("FORMSEQ", _I), ("FORMSTAT", _S), ("PROTVER", _S)]),
    "adverse_events": pa.schema([
        ("STUDYID", _S), ("USUBJID", _S), ("SITEID", _S), ("ARMCD", _S), ("AESEQ", _I),
        ("AETERM", _S), ("AEBODSYS", _S), ("AESTDTC", _D), ("AEENDTC", _D), ("AEONGO", _S),
        ("AETOXGR", _I), ("AESER", _S), ("AESDTH", _S), ("AESLIFE", _S), ("AESHOSP", _S),
        ("AESDISAB", _S), ("AESCONG", _S), ("AESMIE", _S), ("AEREL", _S), ("AERELPRC", _S),
        ("AEEXPECT", _S), ("AEACN", _S), ("AEOUT", _S), ("AEEXPFL", _S), ("FORMSEQ", _I)]),
    # unblinded exports only
    "administrations": pa.schema([
        ("STUDYID", _S), ("USUBJID", _S), ("SITEID", _S), ("ARMCD", _S), ("EXNUM", _I),
        ("TRTSDT", _D), ("EXCELLS", _F), ("EXWTKG", _F), ("DOSEKG", _F), ("TOTDOSKG", _F),
        ("ONSETDY", _F), ("ONSETHR", _F), ("ROUTE", _S)]),
}
#: The table only an unblinded export has.
UNBLINDED_ONLY = ("administrations",)


def _yn(value: bool | None) -> str | None:
    return None if value is None else ("Y" if value else "N")


def _local_date(moment: datetime | None, offset: int | None) -> date | None:
    if moment is None:
        return None
    return moment.astimezone(timezone(timedelta(minutes=offset or 0))).date()


def _study_locked(s: Session, study_id: int) -> bool:
    study = s.get(m.Study, study_id)
    if study is not None and study.status is StudyStatus.LOCKED:
        return True
    return s.scalars(select(m.RecordLock.id).where(
        m.RecordLock.study_id == study_id, m.RecordLock.scope == LockScope.STUDY,
        m.RecordLock.unlocked_at.is_(None))).first() is not None


def _check_unblinded(s: Session, scope: Scope) -> None:
    if scope.site_ids is not None:
        raise PermissionDeniedError("export: an unblinded export needs a study-wide "
                                    f"{scope.role.value} role (all sites)")
    if not _study_locked(s, scope.study_id):
        raise PermissionDeniedError("export: an unblinded export needs a locked study "
                                    "(lock the study first: the arms are revealed for the "
                                    "final analysis after database lock)")


def build_datasets(db: Engine, ctx: ServiceContext, *,
                   unblinded: bool = False) -> dict[str, list[dict[str, Any]]]:
    """The three tables as lists of rows (column -> value), blinded unless asked; an
    unblinded export adds the ``administrations`` summary."""
    with reading(db) as s:
        scope = authorize(s, ctx, Action.EXPORT)
        if unblinded:
            _check_unblinded(s, scope)
        return _datasets(s, scope, unblinded)


def _datasets(s: Session, scope: Scope, unblinded: bool) -> dict[str, list[dict[str, Any]]]:
    study = s.get(m.Study, scope.study_id)
    studyid = study.code if study else "?"
    sites = {a: b for a, b in s.execute(select(m.Site.id, m.Site.code)).all()}
    versions = {a: b for a, b in s.execute(
        select(m.ProtocolVersion.id, m.ProtocolVersion.version_label)).all()}
    subjects = s.scalars(select(m.Subject).where(
        m.Subject.study_id == scope.study_id, scope.site_filter(m.Subject.site_id))
        .order_by(m.Subject.subject_code)).all()
    allocations = {a.subject_id: (a, arm) for a, arm in s.execute(
        select(m.SubjectAllocation, m.Arm).join(m.Arm, m.Arm.id == m.SubjectAllocation.arm_id)
    ).all()}
    out: dict[str, list[dict[str, Any]]] = {"subjects": [], "observations": [],
                                            "adverse_events": []}
    if unblinded:
        out["administrations"] = []
    for subj in subjects:
        alloc, arm = allocations.get(subj.id, (None, None))
        armcd = arm.code if unblinded and arm is not None else None
        common = {"STUDYID": studyid, "USUBJID": subj.subject_code,
                  "SITEID": sites.get(subj.site_id), "ARMCD": armcd}
        first = s.execute(select(m.Administration.administered_at,
                                 m.Administration.administered_offset_min)
                          .where(m.Administration.subject_id == subj.id)
                          .order_by(m.Administration.administered_at).limit(1)).first()
        died = subject_death_date(s, subj.id)
        out["subjects"].append({
            **common, "ARM": arm.name if armcd and arm else None,
            "RANDFL": _yn(alloc is not None),
            "RANDNUM": alloc.sequence_number if alloc else None,
            "RANDDT": _local_date(alloc.allocated_at, alloc.allocated_offset_min)
            if alloc else None,
            "STRATUM": alloc.stratum if alloc else None, "SUBJSTAT": subj.status.value,
            "ENRLDT": _local_date(subj.enrolled_at, subj.enrolled_offset_min),
            "ONSETDTC": subj.stroke_onset_at.isoformat() if subj.stroke_onset_at else None,
            "ANCHORDT": subj.anchor_date,
            "TRTSDT": _local_date(first[0], first[1]) if unblinded and first else None,
            "DTHFL": _yn(died is not None) if died else None, "DTHDT": died,
            "PROTVER": versions.get(subj.protocol_version_id)})
        if unblinded:
            summary = _administration_summary(s, subj, common)
            if summary is not None:
                out["administrations"].append(summary)
        out["observations"] += _observations(s, subj, common, versions)
        for ae in s.scalars(select(m.AdverseEvent).where(m.AdverseEvent.subject_id == subj.id)
                            .order_by(m.AdverseEvent.ae_number)).all():
            crit = set(ae.serious_criteria or [])
            flags = {name: _yn(c in crit) if ae.serious else None for name, c in (
                ("AESDTH", "death"), ("AESLIFE", "life_threatening"),
                ("AESHOSP", "hospitalisation"), ("AESDISAB", "disability"),
                ("AESCONG", "congenital_anomaly"), ("AESMIE", "important_medical_event"))}
            out["adverse_events"].append({
                **common, "AESEQ": ae.ae_number, "AETERM": ae.term,
                "AEBODSYS": ae.body_system, "AESTDTC": ae.onset_date,
                "AEENDTC": ae.resolution_date, "AEONGO": _yn(ae.ongoing),
                "AETOXGR": ae.ctcae_grade, "AESER": _yn(ae.serious), **flags,
                "AEREL": ae.related_to_product, "AERELPRC": ae.related_to_procedure,
                "AEEXPECT": _yn(ae.expected), "AEACN": ae.action_taken, "AEOUT": ae.outcome,
                "AEEXPFL": _yn(ae.expedited_report_required), "FORMSEQ": ae.form_instance_id})
    return out


def _administration_summary(s: Session, subj: m.Subject,
                            common: Mapping[str, Any]) -> dict[str, Any] | None:
    """The subject's administrations in one row (unblinded exports only), None if none."""
    rows = s.scalars(select(m.Administration).where(m.Administration.subject_id == subj.id)
                     .order_by(m.Administration.administered_at,
                               m.Administration.administration_number)).all()
    if not rows:
        return None
    first = rows[0]
    started = _local_date(first.administered_at, first.administered_offset_min)
    onset = _local_date(subj.stroke_onset_at, subj.stroke_onset_offset_min)
    return {**common, "EXNUM": len(rows), "TRTSDT": started,
            "EXCELLS": sum(r.cell_count for r in rows), "EXWTKG": first.weight_kg,
            "DOSEKG": first.cell_count / first.weight_kg,
            "TOTDOSKG": sum(r.cell_count / r.weight_kg for r in rows),
            "ONSETDY": float((started - onset).days) if started and onset else None,
            "ONSETHR": first.hours_since_onset,
            "ROUTE": ";".join(dict.fromkeys(r.route for r in rows))}


def _observations(s: Session, subj: m.Subject, common: Mapping[str, Any],
                  versions: Mapping[int, str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    visits = {v.id: v for v in subj.visits}
    forms = s.scalars(select(m.FormInstance).where(
        m.FormInstance.subject_id == subj.id, m.FormInstance.visit_id.is_not(None))
        .order_by(m.FormInstance.id)).all()
    for form in sorted(forms, key=lambda f: (visits[f.visit_id or 0].visit_number, f.id)):
        spec = study_form_spec(s, subj.study_id, form.form_code)
        if spec.unblinded_only:
            continue
        visit = visits[form.visit_id or 0]
        prefix = PARAMCD.get(form.form_code, form.form_code.upper()) if spec.kind == "scale" \
            else form.form_code.upper()
        base = {**common, "AVISIT": visit.visit_name, "AVISITN": visit.visit_number,
                "ADT": form.assessment_date or visit.actual_date, "FORMCD": form.form_code,
                "FORMSEQ": form.id, "FORMSTAT": form.status.value,
                "PROTVER": versions.get(form.protocol_version_id)}
        for d in form.derived:
            rows.append({**base, "PARAMCD": d.param_code, "PARAM": f"{spec.name}: "
                         f"{d.param_code}", "PARAMTYP": "DERIVED", "AVAL": d.value_num,
                         "AVALC": d.value_text, "AVALU": None, "ITEMCD": None})
        for item in form.items:
            value = stored_value(item)
            aval: float | None = None
            avalc: str | None = None
            if item.value_type in (ValueType.INTEGER, ValueType.DECIMAL) and value is not None:
                aval = float(value)
            elif item.value_type is ValueType.BOOLEAN:
                avalc = _yn(value)
            elif value is not None:
                avalc = value.isoformat() if isinstance(value, date | datetime) else str(value)
            rows.append({**base, "PARAMCD": f"{prefix}_{item.item_code.upper()}",
                         "PARAM": f"{spec.name}: {item.item_code}", "PARAMTYP": None,
                         "AVAL": aval, "AVALC": avalc, "AVALU": item.unit,
                         "ITEMCD": item.item_code})
    return rows


def _write(name: str, rows: list[dict[str, Any]], out: Path) -> dict[str, str]:
    schema = SCHEMAS[name]
    columns = schema.names
    csv_path, parquet_path = out / f"{name}.csv", out / f"{name}.parquet"
    with csv_path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            writer.writerow(["" if row.get(c) is None else
                             row[c].isoformat() if isinstance(row.get(c), date)
                             else repr(row[c]) if isinstance(row.get(c), float)
                             else row[c] for c in columns])
    table = pa.Table.from_pylist([{c: r.get(c) for c in columns} for r in rows],
                                 schema=schema)
    pq.write_table(table, parquet_path)
    return {f"{name}.csv": str(csv_path), f"{name}.parquet": str(parquet_path)}


def export_datasets(db: Engine, ctx: ServiceContext, out_dir: str | Path, *,
                    unblinded: bool = False) -> ExportResult:
    """Write the three tables to ``out_dir`` as CSV and Parquet (blinded unless asked)."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(Problem("out", "is a file, not a directory", str(out_dir),
                                 "a directory (created if missing)"))
    if unblinded:
        # The unblinded export is recorded in the audit trail before anything is written.
        with writing(db) as s:
            scope = authorize(s, ctx, Action.EXPORT)
            _check_unblinded(s, scope)
            data = _datasets(s, scope, True)
            record_changes(s, scope.actor, table="exports", row_key=ctx.now().isoformat(),
                           action=AuditAction.INSERT,
                           changes=[FieldChange("unblinded", None, True),
                                    FieldChange("out_dir", None, str(out)),
                                    FieldChange("subjects", None, len(data["subjects"]))],
                           study_id=scope.study_id, at=ctx.now())
    else:
        data = build_datasets(db, ctx)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    for name, rows in data.items():
        files.update(_write(name, rows, out))
    return ExportResult(str(out), unblinded, files, {k: len(v) for k, v in data.items()})


def record_unblinded_report(db: Engine, ctx: ServiceContext, *, kind: str,
                            outputs: Sequence[str], subjects: int, record_sha256: str) -> int:
    """Write to the audit trail that ``ctx`` generated a report by arm; returns its ``seq``.

    The report's data were read through :func:`build_datasets` with ``unblinded=True``; the
    same rules are checked again here, in the audit transaction (export role, study-wide,
    locked study), so a study unlocked in between refuses the report instead of auditing a
    read that is no longer allowed. One audit row per fact, table ``reports``, like the
    unblinded export's ``exports`` rows: who (user, role) and when (the audit row's own
    columns), what (``kind``: ``trial`` or ``dsmb``; the output files; the number of
    randomised subjects; ``record_sha256``, the hash of the rows read). Call it before the
    report is written, so that no unblinded report exists without its audit row.
    """
    problems: list[Problem] = []
    if not isinstance(kind, str) or not kind.strip() or len(kind) > 40:
        problems.append(Problem("kind", "must name the report", kind, "e.g. trial, dsmb"))
    if not outputs or not all(isinstance(o, str) and o for o in outputs):
        problems.append(Problem("outputs", "must list the files written", list(outputs or ()),
                                "one or more paths"))
    if isinstance(subjects, bool) or not isinstance(subjects, int) or subjects < 0:
        problems.append(Problem("subjects", "must be a count", subjects, "an integer >= 0"))
    if problems:
        raise InputError(problems, context="unblinded report")
    with writing(db) as s:
        scope = authorize(s, ctx, Action.EXPORT)
        _check_unblinded(s, scope)
        now = ctx.now()
        entries = record_changes(
            s, scope.actor, table="reports", row_key=now.isoformat(),
            action=AuditAction.INSERT,
            changes=[FieldChange("unblinded", None, True), FieldChange("kind", None, kind),
                     FieldChange("outputs", None, "; ".join(outputs)),
                     FieldChange("subjects", None, subjects),
                     FieldChange("record_sha256", None, record_sha256)],
            study_id=scope.study_id, at=now)
        return entries[0].seq
