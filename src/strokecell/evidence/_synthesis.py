"""Evidence synthesis over ``trials.csv``: one outcome at one time point, pooled overall, by
each of the four aspects, and regressed on dose and on days from onset.

::

    from strokecell.evidence import synthesize
    s = synthesize("death")                           # each comparison's longest follow-up
    s = synthesize("bi", "6mo", by="route", regress=("dose",))
    print(s.summary()); s.to_dict(); forest(s, "forest.png", by="route")

Rows are selected by :func:`~strokecell.evidence._selection.select_rows` (time window, complete
numbers, shared control split), effect sizes computed by :func:`strokecell.stats.meta.escalc`
(arm 1 = cells) and pooled by :func:`strokecell.stats.meta.rma` /
:func:`~strokecell.stats.meta.subgroup_analysis`. Defaults: REML with the Knapp-Hartung
test (IntHout, Ioannidis & Borm, BMC Med Res Methodol 2014;14:25: with few trials the z test
is too often significant); with k = 1 the engine falls back to z and says so. A model that
the number of studies cannot support is reported as a message, never a crash.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from strokecell.errors import InputError, ModelError, Problem
from strokecell.evidence._aspects import (
    ASPECTS,
    REGRESSORS,
    Aspect,
    Regressor,
    aspect_value,
    parse_aspect,
    parse_outcome,
    parse_regressor,
    regressor_value,
)
from strokecell.evidence._dataset import load_trials
from strokecell.evidence._model import TrialRecord
from strokecell.evidence._selection import LeftOut, Study, check_kind, select_rows, usable
from strokecell.evidence._synthesis_result import (
    AspectSynthesis,
    Regression,
    SubgroupLevel,
    Synthesis,
)
from strokecell.evidence._timepoint import TimeWindow, parse_time
from strokecell.evidence._vocab import OUTCOMES, Outcome, OutcomeKind

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from strokecell.stats.meta import MetaResult

__all__ = ["Direction", "direction_note", "forest", "synthesize"]

Direction = Literal["natural", "benefit"]
_DEFAULT_MEASURE = {OutcomeKind.CONTINUOUS: "MD", OutcomeKind.EVENTS: "RR"}
_NAMES = {"MD": "mean difference", "SMD": "standardized mean difference (Hedges' g)",
          "RR": "risk ratio", "OR": "odds ratio", "RD": "risk difference"}


def direction_note(outcome: Outcome, measure: str, direction: Direction) -> str:
    """How to read the sign of an effect for this outcome, measure and direction."""
    info = OUTCOMES[outcome]
    ratio = measure in ("RR", "OR")
    null = "1" if ratio else "0"
    name = _NAMES[measure]
    if direction == "benefit":
        return (f"benefit-harmonised {name}: values above {null} favour cells "
                f"({outcome.value}: {'higher' if info.higher_is_better else 'lower'} is better, "
                f"{'unchanged' if info.higher_is_better else 'sign reversed'})")
    side = "above" if info.higher_is_better else "below"
    what = ("more patients with the event is better" if info.higher_is_better else
            "fewer patients with the event is better") if info.kind is OutcomeKind.EVENTS else (
        "higher is better" if info.higher_is_better else "lower is better")
    op = "cells / control" if ratio else "cells - control"
    return (f"natural direction, {name} = {op} ({outcome.value}: {what}): values {side} "
            f"{null} favour cells")


def _resolve(measure: str | None, method: str, test: str | None,
             outcome: Outcome) -> tuple[str, str, str]:
    from strokecell.stats.meta import METHODS

    m = (measure or _DEFAULT_MEASURE[OUTCOMES[outcome].kind]).upper()
    check_kind(outcome, m)
    meth = {"FE": "EE", "CE": "EE"}.get(method.upper(), method.upper())
    if meth not in METHODS:
        raise InputError(Problem("method", "unknown tau^2 estimator", method,
                                 ", ".join(METHODS)))
    t = (test if test is not None else ("z" if meth == "EE" else "knha")).lower()
    if t not in ("z", "knha"):
        raise InputError(Problem("test", "unknown test", test, "z, knha"))
    return m, meth, t


def _aspects(by: str | Iterable[str] | None) -> tuple[Aspect, ...]:
    if by is None:
        return ASPECTS
    items = [by] if isinstance(by, str) else list(by)
    return tuple(dict.fromkeys(parse_aspect(b) for b in items))


def _regressors(regress: str | Iterable[str] | None) -> tuple[Regressor, ...]:
    if regress is None:
        return tuple(REGRESSORS)
    items = [regress] if isinstance(regress, str) else list(regress)
    return tuple(dict.fromkeys(parse_regressor(r) for r in items))


class _Notes:
    """Messages for the user: our own and the engine's warnings, each once."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, text: str) -> None:
        if text not in self.items:
            self.items.append(text)

    def take(self, caught: list[warnings.WarningMessage], where: str) -> None:
        for w in caught:
            text = str(w.message)
            if text.startswith("k = 1: using test="):
                self.add("fits with k = 1 use the z test (Knapp-Hartung needs k >= 2)")
            else:
                self.add(f"{where}: {text}")


def _fit(yi: Any, vi: Any, labels: list[str], notes: _Notes, where: str,
         **kwargs: Any) -> tuple[MetaResult | None, str | None]:
    from strokecell.stats.meta import rma

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = rma(yi, vi, labels=labels, **kwargs)
        except (ModelError, InputError) as exc:
            return None, f"{where}: not estimable with k = {len(labels)}: {exc}"
    notes.take(caught, where)
    return res, None


def _by_aspect(aspect: Aspect, studies: Sequence[Study], yi: Any, vi: Any, opts: dict[str, Any],
               notes: _Notes) -> AspectSynthesis:
    from strokecell.stats.meta import subgroup_analysis

    groups = [aspect_value(s.record, aspect) for s in studies]
    labels = [s.label for s in studies]
    left = tuple(LeftOut(s.record.row_id, s.record.trial_label, f"by {aspect}",
                         f"{aspect} not coded for this trial: left out of the {aspect} "
                         "subgroups (kept in the overall estimate)")
                 for s, g in zip(studies, groups, strict=True) if g is None)
    levels = sorted({g for g in groups if g is not None})
    if not levels:
        return AspectSynthesis(aspect, (), message=f"no study has {aspect} coded",
                               left_out=left)
    if len(levels) == 1:
        idx = [i for i, g in enumerate(groups) if g == levels[0]]
        fit, err = _fit(yi[idx], vi[idx], [labels[i] for i in idx], notes, f"by {aspect}",
                        **opts)
        fits = () if fit is None else (SubgroupLevel(levels[0], tuple(fit.labels), fit),)
        who = ("the only study with " if len(idx) == 1 else f"all {len(idx)} studies with ")
        msg = (f"{who}{aspect} coded {'is' if len(idx) == 1 else 'are'} {levels[0]}: "
               "one subgroup, no test of subgroup differences")
        return AspectSynthesis(aspect, fits, message=err or msg, left_out=left)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = subgroup_analysis(yi, vi, subgroup=groups, labels=labels, **opts)
        except (ModelError, InputError) as exc:
            return AspectSynthesis(aspect, (), message=f"subgroups by {aspect} not estimable: "
                                   f"{exc}", left_out=left)
    notes.take(caught, f"by {aspect}")
    lvls = tuple(SubgroupLevel(lev, tuple(fit.labels), fit)
                 for lev, fit in zip(res.levels, res.fits, strict=True))
    return AspectSynthesis(aspect, lvls, res.Q_between, res.Q_between_df, res.Q_between_pval,
                           left_out=left, result=res)


def _regression(regressor: Regressor, studies: Sequence[Study], yi: Any, vi: Any,
                opts: dict[str, Any], notes: _Notes) -> Regression:
    values = [regressor_value(s.record, regressor) for s in studies]
    idx = [i for i, v in enumerate(values) if v is not None]
    left = tuple(LeftOut(s.record.row_id, s.record.trial_label, f"regression on {regressor}",
                         f"no {REGRESSORS[regressor].split(' (')[0]} reported")
                 for s, v in zip(studies, values, strict=True) if v is None)
    x = [float(values[i]) for i in idx]  # type: ignore[arg-type]
    labels = [studies[i].label for i in idx]
    if len(set(x)) < 2:
        have = ("no study reports it" if not idx else "only 1 study reports it"
                if len(idx) == 1 else f"all {len(idx)} studies reporting it have the same value")
        msg = f"meta-regression on {regressor} needs at least two different values: {have}"
        return Regression(regressor, len(idx), None, msg, left, tuple(x))
    fit, err = _fit(yi[idx], vi[idx], labels, notes, f"regression on {regressor}",
                    mods={regressor: x}, **opts)
    return Regression(regressor, len(idx), fit, err, left, tuple(x))


def _effects(studies: Sequence[Study], measure: str) -> tuple[Any, Any, list[int]]:
    from strokecell.stats.meta import escalc

    roles: dict[str, list[float]] = {}
    for s in studies:
        for key, value in s.roles().items():
            roles.setdefault(key, []).append(value)
    es = escalc(measure, **roles)
    return es.yi, es.vi, [int(i) for i in es.kept]


def _window(time: str | TimeWindow | None, tolerance_days: float | None) -> TimeWindow | None:
    if time is None or isinstance(time, TimeWindow):
        return time
    if str(time).strip().lower() in ("latest", "longest", "last"):
        return None
    return parse_time(str(time), tolerance_days=tolerance_days)


def synthesize(outcome: str | Outcome, time: str | TimeWindow | None = None, *,
               by: str | Iterable[str] | None = None,
               regress: str | Iterable[str] | None = None,
               measure: str | None = None, method: str = "REML", test: str | None = None,
               direction: Direction = "natural", tolerance_days: float | None = None,
               records: Sequence[TrialRecord] | None = None) -> Synthesis:
    """Pool ``outcome`` at ``time`` over the curated trials (or ``records``).

    ``by``: aspects for subgroup analyses (default all four: cell_type, phase, route, dose;
    ``()`` for none). ``regress``: meta-regression moderators (default ``dose``,
    ``dose_per_kg`` and ``days``; ``()`` for none). ``measure``: MD or SMD for continuous
    outcomes (default MD), RR, OR or RD for events (default RR). ``test`` defaults to
    ``knha`` (``z`` for EE). ``direction``: ``natural`` (cells vs control as reported) or
    ``benefit`` (signs flipped where lower is better, so positive always favours cells).
    Raises :class:`EvidenceSelectionError` when no row matches the outcome and time.
    """
    import numpy as np

    out = parse_outcome(outcome)
    m, meth, t = _resolve(measure, method, test, out)
    if direction not in ("natural", "benefit"):
        raise InputError(Problem("direction", "unknown direction", direction,
                                 "natural, benefit"))
    aspects, regressors = _aspects(by), _regressors(regress)
    recs = list(load_trials() if records is None else records)
    window = _window(time, tolerance_days)
    sel = select_rows(recs, out, window)
    notes = _Notes()
    for n in sel.notes:
        notes.add(n)
    left = list(sel.left_out)
    studies: list[Study] = list(sel.studies)
    yi: Any = np.zeros(0)
    vi: Any = np.zeros(0)
    if studies:
        yi, vi, kept = _effects(studies, m)
        for i, s in enumerate(studies):
            if i not in kept:
                left.append(LeftOut(s.record.row_id, s.record.trial_label, "effect size",
                                    f"{m} not estimable from these numbers"))
        studies = [studies[i] for i in kept]
        if direction == "benefit":
            yi = yi * float(OUTCOMES[out].sign)
    opts: dict[str, Any] = {"method": meth, "test": t, "measure": m}
    overall: MetaResult | None = None
    by_res: dict[str, AspectSynthesis] = {}
    regs: dict[str, Regression] = {}
    if not studies:
        notes.add(_nothing_to_pool(out, window, recs))
    else:
        overall, err = _fit(yi, vi, [s.label for s in studies], notes, "overall", **opts)
        if err:
            notes.add(err)
        if overall is not None and overall.k == 2 and overall.test == "knha":
            notes.add("with k = 2 the Knapp-Hartung t test has 1 df, so the interval is very "
                      "wide: two trials say little (test='z' gives the Wald interval)")
    if overall is not None:
        sub_opts = {k: v for k, v in opts.items() if k != "measure"}
        for aspect in aspects:
            by_res[aspect] = _by_aspect(aspect, studies, yi, vi, sub_opts, notes)
        for reg in regressors:
            regs[reg] = _regression(reg, studies, yi, vi, opts, notes)
    return Synthesis(outcome=out, measure=m, method=meth, test=t, window=window,
                     direction=direction, direction_note=direction_note(out, m, direction),
                     studies=tuple(studies), yi=yi, vi=vi, overall=overall, by=by_res,
                     regressions=regs, left_out=tuple(left), notes=tuple(notes.items),
                     available=sel.available)


def _nothing_to_pool(outcome: Outcome, window: TimeWindow | None,
                     records: Sequence[TrialRecord]) -> str:
    where = f"at {window.label}" if window else "at any time point"
    others: dict[str, int] = {}
    for r in records:
        if r.outcome is not outcome and usable(r) and (
                window is None or window.contains(r.time_days)):
            others[r.outcome.value] = others.get(r.outcome.value, 0) + 1
    text = (f"nothing to pool: no row of {outcome.value} {where} has usable numbers "
            "(see left_out)")
    if others:
        text += "; outcomes with usable numbers " + (f"at {window.label}" if window else "") \
            + ": " + ", ".join(f"{o} (k = {k})" for o, k in sorted(others.items()))
    return text


def forest(synthesis: Synthesis, path: str | Path | None = None, *, by: str | None = None,
           dpi: int = 150) -> Figure:
    """Forest plot of a synthesis (overall, or the subgroups of ``by``); PNG when ``path``."""
    from strokecell.stats.meta import forest_plot

    if synthesis.overall is None:
        raise ModelError(f"no forest plot: nothing was pooled for {synthesis.outcome.value} "
                         f"at {synthesis.time_label} (k = 0)")
    result: Any = synthesis.overall
    if by is not None:
        aspect = parse_aspect(by)
        sub = synthesis.by.get(aspect)
        if sub is None:
            raise InputError(Problem("by", "aspect not in this synthesis", by,
                                     ", ".join(synthesis.by) or "none"))
        if sub.result is not None:
            result = sub.result
    ratio = synthesis.measure in ("RR", "OR")
    favour = synthesis.direction_note.split(": ")[-1]
    xlabel = f"{_NAMES[synthesis.measure].capitalize()}{' (log scale)' if ratio else ''}; " \
        f"{favour}"
    title = (f"{OUTCOMES[synthesis.outcome].label}, {synthesis.time_label}"
             + (f", by {by}" if by else ""))
    return forest_plot(result, path, title=title, xlabel=xlabel, transform=ratio, dpi=dpi)
