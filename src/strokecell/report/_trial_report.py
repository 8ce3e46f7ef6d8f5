"""The trial report (HTML, one self-contained file, and PDF) and the DSMB closed-session report.

::

    from strokecell.analysis import run_planned_analyses
    from strokecell.report import build_report, reproducibility_info

    planned = run_planned_analyses(protocol, adsl, bds, adae, seed=1, unblinded=True)
    rep = build_report(planned, summary, blinded=False,
                       reproducibility=reproducibility_info(adsl, bds, adae,
                                                            seeds=planned.seeds))
    rep.write_html("report.html"); rep.write_pdf("report.pdf")

``summary`` is a :class:`~strokecell.report.ProtocolSummary` (the report layer does not read
protocols). A blinded report is built from blinded planned analyses (pooled results only) and
shows no arm: no arm column, code or name anywhere. The DSMB report needs unblinded analyses.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from strokecell.analysis import AnalysisResult, PlannedAnalyses
from strokecell.errors import InputError, PermissionDeniedError, Problem
from strokecell.report import _sections as S
from strokecell.report import _tables as T
from strokecell.report._pdf import html_to_pdf
from strokecell.report._plots import ArmStyle, arm_styles
from strokecell.report._summary import ProtocolSummary

__all__ = ["CLOSED_SESSION", "Report", "build_dsmb_report", "build_report"]

TEMPLATE = "trial_report.html.j2"
CLOSED_SESSION = "CLOSED SESSION — CONFIDENTIAL"
POOLED = {"ALL", "Total"}
REQUIRED = ("data_snapshot", "software_version")


@dataclass(frozen=True)
class Report:
    """A rendered report: ``html`` is one self-contained document (CSS inline, figures as
    ``data:`` URIs, no external references)."""

    html: str
    title: str
    kind: str  # "trial" or "dsmb"
    blinded: bool
    messages: tuple[str, ...] = ()
    info: Mapping[str, Any] = field(default_factory=dict)

    def write_html(self, path: str | Path) -> Path:
        out = Path(path)
        out.write_text(self.html, encoding="utf-8")
        return out

    def pdf_bytes(self) -> bytes:
        return html_to_pdf(self.html)

    def write_pdf(self, path: str | Path) -> Path:
        """The PDF (WeasyPrint; :class:`~strokecell.report.PdfUnavailableError` when it is
        not installed)."""
        out = Path(path)
        html_to_pdf(self.html, out)
        return out


def _redactor(summary: ProtocolSummary) -> Callable[[str], str]:
    names = sorted({a.code for a in summary.arms} | {a.label for a in summary.arms}, key=len,
                   reverse=True)
    pattern = re.compile("|".join(rf"(?<![\w-]){re.escape(n)}(?![\w-])" for n in names if n))

    def redact(text: str) -> str:
        return pattern.sub("[arm]", text)

    return redact


def _check_pooled(planned: PlannedAnalyses) -> None:
    """A blinded report shows pooled results only: refuse any result with arm-level rows."""
    problems = []
    if planned.unblinded:
        problems.append(Problem("planned.unblinded", "a blinded report needs blinded planned "
                                "analyses (run_planned_analyses(..., unblinded=False))", True,
                                "False"))
    for key, res in planned.results.items():
        for name, t in [("table", res.table), *res.tables.items()]:
            if "ARMCD" in t.columns and not set(t["ARMCD"].dropna().astype(str)) <= POOLED:
                problems.append(Problem(f"results[{key}].{name}.ARMCD", "has arm-level rows",
                                        ", ".join(sorted(set(t["ARMCD"].dropna()
                                                             .astype(str)))),
                                        "ALL or Total only"))
    if problems:
        raise InputError(problems, context="blinded report")


def _check_reproducibility(rep: Mapping[str, Any]) -> None:
    missing = [k for k in REQUIRED if not rep.get(k)]
    if missing:
        raise InputError([Problem(f"reproducibility.{k}", "is required", None,
                                  "e.g. reproducibility_info(adsl, bds, adae, seeds=...)")
                          for k in missing], context="report")


def _view(planned: PlannedAnalyses, summary: ProtocolSummary, blinded: bool) -> S.View:
    visits = {v.code: v.label for v in summary.visits}
    if blinded:
        styles = {"ALL": ArmStyle("ALL", "All subjects (pooled)", "#000000", "o", "-")}
        return S.View(summary, True, (), {}, styles, visits, _redactor(summary))
    known = {a.code for a in summary.arms}
    arms = [str(a) for a in planned.info.get("arms", [a.code for a in summary.arms])]
    unknown = [a for a in arms if a not in known]
    if unknown:
        raise InputError(Problem("summary.arms", "does not list every analysed arm", unknown,
                                 ", ".join(sorted(known))), context="report")
    labels = {a.code: a.label for a in summary.arms}
    styles = arm_styles([(a, labels[a]) for a in arms])
    return S.View(summary, False, tuple(arms), labels, styles, visits, None)


def _footer(planned: PlannedAnalyses, rep: Mapping[str, Any], started: float
            ) -> list[tuple[str, str]]:
    seeds = {**dict(rep.get("seeds", {})), **planned.seeds}
    rows = [("data snapshot (SHA-256)", str(rep["data_snapshot"])),
            ("software version", f"strokecell {rep['software_version']}"),
            ("seeds", ", ".join(f"{k} = {v}" for k, v in seeds.items()) or "none"),
            ("protocol", planned.protocol_id)]
    for key, value in rep.items():
        if key in (*REQUIRED, "seeds"):
            continue
        text = (", ".join(f"{k} {v}" for k, v in value.items()) if isinstance(value, Mapping)
                else str(value))
        rows.append((key.replace("_", " "), text))
    secs = planned.info.get("seconds")
    if isinstance(secs, float):
        rows.append(("analysis time", f"{secs:.1f} s"))
    rows.append(("report built", f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ} in "
                                 f"{time.perf_counter() - started:.1f} s"))
    return rows


def _render(**context: Any) -> str:
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("strokecell.report", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    return env.get_template(TEMPLATE).render(**context)


def _title_rows(summary: ProtocolSummary, v: S.View) -> dict[str, Any]:
    therapies = []
    if v.blinded:
        if summary.therapy is not None:
            therapies.append(("cell therapy", summary.therapy))
    else:
        therapies = [(f"{a.label} ({a.code})", a.therapy) for a in summary.arms
                     if a.therapy is not None]
    arms = [] if v.blinded else [(a.code, a.label, a.kind.replace("_", " "),
                                  T.fint(a.planned_n), a.description) for a in summary.arms]
    endpoints = [(e.role.replace("_", " "), T.fint(e.order) if e.order else "", e.label,
                  ", ".join(summary.visit_label(x) for x in e.visits))
                 for e in summary.endpoints]
    return {"therapies": therapies, "arms": arms, "endpoints": endpoints,
            "n_arms": len(summary.arms)}


def _assemble(planned: PlannedAnalyses, summary: ProtocolSummary, v: S.View,
              sections: list[S.Section], *, kind: str, subtitle: str,
              reproducibility: Mapping[str, Any], started: float) -> Report:
    messages = [v.text(m) for m in planned.messages]
    title = summary.title
    html = _render(summary=summary, view=v, sections=sections, messages=messages, kind=kind,
                   subtitle=subtitle, title=title, closed=CLOSED_SESSION,
                   footer=_footer(planned, reproducibility, started),
                   snapshot=str(reproducibility["data_snapshot"])[:12],
                   generated=f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
                   **_title_rows(summary, v))
    return Report(html, title, kind, v.blinded, tuple(messages),
                  {"seconds": time.perf_counter() - started, "sections": [s.id for s in
                                                                          sections]})


def _endpoint_codes(planned: PlannedAnalyses, blinded: bool) -> list[str]:
    prefix = "pooled:" if blinded else "mmrm:"
    return [k.removeprefix(prefix) for k in planned.results
            if k.startswith(prefix) and k != "pooled:MRS"]


def build_report(planned: PlannedAnalyses, summary: ProtocolSummary, *,
                 reproducibility: Mapping[str, Any], blinded: bool) -> Report:
    """The trial report. ``blinded=True`` needs blinded planned analyses and shows pooled
    results only; blinded planned analyses always give the pooled report."""
    started = time.perf_counter()
    summary.validate()
    _check_reproducibility(reproducibility)
    blinded = blinded or not planned.unblinded
    if blinded:
        _check_pooled(planned)
    v = _view(planned, summary, blinded)
    sections = [S.consort_section(planned, v), S.baseline_section(planned, v),
                S.estimands_section(planned, v)]
    results = S.Section("sec-results", "Endpoints" if not blinded else
                        "Endpoints: pooled summaries (blinded)")
    mult = S.multiplicity_section(planned, v)
    if mult is not None:
        results.subsections.append(mult)
    results.subsections += [S.endpoint_section(planned, v, code, i)
                            for i, code in enumerate(_endpoint_codes(planned, blinded))]
    mrs = S.mrs_section(planned, v)
    if mrs is not None:
        results.subsections.append(mrs)
    sections.append(results)
    sections.append(S.safety_section(planned["safety"], v))
    expl = S.exploratory_section(planned, v)
    if expl is not None:
        sections.append(expl)
    subtitle = ("Blinded report: all arms pooled, no comparison between arms" if blinded
                else "Trial report: results by arm (unblinded)")
    return _assemble(planned, summary, v, sections, kind="trial", subtitle=subtitle,
                     reproducibility=reproducibility, started=started)


def build_dsmb_report(planned: PlannedAnalyses, summary: ProtocolSummary, *,
                      reproducibility: Mapping[str, Any],
                      dsmb: AnalysisResult | None = None) -> Report:
    """The data safety monitoring board's closed-session report: flow, baseline, safety and
    discontinuations by arm, the stopping rule and the primary endpoint by arm. Every page
    says :data:`CLOSED_SESSION`. Refuses blinded analyses (:class:`PermissionDeniedError`).
    ``dsmb``: the result of :func:`strokecell.analysis.dsmb_closed_report` (else the planned
    safety tables by arm are used)."""
    started = time.perf_counter()
    if not planned.unblinded:
        raise PermissionDeniedError("the DSMB closed-session report shows results by arm and "
                                    "needs unblinded planned analyses "
                                    "(run_planned_analyses(..., unblinded=True)); blinded "
                                    "roles get the pooled build_report(..., blinded=True)")
    if dsmb is not None and (dsmb.info.get("session") != "closed"
                             or dsmb.info.get("unblinded") is not True):
        raise PermissionDeniedError("dsmb must be the unblinded closed-session result of "
                                    "dsmb_closed_report(..., unblinded=True)")
    summary.validate()
    _check_reproducibility(reproducibility)
    v = _view(planned, summary, False)
    safety = dsmb if dsmb is not None else planned["safety"]
    extra = []
    if dsmb is not None and "discontinuations" in dsmb.tables:
        extra.append(T.simple_table("tbl-discontinuations", "Discontinuations by arm and "
                                    "reason", dsmb.tables["discontinuations"],
                                    {"ARMCD": "arm", "DCSREAS": "reason", "n": "n"},
                                    v.short, numeric=("n",)))
    sections = [S.consort_section(planned, v), S.safety_section(safety, v, extra),
                S.baseline_section(planned, v)]
    primary = next((e.paramcd for e in summary.endpoints if e.role == "primary"), None)
    if primary is not None and f"mmrm:{primary}" in planned.results:
        ep = S.endpoint_section(planned, v, primary, 0)
        ep.title = f"Primary endpoint: {ep.title}"
        sections.append(ep)
    return _assemble(planned, summary, v, sections, kind="dsmb",
                     subtitle="Data safety monitoring board: closed-session report (by arm)",
                     reproducibility=reproducibility, started=started)
