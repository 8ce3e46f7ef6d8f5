"""The CONSORT flow diagram (Schulz, Altman & Moher 2010) as an SVG drawn from the counts of
:func:`strokecell.analysis.consort_flow` (columns ``stage, ARMCD, reason, n``).

Enrolment (assessed, excluded with reasons, randomised) in one column, then one column per
arm (pooled as one column in the blinded report): allocation, follow-up, analysis. Plain SVG
(rectangles, text, lines), embedded as a ``data:`` URI so that browsers and WeasyPrint draw
it the same way.
"""

from __future__ import annotations

import base64
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

import pandas as pd

__all__ = ["consort_svg"]

WIDTH = 640
FONT = 12  # px at 96 dpi = 9 pt
LINE = 15
PAD = 6
GAP = 22
CHAR = 6.3  # average glyph width of DejaVu Sans at 12 px


@dataclass
class _Box:
    x: float
    y: float
    w: float
    lines: list[tuple[str, bool]]  # (text, bold)

    @property
    def h(self) -> float:
        return len(self.lines) * LINE + 2 * PAD

    def svg(self) -> str:
        out = [f'<rect x="{self.x:.1f}" y="{self.y:.1f}" width="{self.w:.1f}" '
               f'height="{self.h:.1f}" fill="white" stroke="black" stroke-width="1"/>']
        for i, (text, bold) in enumerate(self.lines):
            weight = ' font-weight="bold"' if bold else ""
            out.append(f'<text x="{self.x + PAD:.1f}" y="{self.y + PAD + (i + 0.8) * LINE:.1f}"'
                       f'{weight}>{escape(text)}</text>')
        return "\n".join(out)


def _wrap(text: str, width: float, bold: bool = False, indent: str = "") -> list[tuple[str, bool]]:
    chars = max(int((width - 2 * PAD) / (CHAR * (1.1 if bold else 1.0))), 8)
    lines = textwrap.wrap(text, chars, subsequent_indent=indent + "  ") or [""]
    return [(indent + lines[0], bold)] + [(line, bold) for line in lines[1:]]


def _n(flow: pd.DataFrame, stage: str, arm: str = "ALL") -> int:
    rows = flow[(flow["stage"] == stage) & (flow["ARMCD"] == arm) & (flow["reason"] == "")]
    return int(rows["n"].sum())


def _reasons(flow: pd.DataFrame, stage: str, arm: str = "ALL") -> list[tuple[str, int]]:
    rows = flow[(flow["stage"] == stage) & (flow["ARMCD"] == arm) & (flow["reason"] != "")]
    return [(str(r.reason).lower(), int(r.n)) for r in rows.itertuples()]


def _arrow(x1: float, y1: float, x2: float, y2: float) -> str:
    head = (f"{x2:.1f},{y2:.1f} {x2 - 4:.1f},{y2 - 7:.1f} {x2 + 4:.1f},{y2 - 7:.1f}"
            if x1 == x2 else
            f"{x2:.1f},{y2:.1f} {x2 - 7:.1f},{y2 - 4:.1f} {x2 - 7:.1f},{y2 + 4:.1f}")
    return (f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="black"/>'
            f'<polygon points="{head}" fill="black"/>')


def consort_svg(flow: pd.DataFrame, arms: Sequence[tuple[str, str]]) -> str:
    """The diagram as a ``data:image/svg+xml;base64,...`` URI. ``arms``: (code, label) of the
    columns (``[("ALL", "All arms (pooled)")]`` when blinded)."""
    flow = flow.assign(reason=flow["reason"].fillna("").astype(str))
    parts: list[str] = []
    mid = WIDTH / 2
    top_w = 250
    enrol = _Box(mid - top_w / 2 - 90, 10, top_w,
                 [(f"Assessed for eligibility (n = {_n(flow, 'screened')})", True)])
    excl_lines = [(f"Excluded (n = {_n(flow, 'excluded')})", True)]
    for reason, n in _reasons(flow, "excluded"):
        excl_lines += _wrap(f"• {reason} (n = {n})", 230)
    excl = _Box(enrol.x + top_w + 40, enrol.y + enrol.h + GAP / 2, WIDTH - enrol.x - top_w - 45,
                excl_lines)
    rand_y = max(excl.y + excl.h + GAP / 2, enrol.y + enrol.h + 2 * GAP)
    rand = _Box(enrol.x, rand_y, top_w, [(f"Randomised (n = {_n(flow, 'randomised')})", True)])
    cx = enrol.x + top_w / 2
    parts += [enrol.svg(), excl.svg(), rand.svg(), _arrow(cx, enrol.y + enrol.h, cx, rand.y)]
    branch_y = excl.y + excl.h / 2
    parts.append(_arrow(cx, branch_y, excl.x, branch_y))
    k = max(len(arms), 1)
    col_w = (WIDTH - 10 * (k + 1)) / k
    rows: list[list[_Box]] = [[], [], []]
    for i, (code, label) in enumerate(arms):
        x = 10 + i * (col_w + 10)
        alloc = [(f"Allocated to {label} (n = {_n(flow, 'allocated', code)})", True)]
        alloc = _wrap(alloc[0][0], col_w, True)
        alloc += _wrap(f"Received allocated intervention (n = {_n(flow, 'received', code)})",
                       col_w)
        alloc += _wrap(f"Did not receive it (n = {_n(flow, 'not received', code)})", col_w)
        follow = [("Follow-up", True)]
        follow += _wrap(f"Discontinued (n = {_n(flow, 'discontinued', code)})", col_w)
        for reason, n in _reasons(flow, "discontinued", code):
            follow += _wrap(f"• {reason} (n = {n})", col_w, indent="  ")
        follow += _wrap(f"Lost to follow-up (n = {_n(flow, 'lost to follow-up', code)})", col_w)
        follow += _wrap(f"Completed follow-up (n = {_n(flow, 'completed', code)})", col_w)
        if (flow["stage"] == "ongoing").any():
            follow += _wrap(f"Follow-up ongoing (n = {_n(flow, 'ongoing', code)})", col_w)
        analysed = [("Analysis", True)]
        analysed += _wrap(f"Analysed (n = {_n(flow, 'analysed', code)})", col_w)
        analysed += _wrap("Excluded from analysis "
                          f"(n = {_n(flow, 'excluded from analysis', code)})", col_w)
        for row, lines in zip(rows, (alloc, follow, analysed), strict=True):
            row.append(_Box(x, 0, col_w, lines))
    y = rand.y + rand.h + 2 * GAP
    split_y = rand.y + rand.h + GAP
    parts.append(f'<line x1="{cx:.1f}" y1="{rand.y + rand.h:.1f}" x2="{cx:.1f}" '
                 f'y2="{split_y:.1f}" stroke="black"/>')
    centres = [b.x + b.w / 2 for b in rows[0]]
    if centres:
        parts.append(f'<line x1="{min([*centres, cx]):.1f}" y1="{split_y:.1f}" '
                     f'x2="{max([*centres, cx]):.1f}" y2="{split_y:.1f}" stroke="black"/>')
    bottoms = [split_y] * len(rows[0])
    for row in rows:
        height = max((b.h for b in row), default=0)
        for i, b in enumerate(row):
            b.y = y
            parts.append(b.svg())
            c = b.x + b.w / 2
            parts.append(_arrow(c, bottoms[i], c, y))
            bottoms[i] = y + b.h
        y += height + GAP
    height = y - GAP + 10
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height:.0f}" '
           f'viewBox="0 0 {WIDTH} {height:.0f}" font-family="DejaVu Sans, sans-serif" '
           f'font-size="{FONT}">\n' + "\n".join(parts) + "\n</svg>")
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")
