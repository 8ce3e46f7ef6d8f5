"""The row-by-row derivation of ADSL, BDS and ADAE from the export tables of the trial
record, for :func:`strokecell.analysis.from_record.analysis_datasets`.

Kept apart from ``from_record`` (which reads the record through the trial services, frames
and validates the data sets and writes them) so that each module reads in one sitting. The
rules are documented there and in docs/analysis.md, "From the record"; ``Derivation``
reads trial services only for what the export tables do not carry (screening answers,
deviations, the withdrawal page), with the caller's context, so the same authorization,
site isolation and blinding apply.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine

from strokecell.analysis.datasets import PARAMS, SCREEN_FAILURE, strata_columns
from strokecell.errors import InputError, NotFoundError, Problem
from strokecell.protocol import Protocol
from strokecell.trial import (
    ServiceContext,
    SubjectView,
    VisitView,
    get_form,
    get_screening,
    list_deviations,
)

__all__ = ["AEOUT", "DCSREAS", "RELATED", "SEX", "Derivation"]

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


def _study_day(when: date | None, anchor: date | None) -> float:
    """CDISC study day relative to day 0 of the schedule: no day 0 (day 1 is day 0)."""
    if when is None or anchor is None:
        return float("nan")
    days = (when - anchor).days
    return float(days + 1 if days >= 0 else days)


class Derivation:
    """The row-by-row derivation; one instance per call of
    :func:`~strokecell.analysis.from_record.analysis_datasets`."""

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
