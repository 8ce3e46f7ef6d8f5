"""Test helper: a small trial recorded through the trial services, for the derivation from the
record (tests/analysis/test_from_record.py) and the report command (tests/report/).

The reference protocol (plus a BDNF endpoint at month 1, so that a biomarker is recorded;
arms renamed ``zqcells``/``zqcomp`` so that a scan of a blinded report means something), two
sites, on the virtual clock of tests/trial/conftest.py:

* day 0: one screen failure (age 80), six subjects enrolled and randomised (strata from the
  baseline MBI), one enrolled but not randomised; baseline visit with baseline_stroke,
  demographics (sex alternating male/female, weight 60 + k kg), MBI, NIHSS, mRS, lesion
  volume and BDNF (Fugl-Meyer total for the first three); the
  cell-arm subjects get their cells (released lot); a mild adverse event;
* day 30: month 1 (MBI, BDNF) for the six;
* day 40: one subject dies (grade 5 serious event), another withdraws (withdrawal page);
* day 91: month 3 (MBI, NIHSS, mRS) for the four others, one of them assessed on day 110,
  outside the month-3 window (+/- 14 days);
* then the data manager locks the study (``lock=True``).

:func:`recorded_files` builds it once per test session into two SQLite files (before and
after the lock), with a user for each role the tests sign in as.
"""

from __future__ import annotations

import shutil
import sqlite3
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from strokecell.instruments import load_instrument
from strokecell.store import Role, make_engine
from strokecell.trial import (
    context_for,
    get_allocation,
    lock_records,
    randomize,
    record_administration,
    record_visit,
    report_adverse_event,
    save_form,
    screen,
)
from trial.conftest import MBI_0, MBI_45, PASSWORD, REFERENCE, World, build_world
from trial.partb import AE_MILD, adm_items, released_lot

STUDY = "SC-ICH-IA-UCMSC"
BIOMARKER_ENDPOINT = """  - instrument: bdnf
    label: Serum BDNF
    role: secondary
    variable: change_from_baseline
    visits: [month_1]
"""
NIHSS_ITEMS = {"1a_loc": 0, "1b_loc_questions": 1, "1c_loc_commands": 0, "2_gaze": 0,
               "3_visual": 0, "4_facial_palsy": 1, "5a_motor_arm_left": 0,
               "5b_motor_arm_right": 2, "6a_motor_leg_left": 0, "6b_motor_leg_right": 1,
               "7_limb_ataxia": 0, "8_sensory": 1, "9_language": 0, "10_dysarthria": 1,
               "11_extinction": 0}  # total 7
BASELINE_STROKE = {"stroke_type": "intracerebral_haemorrhage", "age_years": 61,
                   "ich_volume": "18.5", "ich_location": "basal_ganglia",
                   "intraventricular_extension": False, "gcs_eye": 4, "gcs_verbal": 4,
                   "gcs_motor": 6}


CELLS, COMPARATOR = "zqcells", "zqcomp"
ARM_WORDS = (CELLS, COMPARATOR, "zeta cells", "zeta comparator", "zeta")


def reference_text() -> str:
    """The reference protocol with a BDNF endpoint added (the biomarker form at month 1) and
    distinctive arm codes and names, so that a scan of a blinded report is meaningful."""
    text = REFERENCE.read_text(encoding="utf-8")
    anchor = "  - instrument: adverse_events\n"
    return (text.replace(anchor, BIOMARKER_ENDPOINT + anchor)
            .replace("code: transplant", f"code: {CELLS}")
            .replace("code: control", f"code: {COMPARATOR}")
            .replace("name: hUC-MSC intra-arterial plus rehabilitation", "name: Zeta cells arm")
            .replace("name: Routine rehabilitation", "name: Zeta comparator arm"))


def fma_items(points: int) -> dict[str, int]:
    """Items of the Fugl-Meyer total: ``points`` upper-extremity items at 1, the rest 0."""
    items: dict[str, int] = {}
    for code in ("fma_ue", "fma_le"):
        items.update({i.code: 0 for i in load_instrument(code).definition.items})
    for key in list(items)[2:2 + points]:  # after the two 0/2 reflex items
        items[key] = 1
    return items


def mbi_items(total: int) -> dict[str, int]:
    """MBI items adding up to ``total`` (a multiple of 5, at most 60), 10 or 5 points each
    on six items of the Shah grid."""
    items = dict(MBI_0)
    left = total
    for key in ("feeding", "toilet", "stairs", "dressing", "bowels", "bladder"):
        items[key] = 10 if left >= 10 else 5 if left >= 5 else 0
        left -= items[key]
    assert left == 0, total
    return items


@dataclass
class RecordedTrial:
    world: World
    arms: dict[str, str]  # USUBJID -> arm code (read by the cell lab)
    screen_failure: str
    not_randomised: str
    died: str
    withdrawn: str
    late: str  # month 3 assessed outside its window
    baseline_day: date
    values: dict[tuple[str, str, str], float] = field(default_factory=dict)
    locked: bool = False

    def ctx(self, role: Role | str, site: str = "ALL") -> Any:
        return self.world.ctx(role, site)

    @property
    def randomised(self) -> list[str]:
        return sorted(self.arms)


def record_trial(db: Any, *, lock: bool = True, fma: bool = True) -> RecordedTrial:
    """Record the trial (see the module docstring); ``fma=False`` leaves the Fugl-Meyer
    forms out (on PostgreSQL their instrument version text, 88 characters, does not fit
    ``form_instances.instrument_version`` VARCHAR(40): a store issue, reported)."""
    world = build_world(db, protocol_text=reference_text())
    coord = {s: world.ctx(Role.COORDINATOR, s) for s in ("S01", "S02")}
    inv = {s: world.ctx(Role.INVESTIGATOR, s) for s in ("S01", "S02")}
    rater = {s: world.ctx(Role.BLINDED_ASSESSOR, s) for s in ("S01", "S02")}
    lab = world.ctx(Role.CELL_LAB, "ALL")
    screen(world.db, coord["S01"], "S01", "SCR-S01-FAIL", age_years=80,
           stroke_type="intracerebral_haemorrhage",
           stroke_onset_at=world.clock.now - timedelta(days=12),
           consent_date=world.clock.now.date(), severity={"mbi": MBI_0},
           inclusion=[True], exclusion=[False, False])
    day0 = world.clock.now.date()
    mbis = [0, 45, 20, 45, 10, 30]
    subjects: list[tuple[str, str]] = []
    for i, total in enumerate(mbis):
        site = "S01" if i < 3 else "S02"
        code = world.enrol_one(site, mbi=MBI_45 if total >= 45 else MBI_0)
        randomize(world.db, coord[site], code)
        subjects.append((code, site))
    not_randomised = world.enrol_one("S01")
    arms = {c: str(get_allocation(world.db, lab, c).arm) for c, _ in subjects}
    values: dict[tuple[str, str, str], float] = {}
    released_lot(world)
    for k, (code, site) in enumerate(subjects):
        record_visit(world.db, coord[site], code, "baseline", day0)
        save_form(world.db, inv[site], code, "baseline_stroke",
                  {**BASELINE_STROKE, "onset_date": (day0 - timedelta(days=12)).isoformat(),
                   "age_years": 50 + k}, visit_code="baseline")
        save_form(world.db, coord[site], code, "demographics",
                  {"sex": "male" if k % 2 == 0 else "female", "weight_kg": 60.0 + k},
                  visit_code="baseline")
        save_form(world.db, rater[site], code, "mbi", mbi_items(mbis[k]),
                  visit_code="baseline", assessment_date=day0)
        if fma and k < 3:  # 58 items: three forms are enough (every item is an audited row)
            save_form(world.db, rater[site], code, "fma_total", fma_items(10 + k),
                      visit_code="baseline")
        save_form(world.db, rater[site], code, "nihss", NIHSS_ITEMS, visit_code="baseline")
        save_form(world.db, rater[site], code, "mrs", {"mrs": 4}, visit_code="baseline")
        save_form(world.db, rater[site], code, "lesion_volume", {"lesion_volume": 20.0 + k},
                  visit_code="baseline")
        save_form(world.db, inv[site], code, "biomarker",
                  {"sample_date": day0.isoformat(), "sample_type": "serum",
                   "bdnf": 20.0 + k}, visit_code="baseline")
        values[(code, "MBI", "baseline")] = float(mbis[k])
        values[(code, "LESVOL", "baseline")] = 20.0 + k
        values[(code, "BDNF", "baseline")] = 20.0 + k
        if arms[code] == CELLS:
            record_administration(world.db, lab, code, adm_items(world))
    report_adverse_event(world.db, inv["S01"], subjects[0][0], AE_MILD)
    world.clock.advance(30)
    for k, (code, site) in enumerate(subjects):
        record_visit(world.db, coord[site], code, "month_1", day0 + timedelta(days=30))
        total = mbis[k] + 5 if mbis[k] < 45 else 45
        save_form(world.db, rater[site], code, "mbi", mbi_items(total), visit_code="month_1")
        save_form(world.db, inv[site], code, "biomarker",
                  {"sample_date": (day0 + timedelta(days=30)).isoformat(),
                   "sample_type": "serum", "bdnf": 25.0 + k}, visit_code="month_1")
        values[(code, "MBI", "month_1")] = float(total)
        values[(code, "BDNF", "month_1")] = 25.0 + k
    world.clock.advance(10)
    died, died_site = subjects[1]
    withdrawn, w_site = subjects[4]
    report_adverse_event(world.db, inv[died_site], died, {
        "term": "Recurrent intracerebral haemorrhage", "body_system": "Nervous system disorders",
        "onset_date": (day0 + timedelta(days=39)).isoformat(), "ongoing": False,
        "resolution_date": (day0 + timedelta(days=40)).isoformat(), "ctcae_grade": 5,
        "serious": True, "sc_death": True, "related_to_product": "unlikely",
        "related_to_procedure": "not_related", "expected": False, "action_taken": "none",
        "outcome": "fatal"})
    save_form(world.db, inv[w_site], withdrawn, "withdrawal",
              {"withdrawal_date": (day0 + timedelta(days=40)).isoformat(),
               "reason": "consent_withdrawn", "data_use_allowed": True})
    world.clock.advance(72)  # day 112
    late = subjects[5][0]
    for k, (code, site) in enumerate(subjects):
        if code in (died, withdrawn):
            continue
        when = day0 + timedelta(days=110 if code == late else 91)
        record_visit(world.db, coord[site], code, "month_3", when)
        total = min(mbis[k] + 15, 45)
        save_form(world.db, rater[site], code, "mbi", mbi_items(total), visit_code="month_3",
                  assessment_date=when)
        save_form(world.db, rater[site], code, "nihss", NIHSS_ITEMS, visit_code="month_3",
                  assessment_date=when)
        save_form(world.db, rater[site], code, "mrs", {"mrs": 3}, visit_code="month_3",
                  assessment_date=when)
        values[(code, "MBI", "month_3")] = float(total)
    trial = RecordedTrial(world, arms, "SCR-S01-FAIL", not_randomised, died, withdrawn, late,
                          day0, values)
    if lock:
        lock_records(world.db, world.ctx(Role.DATA_MANAGER, "ALL"), "study")
        trial.locked = True
    return trial


#: (role, site) of the users the tests sign in as; user name ``<role>.<site in lower case>``.
USERS = ((Role.STATISTICIAN, "ALL"), (Role.STATISTICIAN, "S01"), (Role.DATA_MANAGER, "ALL"),
         (Role.CELL_LAB, "ALL"), (Role.INVESTIGATOR, "S01"))


@dataclass
class RecordedFiles:
    unlocked: Path  # SQLite file of the trial before the study lock
    locked: Path  # the same after the data manager locked the study
    trial: RecordedTrial  # its world's engine is disposed: use the files

    def url(self, locked: bool = True) -> str:
        return f"sqlite:///{self.locked if locked else self.unlocked}"


_BUILT: dict[str, RecordedFiles] = {}


def _checkpoint(engine: Any, path: Path) -> None:
    engine.dispose()
    with sqlite3.connect(path) as raw:
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw.close()


def recorded_files(template: Path, folder: Path) -> RecordedFiles:
    """The recorded trial as SQLite files (built once per session; treat them read only)."""
    if "files" in _BUILT:
        return _BUILT["files"]
    locked, unlocked = folder / "recorded-locked.sqlite", folder / "recorded-unlocked.sqlite"
    shutil.copyfile(template, locked)
    engine = make_engine(f"sqlite:///{locked}")
    trial = record_trial(engine, lock=False)
    for role, site in USERS:
        trial.world.ctx(role, site)
    _checkpoint(engine, locked)
    shutil.copyfile(locked, unlocked)
    engine = make_engine(f"sqlite:///{locked}")
    lock_records(engine, context_for(engine, "data_manager.all", study_code=STUDY,
                                     role=Role.DATA_MANAGER, clock=trial.world.clock), "study")
    trial.locked = True
    _checkpoint(engine, locked)
    _BUILT["files"] = RecordedFiles(unlocked, locked, trial)
    return _BUILT["files"]


__all__ = ["ARM_WORDS", "CELLS", "COMPARATOR", "PASSWORD", "STUDY", "USERS", "RecordedFiles",
           "RecordedTrial", "record_trial", "recorded_files", "reference_text"]
