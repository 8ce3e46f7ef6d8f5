"""From a latent total to item values on each scale's grid.

Every step of every item (e.g. feeding 0→2, 2→5, 5→8, 8→10) gets a threshold on the
latent ability θ = latent total / maximum ∈ [0, 1]. Steps are ordered by their item's
difficulty (assumptions: easy items first, an item's own steps in order) and each step's
threshold sits at the middle of its share of the cumulative maximum, so the sum of the item
values reached at θ is the latent total to within half a step: the item sum *tracks* the
latent total, and the item profile follows the difficulty order. Each patient has persistent
item offsets (its own profile) and each visit a little item noise, both centred so that they
do not shift the total on average.

Scale rules are kept: MBI wheelchair mode (a patient below the first ambulation step cannot
walk and is scored on ``wheelchair`` instead), FMA reflex items on {0, 2} (from the grid) and
section V scored only when section IV is full (``gated_by_full_section`` rules).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from strokecell.instruments import Instrument, load_instrument
from strokecell.simulate.assumptions import Assumptions

__all__ = ["ItemBlock", "ItemMap", "item_map", "map_items"]

FloatArray = NDArray[np.floating]
IntArray = NDArray[np.int16]

WHEELCHAIR_FRACTIONS = np.array([0.2, 0.4, 0.6, 0.8])  # [A] wheelchair levels below walking


@dataclass(frozen=True)
class ItemMap:
    """Thresholds of one scale's items on θ ∈ [0, 1] (one map per lesion side for NIHSS)."""

    instrument: str
    items: tuple[str, ...]
    grids: tuple[NDArray[np.int16], ...]
    thresholds: tuple[NDArray[np.float64], ...]
    weights: NDArray[np.float64]  # item maximum / scale maximum
    gates: tuple[tuple[int, tuple[int, ...], int], ...]  # (gated item, section items, full)
    max_total: float


@dataclass
class ItemBlock:
    """Item values of many assessments: ``values[item]`` arrays of one shape."""

    instrument: str
    values: dict[str, IntArray]
    wheelchair: NDArray[np.bool_] | None = None  # MBI mode; ambulation unused where True

    def total(self) -> NDArray[np.int32]:
        out = np.zeros(next(iter(self.values.values())).shape, dtype=np.int32)
        for code, v in self.values.items():
            if self.wheelchair is not None and code in ("ambulation", "wheelchair"):
                continue
            out += v
        if self.wheelchair is not None:
            out += np.where(self.wheelchair, self.values["wheelchair"], self.values["ambulation"])
        return out

    def items_at(self, index: tuple[int, ...]) -> dict[str, int]:
        """One assessment's items as the instrument engine takes them."""
        items = {code: int(v[index]) for code, v in self.values.items()}
        if self.wheelchair is not None:
            del items["ambulation" if self.wheelchair[index] else "wheelchair"]
        return items


def _difficulties(instrument: Instrument, a: Assumptions, side: str) -> dict[str, float]:
    code = instrument.code
    if code == "mbi":
        return dict(a.barthel.item_difficulty)
    if code in ("fma_ue", "fma_le"):
        out: dict[str, float] = {}
        for section in instrument.definition.sections:
            if section.sections:
                continue
            centre = a.fugl_meyer.section_difficulty.get(section.code, 0.5)
            n = len(section.items)
            for i, item in enumerate(section.items):
                out[item] = centre + 0.04 * (i - (n - 1) / 2)
        return out
    d = a.nihss.item_difficulty_affected
    shift = a.nihss.item_hemisphere_shift
    affected, other = ("b", "right"), ("a", "left")
    if side == "right":  # right hemisphere lesion: left limbs
        affected, other = other, affected
    out = {k: v for k, v in d.items() if not k.startswith("motor_")}
    out[f"5{affected[0]}_motor_arm_{affected[1]}"] = d["motor_arm"]
    out[f"6{affected[0]}_motor_leg_{affected[1]}"] = d["motor_leg"]
    out[f"5{other[0]}_motor_arm_{other[1]}"] = d["motor_arm_other"]
    out[f"6{other[0]}_motor_leg_{other[1]}"] = d["motor_leg_other"]
    harder = "11_extinction" if side == "left" else "9_language"
    out[harder] = out[harder] + shift
    return out


@functools.lru_cache(maxsize=32)
def _cached_map(code: str, side: str, assumptions_json: str) -> ItemMap:
    a = Assumptions.model_validate_json(assumptions_json)
    instrument = load_instrument(code)
    difficulty = _difficulties(instrument, a, side)
    spread = {"mbi": a.barthel.item_spread, "nihss": a.nihss.item_spread}.get(
        code, a.fugl_meyer.item_spread)
    items = tuple(c for c in instrument.item_codes if c != "wheelchair")
    grids = [np.array([lv.value for lv in instrument.item(c).levels], dtype=np.int16)
             for c in items]
    steps: list[tuple[float, int, int, float]] = []  # key, item, step, size
    for j, (item, grid) in enumerate(zip(items, grids, strict=True)):
        k = len(grid) - 1
        for step in range(1, k + 1):
            key = difficulty[item] + spread * ((step - 0.5) / k - 0.5) * (k / 4.0)
            steps.append((key, j, step, float(grid[step] - grid[step - 1])))
    steps.sort(key=lambda s: (s[0], s[1], s[2]))
    total = sum(s[3] for s in steps)
    thresholds = [np.zeros(len(g) - 1) for g in grids]
    cumulative = 0.0
    for _, j, step, size in steps:
        thresholds[j][step - 1] = (cumulative + size / 2.0) / total
        cumulative += size
    for t in thresholds:  # an item's own steps stay in order
        np.maximum.accumulate(t, out=t)
    weights = np.array([float(g[-1]) for g in grids]) / total
    gates = []
    for rule in instrument.definition.rules:
        section_code, gated = getattr(rule, "section", None), getattr(rule, "item", None)
        if section_code is None or gated is None:
            continue
        section = next(s for s in instrument.definition.sections if s.code == section_code)
        gates.append((items.index(gated), tuple(items.index(c) for c in section.items),
                      int(section.maximum)))
    return ItemMap(code, items, tuple(grids), tuple(thresholds), weights, tuple(gates), total)


def item_map(code: str, assumptions: Assumptions, side: str = "left") -> ItemMap:
    """The item map of ``code`` (``side`` of the lesion matters for NIHSS only)."""
    return _cached_map(code, side if code == "nihss" else "left",
                       assumptions.model_dump_json())


def map_items(imap: ItemMap, theta: FloatArray, offsets: FloatArray) -> ItemBlock:
    """Item values for latent θ (any shape S) with item offsets of shape S + (items,)."""
    weights = imap.weights.astype(offsets.dtype)
    offsets = offsets - (offsets @ weights)[..., None]  # centred: no shift of the total
    values: dict[str, IntArray] = {}
    wheelchair: NDArray[np.bool_] | None = None
    theta_items = theta
    if imap.instrument == "mbi":
        j = imap.items.index("ambulation")
        t_amb = theta + offsets[..., j]
        first = imap.thresholds[j][0]
        wheelchair = t_amb <= first
        fraction = np.clip(t_amb / first, 0.0, 1.0)
        wc_grid = np.array([0, 1, 3, 4, 5], dtype=np.int16)  # Shah 9*, §1.1
        wc = np.where(wheelchair, wc_grid[np.searchsorted(WHEELCHAIR_FRACTIONS, fraction)], 0)
        values["wheelchair"] = wc.astype(np.int16)
        # Wheelchair points count in the total: the other items carry the rest of it.
        theta_items = theta - wc / imap.max_total
    for j, code in enumerate(imap.items):
        t = theta_items + offsets[..., j]
        thresholds = imap.thresholds[j].astype(t.dtype)
        if len(thresholds) <= 4:  # a few comparisons beat a search (every scale here)
            idx = np.zeros(t.shape, dtype=np.intp)
            for threshold in thresholds:
                idx += t > threshold
        else:
            idx = np.searchsorted(thresholds, t, side="left")
        values[code] = imap.grids[j][idx]
    if wheelchair is not None:
        values["ambulation"] = np.where(wheelchair, np.int16(0), values["ambulation"])
    for gated, section_items, full in imap.gates:
        section_sum = sum(values[imap.items[i]].astype(np.int32) for i in section_items)
        code = imap.items[gated]
        values[code] = np.where(section_sum >= full, values[code], np.int16(0)).astype(np.int16)
    order = {c: i for i, c in enumerate(load_instrument(imap.instrument).item_codes)}
    ordered = dict(sorted(values.items(), key=lambda kv: order[kv[0]]))
    return ItemBlock(imap.instrument, ordered, wheelchair)
