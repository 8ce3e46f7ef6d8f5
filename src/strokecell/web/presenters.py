"""Summaries the pages and the API show, built only from what the services return.

No rule of the trial is decided here: counts are counts of the subjects and visits the
services let the caller see (arms are already masked for blinded roles), and the plot draws
the derived values the engines computed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sized
from dataclasses import dataclass, field
from datetime import date
from html import escape

from sqlalchemy import Engine

from strokecell.errors import PermissionDeniedError
from strokecell.trial import (
    AdverseEventView,
    ServiceContext,
    SubjectView,
    VisitView,
    get_study,
    is_blinded,
    list_adverse_events,
    list_forms,
    list_queries,
    list_safety_signals,
    list_sites,
    list_subjects,
    list_visits,
)

__all__ = ["Dashboard", "ScoreSeries", "dashboard", "score_series", "scores_svg"]


@dataclass
class SiteCount:
    site_code: str
    site_name: str
    enrolled: int = 0
    randomized: int = 0
    by_arm: dict[str, int] | None = None


@dataclass
class VisitDue:
    subject_code: str
    visit_code: str
    visit_label: str
    expected_date: date
    window_start: date
    window_end: date
    status: str


@dataclass
class Dashboard:
    study_code: str
    title: str
    role: str
    blinded: bool
    today: date
    sites: list[SiteCount]
    total_enrolled: int
    total_randomized: int
    by_arm: dict[str, int] | None
    visits_due: list[VisitDue] = field(default_factory=list)
    visits_overdue: list[VisitDue] = field(default_factory=list)
    open_queries: int | None = None
    aes_awaiting_report: int | None = None
    serious_aes: int | None = None
    signals_unacknowledged: int | None = None


def _count(call: Callable[[], Sized]) -> int | None:
    """A count the caller's role may see, else None (the page leaves it out)."""
    try:
        return len(call())
    except PermissionDeniedError:
        return None


def dashboard(db: Engine, ctx: ServiceContext, *, due_within_days: int = 14) -> Dashboard:
    """Enrolment by site (and arm, for unblinded roles) and visits due and overdue."""
    study = get_study(db, ctx)
    blinded = is_blinded(ctx.role)
    today = ctx.local_now().date()
    sites = {s.code: SiteCount(s.code, s.name, by_arm=None if blinded else {})
             for s in list_sites(db, ctx)}
    try:
        subjects = list_subjects(db, ctx)
    except PermissionDeniedError:  # a role without subject access (admin): sites only
        subjects = []
    total_arm: Counter[str] = Counter()
    due: list[VisitDue] = []
    overdue: list[VisitDue] = []
    for subject in subjects:
        count = sites.setdefault(subject.site_code, SiteCount(subject.site_code, "?"))
        count.enrolled += 1
        if subject.randomized:
            count.randomized += 1
        if subject.arm is not None and count.by_arm is not None:
            count.by_arm[subject.arm] = count.by_arm.get(subject.arm, 0) + 1
            total_arm[subject.arm] += 1
        for visit in list_visits(db, ctx, subject.subject_code):
            entry = _due(subject, visit)
            if visit.status == "missed":
                overdue.append(entry)
            elif visit.status == "scheduled" and \
                    (visit.window_start - today).days <= due_within_days:
                due.append(entry)
    due.sort(key=lambda v: (v.window_end, v.subject_code))
    overdue.sort(key=lambda v: (v.window_end, v.subject_code))
    aes = _aes(db, ctx)
    return Dashboard(
        study.code, study.title, ctx.role.value, blinded, today,
        sorted(sites.values(), key=lambda c: c.site_code), len(subjects),
        sum(1 for s in subjects if s.randomized),
        None if blinded else dict(sorted(total_arm.items())), due, overdue,
        open_queries=_count(lambda: list_queries(db, ctx, status="open")),
        aes_awaiting_report=None if aes is None else sum(
            1 for a in aes if a.expedited_report_required and a.expedited_reported_at is None),
        serious_aes=None if aes is None else sum(1 for a in aes if a.serious),
        signals_unacknowledged=_count(lambda: [x for x in list_safety_signals(db, ctx)
                                               if x.acknowledged_at is None]))


def _aes(db: Engine, ctx: ServiceContext) -> list[AdverseEventView] | None:
    try:
        return list_adverse_events(db, ctx)
    except PermissionDeniedError:
        return None


def _due(subject: SubjectView, visit: VisitView) -> VisitDue:
    return VisitDue(subject.subject_code, visit.code, visit.label, visit.expected_date,
                    visit.window_start, visit.window_end, visit.status)


@dataclass
class ScorePoint:
    visit_code: str
    visit_number: int
    day: int | None
    value: float


@dataclass
class ScoreSeries:
    param: str
    points: list[ScorePoint]


def score_series(db: Engine, ctx: ServiceContext, subject: SubjectView) -> list[ScoreSeries]:
    """The subject's numeric derived values (scale totals by PARAMCD) by visit."""
    visits = {v.code: v for v in list_visits(db, ctx, subject.subject_code)}
    series: dict[str, list[ScorePoint]] = {}
    for form in list_forms(db, ctx, subject.subject_code):
        visit = visits.get(form.visit_code or "")
        if visit is None or form.status != "complete":
            continue
        when = form.assessment_date or visit.actual_date or visit.expected_date
        day = (when - subject.anchor_date).days if subject.anchor_date else None
        for param, value in form.derived.items():
            if isinstance(value, int | float) and not param.endswith("BAND"):
                series.setdefault(param, []).append(
                    ScorePoint(visit.code, visit.number, day, float(value)))
    return [ScoreSeries(p, sorted(pts, key=lambda x: x.visit_number))
            for p, pts in sorted(series.items())]


def scores_svg(series: list[ScoreSeries], visit_labels: dict[int, str]) -> str:
    """Small multiples, one panel per parameter: value by visit (inline SVG, escaped)."""
    if not series:
        return ""
    numbers = sorted(visit_labels)
    width, height, pad_l, pad_r, pad_t, pad_b = 360, 180, 44, 34, 26, 34
    panels = []
    for s in series:
        values = [p.value for p in s.points]
        lo, hi = min(0.0, *values), max(values)
        if hi == lo:
            hi = lo + 1
        span_x = max(1, len(numbers) - 1)

        def x(num: int, _span: int = span_x) -> float:
            pos = numbers.index(num) if num in numbers else 0
            return pad_l + (width - pad_l - pad_r) * pos / _span

        def y(v: float, _lo: float = lo, _hi: float = hi) -> float:
            return pad_t + (height - pad_t - pad_b) * (1 - (v - _lo) / (_hi - _lo))

        parts = [f'<svg class="plot" xmlns="http://www.w3.org/2000/svg" width="{width}" '
                 f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
                 f'aria-label="{escape(s.param)} by visit">',
                 f'<text x="{pad_l}" y="16" class="plot-title">{escape(s.param)}</text>',
                 f'<line x1="{pad_l}" y1="{height - pad_b}" x2="{width - pad_r}" '
                 f'y2="{height - pad_b}" stroke="#888"/>',
                 f'<line x1="{pad_l}" y1="{pad_t}" x2="{pad_l}" y2="{height - pad_b}" '
                 'stroke="#888"/>']
        for v in (lo, hi):
            parts.append(f'<text x="{pad_l - 6}" y="{y(v) + 4:.1f}" text-anchor="end" '
                         f'class="plot-tick">{v:g}</text>')
        for num in numbers:
            parts.append(f'<text x="{x(num):.1f}" y="{height - pad_b + 16}" '
                         f'text-anchor="middle" class="plot-tick">'
                         f'{escape(visit_labels[num])}</text>')
        pts = " ".join(f"{x(p.visit_number):.1f},{y(p.value):.1f}" for p in s.points)
        parts.append(f'<polyline points="{pts}" fill="none" stroke="#1f5fa8" '
                     'stroke-width="2"/>')
        for p in s.points:
            parts.append(f'<circle cx="{x(p.visit_number):.1f}" cy="{y(p.value):.1f}" r="4" '
                         f'fill="#1f5fa8"><title>{escape(p.visit_code)}: {p.value:g}'
                         '</title></circle>')
        parts.append("</svg>")
        panels.append("".join(parts))
    return "\n".join(panels)
