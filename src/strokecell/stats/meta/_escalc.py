"""Effect sizes and sampling variances from raw study data, as metafor's ``escalc`` computes them.

Measures (metafor's default ``vtype="LS"``, ``add=1/2``, ``to="only0"``, ``drop00=FALSE``):

* ``MD``  raw mean difference, ``vi = sd1²/n1 + sd2²/n2`` (no equal-variance assumption);
* ``SMD`` Hedges' g with the exact correction ``c(m) = Γ(m/2) / (√(m/2) Γ((m-1)/2))``,
  ``m = n1 + n2 - 2``, and ``vi = 1/n1 + 1/n2 + g²/(2(n1+n2))``;
* ``RR``  log risk ratio, ``vi = 1/a - 1/n1 + 1/c - 1/n2``;
* ``OR``  log odds ratio, ``vi = 1/a + 1/b + 1/c + 1/d``;
* ``RD``  risk difference, ``vi = p1(1-p1)/n1 + p2(1-p2)/n2``;
* ``PLO`` logit proportion, ``vi = 1/x + 1/(n-x)``.

For the 2×2 measures 1/2 is added to every cell of a study with a zero cell (also for RD and
for studies with no events in either arm); for PLO 1/2 is added to x and n-x when either is 0.
Studies whose inputs are missing, or whose effect size or variance is not finite, are dropped
and counted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.special import gammaln

from strokecell.errors import InputError, Problem

FloatArray = npt.NDArray[np.float64]

MEASURES: dict[str, str] = {
    "MD": "mean difference",
    "SMD": "standardized mean difference (Hedges' g)",
    "RR": "log risk ratio",
    "OR": "log odds ratio",
    "RD": "risk difference",
    "PLO": "logit proportion",
}

#: Column roles each measure accepts (alternatives separated for the 2x2 measures).
ROLES: dict[str, tuple[tuple[str, ...], ...]] = {
    "MD": (("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i"),),
    "SMD": (("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i"),),
    "RR": (("ai", "bi", "ci", "di"), ("ai", "n1i", "ci", "n2i")),
    "OR": (("ai", "bi", "ci", "di"), ("ai", "n1i", "ci", "n2i")),
    "RD": (("ai", "bi", "ci", "di"), ("ai", "n1i", "ci", "n2i")),
    "PLO": (("xi", "ni"), ("xi", "mi")),
}

ADD = 0.5


@dataclass(frozen=True)
class EffectSizes:
    """Observed effect sizes ``yi`` with sampling variances ``vi`` of the studies kept.

    ``kept`` holds the positions (in the input order) of the studies kept; ``n_dropped`` counts
    the studies dropped for missing data; ``ni`` is each kept study's total sample size.
    """

    measure: str
    yi: FloatArray
    vi: FloatArray
    kept: npt.NDArray[np.intp]
    n_dropped: int
    ni: FloatArray = field(default_factory=lambda: np.zeros(0))

    @property
    def k(self) -> int:
        return int(self.yi.size)

    @property
    def sei(self) -> FloatArray:
        return np.sqrt(self.vi)

    def to_dict(self) -> dict[str, Any]:
        return {
            "measure": self.measure,
            "k": self.k,
            "n_dropped": self.n_dropped,
            "yi": self.yi.tolist(),
            "vi": self.vi.tolist(),
        }


def _column(name: str, values: Any, k: int | None) -> FloatArray:
    try:
        arr = np.asarray(values, dtype=float).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise InputError(Problem(name, "column is not numeric", allowed="numbers")) from exc
    if k is not None and arr.size != k:
        raise InputError(Problem(name, f"has {arr.size} values but the other columns have {k}"))
    return arr


def _check(cond: npt.NDArray[np.bool_], name: str, message: str, allowed: str) -> None:
    bad = np.flatnonzero(cond)  # comparisons with NaN are False: missing values pass
    if bad.size:
        raise InputError(Problem(
            name, f"{message} in row {int(bad[0]) + 1}", allowed=allowed))


def _pick_roles(measure: str, given: set[str]) -> tuple[str, ...]:
    options = ROLES[measure]
    for roles in options:
        if set(roles) <= given:
            return roles
    need = " or ".join("(" + ", ".join(r) + ")" for r in options)
    missing = sorted(set(options[0]) - given)
    raise InputError(Problem(
        ", ".join(missing), f"missing column(s) for measure {measure}", allowed=need))


def _smd_correction(m: FloatArray) -> FloatArray:
    out = np.full_like(m, np.nan)
    ok = m > 1
    mm = m[ok]
    out[ok] = np.exp(gammaln(mm / 2) - np.log(np.sqrt(mm / 2)) - gammaln((mm - 1) / 2))
    return out


def _two_by_two(measure: str, cols: Mapping[str, FloatArray]) -> tuple[FloatArray, ...]:
    ai = cols["ai"].copy()
    ci = cols["ci"].copy()
    if "bi" in cols and "di" in cols:
        bi, di = cols["bi"].copy(), cols["di"].copy()
    else:
        _check(ai > cols["n1i"], "ai", "event count larger than n1i", "0 <= ai <= n1i")
        _check(ci > cols["n2i"], "ci", "event count larger than n2i", "0 <= ci <= n2i")
        bi, di = cols["n1i"] - ai, cols["n2i"] - ci
    for name, arr in (("ai", ai), ("bi", bi), ("ci", ci), ("di", di)):
        _check(arr < 0, name, "negative count", "counts >= 0")
    ni = ai + bi + ci + di
    zero = (ai == 0) | (bi == 0) | (ci == 0) | (di == 0)
    for arr in (ai, bi, ci, di):
        arr[zero] += ADD
    n1, n2 = ai + bi, ci + di
    p1, p2 = ai / n1, ci / n2
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure == "RR":
            yi = np.log(p1) - np.log(p2)
            vi = 1 / ai - 1 / n1 + 1 / ci - 1 / n2
        elif measure == "OR":
            yi = np.log(p1 / (1 - p1)) - np.log(p2 / (1 - p2))
            vi = 1 / ai + 1 / bi + 1 / ci + 1 / di
        else:  # RD
            yi = p1 - p2
            vi = p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2
    return yi, vi, ni


def _means(measure: str, cols: Mapping[str, FloatArray]) -> tuple[FloatArray, ...]:
    m1, sd1, n1 = cols["m1i"], cols["sd1i"], cols["n1i"]
    m2, sd2, n2 = cols["m2i"], cols["sd2i"], cols["n2i"]
    _check(sd1 < 0, "sd1i", "negative standard deviation", "sd1i >= 0")
    _check(sd2 < 0, "sd2i", "negative standard deviation", "sd2i >= 0")
    _check(n1 <= 0, "n1i", "group size <= 0", "n1i > 0")
    _check(n2 <= 0, "n2i", "group size <= 0", "n2i > 0")
    ni = n1 + n2
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure == "MD":
            yi = m1 - m2
            vi = sd1**2 / n1 + sd2**2 / n2
        else:
            mi = ni - 2
            sdp = np.sqrt(((n1 - 1) * sd1**2 + (n2 - 1) * sd2**2) / mi)
            yi = _smd_correction(mi) * (m1 - m2) / sdp
            vi = 1 / n1 + 1 / n2 + yi**2 / (2 * ni)
    return yi, vi, ni


def _proportion(cols: Mapping[str, FloatArray]) -> tuple[FloatArray, ...]:
    xi = cols["xi"].copy()
    if "ni" in cols:
        _check(xi > cols["ni"], "xi", "event count larger than ni", "0 <= xi <= ni")
        mi = cols["ni"] - xi
    else:
        mi = cols["mi"].copy()
    _check(xi < 0, "xi", "negative count", "xi >= 0")
    _check(mi < 0, "ni", "negative count of non-events (ni - xi)", "ni >= xi")
    ni = xi + mi
    zero = (xi == 0) | (mi == 0)
    xi[zero] += ADD
    mi[zero] += ADD
    with np.errstate(divide="ignore", invalid="ignore"):
        p = xi / (xi + mi)
        yi = np.log(p / (1 - p))
        vi = 1 / xi + 1 / mi
    return yi, vi, ni


def escalc(measure: str, **columns: Sequence[float] | npt.ArrayLike) -> EffectSizes:
    """Compute effect sizes ``yi`` and sampling variances ``vi`` as metafor's ``escalc``.

    ``columns`` uses metafor's argument names: ``m1i, sd1i, n1i, m2i, sd2i, n2i`` (MD, SMD);
    ``ai, bi, ci, di`` or ``ai, n1i, ci, n2i`` (RR, OR, RD); ``xi, ni`` (PLO).
    """
    measure_u = str(measure).upper()
    if measure_u not in MEASURES:
        raise InputError(Problem("measure", "unknown effect-size measure", measure,
                                 allowed=", ".join(MEASURES)))
    given = {name for name, val in columns.items() if val is not None}
    roles = _pick_roles(measure_u, given)
    k: int | None = None
    cols: dict[str, FloatArray] = {}
    for name in roles:
        cols[name] = _column(name, columns[name], k)
        k = cols[name].size
    if measure_u in ("MD", "SMD"):
        yi, vi, ni = _means(measure_u, cols)
    elif measure_u == "PLO":
        yi, vi, ni = _proportion(cols)
    else:
        yi, vi, ni = _two_by_two(measure_u, cols)
    keep = np.isfinite(yi) & np.isfinite(vi)
    kept = np.flatnonzero(keep)
    return EffectSizes(
        measure=measure_u,
        yi=np.asarray(yi[keep], dtype=float),
        vi=np.asarray(vi[keep], dtype=float),
        kept=kept,
        n_dropped=int(keep.size - kept.size),
        ni=np.asarray(ni[keep], dtype=float),
    )
