"""The study design a protocol version implies: visits with windows and the forms per visit.

The design is a pure function of the stored protocol text (and the shipped form files), so
it is computed from ``protocol_versions.yaml_text`` when needed and cached by its SHA-256,
rather than copied into tables where it could disagree with the protocol it came from.

Forms per visit: every scale endpoint at its visits and at the baseline (a change from
baseline needs one), ``mri`` where the lesion volume is measured, ``biomarker`` where a
panel analyte is, and the CRF pages consent, eligibility, baseline stroke
characteristics and demographics (sex, body weight) at baseline and rehabilitation received
at every follow-up visit. Adverse events, concomitant medications, administrations and
withdrawal are not tied to a visit.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import Engine, bindparam, select
from sqlalchemy.orm import Session

from strokecell.errors import NotFoundError
from strokecell.instruments import biomarker_panel, list_instruments
from strokecell.protocol import Protocol, parse_protocol
from strokecell.store import models as m
from strokecell.store import read_session

__all__ = ["BASELINE_CRFS", "UNSCHEDULED_FORMS", "StudyDesign", "VisitPlan", "current_version",
           "design_of", "sha256_text", "version_design", "warm_up"]

BASELINE_CRFS = ("consent", "eligibility", "baseline_stroke", "demographics")
FOLLOW_UP_CRFS = ("rehabilitation",)
UNSCHEDULED_FORMS = ("adverse_event", "concomitant_medication", "administration", "withdrawal")


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class VisitPlan:
    """One visit of the schedule: AVISITN (0 at baseline), target day, window, forms."""

    code: str
    label: str
    number: int
    target_day: int
    window_before: int
    window_after: int
    baseline: bool
    forms: tuple[str, ...]

    def expected_date(self, anchor: date) -> date:
        return anchor + timedelta(days=self.target_day)


@dataclass(frozen=True)
class StudyDesign:
    protocol: Protocol
    visits: tuple[VisitPlan, ...]
    unscheduled_forms: tuple[str, ...]

    def visit(self, code: str) -> VisitPlan:
        for plan in self.visits:
            if plan.code == code:
                return plan
        raise NotFoundError(f"visit_code: no visit {code!r} in the schedule; visits: "
                            f"{', '.join(v.code for v in self.visits)}")

    def forms_at(self, visit_code: str | None) -> tuple[str, ...]:
        if visit_code is None:
            return self.unscheduled_forms
        return self.visit(visit_code).forms


@functools.lru_cache(maxsize=32)
def _design(sha: str, text: str) -> StudyDesign:
    protocol = parse_protocol(text, source=f"protocol {sha[:12]}")
    scales = set(list_instruments())
    panel = set(biomarker_panel())
    baseline_index = next(i for i, v in enumerate(protocol.schedule.visits) if v.baseline)
    at_visit: dict[str, list[str]] = {v.code: [] for v in protocol.schedule.visits}
    baseline_code = protocol.schedule.baseline.code

    def add(visit: str, form: str) -> None:
        if form not in at_visit[visit]:
            at_visit[visit].append(form)

    for crf in BASELINE_CRFS:
        add(baseline_code, crf)
    for endpoint in protocol.endpoints:
        code = endpoint.instrument
        form = code if code in scales else "biomarker" if code in panel else None
        if form is None:
            continue  # adverse events are reported when they happen, not at a visit
        for visit in [baseline_code, *endpoint.visits]:
            add(visit, form)
            if code == "lesion_volume":
                add(visit, "mri")
    plans = []
    for i, v in enumerate(protocol.schedule.visits):
        if not v.baseline and i > baseline_index:
            for crf in FOLLOW_UP_CRFS:
                add(v.code, crf)
        plans.append(VisitPlan(v.code, v.label, i - baseline_index, v.target_day,
                               v.window_minus_days, v.window_plus_days, v.baseline,
                               tuple(at_visit[v.code])))
    unscheduled = tuple(f for f in UNSCHEDULED_FORMS
                        if f != "administration" or protocol.cell_therapy_arms)
    return StudyDesign(protocol, tuple(plans), unscheduled)


def design_of(yaml_text: str) -> StudyDesign:
    """The design of a protocol text (parsed and derived once per text)."""
    return _design(sha256_text(yaml_text), yaml_text)


def warm_up(db: Engine) -> int:
    """Parse the design of every protocol version in ``db`` and load every form now, so
    that the first requests a server answers do not wait for it (parsing a protocol
    builds the unit registry, which takes about a second). Returns the versions parsed."""
    from strokecell.trial._formspec import form_codes, form_spec  # imports this module

    with read_session(db) as s:
        texts = s.scalars(select(m.ProtocolVersion.yaml_text)).all()
    for text in texts:
        design_of(text)
    for code in form_codes():
        form_spec(code)
    return len(texts)


# The label and digest of a version, then its text only when its design is not known yet:
# every form save checks the form against the design, and the text is tens of kilobytes.
# On the table: versions are written once, by the set-up services, and never changed.
_VERSIONS = m.ProtocolVersion.__table__
_HEADER = select(_VERSIONS.c.version_label, _VERSIONS.c.sha256).where(
    _VERSIONS.c.id == bindparam("id"))
_TEXT = select(_VERSIONS.c.yaml_text).where(_VERSIONS.c.id == bindparam("id"))
_BY_DIGEST: dict[str, StudyDesign] = {}


def version_design(session: Session, version_id: int) -> tuple[str, StudyDesign]:
    """The label and the design of protocol version ``version_id``."""
    row = session.execute(_HEADER, {"id": version_id}).one_or_none()
    if row is None:
        raise NotFoundError(f"protocol version #{version_id} does not exist")
    label, digest = row
    design = _BY_DIGEST.get(digest)
    if design is None:
        text = session.execute(_TEXT, {"id": version_id}).scalar_one()
        design = design_of(text)
        if sha256_text(text) == digest:  # the stored digest is trusted once checked
            _BY_DIGEST[digest] = design
    return str(label), design


def current_version(session: Session, study_id: int) -> m.ProtocolVersion:
    """The protocol version in force: the newest one (an amendment is a new row)."""
    pv = session.scalars(select(m.ProtocolVersion)
                         .where(m.ProtocolVersion.study_id == study_id)
                         .order_by(m.ProtocolVersion.id.desc()).limit(1)).one_or_none()
    if pv is None:
        raise NotFoundError(f"study #{study_id} has no protocol version")
    return pv
