"""Forest and funnel plots write non-empty PNGs of sensible size.

The data are dat_bcg.csv with the effect sizes of dat_bcg_metafor.json "escalc"."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from meta_reference import bcg, reference

from strokecell.stats.meta import forest_plot, funnel_plot, rma, subgroup_analysis, trimfill

pytest.importorskip("matplotlib")


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _bcg_fit() -> tuple[list[float], list[float]]:
    rows = reference()["escalc"]
    return [r["yi"] for r in rows], [r["vi"] for r in rows]


def test_forest_plot_png(tmp_path: Path) -> None:
    yi, vi = _bcg_fit()
    res = rma(yi, vi, labels=bcg()["author"], measure="RR")
    out = tmp_path / "forest.png"
    forest_plot(res, out, title="BCG vaccine")
    w, h = _png_size(out)
    assert out.stat().st_size > 10_000
    assert 600 <= w <= 4000 and 300 <= h <= 4000


def test_forest_plot_with_subgroups(tmp_path: Path) -> None:
    yi, vi = _bcg_fit()
    sg = subgroup_analysis(yi, vi, subgroup=bcg()["alloc"], labels=bcg()["author"])
    out = tmp_path / "forest_sub.png"
    forest_plot(sg, out)
    w, h = _png_size(out)
    assert out.stat().st_size > 10_000 and h > 600 and w >= 600


def test_funnel_plot_png(tmp_path: Path) -> None:
    yi, vi = _bcg_fit()
    res = rma(yi, vi, measure="RR")
    out = tmp_path / "funnel.png"
    funnel_plot(trimfill(res), out)
    w, h = _png_size(out)
    assert out.stat().st_size > 5_000 and 400 <= w <= 3000 and 400 <= h <= 3000
