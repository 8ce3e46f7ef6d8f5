"""The sections of the trial report, each built from the planned analyses' results.

A :class:`Section` holds paragraphs, figures, tables and the messages of the analyses it
shows (degenerate cases are shown where they apply, not hidden). ``View`` carries what
every section needs: the groups to show as columns (arms and Total, or the pooled group
only when blinded), their labels, the visit labels and the style of each arm.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pandas as pd

from strokecell.analysis import PARAMS, AnalysisResult, PlannedAnalyses
from strokecell.report import _tables as T
from strokecell.report._consort import WIDTH as CONSORT_WIDTH
from strokecell.report._consort import consort_svg
from strokecell.report._plots import ArmStyle, Plot, forest_plot, grotta_bars, means_plot
from strokecell.report._summary import ProtocolSummary

__all__ = ["Section", "View"]


@dataclass
class Section:
    id: str
    title: str
    paragraphs: list[str] = field(default_factory=list)
    plots: list[Plot] = field(default_factory=list)
    tables: list[T.Table] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    subsections: list[Section] = field(default_factory=list)


@dataclass(frozen=True)
class View:
    summary: ProtocolSummary
    blinded: bool
    arms: tuple[str, ...]  # arm codes shown (empty when blinded)
    labels: dict[str, str]  # arm code -> label, in figures (empty when blinded)
    styles: dict[str, ArmStyle]
    visits: dict[str, str]  # visit code -> label, in time order
    redact: Callable[[str], str] | None  # arm names out of a blinded report's text

    @property
    def short(self) -> dict[str, str]:
        """Arm code -> the code itself: tables name arms by code (the title page lists the
        labels), so that they fit the page."""
        return {a: a for a in self.arms}

    def text(self, s: str) -> str:
        return self.redact(s) if self.redact is not None else s

    def msgs(self, *results: AnalysisResult | None) -> list[str]:
        return [self.text(m) for r in results if r is not None for m in r.messages]


def _get(planned: PlannedAnalyses, key: str) -> AnalysisResult | None:
    return planned.results.get(key)


def consort_section(planned: PlannedAnalyses, v: View) -> Section:
    res = planned["consort"]
    cols = list(v.arms) if not v.blinded else ["ALL"]
    arms = [(c, v.labels.get(c, "All arms (pooled)")) for c in cols]
    sec = Section("sec-consort", "Participant flow (CONSORT)", messages=v.msgs(res))
    sec.paragraphs.append(
        "Screened, excluded with reasons, randomised; then allocation, follow-up and analysis"
        + (" per arm." if not v.blinded else ", pooled over the arms (blinded report).")
        + " Analysed: " + str(res.info.get("analysed", "intention to treat")) + ".")
    sec.plots.append(Plot(consort_svg(res.table, arms), "CONSORT flow diagram",
                          round(CONSORT_WIDTH / 96, 2)))  # 12 px text = 9 pt
    sec.tables.append(T.consort_table(res.table, cols, v.short))
    return sec


def baseline_section(planned: PlannedAnalyses, v: View) -> Section:
    res = planned["baseline"]
    groups = [*v.arms, "Total"]
    n_by = {str(k): int(n) for k, n in dict(res.info.get("n", {})).items()}
    return Section("sec-baseline", "Baseline characteristics", messages=v.msgs(res),
                   tables=[T.baseline_table(res.table, groups, v.short, n_by)])


def estimands_section(planned: PlannedAnalyses, v: View) -> Section:
    res = planned["estimands"]
    sec = Section("sec-estimands", "Estimands (ICH E9(R1))", messages=v.msgs(res))
    sec.paragraphs.append("For each endpoint: treatment condition, population, variable, "
                          "intercurrent events with the strategy for each, and the "
                          "population-level summary, with the main and sensitivity analyses.")
    ests = list(res.info.get("estimands", []))
    keyed = [e for e in ests if e["paramcd"] != "AE"]
    common = [ice for ice in (keyed[0]["intercurrent_events"] if keyed else [])
              if all(ice in e["intercurrent_events"] for e in keyed) and len(keyed) > 1]
    if common:
        sec.tables.append(T.Table(
            "tbl-ice-common", "Intercurrent events handled alike for every efficacy endpoint",
            ("intercurrent event", "strategy", "handling", "sensitivity"),
            tuple((str(i["event"]), str(i["strategy"]), v.text(str(i["handling"])),
                   v.text(str(i.get("sensitivity") or ""))) for i in common)))
    for i, est in enumerate(ests):
        treatment = ("each cell-therapy arm versus the comparator arm (arm names are not shown "
                     "in the blinded report)" if v.blinded else str(est["treatment"]))
        rows = [("treatment", treatment), ("population", est["population"]),
                ("variable", est["variable"])]
        for ice in est["intercurrent_events"]:
            if ice in common and est["paramcd"] != "AE":
                continue
            text = f"{ice['strategy']}. {ice['handling']}"
            if ice.get("sensitivity"):
                text += f" Sensitivity: {ice['sensitivity']}"
            rows.append((f"intercurrent event: {ice['event']}", text))
        if common and est["paramcd"] != "AE":
            rows.append(("other intercurrent events", ", ".join(str(c["event"])
                                                                for c in common)
                         + ": as in the table above"))
        summary = str(est["summary"])
        if v.blinded:
            summary = summary.replace(str(est["treatment"]), "cells versus comparator")
        rows += [("population-level summary", summary), ("main analysis", est["main_analysis"])]
        rows += [("sensitivity", s) for s in est["sensitivity"]]
        role = str(est["role"]).replace("_", " ")
        order = f", order {est['order']}" if est.get("order") else ""
        sec.tables.append(T.Table(f"tbl-estimand-{i}", f"{est['label']} ({role}{order})",
                                  ("attribute", "definition"),
                                  tuple((a, v.text(str(b))) for a, b in rows)))
    if "observed" in res.tables:
        obs = res.tables["observed"]
        groups = list(v.arms) if not v.blinded else ["ALL"]
        wide = []
        for event, sub in obs.groupby("event", sort=False):
            by = sub.set_index("ARMCD")
            wide.append((str(event), *[f"{T.fint(by.loc[g, 'n'])}/{T.fint(by.loc[g, 'N'])}"
                                       if g in by.index else "" for g in groups]))
        sec.tables.append(T.Table("tbl-ice-observed", "Intercurrent events observed "
                                  "(intention-to-treat population): n/N",
                                  ("event", *[T.group_label(g, v.short) for g in groups]),
                                  tuple(wide), numeric=frozenset(range(1, len(groups) + 1))))
    return sec


def _direction(code: str, blinded: bool) -> str:
    prm = PARAMS[code]
    if blinded:
        return (("Higher" if prm.higher_is_better else "Lower") + " values are better."
                + (" Summarised on the original scale; analysed on the log scale."
                   if prm.log_scale else ""))
    if prm.log_scale:
        return ("Analysed on the log scale: ratios below 1 mean a larger decrease than "
                "the comparison.")
    return ("Higher values are better: a positive difference favours the first arm named."
            if prm.higher_is_better else
            "Lower values are better: a negative difference favours the first arm named.")


def endpoint_section(planned: PlannedAnalyses, v: View, code: str, n: int) -> Section:
    prm = PARAMS[code]
    eps = [e for e in v.summary.endpoints if e.paramcd == code]
    roles = ", ".join(sorted({e.role.replace("_", " ") for e in eps})) or "exploratory"
    sec = Section(f"sec-ep-{code}", f"{prm.label} ({roles})")
    sec.paragraphs += [e.label for e in eps] + [_direction(code, v.blinded)]
    if v.blinded:
        res = planned[f"pooled:{code}"]
        t = res.table.copy()
        cis = [T.mean_ci(float(r.mean), float(r.sd), int(r.n)) for r in t.itertuples()]
        t["estimate"], t["lower"], t["upper"] = (t["mean"], [c[0] for c in cis],
                                                 [c[1] for c in cis])
        if not t.empty:
            sec.plots.append(means_plot(t, v.styles, v.visits, title=prm.label,
                                        ylabel="mean (95% CI), all subjects pooled",
                                        reference=None, log=prm.log_scale))
        sec.tables.append(T.pooled_table(res.table, v.visits, code,
                                         f"{prm.label}: all subjects pooled, by visit"))
        sec.messages += v.msgs(res)
        return sec
    main = planned[f"mmrm:{code}"]
    lsm = main.tables.get("lsmeans", pd.DataFrame())
    log = prm.log_scale
    cols = ("ratio", "ratio_lower", "ratio_upper") if log else ("estimate", "lower", "upper")
    if not lsm.empty:
        pts = lsm.assign(estimate=lsm[cols[0]], lower=lsm[cols[1]], upper=lsm[cols[2]])
        sec.plots.append(means_plot(
            pts, v.styles, v.visits, title=f"{prm.label}: within-arm change",
            ylabel="geometric mean ratio to baseline (95% CI)" if log else
            "LS mean change from baseline (95% CI)", reference=1.0 if log else 0.0, log=log))
    if not main.table.empty:
        d = main.table
        d = d.assign(estimate=d[cols[0]], lower=d[cols[1]], upper=d[cols[2]])
        sec.plots.append(forest_plot(
            d, v.visits, title=f"{prm.label}: difference between arms",
            xlabel="ratio of geometric mean ratios (95% CI)" if log else
            "difference in LS mean change (95% CI)", reference=1.0 if log else 0.0, log=log,
            digits=3 if log else 2))
    sec.tables.append(T.lsmeans_table(lsm, v.arms, v.visits, f"tbl-lsm-{code}",
                                      "Within-arm change from baseline (MMRM LS means)", log)
                      if not lsm.empty else T.Table(f"tbl-lsm-{code}", "Within-arm change "
                                                    "(MMRM LS means)", (), (),
                                                    empty_text="Not estimable."))
    sec.tables.append(T.diff_table(main.table, v.visits, f"tbl-diff-{code}",
                                   "Difference between arms by visit (MMRM)", log)
                      if not main.table.empty else T.Table(
                          f"tbl-diff-{code}", "Difference between arms (MMRM)", (), (),
                          empty_text="Not estimable."))
    primary = str(main.info.get("primary_visit", ""))
    sens = [("MMRM (main, while alive)", main.table)]
    for key, name in ((f"composite:{code}", "MMRM, composite (worst score after death)"),
                      (f"pp:{code}", "MMRM, per-protocol population"),
                      (f"ancova:{code}", "ANCOVA, observed cases"),
                      (f"mi:{code}", "Multiple imputation")):
        r = _get(planned, key)
        if r is not None:
            sens.append((name, r.table))
    sec.tables.append(T.sensitivity_table(code, sens, v.visits, primary))
    keys = ("mmrm", "composite", "pp", "ancova", "mi")
    sec.messages += v.msgs(*[_get(planned, f"{k}:{code}") for k in keys])
    sec.paragraphs.append(_visits_text(main, v))
    sec.paragraphs.append(
        f"MMRM: {main.info.get('formula', '')}; covariance "
        f"{main.info.get('structure', main.info.get('covariance', ''))}; df "
        f"{main.info.get('df_method', '')}. MI: MAR = missing at random; J2R = jump to "
        "reference; pooled by Rubin's rules." + (" Estimates on the log scale." if log else ""))
    return sec


def _visits_text(main: AnalysisResult, v: View) -> str:
    """Which visits the models use: those the protocol schedules for the parameter."""
    scheduled = [str(x) for x in main.info.get("visits_scheduled", [])]
    if not scheduled:
        return "Visits: every post-baseline visit with data; the baseline value is a covariate."
    names = ", ".join(T.visit_label(v.visits, x) for x in scheduled)
    return (f"Visits: {names}, those at which the protocol collects this parameter (the "
            "baseline value is a covariate); the models use no other visit.")


def mrs_section(planned: PlannedAnalyses, v: View) -> Section | None:
    res = _get(planned, "pooled:MRS" if v.blinded else "mrs")
    if res is None:
        return None
    sec = Section("sec-mrs", "Modified Rankin scale", messages=v.msgs(res))
    sec.paragraphs.append("Deaths are mRS 6 (composite strategy). Grotta bars: the "
                          "distribution of the scale by " + ("visit, all subjects pooled."
                                                             if v.blinded else "arm and visit."))
    dist = res.tables.get("distribution", pd.DataFrame())
    groups = ["ALL"] if v.blinded else list(v.arms)
    if not dist.empty:
        sec.plots.append(grotta_bars(dist, v.styles, v.visits, title="Modified Rankin scale"))
        sec.tables.append(T.mrs_distribution_table(dist, groups, v.short, v.visits))
    else:
        sec.messages.append("no mRS values to show")
    if not v.blinded:
        sec.tables.append(T.mrs_shift_table(res.table, v.visits))
        if "dichotomy" in res.tables:
            sec.tables.append(T.mrs_dichotomy_table(res.tables["dichotomy"], v.visits))
    return sec


def multiplicity_section(planned: PlannedAnalyses, v: View) -> Section | None:
    res = _get(planned, "multiplicity")
    if res is None or v.blinded:
        return None
    return Section("sec-multiplicity", "Confirmatory testing (fixed sequence)",
                   [f"The primary endpoint at its primary visit is the confirmatory test; key "
                    f"secondary endpoints follow in the protocol's order at alpha = "
                    f"{res.info.get('alpha', 0.05)}, each tested only if every earlier one "
                    "was significant."], tables=[T.multiplicity_table(res.table, v.visits)],
                   messages=v.msgs(res))


def safety_section(safety: AnalysisResult, v: View, extra: Sequence[T.Table] = ()) -> Section:
    groups = [*v.arms, "Total"] if not v.blinded else ["ALL"]
    sec = Section("sec-safety", "Safety", messages=v.msgs(safety))
    sec.paragraphs.append("Treatment-emergent adverse events in the safety population "
                          + ("by arm." if not v.blinded else "(all arms pooled)."))
    sec.tables += [T.safety_overview(safety.table, groups, v.short),
                   T.safety_by_soc(safety.tables["by_soc_term"], groups, v.short),
                   T.safety_by_grade(safety.tables["by_grade"], groups, v.short),
                   T.deaths_table(safety.tables["deaths"], v.short,
                                  by_arm="ARMCD" in safety.tables["deaths"].columns)]
    if "stopping_rule" in safety.tables:
        sec.tables.append(T.stopping_table(safety.tables["stopping_rule"]))
    else:
        sec.paragraphs.append("No stopping rule was supplied to the analysis: its status is "
                              "not reported.")
    sec.tables.append(T.simple_table("tbl-safety-population", "Safety population",
                                     safety.tables["population"], {"ARMCD": "group", "N": "N"},
                                     v.short, numeric=("N",)))
    sec.tables += list(extra)
    return sec


def exploratory_section(planned: PlannedAnalyses, v: View) -> Section | None:
    res = _get(planned, "exploratory")
    if res is None:
        return None
    params = {c: p.label for c, p in PARAMS.items()}
    groups = ["ALL"] if v.blinded else list(v.arms)
    sec = Section("sec-exploratory", "Biomarkers and MRI (exploratory)", messages=v.msgs(res))
    sec.tables.append(T.exploratory_summary(res.table, groups, v.short, v.visits, params))
    models = res.tables.get("models", pd.DataFrame())
    if not models.empty and not v.blinded:
        sec.tables.append(T.exploratory_models(models, v.visits, params))
    return sec
