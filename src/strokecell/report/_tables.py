"""The report's tables: analysis results (tidy DataFrames) laid out for reading.

Nothing here estimates anything: each cell is a number of an analysis result, formatted
(:func:`fnum`, :func:`fp`, :func:`fci`), except :func:`mean_ci`, the t interval of a pooled
mean for the blinded plots. Columns are arms in the order given (the caller passes only
``ALL`` / ``Total`` for a blinded report).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from scipy import stats

__all__ = ["Table", "fci", "fnum", "fp", "mean_ci"]

GROUP_LABELS = {"ALL": "All subjects", "Total": "Total"}


@dataclass(frozen=True)
class Table:
    """A table as the template prints it. ``row_classes`` mark rows (``primary``,
    ``group``); ``numeric`` the columns aligned right."""

    id: str
    caption: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    row_classes: tuple[str, ...] = ()
    numeric: frozenset[int] = frozenset()
    notes: tuple[str, ...] = ()
    empty_text: str = "Nothing to show."

    def row_class(self, i: int) -> str:
        return self.row_classes[i] if i < len(self.row_classes) else ""

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(list(self.rows), columns=list(self.header))


@dataclass
class _Builder:
    rows: list[tuple[str, ...]] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)

    def add(self, row: Sequence[Any], cls: str = "") -> None:
        self.rows.append(tuple(str(c) for c in row))
        self.classes.append(cls)


def _nan(x: Any) -> bool:
    try:
        return x is None or math.isnan(float(x))
    except (TypeError, ValueError):
        return False


def fnum(x: Any, digits: int = 2) -> str:
    """A number with ``digits`` decimals; ``–`` when missing."""
    return "–" if _nan(x) else f"{float(x):.{digits}f}"


def fp(p: Any) -> str:
    """A p-value: three decimals, ``<0.001`` below that."""
    if _nan(p):
        return "–"
    return "<0.001" if float(p) < 0.001 else f"{float(p):.3f}"


def fci(lo: Any, hi: Any, digits: int = 2) -> str:
    """A confidence interval, ``lo to hi`` (unambiguous with negative numbers)."""
    if _nan(lo) or _nan(hi):
        return "–"
    return f"{float(lo):.{digits}f} to {float(hi):.{digits}f}"


def fint(x: Any) -> str:
    return "–" if _nan(x) else str(int(x))


def fpct(count: Any, percent: Any, digits: int = 1) -> str:
    if _nan(count):
        return "–"
    return f"{int(count)} ({fnum(percent, digits)}%)" if not _nan(percent) else str(int(count))


def mean_ci(mean: float, sd: float, n: int, level: float = 0.95) -> tuple[float, float]:
    """The t interval of a mean from its summary: mean ± t(1 - (1 - level)/2; n - 1) sd/√n
    (NaN below two values)."""
    if n < 2 or _nan(mean) or _nan(sd):
        return math.nan, math.nan
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n)
    return mean - half, mean + half


def visit_label(visits: dict[str, str], code: Any) -> str:
    """The visit's label, with no-break spaces (``Month 12`` stays on one line)."""
    return visits.get(str(code), str(code)).replace(" ", "\u00a0")


def group_label(code: str, labels: dict[str, str]) -> str:
    return labels.get(code, GROUP_LABELS.get(code, code))


def consort_table(flow: pd.DataFrame, groups: Sequence[str], labels: dict[str, str]) -> Table:
    b = _Builder()
    cols = ["ALL", *[g for g in groups if g != "ALL"]]
    reason = flow["reason"].fillna("").astype(str)
    stages = {s: i for i, s in enumerate(dict.fromkeys(flow["stage"]))}
    flow = flow.assign(reason=reason, _s=flow["stage"].map(stages), _r=reason != "")
    flow = flow.sort_values(["_s", "_r", "reason"], kind="stable")
    for (stage, why), sub in flow.groupby(["stage", "reason"], sort=False):
        by = dict(zip(sub["ARMCD"], sub["n"], strict=True))
        b.add([stage, str(why).lower(), *[fint(by[c]) if c in by else "" for c in cols]],
              "" if why == "" else "detail")
    return Table("tbl-consort", "Participant flow (counts of the CONSORT diagram)",
                 ("stage", "reason", *[group_label(c, labels) for c in cols]), tuple(b.rows),
                 tuple(b.classes), frozenset(range(2, 2 + len(cols))))


def baseline_table(res: pd.DataFrame, groups: Sequence[str], labels: dict[str, str],
                   n_by: dict[str, int]) -> Table:
    b = _Builder()
    for (_var, kind), sub in res.groupby(["variable", "kind"], sort=False):
        label = str(sub["label"].iloc[0])
        if kind == "continuous":
            by = sub.set_index("ARMCD")
            b.add([label, *[by.loc[g, "text"] if g in by.index else "" for g in groups]])
            miss = {g: int(by.loc[g, "missing"]) for g in groups if g in by.index}
            if any(miss.values()):
                b.add(["  missing", *[fint(miss.get(g)) for g in groups]], "detail")
            continue
        b.add([label, *["" for _ in groups]], "group")
        for level, lev in sub.groupby("level", sort=False):
            by = lev.set_index("ARMCD")
            b.add([f"  {level}", *[by.loc[g, "text"] if g in by.index else "" for g in groups]],
                  "detail")
    header = ("characteristic", *[f"{group_label(g, labels)} (N = {n_by.get(g, 0)})"
                                  for g in groups])
    return Table("tbl-baseline", "Table 1. Baseline characteristics (intention-to-treat "
                 "population)", header, tuple(b.rows), tuple(b.classes),
                 notes=("Continuous: mean (SD); median [quartile 1, quartile 3]. Categorical: "
                        "n (% of subjects with a value).",))


def lsmeans_table(lsm: pd.DataFrame, arms: Sequence[str], visits: dict[str, str],
                  table_id: str, title: str, log: bool) -> Table:
    b = _Builder()
    order = {a: i for i, a in enumerate(arms)}
    lsm = lsm.assign(_o=lsm["ARMCD"].map(order)).sort_values(["AVISITN", "_o"], kind="stable")
    for r in lsm.itertuples():
        row = [visit_label(visits, r.AVISIT), str(r.ARMCD),
               fint(r.n), fint(r.n_dead), fnum(r.estimate), fci(r.lower, r.upper), fnum(r.se)]
        if log:
            row += [fnum(r.ratio, 3), fci(r.ratio_lower, r.ratio_upper, 3)]
        b.add(row)
    header = ["visit", "arm", "n", "deaths", "LS mean change", "95% CI", "SE"]
    if log:
        header[4] = "log change"
        header += ["ratio", "95% CI (ratio)"]
    return Table(table_id, title, tuple(header), tuple(b.rows), tuple(b.classes),
                 frozenset(range(2, len(header))),
                 notes=("n: subjects observed at the visit; deaths: subjects dead by then "
                        "(not imputed: the while-alive strategy)." + (
                            " Ratio: geometric mean ratio to baseline." if log else ""),))


def diff_table(diffs: pd.DataFrame, visits: dict[str, str], table_id: str, title: str,
               log: bool) -> Table:
    b = _Builder()
    for r in diffs.sort_values(["AVISITN", "comparison"]).itertuples():
        row = [visit_label(visits, r.AVISIT) + (" (primary)" if r.primary else ""),
               str(r.comparison), fnum(r.estimate), fci(r.lower, r.upper), fnum(r.se),
               fnum(r.df, 1), fp(r.p)]
        if log:
            row += [fnum(r.ratio, 3), fci(r.ratio_lower, r.ratio_upper, 3)]
        b.add(row, "primary" if r.primary else "")
    header = ["visit", "comparison", "difference", "95% CI", "SE", "df", "p"]
    if log:
        header[2] = "difference (log)"
        header += ["ratio", "95% CI (ratio)"]
    return Table(table_id, title, tuple(header), tuple(b.rows), tuple(b.classes),
                 frozenset(range(2, len(header))))


def sensitivity_table(code: str, rows: Sequence[tuple[str, pd.DataFrame]],
                      visits: dict[str, str], primary_visit: str) -> Table:
    """One row per analysis at the primary visit: (name, its table)."""
    b = _Builder()
    for name, t in rows:
        if t.empty:
            b.add([name, "", "", "not estimable", "", ""])
            continue
        sub = t[t["AVISIT"] == primary_visit] if "AVISIT" in t.columns else t
        for r in sub.to_dict("records"):
            extra = []
            if "n_treatment" in r:
                extra.append(f"n = {fint(r['n_treatment'])} vs {fint(r['n_reference'])}")
            if "m" in r:
                extra.append(f"m = {fint(r['m'])}, imputed {fint(r['n_imputed'])}, "
                             f"λ = {fnum(r['fmi_lambda'], 3)}")
            label = f"{name}, {r['method']}" if "method" in r else name
            b.add([label, visit_label(visits, r["AVISIT"]), str(r["comparison"]),
                   fnum(r["estimate"]), fci(r["lower"], r["upper"]), fp(r["p"]),
                   "; ".join(extra)], "primary" if name.startswith("MMRM (main") else "")
    return Table(f"tbl-sens-{code}", "Sensitivity analyses at the primary visit",
                 ("analysis", "visit", "comparison", "estimate", "95% CI", "p", "details"),
                 tuple(b.rows), tuple(b.classes), frozenset({3, 4, 5}))


def multiplicity_table(t: pd.DataFrame, visits: dict[str, str]) -> Table:
    b = _Builder()
    for r in t.sort_values("order").itertuples():
        b.add([fint(r.order), str(r.hypothesis), visit_label(visits, r.AVISIT),
               fnum(r.estimate), fp(r.p), fnum(r.alpha, 3), str(r.status),
               "yes" if r.confirmatory else "no"], "primary" if r.confirmatory else "")
    return Table("tbl-multiplicity", "Fixed-sequence testing of the primary and key secondary "
                 "endpoints", ("order", "hypothesis", "visit", "estimate", "p", "alpha",
                               "status", "confirmatory"), tuple(b.rows), tuple(b.classes),
                 frozenset({0, 3, 4, 5}))


def pooled_table(t: pd.DataFrame, visits: dict[str, str], code: str, title: str) -> Table:
    b = _Builder()
    for r in t.sort_values("AVISITN").itertuples():
        lo, hi = mean_ci(float(r.mean), float(r.sd), int(r.n))
        b.add([visit_label(visits, r.AVISIT), fint(r.n), fnum(r.mean),
               fnum(r.sd), fci(lo, hi), fnum(r.mean_chg), fnum(r.sd_chg)])
    return Table(f"tbl-pooled-{code}", title, ("visit", "n", "mean", "SD",
                                               "95% CI of the mean", "mean change", "SD change"),
                 tuple(b.rows), (), frozenset(range(1, 7)))


def mrs_shift_table(t: pd.DataFrame, visits: dict[str, str]) -> Table:
    b = _Builder()
    for r in t.itertuples():
        b.add([visit_label(visits, r.AVISIT), str(r.comparison),
               f"{fint(r.n_treatment)} vs {fint(r.n_reference)}", fnum(r.common_or),
               fci(r.lower, r.upper), fp(r.p),
               f"χ² = {fnum(r.po_test_statistic)}, df {fint(r.po_test_df)}, "
               f"p = {fp(r.po_test_p)}", str(r.adjusted_for)])
    return Table("tbl-mrs-shift", "mRS shift analysis: common odds ratio of a better (lower) "
                 "mRS, proportional-odds model", ("visit", "comparison", "n", "common OR",
                                                  "95% CI", "p", "proportional-odds score test",
                                                  "adjusted for"),
                 tuple(b.rows), (), frozenset({3, 4, 5}),
                 empty_text="Not estimable: see the notes from the analyses above.")


def mrs_dichotomy_table(t: pd.DataFrame, visits: dict[str, str]) -> Table:
    b = _Builder()
    notes = []
    for r in t.itertuples():
        b.add([visit_label(visits, r.AVISIT), str(r.comparison),
               f"{fint(r.responders_treatment)}/{fint(r.n_treatment)}",
               f"{fint(r.responders_reference)}/{fint(r.n_reference)}", fnum(r.rd, 3),
               fci(r.rd_lower, r.rd_upper, 3), fnum(r.rr, 3), fci(r.rr_lower, r.rr_upper, 3)])
        if not _nan(r.note) and str(r.note):
            notes.append(f"{visits.get(str(r.AVISIT), str(r.AVISIT))}, {r.comparison}: "
                         f"{r.note}")
    return Table("tbl-mrs-dichotomy", "mRS 0-2 (functional independence): risk difference "
                 "(Newcombe hybrid score CI) and risk ratio", (
                     "visit", "comparison", "mRS 0-2, treatment", "mRS 0-2, reference",
                     "risk difference", "95% CI", "risk ratio", "95% CI (ratio)"),
                 tuple(b.rows), (), frozenset({4, 5, 6, 7}), tuple(notes))


def mrs_distribution_table(t: pd.DataFrame, groups: Sequence[str], labels: dict[str, str],
                           visits: dict[str, str]) -> Table:
    b = _Builder()
    for visit in [v for v in visits if v in set(t["AVISIT"])]:
        for g in groups:
            sub = t[(t["AVISIT"] == visit) & (t["ARMCD"] == g)].set_index("AVAL")
            if sub.empty:
                continue
            b.add([visit_label(visits, visit), group_label(g, labels), fint(sub["n"].sum()),
                   *[fpct(sub["n"].get(k, 0), sub["percent"].get(k, math.nan), 1)
                     for k in range(7)]])
    return Table("tbl-mrs-distribution", "mRS distribution by visit: n (%)",
                 ("visit", "arm", "n", *[f"mRS {k}" for k in range(7)]), tuple(b.rows), (),
                 frozenset(range(2, 10)))


def safety_overview(t: pd.DataFrame, groups: Sequence[str], labels: dict[str, str]) -> Table:
    b = _Builder()
    for cat, sub in t.groupby("category", sort=False):
        by = sub.set_index("ARMCD")
        row = [str(cat)]
        for g in groups:
            if g in by.index:
                row += [fpct(by.loc[g, "subjects"], by.loc[g, "percent"]),
                        fint(by.loc[g, "events"])]
            else:
                row += ["", ""]
        b.add(row)
    header = ["category"]
    for g in groups:
        header += [f"{group_label(g, labels)}: subjects (%)", "events"]
    return Table("tbl-safety-overview", "Treatment-emergent adverse events, safety population",
                 tuple(header), tuple(b.rows), (), frozenset(range(1, len(header))),
                 notes=("Related = related or possibly related (ICH E2A). Deaths of any cause "
                        "from the subject-level data set.",))


def safety_by_soc(t: pd.DataFrame, groups: Sequence[str], labels: dict[str, str]) -> Table:
    b = _Builder()
    for (soc, term), sub in t.groupby(["AEBODSYS", "AETERM"], sort=True):
        by = sub.set_index("ARMCD")
        name = str(soc) if term == "" else f"  {term}"
        b.add([name, *[f"{fpct(by.loc[g, 'subjects'], by.loc[g, 'percent'])}; "
                       f"{fint(by.loc[g, 'events'])} events" if g in by.index else "0"
                       for g in groups]], "group" if term == "" else "detail")
    return Table("tbl-safety-soc", "Adverse events by body system (MedDRA SOC) and term: "
                 "subjects (%); events", ("body system / term",
                                          *[group_label(g, labels) for g in groups]),
                 tuple(b.rows), tuple(b.classes), frozenset(range(1, len(groups) + 1)),
                 empty_text="No treatment-emergent adverse events.")


def safety_by_grade(t: pd.DataFrame, groups: Sequence[str], labels: dict[str, str]) -> Table:
    b = _Builder()
    for (soc, grade), sub in t.groupby(["AEBODSYS", "grade"], sort=True):
        if int(sub["subjects"].sum()) == 0:
            continue
        by = sub.set_index("ARMCD")
        b.add([str(soc), fint(grade), *[fpct(by.loc[g, "subjects"], by.loc[g, "percent"])
                                        if g in by.index else "0" for g in groups]])
    return Table("tbl-safety-grade", "Subjects by worst CTCAE grade within each body system: "
                 "n (%)", ("body system", "worst grade",
                           *[group_label(g, labels) for g in groups]), tuple(b.rows), (),
                 frozenset(range(1, len(groups) + 2)),
                 empty_text="No treatment-emergent adverse events.")


def deaths_table(t: pd.DataFrame, labels: dict[str, str], by_arm: bool) -> Table:
    b = _Builder()
    for r in t.to_dict("records"):
        date = r.get("DTHDT")
        row = [str(r["USUBJID"])]
        if by_arm:
            row.append(group_label(str(r["ARMCD"]), labels))
        row += ["–" if date is None or pd.isna(date) else pd.Timestamp(date).date().isoformat(),
                "not recorded" if _nan(r.get("cause")) else str(r["cause"])]
        b.add(row)
    header = ("subject", *(("arm",) if by_arm else ()), "date of death", "cause (fatal AE)")
    return Table("tbl-deaths", "Deaths (safety population)", header, tuple(b.rows),
                 empty_text="No deaths.")


def stopping_table(t: pd.DataFrame) -> Table:
    rows = tuple((str(r.rule), str(r.scope), fint(r.count), fint(r.threshold), str(r.status))
                 for r in t.itertuples())
    classes = tuple("alert" if r[-1] == "triggered" else "" for r in rows)
    return Table("tbl-stopping", "Stopping rule", ("rule", "scope", "count", "threshold",
                                                   "status"), rows, classes,
                 frozenset({2, 3}))


def simple_table(table_id: str, caption: str, t: pd.DataFrame, columns: dict[str, str],
                 labels: dict[str, str] | None = None, numeric: Sequence[str] = ()) -> Table:
    """Columns of ``t`` renamed (``columns``: name -> header); ARMCD values as labels."""
    rows = []
    for r in t.to_dict("records"):
        cells = []
        for c in columns:
            v = r.get(c)
            if c == "ARMCD":
                cells.append(group_label(str(v), labels or {}))
            elif isinstance(v, float):
                cells.append(fnum(v) if not float(v).is_integer() else fint(v))
            else:
                cells.append("" if v is None else str(v))
        rows.append(tuple(cells))
    num = frozenset(i for i, c in enumerate(columns) if c in numeric)
    return Table(table_id, caption, tuple(columns.values()), tuple(rows), (), num)


def exploratory_summary(t: pd.DataFrame, groups: Sequence[str], labels: dict[str, str],
                        visits: dict[str, str], params: dict[str, str]) -> Table:
    b = _Builder()
    order = {g: i for i, g in enumerate(groups)}
    t = t.assign(_o=t["ARMCD"].map(order)).sort_values(["PARAMCD", "AVISITN", "_o"],
                                                         kind="stable")
    for r in t.itertuples():
        b.add([params.get(str(r.PARAMCD), str(r.PARAMCD)),
               visit_label(visits, r.AVISIT), group_label(str(r.ARMCD), labels),
               fint(r.n), f"{fnum(r.mean)} ({fnum(r.sd)})",
               "–" if _nan(r.mean_chg) else f"{fnum(r.mean_chg)} ({fnum(r.sd_chg)})",
               fnum(r.gm_ratio, 3)])
    return Table("tbl-exploratory", "Biomarkers and MRI: summary by visit (exploratory)",
                 ("parameter", "visit", "arm", "n", "mean (SD)", "mean change (SD)",
                  "geometric mean ratio to baseline"), tuple(b.rows), (),
                 frozenset({3, 4, 5, 6}))


def exploratory_models(t: pd.DataFrame, visits: dict[str, str], params: dict[str, str]
                       ) -> Table:
    b = _Builder()
    for r in t.to_dict("records"):
        b.add([params.get(str(r["PARAMCD"]), str(r["PARAMCD"])),
               visit_label(visits, r["AVISIT"]), str(r["comparison"]),
               str(r.get("model", "")), fnum(r.get("ratio"), 3),
               fci(r.get("ratio_lower"), r.get("ratio_upper"), 3), fp(r.get("p"))])
    return Table("tbl-exploratory-models", "Biomarkers and MRI: ratio of geometric mean "
                 "changes between arms (log-scale models; exploratory, no multiplicity "
                 "adjustment)", ("parameter", "visit", "comparison", "model", "ratio",
                                 "95% CI", "p"), tuple(b.rows), (), frozenset({4, 5, 6}))
