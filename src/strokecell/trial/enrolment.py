"""Screening against the protocol's eligibility criteria, and enrolment.

Each criterion gets an answer row (the value as entered and whether it is met); every failed
criterion is named in a screen-failure reason. Input that cannot be judged (a naive onset
time, an off-grid severity item, a missing answer) is an InputError and nothing is written;
a patient who does not meet a criterion is a recorded screen failure, not an error.

Criterion codes: ``age``, ``stroke_type``, ``onset_days``, ``severity_<instrument>``,
``consent``, ``inclusion_<n>`` and ``exclusion_<n>`` (the protocol's free-text criteria in
order, from 1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from strokecell.errors import ConflictError, InputError, NotFoundError, Problem, ScoringError
from strokecell.instruments import load_instrument
from strokecell.protocol import Protocol
from strokecell.protocol.codes import CONDITIONS
from strokecell.store import ScreeningOutcome
from strokecell.store import models as m
from strokecell.trial._allocation import Factors
from strokecell.trial._authz import Action
from strokecell.trial._context import Scope, ServiceContext, authorize
from strokecell.trial._design import current_version, design_of
from strokecell.trial._guards import ensure_writable
from strokecell.trial._tx import audit_insert, audit_update, reading, writing
from strokecell.trial.subjects import subject_view
from strokecell.trial.views import FailedCriterion, ScreeningView, SubjectView
from strokecell.trial.visits import parse_date, schedule_visits

__all__ = ["enrol", "get_screening", "screen"]

_Judged = tuple[str, str | None, bool, str | None]  # criterion, as entered, met, why not


def _site(s: Session, scope: Scope, code: str) -> m.Site:
    site = s.scalars(select(m.Site).where(m.Site.study_id == scope.study_id,
                                          m.Site.code == code)).first()
    if site is None:
        raise NotFoundError(f"site_code: no site {code!r} in this study")
    scope.require_site(site.id, f"site {code}")
    return site


def screen(db: Engine, ctx: ServiceContext, site_code: str, screening_number: str, *,
           age_years: int, stroke_type: str, stroke_onset_at: datetime,
           consent_date: date | str | None,
           severity: Mapping[str, Mapping[str, object]] | None = None,
           inclusion: Sequence[bool] = (), exclusion: Sequence[bool] = ()) -> ScreeningView:
    """Screen a patient: every criterion judged, failures named, the outcome recorded.

    ``severity`` gives the items of each baseline-severity instrument (the score is
    computed by the instrument engine, never typed); ``inclusion`` answers the protocol's
    extra inclusion criteria (True = met), ``exclusion`` its exclusion criteria (True =
    present, which excludes).
    """
    with writing(db) as s:
        scope = authorize(s, ctx, Action.SCREEN)
        site = _site(s, scope, site_code)
        ensure_writable(s, scope.study_id)
        pv = current_version(s, scope.study_id)
        now = ctx.now()
        judged = _judge(design_of(pv.yaml_text).protocol, now, ctx.local_now().date(),
                        screening_number, age_years, stroke_type, stroke_onset_at,
                        consent_date, severity or {}, inclusion, exclusion)
        taken = s.scalars(select(m.Screening.id).where(
            m.Screening.study_id == scope.study_id,
            m.Screening.screening_number == screening_number)).first()
        if taken:
            raise ConflictError(f"screening_number: {screening_number!r} is used already")
        eligible = all(met for _, _, met, _ in judged)
        row = m.Screening(study_id=scope.study_id, site_id=site.id, protocol_version_id=pv.id,
                          screening_number=screening_number,
                          outcome=ScreeningOutcome.ELIGIBLE if eligible
                          else ScreeningOutcome.SCREEN_FAILED,
                          screened_at=now, screened_offset_min=ctx.offset_minutes,
                          screened_by_user_id=ctx.user_id,
                          consent_date=parse_date(consent_date, "consent_date")
                          if consent_date is not None else None)
        audit_insert(s, scope, row, "screenings")
        for code, raw, met, why in judged:
            audit_insert(s, scope, m.EligibilityAnswer(screening_id=row.id, criterion_code=code,
                                                       raw_text=raw, met=met),
                         "eligibility_answers")
            if not met:
                audit_insert(s, scope, m.ScreenFailureReason(
                    screening_id=row.id, criterion_code=code, reason=why or code),
                    "screen_failure_reasons")
        return _screening_view(s, row, site.code)


def _judge(protocol: Protocol, now: datetime, today: date, number: str, age: object,
           stroke_type: object, onset: object, consent: object,
           severity: Mapping[str, Mapping[str, object]], inclusion: Sequence[bool],
           exclusion: Sequence[bool]) -> list[_Judged]:
    rules = protocol.eligibility
    problems: list[Problem] = []
    out: list[_Judged] = []
    if not isinstance(number, str) or not number.strip() or len(number) > 40:
        problems.append(Problem("screening_number", "1-40 characters", number))
    if isinstance(age, bool) or not isinstance(age, int) or not 0 <= age <= 120:
        problems.append(Problem("age_years", "a whole number of years", age, "0 to 120"))
    else:
        ok = rules.age_min_years <= age <= rules.age_max_years
        out.append(("age", str(age), ok, None if ok else
                    f"age {age} outside {rules.age_min_years}-{rules.age_max_years} years"))
    if stroke_type not in CONDITIONS:
        problems.append(Problem("stroke_type", "unknown stroke type", stroke_type,
                                ", ".join(CONDITIONS)))
    else:
        ok = stroke_type in rules.stroke_types
        out.append(("stroke_type", str(stroke_type), ok, None if ok else
                    f"stroke type {stroke_type} not in {', '.join(rules.stroke_types)}"))
    if not isinstance(onset, datetime) or onset.utcoffset() is None:
        problems.append(Problem("stroke_onset_at", "a date and time with its UTC offset",
                                onset, "a timezone-aware datetime"))
    elif onset > now:
        problems.append(Problem("stroke_onset_at", "is in the future", onset.isoformat(),
                                f"before {now.isoformat()}"))
    else:
        days = (now - onset).total_seconds() / 86400
        ok = rules.onset_min_days <= days <= rules.onset_max_days
        out.append(("onset_days", onset.isoformat(), ok, None if ok else
                    f"{days:.1f} days since onset, outside {rules.onset_min_days:g}-"
                    f"{rules.onset_max_days:g}"))
    for rng in rules.baseline_severity:
        items = severity.get(rng.instrument)
        if items is None:
            problems.append(Problem(f"severity.{rng.instrument}", "the items are required",
                                    None, f"the items of {rng.instrument}"))
            continue
        try:
            total = load_instrument(rng.instrument).score(items).total
        except ScoringError as exc:
            problems += [Problem(f"severity.{rng.instrument}.{p.location}", p.message,
                                 p.value, p.allowed) for p in exc.problems]
            continue
        ok = (rng.min is None or total >= rng.min) and (rng.max is None or total <= rng.max)
        bounds = f"{'' if rng.min is None else f'{rng.min:g}'}-" \
                 f"{'' if rng.max is None else f'{rng.max:g}'}"
        out.append((f"severity_{rng.instrument}", f"{total:g}", ok, None if ok else
                    f"{rng.instrument} {total:g} outside {bounds}"))
    consent_day: date | None = None
    if consent is not None:
        try:
            consent_day = parse_date(consent, "consent_date")
        except InputError as exc:
            problems += list(exc.problems)
        else:
            if consent_day > today:
                problems.append(Problem("consent_date", "is in the future", str(consent_day),
                                        f"{today} or earlier"))
    ok = consent_day is not None or not rules.consent_required
    out.append(("consent", str(consent_day) if consent_day else None, ok,
                None if ok else "no informed consent"))
    for name, answers, texts, needed in (
            ("inclusion", inclusion, rules.extra_criteria.inclusion, True),
            ("exclusion", exclusion, rules.extra_criteria.exclusion, False)):
        if len(answers) != len(texts) or any(not isinstance(a, bool) for a in answers):
            problems.append(Problem(name, f"one true/false answer per {name} criterion",
                                    list(answers), f"{len(texts)} answers: " + "; ".join(texts)))
            continue
        for i, (answer, text) in enumerate(zip(answers, texts, strict=True), start=1):
            ok = answer is needed
            out.append((f"{name}_{i}", "true" if answer else "false", ok,
                        None if ok else f"{name} criterion {'not met' if needed else 'present'}"
                        f": {text}"))
    if problems:
        raise InputError(problems, context="screening")
    return out


def _screening_view(s: Session, row: m.Screening, site_code: str) -> ScreeningView:
    code = s.scalars(select(m.Subject.subject_code)
                     .where(m.Subject.screening_id == row.id)).first()
    return ScreeningView(
        row.screening_number, site_code, row.outcome.value,
        row.outcome in (ScreeningOutcome.ELIGIBLE, ScreeningOutcome.ENROLLED),
        tuple(FailedCriterion(r.criterion_code or "", r.reason) for r in row.failure_reasons),
        {a.criterion_code: (a.raw_text, a.met) for a in row.answers}, code)


def _visible_screening(s: Session, scope: Scope, number: str) -> tuple[m.Screening, m.Site]:
    row = s.scalars(select(m.Screening).where(m.Screening.study_id == scope.study_id,
                                              m.Screening.screening_number == number)).first()
    site = s.get(m.Site, row.site_id) if row is not None else None
    if row is None or site is None or not scope.covers(row.site_id):
        raise NotFoundError(f"screening_number: no screening {number!r} among those you "
                            "can see")
    return row, site


def get_screening(db: Engine, ctx: ServiceContext, screening_number: str) -> ScreeningView:
    """A screening of the caller's sites, with its answers and failure reasons."""
    with reading(db) as s:
        scope = authorize(s, ctx, Action.READ_SUBJECTS)
        row, site = _visible_screening(s, scope, screening_number)
        return _screening_view(s, row, site.code)


def enrol(db: Engine, ctx: ServiceContext, screening_number: str, *,
          anchor_date: date | str | None = None,
          strata: Mapping[str, str] | None = None) -> SubjectView:
    """Enrol an eligible screened patient as ``<STUDY>-<SITE>-<NNN>`` and schedule the
    visits from ``anchor_date`` (day 0; default: today on the caller's clock).

    ``strata`` (checked against the protocol's stratification factors) are used when the
    subject is randomized.
    """
    with writing(db) as s:
        scope = authorize(s, ctx, Action.ENROL)
        row, site = _visible_screening(s, scope, screening_number)
        ensure_writable(s, scope.study_id)
        # Lock the site row: enrolments at one site are numbered one after another.
        s.get(m.Site, site.id, with_for_update=True)
        if row.outcome is not ScreeningOutcome.ELIGIBLE:
            raise ConflictError(f"screening_number: {screening_number} is "
                                f"{row.outcome.value}; only an eligible screening is enrolled")
        pv = current_version(s, scope.study_id)
        protocol = design_of(pv.yaml_text).protocol
        today = ctx.local_now().date()
        anchor = today if anchor_date is None else parse_date(anchor_date, "anchor_date")
        if anchor < today:
            raise InputError(Problem("anchor_date", "day 0 is before enrolment", str(anchor),
                                     f"{today} or later"))
        checked = _strata(protocol, strata)
        study = s.get(m.Study, scope.study_id)
        count = s.scalar(select(func.count()).select_from(m.Subject)
                         .where(m.Subject.site_id == site.id)) or 0
        code = f"{study.code if study else '?'}-{site.code}-{count + 1:03d}"
        onset = next((a.raw_text for a in row.answers if a.criterion_code == "onset_days"),
                     None)
        onset_at = datetime.fromisoformat(onset) if onset else None
        offset = onset_at.utcoffset() if onset_at else None
        subject = m.Subject(
            study_id=scope.study_id, site_id=site.id, screening_id=row.id,
            protocol_version_id=pv.id, subject_code=code, enrolled_at=ctx.now(),
            enrolled_offset_min=ctx.offset_minutes, enrolled_by_user_id=ctx.user_id,
            stroke_onset_at=onset_at,
            stroke_onset_offset_min=int(offset.total_seconds() // 60) if offset else None,
            anchor_date=anchor, strata=checked)
        audit_insert(s, scope, subject, "subjects")
        row.outcome = ScreeningOutcome.ENROLLED
        audit_update(s, scope, row, "screenings", f"enrolled as {code}")
        schedule_visits(s, scope, subject, anchor)
        s.refresh(subject)
        return subject_view(s, scope, subject)


def _strata(protocol: Protocol, strata: Mapping[str, str] | None) -> dict[str, str]:
    if protocol.randomization is None or strata is None:
        return dict(strata or {})
    levels = {f.factor: list(f.levels) for f in protocol.randomization.strata}
    factors = Factors.parse({n: levels[n] for n in protocol.randomization.stratify_by})
    try:
        return factors.check(strata)
    except InputError as exc:
        raise InputError(exc.problems, context="enrolment") from None
