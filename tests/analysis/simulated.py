"""Test helper: simulated patients (``strokecell.simulate``) as ADSL, BDS and ADAE frames.

``analysis/`` may not import ``simulate/`` (DESIGN.md layers), so this adapter lives with the
tests (and the CLI glue, later). It plays the part of the derivation from the trial record:
an allocation (subject -> arm) picks each patient's course under its arm.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import numpy as np
import pandas as pd

from strokecell.analysis import PARAMS, derive_worst_case, scheduled_visits, strata_columns
from strokecell.protocol import Protocol
from strokecell.simulate import PatientCohort, Scenario, simulate_patients

SOC = {
    "Pneumonia": "Infections and infestations",
    "Urinary tract infection": "Infections and infestations",
    "Fall": "Injury, poisoning and procedural complications",
    "Puncture site haematoma": "Injury, poisoning and procedural complications",
    "Depression": "Psychiatric disorders",
    "Seizure": "Nervous system disorders",
    "Recurrent stroke": "Nervous system disorders",
    "New DWI lesion (asymptomatic)": "Nervous system disorders",
    "Headache": "Nervous system disorders",
    "Post-dural puncture headache": "Nervous system disorders",
    "Fever": "General disorders and administration site conditions",
    "Nasal discomfort": "Respiratory, thoracic and mediastinal disorders",
    "Death NOS": "General disorders and administration site conditions",
}
PROCEDURE_TERMS = {"Puncture site haematoma", "Post-dural puncture headache",
                   "New DWI lesion (asymptomatic)"}
CELL_TERMS = {"New DWI lesion (asymptomatic)", "Fever", "Seizure", "Headache",
              "Nasal discomfort"}
_CODES = {"mbi": "MBI", "fma_ue": "FMAUE", "fma_le": "FMALE", "nihss": "NIHSS", "mrs": "MRS",
          "lesion_volume": "LESVOL"}


def _stratum(level_names: list[str], value: float) -> str:
    for name in level_names:  # levels like le_40 / gt_40
        op, _, cut = name.partition("_")
        if op == "le" and value <= float(cut):
            return name
        if op == "gt" and value > float(cut):
            return name
    return level_names[0]


def allocate(protocol: Protocol, cohort: PatientCohort, seed: int) -> dict[str, str]:
    """A random allocation in the protocol's planned numbers (or its ratio)."""
    n = len(cohort.patients)
    arms = []
    for arm in protocol.arms:
        arms += [arm.code] * (arm.planned_n or arm.ratio * n)
    arms = (arms * (n // max(len(arms), 1) + 1))[:n]
    order = np.random.default_rng(seed).permutation(n)
    return {cohort.patients[i].subject: arms[k] for k, i in enumerate(order)}


def from_simulation(protocol: Protocol, cohort: PatientCohort, allocation: Mapping[str, str],
                    biomarkers: bool = True, seed: int = 0
                    ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    study = protocol.study.id
    strata = strata_columns(protocol)
    levels = {f"STRAT_{s.factor.upper()}": s.levels for s in
              (protocol.randomization.strata if protocol.randomization else [])}
    baseline_code = next(v.code for v in protocol.schedule.visits if v.baseline)
    visitn = {v.code: float(i) for i, v in enumerate(protocol.schedule.visits)}
    rng = np.random.default_rng(seed)
    adsl, bds, adae = [], [], []
    for k, p in enumerate(cohort.patients):
        arm = allocation[p.subject]
        course = p.course(arm)
        usubjid = f"{study}-{p.subject}"
        admin = course.administrations[0] if course.administrations else None
        is_cell = protocol.arm(arm).is_cell_therapy
        received = admin is not None or not is_cell
        died = course.death_date is not None
        base_tot = course.visits[0].totals
        row = {"STUDYID": study, "USUBJID": usubjid, "SITEID": f"{k % 3 + 1:02d}",
               "ARMCD": arm, "ARM": protocol.arm(arm).name, "STRKTYPE": p.condition,
               "AGE": p.age_years, "SEX": p.sex, "BNIHSS": float(p.nihss_baseline),
               "ONSETDY": float((admin.date - p.onset_date).days) if admin else np.nan,
               "DOSEKG": (admin.cells / p.weight_kg if admin and admin.cells else np.nan),
               "WEIGHTBL": p.weight_kg, "ITTFL": "Y", "PPROTFL": "Y" if received else "N",
               "SAFFL": "Y" if received else "N", "RANDFL": "Y",
               "RECFL": "Y" if received else "N",
               "COMPLFL": "N" if died or course.dropout_date else "Y",
               "DTHFL": "Y" if died else "N", "RANDDT": p.randomisation_date,
               "TRTSDT": admin.date if admin else (None if is_cell else p.randomisation_date),
               "DTHDT": course.death_date,
               "DCSDT": course.death_date or course.dropout_date,
               "DCSREAS": "DEATH" if died else ("WITHDRAWAL BY SUBJECT" if course.dropout_date
                                                else None),
               "SCRFREAS": None, "REHABCHG": "N"}
        for col in strata:
            factor = col.removeprefix("STRAT_").lower()
            instrument = factor.removeprefix("baseline_")
            row[col] = _stratum(levels[col], float(base_tot.get(instrument, 0.0)))
        adsl.append(row)
        base: dict[str, float] = {}
        for visit in course.visits:
            if visit.status != "done":
                continue
            totals = {_CODES[c]: v for c, v in visit.totals.items() if c in _CODES}
            if "FMAUE" in totals and "FMALE" in totals:
                totals["FMATOT"] = totals["FMAUE"] + totals["FMALE"]
            is_base = visit.code == baseline_code
            for code, value in totals.items():
                if is_base:
                    base[code] = value
                b = base.get(code, np.nan)
                bds.append({"USUBJID": usubjid, "PARAMCD": code, "PARAM": PARAMS[code].label,
                            "AVISIT": visit.code, "AVISITN": visitn[visit.code],
                            "ADT": visit.date, "ADY": float(visit.day), "AVAL": value,
                            "BASE": b, "CHG": np.nan if is_base else value - b,
                            "ABLFL": "Y" if is_base else "N", "ANL01FL": "Y", "DTYPE": None,
                            "SRCSEQ": f"{p.subject}/{visit.code}/{code}"})
            if biomarkers and visitn[visit.code] <= 2:  # BDNF at baseline, month 1, month 3
                level = 20.0 * np.exp(0.3 * rng.normal()) * (1.15 if is_cell and not
                                                             is_base else 1.0)
                if is_base:
                    base["BDNF"] = level
                bds.append({"USUBJID": usubjid, "PARAMCD": "BDNF", "PARAM": "BDNF (serum)",
                            "AVISIT": visit.code, "AVISITN": visitn[visit.code],
                            "ADT": visit.date, "ADY": float(visit.day), "AVAL": level,
                            "BASE": base["BDNF"],
                            "CHG": np.nan if is_base else level - base["BDNF"],
                            "ABLFL": "Y" if is_base else "N", "ANL01FL": "Y", "DTYPE": None,
                            "SRCSEQ": f"{p.subject}/{visit.code}/BDNF"})
        start = admin.date if admin else p.randomisation_date
        for j, e in enumerate(course.adverse_events):
            rel_cell = is_cell and e.term in CELL_TERMS and e.related in (
                "related", "possibly_related")
            rel_proc = is_cell and e.term in PROCEDURE_TERMS and e.related in (
                "related", "possibly_related")
            adae.append({"USUBJID": usubjid, "AETERM": e.term,
                         "AEBODSYS": SOC.get(e.term, "General disorders and administration "
                                             "site conditions"),
                         "ASTDT": e.onset_date, "AETOXGR": e.grade,
                         "AESER": "Y" if e.serious else "N",
                         "AREL_CELL": "Y" if rel_cell else "N",
                         "AREL_PROC": "Y" if rel_proc else "N",
                         "AEOUT": "FATAL" if e.grade == 5 else "RECOVERED",
                         "AESDTH": "Y" if e.grade == 5 else "N",
                         "TRTEMFL": "Y" if e.onset_date >= start else "N",
                         "SRCSEQ": f"{p.subject}/AE{j + 1}"})
    for f in cohort.screen_failures:
        adsl.append({"STUDYID": study, "USUBJID": f"{study}-{f.subject}", "SITEID": "01",
                     "ARMCD": "SCRNFAIL", "ARM": None, "STRKTYPE": f.condition,
                     "AGE": f.age_years, "SEX": f.sex, "BNIHSS": np.nan, "ONSETDY": np.nan,
                     "DOSEKG": np.nan, "WEIGHTBL": np.nan, **dict.fromkeys(
                         ["ITTFL", "PPROTFL", "SAFFL", "RANDFL", "RECFL", "COMPLFL", "DTHFL"],
                         "N"), "RANDDT": None, "TRTSDT": None, "DTHDT": None, "DCSDT": None,
                     "DCSREAS": None, "SCRFREAS": f.reason.upper(), "REHABCHG": None,
                     **dict.fromkeys(strata, None)})
    return _frames(protocol, adsl, bds, adae)


def _dates(frame: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    for col in cols:
        frame[col] = pd.to_datetime(frame[col].map(
            lambda v: v.isoformat() if isinstance(v, date) else None)).astype("datetime64[ns]")
    return frame


def _frames(protocol: Protocol, adsl: list[dict[str, object]], bds: list[dict[str, object]],
            adae: list[dict[str, object]]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    a = _dates(pd.DataFrame(adsl), ["RANDDT", "TRTSDT", "DTHDT", "DCSDT"])
    b = _dates(pd.DataFrame(bds), ["ADT"])
    e = _dates(pd.DataFrame(adae), ["ASTDT"])
    for frame in (a, b, e):
        for col in frame.columns:
            if frame[col].dtype == object or str(frame[col].dtype) in ("str", "string"):
                frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
    b = derive_worst_case(a, b, protocol)
    return a, b, e


def simulated_trial(protocol: Protocol, n: int = 45, seed: int = 2026,
                    scenario: Scenario | None = None, screen_failures: int = 8,
                    biomarkers: bool = True
                    ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    cohort = simulate_patients(protocol, n, np.random.default_rng(seed),
                               scenario=scenario or Scenario(effects={"mbi": 8}),
                               screen_failures=screen_failures)
    return from_simulation(protocol, cohort, allocate(protocol, cohort, seed), biomarkers,
                           seed)


def demo_like_trial(protocol: Protocol, n: int = 45, seed: int = 2026
                    ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The simulated trial as ``strokecell demo`` records it through the trial services:
    each parameter only at the visits the protocol schedules for it (and baseline:
    Fugl-Meyer at baseline and month 12 only, mRS at baseline, months 3 and 12), worst-score
    rows derived after that; in each arm one withdrawal becomes a loss to follow-up and one
    completer misses the month-12 visit without discontinuing (COMPLFL stays Y, as the
    derivation from the record sets it)."""
    adsl, bds, adae = simulated_trial(protocol, n=n, seed=seed, biomarkers=False)
    bds = bds[bds["DTYPE"].isna()]
    keep = pd.Series(False, index=bds.index)
    for code in bds["PARAMCD"].unique():
        when = {"baseline", *scheduled_visits(protocol, code)}
        keep |= (bds["PARAMCD"] == code) & bds["AVISIT"].isin(when)
    bds = bds[keep]
    adsl = adsl.copy()
    for arm in protocol.arms:
        in_arm = adsl["ARMCD"] == arm.code
        withdrawn = adsl.index[in_arm & (adsl["DCSREAS"] == "WITHDRAWAL BY SUBJECT")]
        if len(withdrawn):
            adsl.loc[withdrawn[0], "DCSREAS"] = "LOST TO FOLLOW-UP"
        done = adsl.loc[in_arm & (adsl["COMPLFL"] == "Y"), "USUBJID"]
        bds = bds[~((bds["USUBJID"] == done.iloc[0]) & (bds["AVISIT"] == "month_12"))]
    bds = derive_worst_case(adsl, bds.reset_index(drop=True), protocol)
    return adsl, bds, adae
