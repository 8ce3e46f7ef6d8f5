"""Helpers of the part-B tests: a released lot, subjects on each arm, administration items."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from strokecell.store import Role
from strokecell.trial import get_allocation, randomize, record_release, register_lot

from .conftest import PASSWORD, World

RELEASE_OK: dict[str, object] = {
    "donor_eligibility": "eligible", "sterility": "negative", "mycoplasma": "negative",
    "endotoxin": "0.2", "viability": "95.5", "CD73": "99.1", "CD90": 98.5, "CD105": "97.0",
    "CD34": "0.5", "CD45": "0.8", "HLA-DR": "1.0"}

PRODUCT = {"cell_type": "mesenchymal_stem_cells", "source_tissue": "umbilical_cord",
           "donor_type": "allogeneic", "donor_code": "DONOR-07"}

AE_MILD: dict[str, object] = {
    "term": "Headache", "body_system": "Nervous system disorders",
    "onset_date": "2026-05-04", "ongoing": True, "ctcae_grade": 1, "serious": False,
    "related_to_product": "unlikely", "related_to_procedure": "possible", "expected": True,
    "action_taken": "none", "outcome": "recovering"}


def released_lot(world: World, number: str = "LOT-001", **extra: Any) -> str:
    lab = world.ctx(Role.CELL_LAB, "ALL")
    register_lot(world.db, lab, number, **{**PRODUCT, **extra})
    record_release(world.db, lab, number, RELEASE_OK, password=PASSWORD)
    return number


def subjects_by_arm(world: World, site: str = "S01") -> dict[str, str]:
    """Randomize subjects at ``site`` until each arm has one: arm code -> USUBJID."""
    lab = world.ctx(Role.CELL_LAB, "ALL")
    found: dict[str, str] = {}
    for _ in range(12):
        code = world.enrol_one(site)
        randomize(world.db, world.ctx(Role.COORDINATOR, site), code)
        arm = get_allocation(world.db, lab, code).arm
        assert arm is not None
        found.setdefault(arm, code)
        if len(found) == 2:
            return found
    raise AssertionError(f"no subject on every arm: {found}")


def adm_items(world: World, lot: str = "LOT-001", **over: object) -> dict[str, object]:
    """An on-plan administration of the reference protocol (3.0e7 cells in 1.5 mL, MCA)."""
    when = world.clock.now + timedelta(hours=1)
    world.clock.advance(2 / 24)
    items: dict[str, object] = {
        "lot_number": lot, "administered_at": when.isoformat(), "weight_kg": "70",
        "cell_count": "3.0e7", "viability_pct": "95", "volume_ml": "1.5",
        "route": "intra_arterial", "vessel": "middle_cerebral_artery", "infusion_rate": "0.5",
        "post_imaging_done": True, "new_dwi_lesions": 0}
    items.update(over)
    return {k: v for k, v in items.items() if v is not None}
