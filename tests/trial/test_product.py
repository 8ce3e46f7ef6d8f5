"""Product lots: registration, release tests (ISCT MSC identity, Dominici 2006), signature."""

from __future__ import annotations

import pytest

from strokecell.errors import ConflictError, InputError, NotFoundError, PermissionDeniedError
from strokecell.store import Role
from strokecell.trial import (
    get_lot,
    list_lots,
    record_release,
    register_lot,
    release_criteria,
    withdraw_lot,
)

from .conftest import PASSWORD, World, chain_ok, snapshot
from .partb import PRODUCT, RELEASE_OK


def test_release_record_passes_and_fails_by_the_isct_criteria(world: World) -> None:
    lab = world.ctx(Role.CELL_LAB, "ALL")
    lot = register_lot(world.db, lab, "LOT-A", **PRODUCT, total_cells=1e8, volume_ml=5.0)
    assert lot.status == "quarantine" and lot.donor_code == "DONOR-07"
    released = record_release(world.db, lab, "LOT-A", RELEASE_OK, password=PASSWORD,
                              note="QC batch 12")
    assert released.status == "released" and released.decision == "released"
    assert released.decided_by == "cell_lab.all" and released.meaning
    tests = {t.test_code: t for t in released.tests}
    assert set(tests) == set(RELEASE_OK) and all(t.passed for t in tests.values())
    assert "Dominici" in tests["CD73"].specification and ">= 95" in tests["CD73"].specification
    assert "<= 2" in tests["HLA-DR"].specification
    assert ">= 90" in tests["viability"].specification  # the protocol's viability minimum
    # one marker off (CD34 on 3 % of cells) rejects the lot
    register_lot(world.db, lab, "LOT-B", **PRODUCT)
    rejected = record_release(world.db, lab, "LOT-B", {**RELEASE_OK, "CD34": "3.0"},
                              password=PASSWORD)
    assert rejected.status == "rejected"
    assert [t.test_code for t in rejected.tests if not t.passed] == ["CD34"]
    with pytest.raises(ConflictError, match="rejected"):
        record_release(world.db, lab, "LOT-B", RELEASE_OK, password=PASSWORD)
    assert [v.lot_number for v in list_lots(world.db, lab)] == ["LOT-A", "LOT-B"]
    withdrawn = withdraw_lot(world.db, lab, "LOT-A", "expired", reason="shelf life over")
    assert withdrawn.status == "expired"
    assert chain_ok(world.db)


def test_refused_release_and_registration_change_nothing(world: World) -> None:
    lab = world.ctx(Role.CELL_LAB, "ALL")
    register_lot(world.db, lab, "LOT-A", **PRODUCT)
    coordinator = world.ctx(Role.COORDINATOR)
    before = snapshot(world.db)
    with pytest.raises(InputError) as info:
        record_release(world.db, lab, "LOT-A", {**RELEASE_OK, "sterility": "clean",
                                                "CD90": None}, password=PASSWORD)
    problems = {p.location: p for p in info.value.problems}
    assert problems["sterility"].allowed == "negative, positive"
    missing = {k: v for k, v in RELEASE_OK.items() if k != "mycoplasma"}
    with pytest.raises(InputError, match="mycoplasma"):
        record_release(world.db, lab, "LOT-A", missing, password=PASSWORD)
    with pytest.raises(PermissionDeniedError, match="password"):
        record_release(world.db, lab, "LOT-A", RELEASE_OK, password="wrong password!")
    with pytest.raises(InputError, match="donor_code"):
        register_lot(world.db, lab, "LOT-X", **{**PRODUCT, "donor_code": None})
    with pytest.raises(InputError, match="cell_type") as info:
        register_lot(world.db, lab, "LOT-X", **{**PRODUCT, "source_tissue": "adipose"})
    assert "umbilical_cord" in (info.value.problems[0].allowed or "")
    with pytest.raises(ConflictError, match="registered already"):
        register_lot(world.db, lab, "LOT-A", **PRODUCT)
    with pytest.raises(PermissionDeniedError, match="manage_lots"):
        get_lot(world.db, coordinator, "LOT-A")
    assert snapshot(world.db) == before


def test_release_criteria_are_the_limits_the_decision_applies(world: World) -> None:
    lab = world.ctx(Role.CELL_LAB, "ALL")
    register_lot(world.db, lab, "LOT-C", **PRODUCT)
    criteria = {c.test_code: c for c in release_criteria(world.db, lab, "LOT-C")}
    assert list(criteria) == list(RELEASE_OK)  # allogeneic: donor eligibility included
    assert criteria["viability"].min_value == 90.0 and criteria["viability"].unit == "%"
    assert criteria["endotoxin"].max_value == 0.5 and criteria["endotoxin"].unit == "EU/mL"
    assert criteria["sterility"].choices == ("negative", "positive")
    decided = record_release(world.db, lab, "LOT-C", RELEASE_OK, password=PASSWORD)
    assert {t.test_code: t.specification for t in decided.tests} == {
        c.test_code: c.specification for c in criteria.values()}
    with pytest.raises(PermissionDeniedError, match="manage_lots"):
        release_criteria(world.db, world.ctx(Role.COORDINATOR), "LOT-C")
    with pytest.raises(NotFoundError, match="lot_number"):
        release_criteria(world.db, lab, "LOT-NONE")


@pytest.mark.parametrize("number", [" LOT-9", "LOT-9 ", "LOT/9", "LOT\t9", "", "L" * 61])
def test_a_lot_number_is_stored_as_given_or_refused(world: World, number: str) -> None:
    """Never trimmed (clinical identifiers are not coerced), and no '/' (it names the lot's
    web address): refused with the field named, nothing written."""
    lab = world.ctx(Role.CELL_LAB, "ALL")
    before = snapshot(world.db)
    with pytest.raises(InputError) as info:
        register_lot(world.db, lab, number, **PRODUCT)
    assert [p.location for p in info.value.problems] == ["lot_number"]
    assert snapshot(world.db) == before
    kept = register_lot(world.db, lab, "UC 2026-014 (b)", **PRODUCT)  # inner spaces are fine
    assert kept.lot_number == "UC 2026-014 (b)"
