"""The analysis data sets of a real trial: ADSL, BDS and ADAE derived from the trial record.

::

    from strokecell.analysis.from_record import analysis_datasets, write_analysis_datasets
    ds = analysis_datasets(engine, ctx)            # read only, through the trial services
    planned = run_planned_analyses(ds.protocol, *ds.for_analysis(), seed=1,
                                   unblinded=not ds.blinded)
    write_analysis_datasets(ds, "out/")            # CSV + Parquet, with the sources

Everything is read through the trial services (``build_datasets``, ``get_study``,
``list_subjects``, ``list_visits``, ``get_form``, ``get_screening``, ``list_deviations``,
``list_locks``), so their authorization, site isolation and blinding apply: the caller
needs the export permission (statistician, data manager) and sees the subjects of its sites.

**Blinding.** Arms are read unblinded only where the export service allows an unblinded
export (a study-wide export role on a locked study); otherwise the data sets are blinded:
``ARMCD`` and ``ARM`` blank, and nothing that betrays the arm (treatment start, whether cells
were given). :meth:`AnalysisDatasets.for_analysis` then hands the planned analyses one
stand-in arm code for every randomised subject, so that they pool; the blinded report
refuses any arm-level row.

**Traceability.** Each BDS and ADAE row names its source in ``SRCSEQ``
(``form:<FORMSEQ>/<form>/derived:<PARAMCD>`` or ``.../item:<item>``, ``FORMSEQ`` being the
form instance id) and keeps ``FORMSEQ``, ``FORMCD``, ``ITEMCD``; ADSL variables are traced
in ``sources`` (one row per subject and variable: value and source record).
See docs/analysis.md, "From the record". The row-by-row derivation itself (ADSL, BDS, ADAE
rows and their traces) is in the private module ``_record_rows``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import Engine

# the per-row derivation lives in _record_rows; _Derivation keeps its old name here
from strokecell.analysis._record_rows import Derivation as _Derivation
from strokecell.analysis.datasets import (
    ADAE_COLUMNS,
    ADSL_COLUMNS,
    BDS_COLUMNS,
    arm_codes,
    strata_columns,
    validate_adae,
    validate_adsl,
    validate_bds,
)
from strokecell.analysis.worstcase import derive_worst_case
from strokecell.errors import InputError, PermissionDeniedError, Problem
from strokecell.protocol import Protocol
from strokecell.trial import (
    Action,
    LockView,
    ServiceContext,
    VisitView,
    authorize,
    build_datasets,
    current_version,
    design_of,
    get_study,
    list_locks,
    list_subjects,
    list_visits,
    reading,
)

__all__ = ["AnalysisDatasets", "RecordSnapshot", "analysis_datasets",
           "write_analysis_datasets"]

BDS_EXTRA = ("STUDYID", "SITEID", "FORMSEQ", "FORMCD", "ITEMCD", "AWLO", "AWHI")
ADAE_EXTRA = ("STUDYID", "AESEQ", "AENDT", "AEREL", "AERELPRC", "FORMSEQ")
SOURCES_COLUMNS = ("USUBJID", "VARIABLE", "VALUE", "SOURCE")


@dataclass(frozen=True)
class RecordSnapshot:
    """What was read, by whom and when: enough to find the same record state again."""

    study_id: str
    protocol_version: str
    protocol_sha256: str
    study_status: str
    locked: bool
    blinded: bool
    blinding_note: str
    role: str
    read_at: str
    record_sha256: str  # of the rows read (canonical JSON of the export tables)
    counts: Mapping[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {k: (dict(v) if isinstance(v, Mapping) else v)
                for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class AnalysisDatasets:
    """ADSL, BDS and ADAE of a trial record, with the protocol in force and the snapshot."""

    protocol: Protocol
    adsl: pd.DataFrame
    bds: pd.DataFrame
    adae: pd.DataFrame
    snapshot: RecordSnapshot
    sources: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=list(SOURCES_COLUMNS)))
    messages: tuple[str, ...] = ()

    @property
    def blinded(self) -> bool:
        return self.snapshot.blinded

    @property
    def n_randomised(self) -> int:
        return int((self.adsl["RANDFL"] == "Y").sum())

    def for_analysis(self) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """ADSL, BDS, ADAE for :func:`~strokecell.analysis.run_planned_analyses`.

        Unblinded: the data sets as they are. Blinded: ADSL with one stand-in arm code (the
        protocol's first arm) for every randomised subject, because the analyses select
        subjects by protocol arm code; run them with ``unblinded=False`` so that everything
        is pooled (the stand-in says nothing: every randomised subject carries it).
        """
        if not self.blinded:
            return self.adsl, self.bds, self.adae
        adsl = self.adsl.copy()
        rand = adsl["RANDFL"] == "Y"
        adsl.loc[rand, "ARMCD"] = arm_codes(self.protocol)[0]
        return adsl, self.bds, self.adae


def _dt(values: Iterable[date | None]) -> pd.Series:
    return pd.Series(pd.to_datetime([v.isoformat() if isinstance(v, date) else None
                                     for v in values]), dtype="datetime64[ns]")


def _frame(rows: list[dict[str, Any]], kinds: Mapping[str, str],
           extra: Iterable[str] = ()) -> pd.DataFrame:
    """Rows as a DataFrame with the contract's dtypes (also when there are no rows)."""
    cols = [*kinds, *[c for c in extra if c not in kinds]]
    frame = pd.DataFrame(rows, columns=cols)
    for col in cols:
        kind = kinds.get(col, "text")
        if kind == "date":
            frame[col] = _dt(frame[col].tolist())
        elif col == "AETOXGR":  # a grade is always there: whole numbers
            frame[col] = frame[col].astype("int64")
        elif kind in ("float", "int"):  # AGE too: float, so that a missing age is NaN
            frame[col] = pd.to_numeric(frame[col], errors="raise").astype(float)
        elif kind == "Int64":
            frame[col] = frame[col].astype("Int64")
        else:
            frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
    return frame


def _kinds(columns: Iterable[Any], extra: Mapping[str, str] | None = None) -> dict[str, str]:
    return {**{c.name: c.kind for c in columns}, **(extra or {})}




def _record_sha(data: Mapping[str, list[dict[str, Any]]]) -> str:
    text = json.dumps(data, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _screenings(db: Engine, ctx: ServiceContext) -> list[tuple[str, str, str | None]]:
    """(screening number, outcome, subject code) of the screenings of the caller's sites.

    The trial services have no list of screenings (``get_screening`` reads one by number),
    so the numbers are read here, read only, after the same authorization and with the
    same site filter; their content then comes from ``get_screening``.
    """
    scr = sa.table("screenings", sa.column("id"), sa.column("study_id"),
                   sa.column("site_id"), sa.column("screening_number"), sa.column("outcome"))
    subj = sa.table("subjects", sa.column("screening_id"), sa.column("subject_code"))
    with reading(db) as s:
        scope = authorize(s, ctx, Action.READ_SUBJECTS)
        stmt = (sa.select(scr.c.screening_number, scr.c.outcome, subj.c.subject_code)
                .select_from(scr.outerjoin(subj, subj.c.screening_id == scr.c.id))
                .where(scr.c.study_id == scope.study_id).order_by(scr.c.id))
        if scope.site_ids is not None:
            stmt = stmt.where(scr.c.site_id.in_(sorted(scope.site_ids)))
        return [(str(a), str(b), c) for a, b, c in s.execute(stmt).all()]


def _protocol(db: Engine, ctx: ServiceContext) -> Protocol:
    with reading(db) as s:
        authorize(s, ctx, Action.READ_STUDY)
        return design_of(current_version(s, ctx.study_id).yaml_text).protocol


def _read(db: Engine, ctx: ServiceContext, unblinded: bool | None
          ) -> tuple[dict[str, list[dict[str, Any]]], bool, str]:
    """The export tables, unblinded when asked (or, with None, when the export allows it)."""
    if unblinded is False:
        return build_datasets(db, ctx), False, "blinded on request"
    try:
        return build_datasets(db, ctx, unblinded=True), True, "unblinded export allowed"
    except PermissionDeniedError as exc:
        if unblinded:
            raise
        return build_datasets(db, ctx), False, str(exc)


def analysis_datasets(db: Engine, ctx: ServiceContext, *,
                      unblinded: bool | None = None) -> AnalysisDatasets:
    """Derive ADSL, BDS and ADAE from the trial record (read only) and validate them.

    ``unblinded``: None (default) reads the arms where the export service allows it for
    ``ctx`` (study-wide export role, locked study), else blinded; True demands it
    (:class:`~strokecell.errors.PermissionDeniedError` otherwise); False stays blinded.
    """
    data, opened, note = _read(db, ctx, unblinded)
    protocol = _protocol(db, ctx)
    study = get_study(db, ctx)
    locks = list_locks(db, ctx)
    locked = study.status == "locked" or any(lk.scope == "study" for lk in locks)
    # Several read transactions: on a study still running, rows written in between are
    # left out (every subject of the export is still listed: subjects are never deleted).
    subjects = {v.subject_code: v for v in list_subjects(db, ctx)}
    visits = {r["USUBJID"]: list_visits(db, ctx, r["USUBJID"]) for r in data["subjects"]}
    d = _Derivation(study.code, protocol, data, subjects, visits, opened,
                    {a.code: a.receives_cells for a in study.arms})
    d.cutoff = _cutoff(locks, visits)
    d.bds_rows()
    d.adsl_rows(db, ctx, _screenings(db, ctx))
    d.adae_rows()
    adsl = _frame(d.adsl, _kinds(ADSL_COLUMNS, dict.fromkeys(strata_columns(protocol),
                                                              "text")))
    bds = _frame(d.bds, _kinds(BDS_COLUMNS, {"FORMSEQ": "Int64", "AWLO": "float",
                                             "AWHI": "float"}), BDS_EXTRA)
    adae = _frame(d.adae, _kinds(ADAE_COLUMNS, {"AESEQ": "Int64", "FORMSEQ": "Int64",
                                                "AENDT": "date"}), ADAE_EXTRA)
    sources = pd.DataFrame(d.sources, columns=list(SOURCES_COLUMNS))
    snapshot = RecordSnapshot(
        study.code, study.protocol_version, study.protocol_sha256, study.status, locked,
        not opened, note, ctx.role.value, ctx.now().isoformat(), _record_sha(data),
        {"screened": len(d.adsl), "enrolled": len(data["subjects"]),
         "randomised": int((adsl["RANDFL"] == "Y").sum()), "observations": len(data[
             "observations"]), "adverse_events": len(adae)})
    ds = AnalysisDatasets(protocol, adsl, bds, adae, snapshot, sources, tuple(d.messages))
    a, b, e = ds.for_analysis()
    validate_adsl(a, protocol)
    validate_bds(b, a, protocol)
    validate_adae(e, a)
    bds = derive_worst_case(a, bds, protocol)
    if bds["DTYPE"].eq("WORST").any():
        d.messages.append("worst-score rows after death derived from ADSL.DTHDT "
                          f"({int(bds['DTYPE'].eq('WORST').sum())} rows, DTYPE = WORST)")
    return AnalysisDatasets(protocol, adsl, bds, adae, snapshot, sources, tuple(d.messages))


def _cutoff(locks: Iterable[LockView], visits: Mapping[str, list[VisitView]]
            ) -> tuple[date | None, str]:
    """The data cut-off: the date of the active study lock, else the latest visit date of
    the record (the record's own calendar: a simulated trial runs ahead of the clock)."""
    study_locks = [lk.locked_at.date() for lk in locks if lk.scope == "study" and lk.active]
    if study_locks:
        return max(study_locks), "the study lock"
    done = [v.actual_date for vs in visits.values() for v in vs if v.actual_date is not None]
    return (max(done), "the latest visit date of the record") if done else (None, "")


def _csv(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False, date_format="%Y-%m-%d", na_rep="")


def write_analysis_datasets(datasets: AnalysisDatasets, out_dir: str | Path
                            ) -> dict[str, str]:
    """Write ``adsl``, ``bds``, ``adae`` and ``adsl_sources`` as CSV and Parquet, and
    ``snapshot.json`` (the record snapshot and the derivation notes); returns name -> path.

    Same columns in both formats; dates as ``YYYY-MM-DD`` in CSV and as dates in Parquet;
    missing values empty in CSV, null in Parquet.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(Problem("out_dir", "is a file, not a directory", str(out_dir),
                                 "a directory (created if missing)"))
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    frames = {"adsl": datasets.adsl, "bds": datasets.bds, "adae": datasets.adae,
              "adsl_sources": datasets.sources}
    for name, frame in frames.items():
        _csv(frame, out / f"{name}.csv")
        parquet = frame.copy()
        for col in parquet.columns:
            if pd.api.types.is_datetime64_any_dtype(parquet[col].dtype):
                parquet[col] = parquet[col].dt.date.astype(object).where(
                    parquet[col].notna(), None)
        parquet.to_parquet(out / f"{name}.parquet", index=False)
        files[f"{name}.csv"] = str(out / f"{name}.csv")
        files[f"{name}.parquet"] = str(out / f"{name}.parquet")
    meta = {"snapshot": datasets.snapshot.to_dict(), "messages": list(datasets.messages),
            "rows": {k: len(v) for k, v in frames.items()},
            "protocol": {"study": datasets.protocol.study.id,
                         "version": datasets.protocol.study.version}}
    (out / "snapshot.json").write_text(json.dumps(meta, indent=2, default=str) + "\n",
                                       encoding="utf-8")
    files["snapshot.json"] = str(out / "snapshot.json")
    return files

