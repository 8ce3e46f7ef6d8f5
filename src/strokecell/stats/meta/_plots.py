"""Forest and funnel plots (matplotlib, Agg canvas, imported only when a plot is drawn)."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from scipy import stats

from strokecell.stats.meta._result import MetaResult

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from strokecell.stats.meta._bias import TrimFill
    from strokecell.stats.meta._subgroup import SubgroupResult

FloatArray = npt.NDArray[np.float64]
RATIO = ("RR", "OR")
_RATIO_TICKS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0)


def _figure(width: float, height: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: str | Path | None, dpi: int) -> None:
    if path is not None:
        fig.savefig(str(path), dpi=dpi, bbox_inches="tight")


def _diamond(ax: Axes, y: float, est: float, lb: float, ub: float, color: str) -> None:
    ax.fill([lb, est, ub, est], [y, y + 0.35, y, y - 0.35], color=color, zorder=3)


def _pooled_rows(ax: Axes, res: MetaResult, y: float, label: str, fmt: Callable[[float], str],
                 text_x: float) -> float:
    est, lb, ub = float(res.beta[0]), float(res.ci_lb_beta[0]), float(res.ci_ub_beta[0])
    _diamond(ax, y, est, lb, ub, "black")
    ax.text(-0.02, y, label, transform=ax.get_yaxis_transform(), ha="right", va="center",
            fontweight="bold", fontsize=9)
    ax.text(text_x, y, f"{fmt(est)} [{fmt(lb)}, {fmt(ub)}]", transform=ax.get_yaxis_transform(),
            ha="left", va="center", fontweight="bold", fontsize=9)
    if res.pi_lb is not None and res.pi_ub is not None:
        y -= 0.6
        ax.plot([res.pi_lb, res.pi_ub], [y, y], color="grey", lw=2.5, solid_capstyle="butt")
        ax.text(-0.02, y, "  prediction interval", transform=ax.get_yaxis_transform(),
                ha="right", va="center", fontsize=8, color="grey")
        ax.text(text_x, y, f"[{fmt(res.pi_lb)}, {fmt(res.pi_ub)}]",
                transform=ax.get_yaxis_transform(), ha="left", va="center", fontsize=8,
                color="grey")
    return y


def forest_plot(result: MetaResult | SubgroupResult, path: str | Path | None = None, *,
                title: str | None = None, xlabel: str | None = None,
                transform: bool | None = None, dpi: int = 150) -> Figure:
    """Forest plot: each study's estimate and CI (square sized by weight), the pooled
    diamond and, for random-effects models, the prediction interval; with a
    :class:`SubgroupResult`, one block per subgroup with its own diamond and the test of
    subgroup differences. ``transform`` labels the axis on the ratio scale (default for RR/OR).
    Writes a PNG when ``path`` is given and returns the figure.
    """
    from strokecell.stats.meta._subgroup import SubgroupResult

    blocks: list[tuple[str | None, MetaResult]]
    if isinstance(result, SubgroupResult):
        overall = result.overall
        blocks = list(zip(result.levels, result.fits, strict=True))
    else:
        overall = result
        blocks = [(None, result)]
    measure = overall.measure
    ratio = (measure in RATIO) if transform is None else transform

    def fmt(x: float) -> str:
        return f"{math.exp(x):.2f}" if ratio else f"{x:.2f}"

    z = float(stats.norm.isf((1 - overall.level / 100) / 2))
    n_rows = sum(b.k + (3 if name else 0) for name, b in blocks) + 4
    fig = _figure(9.0, max(3.0, 0.28 * n_rows + 1.2))
    ax = fig.add_subplot(1, 1, 1)
    y = 0.0
    lows: list[float] = []
    highs: list[float] = []
    wmax = float(max(np.max(b.weights) for _, b in blocks))
    for name, block in blocks:
        if name is not None:
            ax.text(-0.02, y, str(name), transform=ax.get_yaxis_transform(), ha="right",
                    va="center", fontweight="bold", fontsize=9, style="italic")
            y -= 1
        half = z * np.sqrt(block.vi)
        for lab, yi, h, w in zip(block.labels, block.yi, half, block.weights, strict=True):
            ax.plot([yi - h, yi + h], [y, y], color="black", lw=1)
            size = 4 + 10 * math.sqrt(float(w) / wmax)
            ax.plot([yi], [y], marker="s", ms=size, color="tab:blue", zorder=3)
            ax.text(-0.02, y, lab, transform=ax.get_yaxis_transform(), ha="right",
                    va="center", fontsize=8)
            ax.text(1.02, y, f"{fmt(yi)} [{fmt(yi - h)}, {fmt(yi + h)}]  {w:5.1f}%",
                    transform=ax.get_yaxis_transform(), ha="left", va="center", fontsize=8)
            lows.append(float(yi - h))
            highs.append(float(yi + h))
            y -= 1
        if name is not None:
            label = f"RE model for {name}" if block.method != "EE" else f"EE model for {name}"
            y = _pooled_rows(ax, block, y, label, fmt, 1.02) - 1.4
    y -= 0.4
    kind = "EE model" if overall.method == "EE" else f"RE model ({overall.method})"
    y_end = _pooled_rows(ax, overall, y, kind, fmt, 1.02)
    if isinstance(result, SubgroupResult):
        y_end -= 1
        ax.text(-0.02, y_end, f"Test for subgroup differences: Q = {result.Q_between:.2f}, "
                f"df = {result.Q_between_df}, p = {result.Q_between_pval:.3g}",
                transform=ax.get_yaxis_transform(), ha="left", va="center", fontsize=8)
    lows.append(float(overall.ci_lb_beta[0]))
    highs.append(float(overall.ci_ub_beta[0]))
    ax.axvline(0.0, color="grey", lw=0.8, ls="--")
    ax.set_ylim(y_end - 1, 1)
    span = max(highs) - min(lows)
    ax.set_xlim(min(lows) - 0.05 * span, max(highs) + 0.05 * span)
    ax.set_yticks([])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    if ratio:
        lo, hi = ax.get_xlim()
        ticks = [t for t in _RATIO_TICKS if lo <= math.log(t) <= hi]
        while len(ticks) > 7:
            ticks = ticks[::2] if 1.0 in ticks[::2] else ticks[1::2]
        ax.set_xticks([math.log(t) for t in ticks])
        ax.set_xticklabels([f"{t:g}" for t in ticks])
    ax.set_xlabel(xlabel or _axis_label(measure, ratio))
    if title:
        ax.set_title(title)
    _save(fig, path, dpi)
    return fig


def _axis_label(measure: str | None, ratio: bool) -> str:
    if measure in RATIO and not ratio:
        return "Log risk ratio" if measure == "RR" else "Log odds ratio"
    names = {"RR": "Risk ratio", "OR": "Odds ratio", "RD": "Risk difference",
             "MD": "Mean difference", "SMD": "Standardized mean difference",
             "PLO": "Log odds (proportion)"}
    if measure in names:
        return names[measure] + (" (log scale)" if ratio else "")
    return "Observed outcome"


def funnel_plot(result: MetaResult | TrimFill, path: str | Path | None = None, *,
                title: str | None = None, xlabel: str | None = None, dpi: int = 150) -> Figure:
    """Funnel plot: effect size against standard error (inverted), with the pseudo
    confidence region ``θ̂ ± z·SE``; the studies filled in by trim-and-fill drawn open."""
    from strokecell.stats.meta._bias import TrimFill

    filled_y: FloatArray = np.zeros(0)
    filled_v: FloatArray = np.zeros(0)
    if isinstance(result, TrimFill):
        filled_y, filled_v = result.filled_yi, result.filled_vi
        res = result.result
        obs_y, obs_v = result.original.yi, result.original.vi
    else:
        res = result
        obs_y, obs_v = res.yi, res.vi
    est = float(res.beta[0])
    z = float(stats.norm.isf((1 - res.level / 100) / 2))
    sei = np.sqrt(np.concatenate([obs_v, filled_v]))
    top = float(sei.max()) * 1.05 if sei.size else 1.0
    fig = _figure(6.0, 5.0)
    ax = fig.add_subplot(1, 1, 1)
    se_grid = np.array([0.0, top])
    ax.fill([est - z * top, est, est + z * top], [top, 0, top], color="0.92", zorder=0)
    ax.plot(est - z * se_grid, se_grid, color="grey", lw=0.8, ls="--")
    ax.plot(est + z * se_grid, se_grid, color="grey", lw=0.8, ls="--")
    ax.axvline(est, color="black", lw=1)
    ax.scatter(obs_y, np.sqrt(obs_v), color="black", s=22, zorder=3, label="studies")
    if filled_y.size:
        ax.scatter(filled_y, np.sqrt(filled_v), facecolors="white", edgecolors="black",
                   s=22, zorder=3, label="filled (trim-and-fill)")
        ax.legend(fontsize=8, loc="best")
    ax.set_ylim(top, 0)
    ax.set_ylabel("Standard error")
    ax.set_xlabel(xlabel or _axis_label(res.measure, False))
    if title:
        ax.set_title(title)
    _save(fig, path, dpi)
    return fig
