"""Summaries the pages and the API show, built only from what the services return.

No rule of the trial is decided here: counts are counts of the subjects and visits the
services let the caller see (arms are already masked for blinded roles), and the plot draws
the derived values the engines computed. The outcome plots draw the analysis data sets of
``strokecell.analysis.from_record``, which decides from the export service whether the
caller reads them by arm; the issue's one extra rule (pooled plots for blinded readers only
after the study lock) is in :func:`outcome_plots`.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Callable, Sized
from dataclasses import dataclass, field
from datetime import date
from html import escape

from matplotlib import rc_context
from matplotlib.figure import Figure
from scipy.stats import t as student_t
from sqlalchemy import Engine

from strokecell.analysis import PARAMS
from strokecell.analysis.from_record import analysis_datasets
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

__all__ = ["Dashboard", "OutcomePlots", "ScoreSeries", "dashboard", "outcome_plots",
           "outcome_svg", "score_series", "scores_svg"]


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
    study_status: str = "active"  # "locked" after the study lock: no data can be changed


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
                                               if x.acknowledged_at is None]),
        study_status=study.status)


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


#: The outcome scales plotted on the study outcome page (the issue's main scales).
OUTCOME_PARAMS = ("MBI", "FMATOT", "FMAUE", "FMALE", "NIHSS", "MRS")
POOLED = "all arms pooled"


@dataclass
class OutcomePoint:
    visit_number: int
    visit_code: str
    n: int
    mean: float
    low: float | None  # 95% CI (t distribution); None with fewer than two values
    high: float | None


@dataclass
class OutcomePanel:
    param: str
    label: str
    groups: dict[str, list[OutcomePoint]]  # arm label (or POOLED) -> points by visit
    svg: str = ""


@dataclass
class OutcomePlots:
    """What the outcome page shows; ``by_arm`` only when the analysis data sets were
    derived unblinded (``analysis_datasets`` decides, from the export service's rules)."""

    blinded: bool
    locked: bool
    note: str
    by_arm: bool
    shown: bool
    panels: list[OutcomePanel] = field(default_factory=list)


def outcome_plots(db: Engine, ctx: ServiceContext) -> OutcomePlots:
    """Mean of each outcome scale by visit with its 95% CI: per arm when the analysis data
    sets are unblinded for ``ctx``; pooled over arms for a blinded reader of a locked study;
    nothing for a blinded reader before the lock. Refusals are the services'
    (PermissionDeniedError for roles that may not export)."""
    ds = analysis_datasets(db, ctx)
    snap = ds.snapshot
    by_arm = not ds.blinded
    shown = by_arm or snap.locked
    result = OutcomePlots(ds.blinded, snap.locked, snap.blinding_note, by_arm, shown)
    if not shown:
        return result
    adsl = ds.adsl[ds.adsl["RANDFL"] == "Y"]
    if by_arm:
        group_of = {str(r.USUBJID): f"{r.ARM} ({r.ARMCD})"
                    for r in adsl[["USUBJID", "ARM", "ARMCD"]].itertuples()}
    else:
        group_of = dict.fromkeys(map(str, adsl["USUBJID"]), POOLED)
    bds = ds.bds[ds.bds["DTYPE"].isna() & ds.bds["AVAL"].notna()]
    for param in OUTCOME_PARAMS:
        rows = bds[bds["PARAMCD"] == param]
        values: dict[str, dict[tuple[int, str], list[float]]] = {}
        for r in rows[["USUBJID", "AVISITN", "AVISIT", "AVAL"]].itertuples():
            group = group_of.get(str(r.USUBJID))
            if group is not None:
                values.setdefault(group, {}).setdefault(
                    (int(r.AVISITN), str(r.AVISIT)), []).append(float(r.AVAL))
        if not values:
            continue
        groups = {g: [_summary(num, code, vs) for (num, code), vs in sorted(by_visit.items())]
                  for g, by_visit in sorted(values.items())}
        panel = OutcomePanel(param, PARAMS[param].label if param in PARAMS else param, groups)
        panel.svg = outcome_svg(panel)
        result.panels.append(panel)
    return result


def _summary(number: int, code: str, values: list[float]) -> OutcomePoint:
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return OutcomePoint(number, code, n, mean, None, None)
    sd = (sum((v - mean) ** 2 for v in values) / (n - 1)) ** 0.5
    half = float(student_t.ppf(0.975, n - 1)) * sd / n ** 0.5
    return OutcomePoint(number, code, n, mean, mean - half, mean + half)


def outcome_svg(panel: OutcomePanel) -> str:
    """One panel drawn with matplotlib (no pyplot: no global state), as inline SVG text."""
    with rc_context({"svg.fonttype": "none", "svg.hashsalt": "strokecell"}):
        fig = Figure(figsize=(6.4, 3.4))
        ax = fig.add_subplot()
        codes: dict[int, str] = {}
        for i, (group, points) in enumerate(panel.groups.items()):
            xs = [p.visit_number + (i - (len(panel.groups) - 1) / 2) * 0.08 for p in points]
            means = [p.mean for p in points]
            err = [[p.mean - (p.low if p.low is not None else p.mean) for p in points],
                   [(p.high if p.high is not None else p.mean) - p.mean for p in points]]
            ax.errorbar(xs, means, yerr=err, marker="o", capsize=3, label=group)
            codes.update({p.visit_number: p.visit_code for p in points})
        ax.set_xticks(sorted(codes), [codes[n] for n in sorted(codes)])
        ax.set_xlabel("visit")
        ax.set_ylabel("mean (95% CI)")
        ax.set_title(panel.label)
        ax.legend(fontsize="small")
        fig.tight_layout()
        out = io.StringIO()
        fig.savefig(out, format="svg", metadata={"Date": None})
    text = out.getvalue()
    return _presentation_attributes(text[text.index("<svg"):])


_STYLE_ATTR = re.compile(r'style="([^"]*)"')
_STYLE_ELEMENT = re.compile(r"<style[^>]*>.*?</style>", re.S)


def _presentation_attributes(svg: str) -> str:
    """The page's Content-Security-Policy (``style-src 'self'``) ignores inline styles:
    turn matplotlib's ``style="fill: …; stroke: …"`` into SVG presentation attributes, and
    its ``<style>`` element (line joins and caps) into attributes of the root element."""
    def attributes(match: re.Match[str]) -> str:
        pairs = (d.split(":", 1) for d in match.group(1).split(";") if ":" in d)
        return " ".join(f'{k.strip()}="{v.strip()}"' for k, v in pairs)
    svg = _STYLE_ELEMENT.sub("", svg)
    svg = svg.replace("<svg ", '<svg class="plot outcome-plot" stroke-linejoin="round" '
                      'stroke-linecap="butt" ', 1)
    return _STYLE_ATTR.sub(attributes, svg)
