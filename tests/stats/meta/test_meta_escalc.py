"""escalc against hand computation from metafor's published formulas (escalc help page)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from strokecell.errors import InputError
from strokecell.stats.meta import escalc


def test_smd_is_hedges_g_with_exact_correction() -> None:
    # d = (10 - 8) / 2 = 1, m = 10 + 10 - 2 = 18, c(m) = Γ(m/2) / (√(m/2) Γ((m-1)/2))
    es = escalc("SMD", m1i=[10], sd1i=[2], n1i=[10], m2i=[8], sd2i=[2], n2i=[10])
    c = math.gamma(9) / (math.sqrt(9) * math.gamma(8.5))
    assert es.yi[0] == pytest.approx(c * 1.0, rel=1e-12)
    assert es.vi[0] == pytest.approx(1 / 10 + 1 / 10 + (c**2) / (2 * 20), rel=1e-12)


def test_smd_pools_unequal_sds() -> None:
    es = escalc("SMD", m1i=[5.0], sd1i=[1.0], n1i=[5], m2i=[4.0], sd2i=[3.0], n2i=[7])
    sdp = math.sqrt((4 * 1.0 + 6 * 9.0) / 10)
    c = math.exp(math.lgamma(5) - math.log(math.sqrt(5)) - math.lgamma(4.5))
    assert es.yi[0] == pytest.approx(c * 1.0 / sdp, rel=1e-12)


def test_md_uses_unpooled_variances() -> None:
    es = escalc("MD", m1i=[3.0], sd1i=[2.0], n1i=[10], m2i=[1.0], sd2i=[4.0], n2i=[20])
    assert es.yi[0] == 2.0
    assert es.vi[0] == pytest.approx(4 / 10 + 16 / 20, rel=1e-14)


def test_zero_cell_adds_half_to_every_cell_rr_or_rd() -> None:
    # a=0, n1=10, c=5, n2=10 -> cells 0.5, 10.5, 5.5, 5.5 (n1 = n2 = 11)
    rr = escalc("RR", ai=[0], n1i=[10], ci=[5], n2i=[10])
    assert rr.yi[0] == pytest.approx(math.log((0.5 / 11) / (5.5 / 11)), rel=1e-14)
    assert rr.vi[0] == pytest.approx(1 / 0.5 - 1 / 11 + 1 / 5.5 - 1 / 11, rel=1e-14)
    orr = escalc("OR", ai=[0], bi=[10], ci=[5], di=[5])
    assert orr.yi[0] == pytest.approx(math.log((0.5 / 10.5) / (5.5 / 5.5)), rel=1e-14)
    assert orr.vi[0] == pytest.approx(1 / 0.5 + 1 / 10.5 + 1 / 5.5 + 1 / 5.5, rel=1e-14)
    rd = escalc("RD", ai=[0], n1i=[10], ci=[5], n2i=[10])
    p1, p2 = 0.5 / 11, 5.5 / 11
    assert rd.yi[0] == pytest.approx(p1 - p2, rel=1e-14)
    assert rd.vi[0] == pytest.approx(p1 * (1 - p1) / 11 + p2 * (1 - p2) / 11, rel=1e-14)


def test_no_zero_cell_no_correction() -> None:
    es = escalc("OR", ai=[2], bi=[8], ci=[4], di=[6])
    assert es.yi[0] == pytest.approx(math.log(2 * 6 / (8 * 4)), rel=1e-14)
    assert es.vi[0] == pytest.approx(1 / 2 + 1 / 8 + 1 / 4 + 1 / 6, rel=1e-14)


def test_logit_proportion_and_its_zero_cells() -> None:
    es = escalc("PLO", xi=[5, 0, 20], ni=[20, 20, 20])
    assert es.yi[0] == pytest.approx(math.log(5 / 15), rel=1e-14)
    assert es.vi[0] == pytest.approx(1 / 5 + 1 / 15, rel=1e-14)
    assert es.yi[1] == pytest.approx(math.log(0.5 / 20.5), rel=1e-14)
    assert es.vi[2] == pytest.approx(1 / 20.5 + 1 / 0.5, rel=1e-14)


def test_missing_data_dropped_and_counted() -> None:
    es = escalc("RR", ai=[1, None, 3, 4], bi=[9, 9, float("nan"), 6], ci=[2, 2, 2, 2],
                di=[8, 8, 8, 8])
    assert es.k == 2 and es.n_dropped == 2
    assert es.kept.tolist() == [0, 3]


def test_sd_of_zero_gives_a_dropped_smd() -> None:
    es = escalc("SMD", m1i=[1, 2], sd1i=[0, 1], n1i=[5, 5], m2i=[0, 0], sd2i=[0, 1],
                n2i=[5, 5])
    assert es.k == 1 and es.n_dropped == 1 and np.isfinite(es.yi).all()


@pytest.mark.parametrize(
    ("measure", "cols", "needle"),
    [
        ("XYZ", {"ai": [1]}, "measure"),
        ("RR", {"ai": [1], "ci": [1]}, "bi"),
        ("RR", {"ai": [-1], "bi": [2], "ci": [1], "di": [1]}, "ai"),
        ("RR", {"ai": [11], "n1i": [10], "ci": [1], "n2i": [10]}, "ai"),
        ("SMD", {"m1i": [1], "sd1i": [-1], "n1i": [5], "m2i": [0], "sd2i": [1], "n2i": [5]},
         "sd1i"),
        ("MD", {"m1i": [1], "sd1i": [1], "n1i": [0], "m2i": [0], "sd2i": [1], "n2i": [5]},
         "n1i"),
        ("PLO", {"xi": [3], "ni": [2]}, "xi"),
        ("RR", {"ai": [1, 2], "bi": [2], "ci": [1], "di": [1]}, "bi"),
    ],
)
def test_bad_input_names_the_column(measure: str, cols: dict[str, list[float]],
                                    needle: str) -> None:
    with pytest.raises(InputError, match=needle):
        escalc(measure, **cols)
