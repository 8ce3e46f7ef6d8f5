"""Figures of the trial report: means with CI over visits, forest plots, Grotta bars.

Matplotlib's object API with the Agg canvas (no pyplot state: nothing to leak between
reports or threads); each figure is saved as PNG, embedded as a ``data:`` URI, and cleared.
Print and colour-blind safe: the Okabe-Ito palette (Okabe & Ito 2008), arms told apart by
marker and line style as well as colour, Grotta-bar grades by a light-to-dark ramp and a
hatch each, fonts of 9 pt or more at the printed size (figures are 6.3 in wide and shown at
that width).
"""

from __future__ import annotations

import base64
import io
import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullLocator
from matplotlib.typing import RcKeyType

__all__ = ["OKABE_ITO", "ArmStyle", "Plot", "arm_styles", "forest_plot", "grotta_bars",
           "means_plot"]

OKABE_ITO = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442",
             "#000000")
MARKERS = ("o", "s", "^", "D", "v", "P")
LINESTYLES = ("-", "--", ":", "-.", (0, (5, 1, 1, 1)), (0, (1, 1)))
# mRS 0 (no symptoms) light to 6 (dead) black; a hatch each so that neighbours differ in grey
GROTTA_COLOURS = ("#FFF2B2", "#F9D057", "#E69F00", "#D55E00", "#9C3D10", "#5A1E0B", "#111111")
GROTTA_TEXT = ("black", "black", "black", "white", "white", "white", "white")
GROTTA_HATCH = ("", "////", "", "\\\\\\\\", "", "....", "")
WIDTH_IN = 6.3
DPI = 150
RC: dict[RcKeyType, Any] = {"font.family": "DejaVu Sans", "font.size": 9.5, "axes.titlesize": 10.5,
      "axes.labelsize": 9.5, "xtick.labelsize": 9, "ytick.labelsize": 9,
      "legend.fontsize": 9, "hatch.linewidth": 0.7, "axes.spines.top": False,
      "axes.spines.right": False}


@dataclass(frozen=True)
class ArmStyle:
    code: str
    label: str
    colour: str
    marker: str
    linestyle: str | tuple[int, tuple[int, ...]]


@dataclass(frozen=True)
class Plot:
    """A rendered figure: ``src`` is a ``data:image/png;base64,...`` URI."""

    src: str
    alt: str
    width_in: float


def arm_styles(arms: Sequence[tuple[str, str]]) -> dict[str, ArmStyle]:
    """A colour, marker and line style for each (code, label), in order."""
    return {code: ArmStyle(code, label, OKABE_ITO[i % len(OKABE_ITO)],
                           MARKERS[i % len(MARKERS)], LINESTYLES[i % len(LINESTYLES)])
            for i, (code, label) in enumerate(arms)}


def _render(fig: Figure, alt: str) -> Plot:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    width = float(fig.get_figwidth())
    fig.clear()
    return Plot("data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii"),
                alt, width)


def _plain_log(ax: Axes, axis: str) -> None:
    """Log axis with evenly chosen plain tick labels (0.4, 0.6, 0.8, 1 rather than 10⁰ alone
    or 6×10⁻¹): ratios in a trial seldom span more than a decade."""
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_locator(MaxNLocator(nbins=6))
    target.set_major_formatter(FuncFormatter(lambda value, _pos: f"{value:g}"))
    target.set_minor_locator(NullLocator())


def _wrap(text: str, width: int = 24) -> str:
    return "\n".join(textwrap.wrap(text, width)) or text


def means_plot(points: pd.DataFrame, styles: dict[str, ArmStyle], visit_labels: dict[str, str],
               *, title: str, ylabel: str, reference: float | None = 0.0,
               log: bool = False) -> Plot:
    """Estimates with CI by arm over visits. ``points``: ARMCD, AVISIT, AVISITN, estimate,
    lower, upper (and ``n``); one line per arm, dodged sideways so the CIs do not overlap."""
    with rc_context(RC):
        fig = Figure(figsize=(WIDTH_IN, 3.4), layout="constrained")
        ax = fig.add_subplot()
        visits = (points[["AVISIT", "AVISITN"]].drop_duplicates().sort_values("AVISITN")
                  ["AVISIT"].tolist())
        pos = {v: i for i, v in enumerate(visits)}
        arms = [a for a in styles if a in set(points["ARMCD"])]
        for k, arm in enumerate(arms):
            st = styles[arm]
            sub = points[points["ARMCD"] == arm].sort_values("AVISITN")
            x = np.array([pos[v] for v in sub["AVISIT"]]) + 0.09 * (k - (len(arms) - 1) / 2)
            y = sub["estimate"].to_numpy(float)
            err = np.vstack([y - sub["lower"].to_numpy(float), sub["upper"].to_numpy(float) - y])
            ax.errorbar(x, y, yerr=err, color=st.colour, marker=st.marker, linestyle=st.linestyle,
                        capsize=3, markersize=6, linewidth=1.6, label=st.label,
                        markerfacecolor="white" if k % 2 else st.colour)
        if reference is not None:
            ax.axhline(reference, color="#777777", linewidth=0.8, zorder=0)
        if log:
            ax.set_yscale("log")
            _plain_log(ax, "y")
        ax.set_xticks(range(len(visits)), [visit_labels.get(v, v) for v in visits])
        ax.set_xlim(-0.5, len(visits) - 0.5)
        ax.set_ylabel(ylabel)
        ax.set_title(title, loc="left")
        if arms:
            wide = sum(len(styles[a].label) + 6 for a in arms) > 80
            fig.legend(frameon=False, loc="outside lower center",
                       ncols=1 if wide else len(arms))
        return _render(fig, f"{title}: {ylabel} by visit")


def forest_plot(diffs: pd.DataFrame, visit_labels: dict[str, str], *, title: str,
                xlabel: str, reference: float = 0.0, log: bool = False,
                digits: int = 2) -> Plot:
    """One row per visit (and comparison): estimate with CI, and the numbers in a column on
    the right; the primary visit marked by a band, a filled diamond and bold labels.
    ``diffs``: AVISIT, AVISITN, comparison, estimate, lower, upper, primary."""
    rows = diffs.sort_values(["AVISITN", "comparison"]).reset_index(drop=True)
    several = rows["comparison"].nunique() > 1
    with rc_context(RC):
        fig = Figure(figsize=(WIDTH_IN, 1.3 + 0.42 * max(len(rows), 1)), layout="constrained")
        ax, tx = fig.subplots(1, 2, sharey=True, width_ratios=[2.7, 1.6])
        ys = np.arange(len(rows))[::-1]
        labels = []
        for y, (_, r) in zip(ys, rows.iterrows(), strict=True):
            primary = bool(r["primary"])
            label = visit_labels.get(str(r["AVISIT"]), str(r["AVISIT"]))
            if several:
                label += f"\n{r['comparison']}"
            labels.append(label + (" (primary)" if primary else ""))
            if primary:
                for a in (ax, tx):
                    a.axhspan(y - 0.45, y + 0.45, color="#E8E8E8", zorder=0)
            est, lo, hi = (float(r[c]) for c in ("estimate", "lower", "upper"))
            weight = "bold" if primary else "normal"
            if math.isnan(est):
                tx.text(0.0, y, "not estimable", va="center", ha="left")
                continue
            ax.plot([lo, hi], [y, y], color="black", linewidth=2.2 if primary else 1.4)
            ax.plot([est], [y], marker="D" if primary else "s", markersize=9 if primary else 6,
                    color=OKABE_ITO[1] if primary else "black",
                    markerfacecolor=OKABE_ITO[1] if primary else "white")
            tx.text(0.0, y, f"{est:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]",
                    va="center", ha="left", fontweight=weight)
        ax.axvline(reference, color="#777777", linewidth=0.9, linestyle="--", zorder=0)
        if log:
            ax.set_xscale("log")
            _plain_log(ax, "x")
        ax.set_yticks(ys, labels)
        for tick, (_, r) in zip(ax.get_yticklabels(), rows.iterrows(), strict=True):
            if bool(r["primary"]):
                tick.set_fontweight("bold")
        ax.set_ylim(-0.6, len(rows) - 0.4)
        ax.set_xlabel(xlabel)
        fig.suptitle(title, x=0.01, ha="left", fontsize=10.5)
        tx.set_xlim(0, 1)
        tx.axis("off")
        tx.set_title("estimate [95% CI]", loc="left")
        return _render(fig, f"{title}: forest plot by visit")


def grotta_bars(dist: pd.DataFrame, styles: dict[str, ArmStyle], visit_labels: dict[str, str],
                *, title: str) -> Plot:
    """Horizontal stacked bars of the mRS (0-6), one bar per arm within each visit, with the
    percentage in each segment. ``dist``: AVISIT, ARMCD, AVAL, n, percent."""
    visits = [v for v in visit_labels if v in set(dist["AVISIT"])] + sorted(
        set(dist["AVISIT"]) - set(visit_labels))
    arms = [a for a in styles if a in set(dist["ARMCD"])]
    with rc_context(RC):
        fig = Figure(figsize=(WIDTH_IN, 1.0 + len(visits) * (0.35 + 0.5 * len(arms))),
                     layout="constrained")
        axes = fig.subplots(len(visits), 1, sharex=True, squeeze=False)[:, 0]
        for ax, visit in zip(axes, visits, strict=True):
            sub = dist[dist["AVISIT"] == visit]
            ylabels = []
            for y, arm in enumerate(reversed(arms)):
                cell = sub[sub["ARMCD"] == arm].set_index("AVAL")
                n = int(cell["n"].sum())
                ylabels.append(f"{_wrap(styles[arm].label)}\n(n = {n})")
                left = 0.0
                for grade in range(7):
                    pct = float(cell["percent"].get(grade, 0.0)) if n else 0.0
                    if pct <= 0:
                        continue
                    ax.barh(y, pct, left=left, height=0.62, color=GROTTA_COLOURS[grade],
                            edgecolor="white", linewidth=0.8, hatch=GROTTA_HATCH[grade])
                    if pct >= 6:
                        ax.text(left + pct / 2, y, f"{pct:.0f}%", ha="center", va="center",
                                color=GROTTA_TEXT[grade], fontsize=9,
                                bbox={"boxstyle": "square,pad=0.1", "linewidth": 0,
                                      "facecolor": GROTTA_COLOURS[grade]})
                    left += pct
                if n == 0:
                    ax.text(50, y, "no data", ha="center", va="center")
            ax.set_yticks(range(len(arms)), ylabels)
            ax.set_xlim(0, 100)
            ax.set_title(visit_labels.get(visit, visit), loc="left")
            ax.spines["left"].set_visible(False)
            ax.tick_params(axis="y", length=0)
        axes[-1].set_xlabel("Percentage of subjects")
        handles = [Patch(facecolor=GROTTA_COLOURS[g], hatch=GROTTA_HATCH[g], edgecolor="white",
                         label=f"{g}") for g in range(7)]
        fig.legend(handles=handles, loc="outside upper center", ncols=7, frameon=False,
                   title="modified Rankin scale (0 no symptoms … 6 dead)", handlelength=2.2,
                   handleheight=1.4)
        return _render(fig, f"{title}: distribution of the modified Rankin scale by arm and "
                            "visit")
