"""In-silico trial through the real platform: virtual patients entered by the ``trial/`` services.

:func:`run_simulated_trial` sets a study up from a protocol file, creates sites and users,
and then lives through the trial on a virtual calendar: every service call runs with the
:class:`~strokecell.trial.ServiceContext` clock set to the simulated moment, so that the
audit trail's timestamps follow the trial's calendar. Patients are screened (screen failures
included), enrolled, randomized by the protocol's list (the arm comes from the service, read
by the unblinded cell lab; the patient's course under that arm is then entered), product lots
registered and released, cells administered by the cell lab, each visit's scales entered
item by item by the blinded assessor and the other pages by the site, adverse events, deaths
and withdrawals reported; at the end every casebook is signed by its investigator and locked,
and the study locked, by the data manager. Nothing is written around the services, so the
run exercises validation, randomization and the audit trail as a real trial does.

Layers: ``simulate`` may not import ``store`` (DESIGN.md), so the caller opens the database
(``strokecell.store.make_engine`` on a migrated, empty database) and verifies the audit
chain afterwards (``strokecell.store.verify_chain``); ``strokecell demo`` does both.
"""

from __future__ import annotations

import functools
import hashlib
import heapq
import itertools
import math
import secrets
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine

from strokecell.errors import InputError, Problem
from strokecell.protocol import Protocol, compute_dose, load_protocol
from strokecell.simulate import pages
from strokecell.simulate.adverse_events import AdverseEvent
from strokecell.simulate.assumptions import Assumptions
from strokecell.simulate.driver_summary import (
    DemoUser,
    SimulatedSubject,
    SimulatedTrialSummary,
    VirtualClock,
)
from strokecell.simulate.records import (
    Administration,
    PatientCohort,
    ScreenFailure,
    VirtualPatient,
    VisitRecord,
    simulate_patients,
)
from strokecell.simulate.scenario import Scenario
from strokecell.trial import (
    ServiceContext,
    StudyDesign,
    add_site,
    answer_query,
    close_query,
    context_for,
    create_user,
    design_of,
    enrol,
    form_spec,
    get_allocation,
    grant_role,
    init_study,
    lock_records,
    open_query,
    randomize,
    record_administration,
    record_release,
    record_visit,
    register_lot,
    report_adverse_event,
    save_form,
    screen,
    sign,
    update_adverse_event,
    withdraw_subject,
)

__all__ = ["DemoUser", "SimulatedSubject", "SimulatedTrialSummary", "VirtualClock",
           "run_simulated_trial"]

#: Time zone of the simulated sites (the reference source is a hospital in Hebei, China).
SITE_TIMEZONE = "Asia/Shanghai"
SITE_OFFSET_MIN = 480
_TZ = timezone(timedelta(minutes=SITE_OFFSET_MIN))
#: Share of screened candidates who fail screening, when not given [A].
SCREEN_FAILURE_FRACTION = 0.2
#: Lots: shelf life after manufacture, and manufacture before first use [A].
LOT_SHELF_LIFE_DAYS = 180
LOT_AGE_AT_RECEIPT_DAYS = 30

Progress = Callable[[str, int, int], None]


@dataclass
class _Subject:
    patient: VirtualPatient
    site: str
    screening: str
    code: str = ""
    arm: str = ""
    number: int = 0
    enrolled_on: date = date.min
    end: date | None = None
    status: str = "completed"
    randomized_at: datetime | None = None


@dataclass
class _Counts:
    visits_done: int = 0
    visits_missed: int = 0
    forms: int = 0
    administrations: int = 0
    adverse_events: int = 0
    serious: int = 0
    deaths: int = 0
    withdrawals: int = 0
    signatures: int = 0
    locks: int = 0
    queries: int = 0
    calls: int = 0


class _Trial:
    """The running trial: users' contexts, the event queue and the counters."""

    def __init__(self, db: Engine, protocol: Protocol, protocol_text: str, clock: VirtualClock,
                 rng: np.random.Generator) -> None:
        self.db, self.protocol, self.text, self.clock, self.rng = (db, protocol,
                                                                   protocol_text, clock, rng)
        self.design = design_of(protocol_text)
        self.queue: list[tuple[datetime, int, Callable[[], None]]] = []
        self.order = itertools.count()
        self.n = _Counts()
        self.ctx: dict[tuple[str, str | None], ServiceContext] = {}
        self.users: list[DemoUser] = []
        self.lots: list[tuple[str, datetime]] = []  # lot number, expiry
        self.components = {"fma_total": ("fma_ue", "fma_le")}
        self.baseline_code = next(v.code for v in self.design.visits if v.baseline)
        self.timing: dict[str, tuple[int, float]] = {}  # service: calls, seconds

    # -- plumbing ---------------------------------------------------------------------------
    def at(self, when: datetime, action: Callable[[], None]) -> None:
        heapq.heappush(self.queue, (when, next(self.order), action))

    def call(self, service: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        self.n.calls += 1
        name = getattr(service, "__name__", "service")
        started = time.perf_counter()
        try:
            return service(self.db, *args, **kwargs)
        finally:
            spent = self.timing.get(name, (0, 0.0))
            self.timing[name] = (spent[0] + 1, spent[1] + time.perf_counter() - started)

    def as_(self, role: str, site: str | None = None) -> ServiceContext:
        return self.ctx[(role, site)] if (role, site) in self.ctx else self.ctx[(role, None)]

    def password(self, role: str, site: str | None = None) -> str:
        return next(u.password for u in self.users
                    if u.role == role and u.site in (site, None))

    # -- set-up -----------------------------------------------------------------------------
    def set_up(self, sites: Sequence[str], randomization_seed: str) -> None:
        admin_pw = secrets.token_urlsafe(12)
        admin = init_study(self.db, self.text, admin_username="admin",
                           admin_password=admin_pw, admin_full_name="Demo administrator",
                           seed=randomization_seed, offset_minutes=SITE_OFFSET_MIN,
                           clock=self.clock)
        self.n.calls += 1
        self.ctx[("admin", None)] = admin
        self.users.append(DemoUser("admin", "admin", None, admin_pw))
        for i, site in enumerate(sites, start=1):
            self.call(add_site, admin, site, f"Simulated site {i}", country="CN",
                      timezone=SITE_TIMEZONE)
        wanted: list[tuple[str, str, str | None, str]] = []
        for site in sites:
            low = site.lower()
            wanted += [(f"inv.{low}", "investigator", site, f"Investigator {site}"),
                       (f"coord.{low}", "coordinator", site, f"Coordinator {site}"),
                       (f"assessor.{low}", "blinded_assessor", site,
                        f"Blinded assessor {site}")]
        wanted += [("celllab", "cell_lab", None, "Cell laboratory"),
                   ("datamanager", "data_manager", None, "Data manager"),
                   ("monitor", "monitor", None, "Monitor"),
                   ("statistician", "statistician", None, "Trial statistician")]
        for username, role, at_site, name in wanted:
            password = secrets.token_urlsafe(12)
            self.call(create_user, admin, username, name, password)
            self.call(grant_role, admin, username, role, at_site)
            self.users.append(DemoUser(username, role, at_site, password))
            self.ctx[(role, at_site)] = context_for(self.db, username,
                                                 study_code=self.protocol.study.id,
                                                 role=role, offset_minutes=SITE_OFFSET_MIN,
                                                 clock=self.clock)

    # -- one patient ------------------------------------------------------------------------
    def schedule_patient(self, subj: _Subject) -> None:
        p = subj.patient
        baseline = _baseline(self.design, p)
        onset_hour = float(self.rng.uniform(12.0, 16.0))
        onset = pages.at(p.onset_date, onset_hour, _TZ)
        screen_day = max(baseline.date, p.onset_date + timedelta(days=7))
        screen_day = min(screen_day, p.randomisation_date)
        low = self.protocol.eligibility.onset_min_days
        # Morning, unless the onset window's lower bound is at stake (then after the hour
        # of onset); the upper bound then still holds (onset window >= 1 day wide).
        days = (screen_day - p.onset_date).days
        hour = onset_hour + 0.5 if days <= math.ceil(low) else 8.0
        when = pages.at(screen_day, hour, _TZ)
        self.at(when, lambda: self.screen_and_enrol(subj, onset, when, baseline))

    def screen_and_enrol(self, subj: _Subject, onset: datetime, when: datetime,
                         baseline: VisitRecord) -> None:
        p, site = subj.patient, subj.site
        coord = self.as_("coordinator", site)
        elig = p.eligibility
        self.call(screen, coord, site, subj.screening, age_years=p.age_years,
                  stroke_type=p.condition, stroke_onset_at=onset,
                  consent_date=when.date().isoformat(),
                  severity={i: baseline.assessments[i] for i in elig["baseline_severity"]},
                  inclusion=list(elig["inclusion"].values()),
                  exclusion=list(elig["exclusion"].values()))
        self.clock.now = when + timedelta(minutes=20)
        subject = self.call(enrol, coord, subj.screening, anchor_date=p.randomisation_date,
                            strata=_strata(self.protocol, baseline.totals))
        subj.code, subj.enrolled_on = subject.subject_code, when.date()
        days_since = (when - onset).total_seconds() / 86400
        base_day = max(baseline.date, when.date())
        hour = when.hour + when.minute / 60 + 0.75 if base_day == when.date() else 9.0
        self.at(pages.at(base_day, hour, _TZ),
                lambda: self.baseline_visit(subj, baseline, onset, days_since, when.date()))
        rand_hour = max(10.0, hour + 1.5) if p.randomisation_date == base_day else 10.0
        self.at(pages.at(p.randomisation_date, rand_hour, _TZ),
                lambda: self.randomize(subj, onset))

    def baseline_visit(self, subj: _Subject, baseline: VisitRecord, onset: datetime,
                       days_since: float, screened_on: date) -> None:
        p, site, code = subj.patient, subj.site, subj.code
        coord, inv = self.as_("coordinator", site), self.as_("investigator", site)
        visit_day = self.clock.now.date()
        self.call(record_visit, coord, code, baseline.code, visit_day)
        self.n.visits_done += 1
        self.save(coord, code, "consent", pages.consent_page(p, screened_on, self.rng),
                  baseline.code, screened_on)
        self.save(inv, code, "eligibility", pages.eligibility_page(p, days_since, screened_on),
                  baseline.code, screened_on)
        self.save(coord, code, "baseline_stroke", pages.baseline_stroke_page(p, self.rng),
                  baseline.code, baseline.date)
        self.save(coord, code, "demographics", pages.demographics_page(p), baseline.code,
                  baseline.date)
        self.scales(subj, baseline)
        for i, med in enumerate(pages.medication_pages(onset.date(), self.rng), start=1):
            self.save(coord, code, "concomitant_medication", med, None, baseline.date,
                      repeat=i)

    def save(self, ctx: ServiceContext, code: str, form: str, items: Mapping[str, object],
             visit: str | None, assessed: date | None, *, repeat: int = 1) -> None:
        self.call(save_form, ctx, code, form, items, visit_code=visit, repeat_index=repeat,
                  assessment_date=assessed)
        self.n.forms += 1

    def scales(self, subj: _Subject, record: VisitRecord) -> None:
        """Every form planned at the visit: scales by the blinded assessor (items as the
        model rated them), MRI and rehabilitation by the coordinator."""
        site, code = subj.site, subj.code
        assessor, coord = self.as_("blinded_assessor", site), self.as_("coordinator", site)
        strength = 3.0 if site.endswith(("1", "3", "5", "7", "9")) else 1.5
        for form in self.design.forms_at(record.code):
            spec = form_spec(form)
            if spec.instrument_code is not None:
                items = pages.merged_items(record.assessments, form, self.components)
                if items is not None:
                    self.save(assessor, code, form, items, record.code, record.date)
            elif form == "mri":
                self.save(coord, code, "mri", pages.mri_page(record.date, strength),
                          record.code, record.date)
            elif form == "rehabilitation":
                self.save(coord, code, "rehabilitation",
                          pages.rehabilitation_page(record.day, self.rng), record.code,
                          record.date)

    def randomize(self, subj: _Subject, onset: datetime) -> None:
        site = subj.site
        self.call(randomize, self.as_("coordinator", site), subj.code)
        # The arm is concealed from the site; the unblinded cell lab reads it.
        allocation = self.call(get_allocation, self.as_("cell_lab"), subj.code)
        subj.arm, subj.number = allocation.arm, allocation.sequence_number
        subj.randomized_at = self.clock.now
        self.schedule_course(subj, onset)

    def schedule_course(self, subj: _Subject, onset: datetime) -> None:
        p = subj.patient
        course = p.course(subj.arm)
        stop = [d for d in (course.death_date, course.dropout_date) if d is not None]
        end = min(stop) if stop else None
        last = max((v.date for v in course.visits if v.status == "done"), default=None)
        subj.end = end or last
        for adm in course.administrations:
            self.schedule_administration(subj, adm, onset)
        for visit in course.visits:
            if visit.code == self.baseline_code:
                continue
            if visit.status == "done":
                self.at(pages.at(visit.date, 10.0, _TZ),
                        functools.partial(self.follow_up_visit, subj, visit))
            elif visit.status == "missed":
                self.n.visits_missed += 1
        for event in course.adverse_events:
            if event.grade == 5:
                continue
            self.at(pages.at(event.onset_date + timedelta(days=1), 9.0, _TZ),
                    functools.partial(self.report_ae, subj, event, end))
        if course.death_date is not None and (course.dropout_date is None
                                              or course.death_date <= course.dropout_date):
            death = next(e for e in course.adverse_events if e.grade == 5)
            self.at(pages.at(course.death_date + timedelta(days=1), 8.0, _TZ),
                    lambda: self.report_death(subj, death))
        elif course.dropout_date is not None:
            self.at(pages.at(course.dropout_date, 12.0, _TZ), lambda: self.withdraw(subj))

    def schedule_administration(self, subj: _Subject, adm: Administration,
                                onset: datetime) -> None:
        arm = self.protocol.arm(subj.arm)
        low = arm.timing.min_days if arm.timing else 0.0
        days = (adm.date - onset.date()).days
        onset_hour = onset.hour + onset.minute / 60
        # Morning (before the hour of onset keeps the upper bound); on the first day of the
        # window, after the hour of onset (keeps the lower bound).
        hour = onset_hour + 2.0 if days <= math.ceil(low) else 11.0
        when = pages.at(adm.date, hour, _TZ)
        if subj.randomized_at is not None and when <= subj.randomized_at:
            when = subj.randomized_at + timedelta(hours=1)
        self.at(pages.at(adm.date, 7.0, _TZ), lambda: self.ensure_lot(when))
        self.at(when, lambda: self.administer(subj, adm, when))

    def ensure_lot(self, needed_at: datetime) -> None:
        if any(expiry > needed_at + timedelta(days=1) for _, expiry in self.lots):
            return
        arm = self.protocol.cell_therapy_arms[0]
        product = arm.product
        if product is None:
            return
        lab = self.as_("cell_lab")
        number = f"UCMSC-{len(self.lots) + 1:03d}"
        made = needed_at.date() - timedelta(days=LOT_AGE_AT_RECEIPT_DAYS)
        expiry = pages.at(made + timedelta(days=LOT_SHELF_LIFE_DAYS), 0.0, _TZ)
        self.call(register_lot, lab, number, cell_type=product.cell_type,
                  source_tissue=product.source_tissue, donor_type=product.origin,
                  donor_code=f"DONOR-{len(self.lots) + 1:03d}" if
                  product.origin == "allogeneic" else None,
                  manufactured_on=made, expires_at=expiry)
        self.clock.now += timedelta(minutes=30)
        results = pages.release_results(product.viability_min_percent or 70.0, self.rng,
                                        product.origin == "allogeneic")
        self.call(record_release, lab, number, results, password=self.password("cell_lab"))
        self.lots.append((number, expiry))

    def administer(self, subj: _Subject, adm: Administration, when: datetime) -> None:
        arm = self.protocol.arm(subj.arm)
        p = subj.patient
        weight = round(p.weight_kg, 1)
        plan = compute_dose(self.protocol, subj.arm, weight)
        lot = next(n for n, expiry in self.lots if expiry > when)
        cells = plan.cells_per_administration * float(self.rng.normal(1.0, 0.04))
        minimum = arm.product.viability_min_percent if arm.product else 70.0
        dwi = sum(1 for e in p.course(subj.arm).adverse_events
                  if e.term.startswith("New DWI lesion") and e.onset_day == adm.day)
        items: dict[str, object] = {
            "lot_number": lot, "administered_at": when.isoformat(), "weight_kg": f"{weight:.1f}",
            "cell_count": f"{cells:.3e}",
            "viability_pct": f"{self.rng.uniform(minimum + 1.0, 98.0):.1f}",
            "volume_ml": f"{plan.volume_ml:g}" if plan.volume_ml else "1",
            "route": arm.route.kind if arm.route else "intravenous",
            "post_imaging_done": True,
            "post_imaging_at": (when + timedelta(hours=2)).isoformat(),
            "new_dwi_lesions": dwi + int(self.rng.integers(0, 2)) if dwi else 0}
        if arm.route is not None and arm.route.kind == "intra_arterial":
            items["vessel"] = arm.route.target_vessel or "middle_cerebral_artery"
        if plan.rate_ml_per_min:
            items["infusion_rate"] = f"{plan.rate_ml_per_min:g}"
        self.call(record_administration, self.as_("cell_lab"), subj.code, items)
        self.n.administrations += 1

    def follow_up_visit(self, subj: _Subject, visit: VisitRecord) -> None:
        self.call(record_visit, self.as_("coordinator", subj.site), subj.code, visit.code,
                  visit.date)
        self.n.visits_done += 1
        self.clock.now += timedelta(minutes=30)
        self.scales(subj, visit)

    def report_ae(self, subj: _Subject, event: AdverseEvent, end: date | None) -> None:
        resolve = event.onset_date + timedelta(days=int(self.rng.integers(1, 22)))
        inv = self.as_("investigator", subj.site)
        known = resolve if resolve <= self.clock.now.date() else None
        view = self.call(report_adverse_event, inv, subj.code,
                         pages.adverse_event_page(event, resolved_on=known))
        self.n.adverse_events += 1
        self.n.serious += int(event.serious)
        if event.serious:
            self.monitor_query(subj, view.ae_number)
        # Follow-up information while the patient is followed; else the event stays open.
        if known is None and subj.end is not None and resolve < subj.end:
            self.at(pages.at(resolve + timedelta(days=1), 9.0, _TZ),
                    lambda: self.resolve_ae(subj, view.ae_number, view.version, resolve))

    def resolve_ae(self, subj: _Subject, number: int, version: int, resolved: date) -> None:
        self.call(update_adverse_event, self.as_("investigator", subj.site), subj.code, number,
                  {"ongoing": False, "resolution_date": resolved.isoformat(),
                   "outcome": "recovered"}, version=version,
                  reason="follow-up information: event resolved")

    def monitor_query(self, subj: _Subject, ae_number: int) -> None:
        """Source data verification of a serious event: the monitor asks for the hospital
        record a week later, the site answers, the monitor closes the query."""
        start = self.clock.now.date() + timedelta(days=7)

        def ask() -> None:
            query = self.call(open_query, self.as_("monitor"), subj.code, "adverse_event",
                              repeat_index=ae_number, item_code="serious",
                              message="SDV: please confirm the seriousness criteria against "
                              "the hospital discharge summary")
            self.n.queries += 1
            self.at(pages.at(start + timedelta(days=2), 10.0, _TZ), lambda: self.call(
                answer_query, self.as_("investigator", subj.site), query.id,
                "confirmed against the discharge summary (filed in the ISF)"))
            self.at(pages.at(start + timedelta(days=3), 15.0, _TZ), lambda: self.call(
                close_query, self.as_("monitor"), query.id, "verified"))

        self.at(pages.at(start, 14.0, _TZ), ask)

    def report_death(self, subj: _Subject, event: AdverseEvent) -> None:
        view = self.call(report_adverse_event, self.as_("investigator", subj.site), subj.code,
                         pages.adverse_event_page(event, resolved_on=None))
        self.monitor_query(subj, view.ae_number)
        self.n.adverse_events += 1
        self.n.serious += 1
        self.n.deaths += 1
        subj.status = "died"
        subj.end = event.onset_date
        self.withdrawal(subj, event.onset_date, "death")

    def withdrawal(self, subj: _Subject, when: date, reason: str) -> None:
        """The withdrawal page and the subject's status, through the withdrawal service."""
        page = pages.withdrawal_page(when, reason)
        self.call(withdraw_subject, self.as_("coordinator", subj.site), subj.code,
                  reason_code=reason, date=when, lost_to_follow_up=reason == "lost_to_follow_up",
                  data_use_allowed=bool(page["data_use_allowed"]))
        self.n.forms += 1

    def withdraw(self, subj: _Subject) -> None:
        reason = "lost_to_follow_up" if self.rng.random() < 0.5 else "consent_withdrawn"
        today = self.clock.now.date()
        self.withdrawal(subj, today, reason)
        self.n.withdrawals += 1
        subj.status = "withdrawn"
        subj.end = today

    def run(self, progress: Progress | None, start: date, stop: date) -> None:
        span = max((stop - start).days, 1)
        shown = -1
        while self.queue:
            when, _, action = heapq.heappop(self.queue)
            self.clock.now = max(self.clock.now, when)
            action()
            done = min(max((when.date() - start).days, 0), span)
            if progress is not None and done != shown:
                progress("trial", done, span)
                shown = done
        if progress is not None:
            progress("trial", span, span)

    def close(self, subjects: Sequence[_Subject], progress: Progress | None) -> None:
        """Casebooks signed by their investigator, then locked, then the study locked."""
        total = len(subjects)
        dm = self.as_("data_manager")
        for i, subj in enumerate(subjects, start=1):
            self.call(sign, self.as_("investigator", subj.site),
                      password=self.password("investigator", subj.site),
                      subject_code=subj.code)
            self.n.signatures += 1
            self.clock.now += timedelta(minutes=2)
            self.call(lock_records, dm, "subject", subject_code=subj.code)
            self.n.locks += 1
            if progress is not None:
                progress("lock", i, total + 1)
        self.clock.now += timedelta(hours=1)
        self.call(lock_records, dm, "study")
        self.n.locks += 1
        if progress is not None:
            progress("lock", total + 1, total + 1)


def _baseline(design: StudyDesign, patient: VirtualPatient) -> VisitRecord:
    """The baseline visit (before any treatment: the same under every arm)."""
    code = next(v.code for v in design.visits if v.baseline)
    return next(v for v in patient.course(next(iter(patient.courses))).visits
                if v.code == code)


def _strata(protocol: Protocol, totals: Mapping[str, float]) -> dict[str, str] | None:
    """Stratum levels from the baseline totals: factors ``baseline_<instrument>`` with levels
    ``le_<x>`` / ``gt_<x>``; any other factor takes its first level (not simulated)."""
    if protocol.randomization is None or not protocol.randomization.stratify_by:
        return None
    out: dict[str, str] = {}
    levels = {f.factor: list(f.levels) for f in protocol.randomization.strata}
    for factor in protocol.randomization.stratify_by:
        choice = levels[factor][0]
        instrument = factor.removeprefix("baseline_")
        if instrument in totals:
            for level in levels[factor]:
                kind, _, bound = level.partition("_")
                try:
                    x = float(bound)
                except ValueError:
                    continue
                value = totals[instrument]
                if (kind == "le" and value <= x) or (kind == "gt" and value > x) or \
                        (kind == "lt" and value < x) or (kind == "ge" and value >= x):
                    choice = level
        out[factor] = choice
    return out


def _sites(sites: Sequence[str] | None, n: int) -> tuple[str, ...]:
    if sites is None:
        count = 2 if n < 100 else 4
        return tuple(f"S{i:02d}" for i in range(1, count + 1))
    if not sites:
        raise InputError(Problem("sites", "at least one site", list(sites), "e.g. S01, S02"))
    return tuple(sites)


def _chronological(cohort: PatientCohort) -> Iterator[VirtualPatient]:
    yield from sorted(cohort.patients, key=lambda p: (p.onset_date, p.subject))


def run_simulated_trial(db: Engine, protocol_path: str | Path, *, seed: int,
                        n_total: int | None = None, scenario: Scenario | None = None,
                        sites: Sequence[str] | None = None,
                        screen_failures: int | None = None,
                        assumptions: Assumptions | None = None,
                        progress: Progress | None = None) -> SimulatedTrialSummary:
    """Run the trial of ``protocol_path`` with ``n_total`` virtual patients (the protocol's
    ``planned_n`` by default) through the services on ``db`` (an engine from
    ``strokecell.store.make_engine`` on a migrated database without this study).

    ``assumptions`` overrides the virtual-patient model's parameters (e.g. more deaths in a
    test). ``progress(stage, done, total)`` is called with stage ``setup``, ``trial`` (days of the
    simulated calendar) and ``lock`` (casebooks). Seeded: the cohort from ``seed``, the
    randomization list from ``"<seed>:randomization"``, the driver's own choices (sites,
    hours, CRF details) from ``[seed, 1]``. Passwords are generated (not seeded) and
    returned in the summary, for the demo only.
    """
    started = time.perf_counter()
    path = Path(protocol_path)
    text = path.read_text(encoding="utf-8")
    protocol = load_protocol(path)
    n = protocol.study.planned_n if n_total is None else n_total
    if not isinstance(n, int) or isinstance(n, bool) or n < 2:
        raise InputError(Problem("n_total", "at least 2 patients", n, "2, 3, ..."))
    failures = round(n * SCREEN_FAILURE_FRACTION) if screen_failures is None \
        else screen_failures
    site_codes = _sites(sites, n)
    cohort = simulate_patients(protocol, n, np.random.default_rng(seed), scenario=scenario,
                               assumptions=assumptions, screen_failures=failures)
    rng = np.random.default_rng([seed, 1])
    first = min(p.onset_date for p in cohort.patients)
    clock = VirtualClock(pages.at(first - timedelta(days=30), 9.0, _TZ))
    trial = _Trial(db, protocol, text, clock, rng)
    if progress is not None:
        progress("setup", 0, 1)
    randomization_seed = f"{seed}:randomization"
    trial.set_up(site_codes, randomization_seed)
    if progress is not None:
        progress("setup", 1, 1)
    subjects: list[_Subject] = []
    for i, patient in enumerate(_chronological(cohort)):
        site = site_codes[int(rng.integers(0, len(site_codes)))] if i >= len(site_codes) \
            else site_codes[i]
        subj = _Subject(patient, site, f"SCR-{patient.subject}")
        subjects.append(subj)
        trial.schedule_patient(subj)
    for k, failure in enumerate(cohort.screen_failures):
        donor = cohort.patients[int(rng.integers(0, len(cohort.patients)))]
        trial.at(pages.at(donor.onset_date + timedelta(days=10), 14.0 + k % 3, _TZ),
                 functools.partial(_screen_failure, trial, failure, cohort, site_codes))
    stop = max(p.randomisation_date for p in cohort.patients) + timedelta(days=420)
    trial.run(progress, first, stop)
    last = max((s.end for s in subjects if s.end is not None), default=trial.clock.now.date())
    trial.clock.now = max(trial.clock.now, pages.at(last + timedelta(days=14), 9.0, _TZ))
    trial.close(subjects, progress)
    arm_counts = {a.code: sum(s.arm == a.code for s in subjects) for a in protocol.arms}
    return SimulatedTrialSummary(
        study=protocol.study.id, protocol_file=str(path), protocol_sha256=hashlib.sha256(
            text.encode("utf-8")).hexdigest(), seed=seed,
        randomization_seed=randomization_seed, n_screened=n + len(cohort.screen_failures),
        n_screen_failures=len(cohort.screen_failures),
        subjects=tuple(SimulatedSubject(s.code, s.patient.subject, s.site, s.arm, s.number,
                                        s.status, s.end or last) for s in subjects),
        arm_counts=arm_counts, visits_done=trial.n.visits_done,
        visits_missed=trial.n.visits_missed, forms_saved=trial.n.forms,
        administrations=trial.n.administrations, lots=tuple(n_ for n_, _ in trial.lots),
        adverse_events=trial.n.adverse_events, serious_adverse_events=trial.n.serious,
        deaths=trial.n.deaths, withdrawals=trial.n.withdrawals,
        signatures=trial.n.signatures, locks=trial.n.locks, queries=trial.n.queries,
        service_calls=trial.n.calls,
        service_seconds=dict(sorted(trial.timing.items(), key=lambda kv: -kv[1][1])),
        first_date=first, last_date=trial.clock.now.date(),
        seconds=time.perf_counter() - started, users=tuple(trial.users),
        scenario=cohort.scenario.model_dump(mode="json"),
        cohort_seed=cohort.seed.to_dict(), cohort=cohort)


def _screen_failure(trial: _Trial, failure: ScreenFailure, cohort: PatientCohort,
                    sites: Sequence[str]) -> None:
    """A candidate failing one criterion, screened with the answers the model drew; the
    severity items are those of a real virtual patient's visit (outside the range when
    severity is the reason, inside it otherwise)."""
    site = sites[int(trial.rng.integers(0, len(sites)))]
    elig = failure.eligibility
    now = trial.clock.now
    onset = now - timedelta(days=float(elig["onset_days"]))
    severity: dict[str, Any] = {}
    for instrument, low, high in [(r.instrument, r.min, r.max)
                                  for r in trial.protocol.eligibility.baseline_severity]:
        inside = failure.reason != "severity"
        severity[instrument] = _items_with(cohort, instrument, low, high, inside=inside,
                                           pick=int(trial.rng.integers(0, 1 << 30)))
    trial.call(screen, trial.as_("coordinator", site), site, f"SCR-{failure.subject}",
               age_years=int(elig["age_years"]), stroke_type=str(elig["stroke_type"]),
               stroke_onset_at=onset,
               consent_date=now.date().isoformat() if elig["consent"] else None,
               severity=severity, inclusion=list(elig["inclusion"].values()),
               exclusion=list(elig["exclusion"].values()))


def _items_with(cohort: PatientCohort, instrument: str, low: float | None, high: float | None,
                *, inside: bool, pick: int) -> dict[str, Any]:
    """Items of ``instrument`` rated at some virtual patient's visit, total inside (or
    outside) [low, high]."""
    found = []
    for patient in cohort.patients:
        for visit in patient.course(next(iter(patient.courses))).visits:
            total = visit.totals.get(instrument)
            if total is None:
                continue
            ok = (low is None or total >= low) and (high is None or total <= high)
            if ok is inside:
                found.append(visit.assessments[instrument])
    if not found:
        raise InputError(Problem("screen_failures", f"no {instrument} ratings "
                                 f"{'inside' if inside else 'outside'} the eligibility range "
                                 "to screen a candidate with", instrument,
                                 "fewer screen failures"))
    return dict(found[pick % len(found)])
