"""Evidence page of a protocol: what published trials with this route and cell type found.

The report layer does not read protocols: the caller passes the four aspects as plain values
(route, cell type, condition, phase), in the protocol's codes or the data set's. The page
holds

* the matching trials, in tiers: same route and cell type, same route, same cell type (stroke
  type and phase marked where they match too), with what each reported and its citation;
* the pooled results of the **closest** tier that has usable numbers: one synthesis per
  outcome and time point (:func:`strokecell.evidence.synthesize`, REML with Knapp-Hartung),
  each with its forest plot embedded as a PNG (base64) and the citation of every number;
* the caveats (domain/README.md section 6.1), each with its source.

::

    from strokecell.report.evidence_page import write_evidence_page
    write_evidence_page("evidence.html", route="intra_arterial",
                        cell_type="mesenchymal_stem_cells",
                        condition="intracerebral_haemorrhage", phase="subacute")
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from strokecell.evidence import (
    OUTCOMES,
    TimeWindow,
    TrialRecord,
    forest,
    load_trials,
    normalise_aspect,
    summarize_trials,
    synthesize,
    usable,
)
from strokecell.report._citations import citation_links
from strokecell.report._evidence_caveats import CAVEATS

__all__ = ["EvidencePage", "PooledBlock", "Tier", "build_evidence_page", "render_evidence_page",
           "write_evidence_page"]

TEMPLATE = "evidence_page.html.j2"


@dataclass(frozen=True)
class Tier:
    """Trials sharing some of the protocol's aspects, as table rows."""

    name: str
    rows: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class PooledBlock:
    """One outcome at one time point, pooled over the trials of a tier."""

    tier: str
    title: str
    headline: str  # pooled estimate, CI, p, k, heterogeneity
    direction: str
    studies: tuple[dict[str, Any], ...]
    left_out: tuple[dict[str, Any], ...]
    notes: tuple[str, ...]
    synthesis: dict[str, Any]  # the full JSON of the synthesis
    forest_png: str  # base64


@dataclass(frozen=True)
class EvidencePage:
    """Everything the template shows."""

    title: str
    aspects: dict[str, str | None]
    tiers: tuple[Tier, ...]
    pooled_tier: str | None
    pooled: tuple[PooledBlock, ...]
    caveats: tuple[dict[str, Any], ...]
    notes: tuple[str, ...] = field(default_factory=tuple)


def _codes(name: str, value: str | None) -> tuple[str, ...]:
    return () if value is None else normalise_aspect(name, value)


def _row(summary: Any, records: Sequence[TrialRecord], stroke: tuple[str, ...],
         phase: tuple[str, ...]) -> dict[str, Any]:
    d = summary.to_dict()
    mine = [r for r in records
            if r.trial_id == summary.trial_id and r.comparison == d["comparison"]]
    findings = [{"row_id": r.row_id, "outcome": str(o), "usable": o.usable,
                 "reported": r.reported_text, "p": r.p_reported,
                 "source": citation_links(r.numbers_source or r.citation),
                 "locator": r.numbers_locator}
                for r, o in zip(mine, summary.outcomes, strict=True)]
    return {**d, "design": summary.design, "n_text": summary.n_text,
            "dose_text": summary.dose_text, "timing_text": summary.timing_text,
            "stroke_match": d["stroke_type"] in stroke, "phase_match": d["phase"] in phase,
            "findings": findings, "links": citation_links(d["citation"])}


def _png(synthesis: Any) -> str:
    fig = forest(synthesis)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _time_arg(record: TrialRecord) -> TimeWindow:
    from strokecell.evidence import parse_time

    unit = {"days": "d", "weeks": "wk", "months": "mo", "years": "y"}
    if record.time_value is None or record.time_unit is None:  # pragma: no cover - usable rows
        raise ValueError(record.row_id)
    return parse_time(f"{record.time_value:g}{unit[record.time_unit.value]}")


def _pooled(tier: str, records: Sequence[TrialRecord]) -> list[PooledBlock]:
    seen: dict[tuple[str, float], TrialRecord] = {}
    for r in records:
        if usable(r) and r.time_days is not None:
            seen.setdefault((r.outcome.value, round(r.time_days)), r)
    blocks = []
    for (outcome, _), r in sorted(seen.items()):
        window = _time_arg(r)
        s = synthesize(outcome, window, by=(), regress=(), records=records)
        if s.overall is None:
            continue
        studies = tuple({**d, "effect": f"{s.format_effect(d['yi'])} "
                                       f"[{s.format_effect(d['ci_lb'])}, "
                                       f"{s.format_effect(d['ci_ub'])}]",
                         "source": citation_links(d["numbers_source"] or d["citation"])}
                        for d in s.study_dicts())
        title = f"{OUTCOMES[s.outcome].label} at {window.label}"
        blocks.append(PooledBlock(
            tier, title, s.pooled_line(s.overall), s.direction_note, studies,
            tuple(x.to_dict() for x in s.left_out), s.notes, s.to_dict(), _png(s)))
    return blocks


def build_evidence_page(*, route: str, cell_type: str, condition: str | None = None,
                        phase: str | None = None, title: str | None = None,
                        records: Sequence[TrialRecord] | None = None) -> EvidencePage:
    """Collect the matching trials, the pooled results of the closest tier and the caveats."""
    recs = list(load_trials() if records is None else records)
    r_codes, c_codes = _codes("route", route), _codes("cell_type", cell_type)
    s_codes, p_codes = _codes("stroke_type", condition), _codes("phase", phase)
    summaries = summarize_trials(recs)
    tests = (("same route and cell type", True, True),
             ("same route, other cell types", True, False),
             ("same cell type, other routes", False, True))
    tiers = tuple(
        Tier(name, tuple(_row(s, recs, s_codes, p_codes) for s in summaries
                         if (s.first.route.value in r_codes) is same_route
                         and (s.first.cell_type.value in c_codes) is same_cell))
        for name, same_route, same_cell in tests)
    pools = (
        ("same route and cell type",
         [r for r in recs if r.route.value in r_codes and r.cell_type.value in c_codes]),
        ("same route, any cell type", [r for r in recs if r.route.value in r_codes]),
        ("same cell type, any route", [r for r in recs if r.cell_type.value in c_codes]),
    )
    pooled: list[PooledBlock] = []
    pooled_tier: str | None = None
    for name, subset in pools:
        pooled = _pooled(name, subset)
        if pooled:
            pooled_tier = name
            break
    notes = []
    if pooled_tier is not None and pooled_tier != pools[0][0]:
        notes.append(f"No trial with the same route and cell type reports numbers that can be "
                     f"pooled: the pooled results above come from the wider subgroup "
                     f"'{pooled_tier}' and say nothing specific about this route and cell type.")
    if pooled_tier is None:
        notes.append("No trial sharing this route or cell type reports numbers that can be "
                     "pooled; the findings above are as the trials reported them.")
    caveats = tuple({"text": c.text, "links": [link for cit in c.citations
                                               for link in citation_links(cit)]}
                    for c in CAVEATS)
    aspects = {"route": route, "cell type": cell_type, "condition": condition, "phase": phase,
               "data-set codes": ", ".join([*r_codes, *c_codes, *s_codes, *p_codes])}
    return EvidencePage(title or "Evidence page", aspects, tiers, pooled_tier,
                        tuple(pooled), caveats, tuple(notes))


def render_evidence_page(page: EvidencePage) -> str:
    """The page as HTML (jinja2 template in ``strokecell/report/templates``)."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("strokecell.report", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    return env.get_template(TEMPLATE).render(page=page)


def write_evidence_page(path: str | Path, **aspects: Any) -> Path:
    """Build and render the page for ``aspects`` (see :func:`build_evidence_page`) to
    ``path``; returns the path."""
    out = Path(path)
    out.write_text(render_evidence_page(build_evidence_page(**aspects)), encoding="utf-8")
    return out
