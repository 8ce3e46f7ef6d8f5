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
See docs/analysis.md, "From the record".
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import Engine

from strokecell.analysis.datasets import (
    ADAE_COLUMNS,
    ADSL_COLUMNS,
    BDS_COLUMNS,
    PARAMS,
    SCREEN_FAILURE,
    arm_codes,
    strata_columns,
    validate_adae,
    validate_adsl,
    validate_bds,
)
from strokecell.analysis.worstcase import derive_worst_case
from strokecell.errors import InputError, NotFoundError, PermissionDeniedError, Problem
from strokecell.protocol import Protocol
from strokecell.trial import (
    Action,
    LockView,
    ServiceContext,
    SubjectView,
    VisitView,
    authorize,
    build_datasets,
    current_version,
    design_of,
    get_form,
    get_screening,
    get_study,
    list_deviations,
    list_locks,
    list_subjects,
    list_visits,
    reading,
)

__all__ = ["AnalysisDatasets", "RecordSnapshot", "analysis_datasets",
           "write_analysis_datasets"]

RELATED = ("possible", "probable", "definite")  # WHO-UMC words counted as related
AEOUT = {"recovered": "RECOVERED", "recovering": "RECOVERING", "fatal": "FATAL",
         "not_recovered": "NOT RECOVERED", "unknown": "UNKNOWN",
         "recovered_with_sequelae": "RECOVERED WITH SEQUELAE"}
#: The demographics page's sex codes as ADSL SEX (CDISC: M, F, U).
SEX = {"male": "M", "female": "F", "unknown": "U"}
DCSREAS = {"consent_withdrawn": "WITHDRAWAL BY SUBJECT", "adverse_event": "ADVERSE EVENT",
           "lost_to_follow_up": "LOST TO FOLLOW-UP", "death": "DEATH",
           "investigator_decision": "PHYSICIAN DECISION", "protocol_deviation": "OTHER",
           "other": "OTHER"}
_CRITERIA = {"age": "AGE", "stroke_type": "STROKE TYPE", "onset_days": "TIME SINCE ONSET",
             "consent": "NO INFORMED CONSENT"}
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


def _study_day(when: date | None, anchor: date | None) -> float:
    """CDISC study day relative to day 0 of the schedule: no day 0 (day 1 is day 0)."""
    if when is None or anchor is None:
        return float("nan")
    days = (when - anchor).days
    return float(days + 1 if days >= 0 else days)


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


class _Derivation:
    """The row-by-row derivation; one instance per call of :func:`analysis_datasets`."""

    def __init__(self, studyid: str, protocol: Protocol,
                 data: Mapping[str, list[dict[str, Any]]],
                 subjects: Mapping[str, SubjectView], visits: Mapping[str, list[VisitView]],
                 unblinded: bool, receives_cells: Mapping[str, bool]) -> None:
        self.studyid, self.protocol, self.data = studyid, protocol, data
        self.subjects = subjects
        self.visits, self.unblinded, self.receives_cells = visits, unblinded, receives_cells
        self.adsl: list[dict[str, Any]] = []
        self.bds: list[dict[str, Any]] = []
        self.adae: list[dict[str, Any]] = []
        self.sources: list[tuple[str, str, str, str]] = []
        self.messages: list[str] = [] if unblinded else [
            "blinded: ARMCD, ARM and TRTSDT are empty; RECFL and SAFFL equal RANDFL and "
            "ONSETDY is empty (they would reveal the arm); treatment-emergent = on or after "
            "randomisation"]
        self.messages.append(
            "DOSEKG (cells/kg) and ONSETDY from the unblinded export's administration summary "
            "(cells of the first administration / the weight recorded there)" if unblinded else
            "DOSEKG (cells/kg) is empty: the administration summary is part of the unblinded "
            "export only")
        self.administrations = {r["USUBJID"]: r for r in data.get("administrations", [])}
        self.baseline: dict[tuple[str, str], dict[str, Any]] = {}
        self.crf: dict[tuple[str, str], tuple[Any, str]] = {}
        self.rows_by_subject = {r["USUBJID"]: r for r in data["subjects"]}
        self.cutoff: tuple[date | None, str] = (None, "")

    def trace(self, usubjid: str, variable: str, value: Any, source: str) -> None:
        self.sources.append((usubjid, variable, "" if value is None else str(value), source))

    # --- BDS ------------------------------------------------------------------------------
    def bds_rows(self) -> None:
        panel = {p.instrument: p.code for p in PARAMS.values() if p.kind == "biomarker"}
        grouped: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        for obs in self.data["observations"]:
            src = f"form:{obs['FORMSEQ']}/{obs['FORMCD']}"
            if obs["ITEMCD"] is not None and obs["FORMCD"] in ("baseline_stroke",
                                                               "eligibility", "demographics"):
                self.crf.setdefault((obs["USUBJID"], f"{obs['FORMCD']}.{obs['ITEMCD']}"), (
                    obs["AVAL"] if obs["AVAL"] is not None else obs["AVALC"],
                    f"{src}/item:{obs['ITEMCD']}"))
            if obs["PARAMTYP"] == "DERIVED" and obs["PARAMCD"] in PARAMS:
                code, src = obs["PARAMCD"], f"{src}/derived:{obs['PARAMCD']}"
            elif obs["FORMCD"] == "biomarker" and obs["ITEMCD"] in panel:
                code, src = panel[obs["ITEMCD"]], f"{src}/item:{obs['ITEMCD']}"
            else:
                continue
            if obs["AVAL"] is None:
                continue
            visit = next((v for v in self.visits.get(obs["USUBJID"], [])
                          if v.number == obs["AVISITN"]), None)
            if visit is None:
                raise InputError(Problem("observations.AVISITN", f"{obs['USUBJID']} has no "
                                         "visit with this number", obs["AVISITN"]))
            anchor = self.rows_by_subject[obs["USUBJID"]]["ANCHORDT"]
            adt = obs["ADT"]
            in_window = adt is None or visit.window_start <= adt <= visit.window_end
            row = {"STUDYID": obs["STUDYID"], "SITEID": obs["SITEID"],
                   "USUBJID": obs["USUBJID"], "PARAMCD": code, "PARAM": PARAMS[code].label,
                   "AVISIT": visit.code, "AVISITN": float(visit.number), "ADT": adt,
                   "ADY": _study_day(adt, anchor), "AVAL": float(obs["AVAL"]),
                   "BASE": None, "CHG": None, "ABLFL": None, "ANL01FL": "N", "DTYPE": None,
                   "SRCSEQ": src, "FORMSEQ": obs["FORMSEQ"], "FORMCD": obs["FORMCD"],
                   "ITEMCD": obs["ITEMCD"], "AWLO": _study_day(visit.window_start, anchor),
                   "AWHI": _study_day(visit.window_end, anchor),
                   "_rank": (not in_window, PARAMS[code].instrument != obs["FORMCD"],
                             obs["FORMSTAT"] != "complete", -int(obs["FORMSEQ"]))}
            grouped.setdefault((obs["USUBJID"], code, visit.code), []).append(row)
        outside, undated = 0, sum(r["ADT"] is None for g in grouped.values() for r in g)
        if undated:
            self.messages.append(f"{undated} visit record(s) have no date (neither assessment "
                                 "nor visit date): the visit window is not checked")
        for rows in grouped.values():
            rows.sort(key=lambda r: r["_rank"])
            first = rows[0]
            if first["_rank"][0]:
                outside += 1
            else:
                first["ANL01FL"] = "Y"
                if first["AVISITN"] == 0:
                    first["ABLFL"] = "Y"
                    self.baseline[(first["USUBJID"], first["PARAMCD"])] = first
        if outside:
            self.messages.append(f"{outside} visit record(s) assessed outside the visit window "
                                 "are kept with ANL01FL = N")
        for rows in grouped.values():
            for row in rows:
                row.pop("_rank")
                base = self.baseline.get((row["USUBJID"], row["PARAMCD"]))
                if row["AVISITN"] == 0 and row["ABLFL"] is None:
                    row["ABLFL"] = "N"
                if base is not None:
                    row["BASE"] = base["AVAL"]
                    if row["AVISITN"] > 0:
                        row["CHG"] = row["AVAL"] - base["AVAL"]
                if row["AVISITN"] > 0:
                    row["ABLFL"] = "N"
                self.bds.append(row)
        self.bds.sort(key=lambda r: (r["USUBJID"], r["PARAMCD"], r["AVISITN"], r["SRCSEQ"]))

    # --- ADSL -----------------------------------------------------------------------------
    def _crf_value(self, usubjid: str, names: Iterable[str]) -> tuple[Any, str] | None:
        for name in names:
            found = self.crf.get((usubjid, name))
            if found is not None and found[0] is not None:
                return found
        return None

    def adsl_rows(self, db: Engine, ctx: ServiceContext,
                  screenings: list[tuple[str, str, str | None]]) -> None:
        strata = strata_columns(self.protocol)
        deviations: dict[str, list[str]] = {}
        for dev in list_deviations(db, ctx):
            if dev.major and dev.subject_code:
                deviations.setdefault(dev.subject_code, []).append(f"{dev.category} #{dev.id}")
        by_subject = {code: number for number, _, code in screenings if code}
        for subj in self.data["subjects"]:
            self.adsl.append(self._subject(db, ctx, subj, by_subject.get(subj["USUBJID"]),
                                           deviations.get(subj["USUBJID"], []), strata))
        failures = [(n, o) for n, o, code in screenings if code is None]
        for number, outcome in failures:
            self.adsl.append(self._screen_failure(db, ctx, number, outcome, strata))
        if not self.unblinded:
            return
        unknown = {r["ARMCD"] for r in self.adsl} - {*self.receives_cells, SCREEN_FAILURE}
        if unknown:
            raise InputError(Problem("subjects.ARMCD", "arm not in the study", sorted(unknown),
                                     ", ".join(self.receives_cells)))

    def _answers(self, db: Engine, ctx: ServiceContext, number: str | None
                 ) -> dict[str, tuple[str | None, bool | None]]:
        return dict(get_screening(db, ctx, number).answers) if number else {}

    def _subject(self, db: Engine, ctx: ServiceContext, subj: Mapping[str, Any],
                 screening: str | None, majors: list[str], strata: list[str]
                 ) -> dict[str, Any]:
        usubjid, view = subj["USUBJID"], self.subjects[subj["USUBJID"]]
        rand = subj["RANDFL"] == "Y"
        armcd = (subj["ARMCD"] if self.unblinded else "") if rand else SCREEN_FAILURE
        answers: dict[str, tuple[str | None, bool | None]] | None = None
        row: dict[str, Any] = {"STUDYID": subj["STUDYID"], "USUBJID": usubjid,
                               "SITEID": subj["SITEID"], "ARMCD": armcd,
                               "ARM": subj["ARM"] if rand and self.unblinded else None,
                               "SEX": None, "DOSEKG": None}
        self.trace(usubjid, "ARMCD", armcd, f"allocation RANDNUM {subj['RANDNUM']}" if rand
                   else "not randomised (no allocation)")
        for var, names, key in (("STRKTYPE", ("baseline_stroke.stroke_type",
                                              "eligibility.stroke_type"), "stroke_type"),
                                ("AGE", ("baseline_stroke.age_years", "eligibility.age_years"),
                                 "age")):
            found = self._crf_value(usubjid, names)
            if found is None:
                answers = answers if answers is not None else self._answers(db, ctx, screening)
                raw = answers.get(key, (None, None))[0]
                found = (raw, f"screening:{screening}/answer:{key}") if raw else (None, "")
            value = found[0]
            row[var] = float(value) if var == "AGE" and value is not None else value
            self.trace(usubjid, var, value, found[1] or "not recorded")
        sex = self._crf_value(usubjid, ("demographics.sex",))
        row["SEX"] = SEX.get(str(sex[0]), "U") if sex else None
        self.trace(usubjid, "SEX", row["SEX"], sex[1] if sex else "no demographics page")
        weight = self._crf_value(usubjid, ("demographics.weight_kg",))
        row["WEIGHTBL"] = float(weight[0]) if weight else None
        self.trace(usubjid, "WEIGHTBL", row["WEIGHTBL"], weight[1] if weight
                   else "no demographics page")
        nihss = self.baseline.get((usubjid, "NIHSS"))
        row["BNIHSS"] = nihss["AVAL"] if nihss else None
        self.trace(usubjid, "BNIHSS", row["BNIHSS"], nihss["SRCSEQ"] if nihss else "no "
                   "analysed baseline NIHSS")
        trtsdt = subj["TRTSDT"] if self.unblinded else None
        onset = subj["ONSETDTC"]
        onset_day = datetime.fromisoformat(onset).date() if onset else None
        row["ONSETDY"] = float((trtsdt - onset_day).days) if trtsdt and onset_day else None
        if row["ONSETDY"] is not None:
            self.trace(usubjid, "ONSETDY", row["ONSETDY"], f"TRTSDT {trtsdt} - onset {onset}")
        given = self.administrations.get(usubjid) if self.unblinded else None
        if given is not None:
            src = (f"administrations summary: {given['EXNUM']} administration(s), "
                   f"{given['EXCELLS']:g} cells, {given['EXWTKG']:g} kg, {given['ROUTE']}")
            row["DOSEKG"] = given["DOSEKG"]
            self.trace(usubjid, "DOSEKG", row["DOSEKG"], src)
            if given["ONSETDY"] is not None:
                row["ONSETDY"] = given["ONSETDY"]
                self.trace(usubjid, "ONSETDY", row["ONSETDY"], src)
        cells = self.receives_cells.get(str(subj["ARMCD"]), False)
        received = rand and (not self.unblinded or not cells or trtsdt is not None)
        row.update(ITTFL="Y" if rand else "N", RANDFL="Y" if rand else "N",
                   RECFL="Y" if received else "N", SAFFL="Y" if received else "N",
                   PPROTFL="Y" if received and not majors else "N",
                   RANDDT=subj["RANDDT"], TRTSDT=trtsdt, DTHDT=subj["DTHDT"],
                   DTHFL="Y" if subj["DTHDT"] else "N", SCRFREAS=None if rand else
                   "ENROLLED, NOT RANDOMISED")
        self.trace(usubjid, "RECFL", row["RECFL"], "first administration (TRTSDT)" if cells
                   and self.unblinded else "arm receives no cells" if self.unblinded else
                   "blinded: set to RANDFL")
        self.trace(usubjid, "PPROTFL", row["PPROTFL"], "major deviations: " + (
            ", ".join(majors) if majors else "none visible to the caller"))
        if subj["DTHDT"]:
            fatal = [a for a in self.data["adverse_events"] if a["USUBJID"] == usubjid
                     and a["AEOUT"] == "fatal"]
            self.trace(usubjid, "DTHDT", subj["DTHDT"], ", ".join(
                f"form:{a['FORMSEQ']}/adverse_event/AESEQ:{a['AESEQ']}" for a in fatal)
                or "subject record")
        row.update(self._discontinuation(db, ctx, subj, view))
        row.update(self._completion(usubjid, rand, row["DCSREAS"]))
        for col in strata:
            factor = col.removeprefix("STRAT_").lower()
            row[col] = view.strata.get(factor) if rand else None
            self.trace(usubjid, col, row[col], "strata at enrolment")
        return row

    def _discontinuation(self, db: Engine, ctx: ServiceContext, subj: Mapping[str, Any],
                         view: SubjectView) -> dict[str, Any]:
        usubjid = subj["USUBJID"]
        if subj["DTHDT"]:
            return {"DCSDT": subj["DTHDT"], "DCSREAS": "DEATH"}
        try:
            form = get_form(db, ctx, usubjid, "withdrawal")
        except NotFoundError:
            form = None
        if form is not None and form.items.get("reason"):
            reason = DCSREAS.get(str(form.items["reason"]), "OTHER")
            self.trace(usubjid, "DCSREAS", reason, f"withdrawal form (version {form.version})"
                       f": reason {form.items['reason']}")
            return {"DCSDT": form.items.get("withdrawal_date"), "DCSREAS": reason}
        by_status = {"withdrawn": "WITHDRAWAL BY SUBJECT", "lost_to_follow_up":
                     "LOST TO FOLLOW-UP"}.get(view.status)
        if by_status:
            self.trace(usubjid, "DCSREAS", by_status, f"subject status {view.status}")
        return {"DCSDT": None, "DCSREAS": by_status}

    def _completion(self, usubjid: str, rand: bool, reason: str | None) -> dict[str, Any]:
        """COMPLFL: randomised, not discontinued, and the scheduled follow-up over: the last
        scheduled visit done, or its window closed before the data cut-off. A missed visit,
        even the last, is not a discontinuation (DCSREAS comes from death, the withdrawal
        page or the subject status only)."""
        visits = self.visits.get(usubjid, [])
        last = max(visits, key=lambda v: v.number) if visits else None
        cutoff, why = self.cutoff
        if last is None:
            done, note = False, "no visits"
        elif not rand or reason is not None:
            done, note = False, f"last visit {last.code}: {last.status}; discontinued: {reason}"
        elif last.actual_date is not None:
            done, note = True, f"last visit {last.code}: {last.status}"
        elif cutoff is not None and last.window_end < cutoff:
            done, note = True, (f"last visit {last.code} not done (missed), its window closed "
                                f"{last.window_end} before the data cut-off {cutoff} ({why}); "
                                "not discontinued: follow-up ended")
        else:
            done, note = False, (f"last visit {last.code}: {last.status}, window open at the "
                                 f"data cut-off {cutoff} ({why}): follow-up ongoing")
        self.trace(usubjid, "COMPLFL", "Y" if done else "N", note)
        return {"COMPLFL": "Y" if done else "N"}

    def _screen_failure(self, db: Engine, ctx: ServiceContext, number: str, outcome: str,
                        strata: list[str]) -> dict[str, Any]:
        view = get_screening(db, ctx, number)
        failed = [_CRITERIA.get(f.criterion, f.criterion.replace("_", " ").upper())
                  for f in view.failed]
        failed = [f"BASELINE SEVERITY ({c.removeprefix('SEVERITY ')})"
                  if c.startswith("SEVERITY") else c for c in failed]
        reason = "; ".join(dict.fromkeys(failed)) or (
            "ELIGIBLE, NOT ENROLLED" if outcome == "eligible" else "SCREENING NOT COMPLETED")
        self.trace(number, "SCRFREAS", reason, f"screening:{number}/" + ("; ".join(
            f"{f.criterion}: {f.reason}" for f in view.failed) or f"outcome {outcome}"))
        age, stroke = view.answers.get("age", (None, None))[0], \
            view.answers.get("stroke_type", (None, None))[0]
        return {"STUDYID": self.studyid, "USUBJID": number,
                "SITEID": view.site_code, "ARMCD": SCREEN_FAILURE, "ARM": None,
                "STRKTYPE": stroke, "AGE": float(age) if age else None, "SEX": None,
                "BNIHSS": None, "ONSETDY": None, "DOSEKG": None, "WEIGHTBL": None,
                **dict.fromkeys(("ITTFL", "PPROTFL", "SAFFL", "RANDFL", "RECFL", "COMPLFL",
                                 "DTHFL"), "N"),
                "RANDDT": None, "TRTSDT": None, "DTHDT": None, "DCSDT": None, "DCSREAS": None,
                "SCRFREAS": reason, **dict.fromkeys(strata)}

    # --- ADAE -----------------------------------------------------------------------------
    def adae_rows(self) -> None:
        start = {r["USUBJID"]: (r["TRTSDT"] or r["RANDDT"]) for r in self.adsl}
        for ae in self.data["adverse_events"]:
            ref = start.get(ae["USUBJID"])
            onset = ae["AESTDTC"]
            fatal = ae["AEOUT"] == "fatal" or ae["AESDTH"] == "Y" or ae["AETOXGR"] == 5
            self.adae.append({
                "STUDYID": ae["STUDYID"], "USUBJID": ae["USUBJID"], "AESEQ": ae["AESEQ"],
                "AETERM": ae["AETERM"], "AEBODSYS": ae["AEBODSYS"], "ASTDT": onset,
                "AENDT": ae["AEENDTC"], "AETOXGR": int(ae["AETOXGR"]), "AESER": ae["AESER"],
                "AREL_CELL": "Y" if ae["AEREL"] in RELATED else "N",
                "AREL_PROC": "Y" if ae["AERELPRC"] in RELATED else "N",
                "AEREL": ae["AEREL"], "AERELPRC": ae["AERELPRC"],
                "AEOUT": AEOUT.get(str(ae["AEOUT"])), "AESDTH": "Y" if fatal else "N",
                "TRTEMFL": "Y" if ref is not None and onset is not None and onset >= ref
                else "N", "FORMSEQ": ae["FORMSEQ"],
                "SRCSEQ": f"form:{ae['FORMSEQ']}/adverse_event/AESEQ:{ae['AESEQ']}"})


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

