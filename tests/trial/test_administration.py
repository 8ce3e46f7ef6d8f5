"""Administration: dose per kg from the weight, chain of identity, automatic deviations,
refusals (control arm, unreleased or expired lot) that change nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from strokecell.errors import ConflictError, InputError, PermissionDeniedError
from strokecell.store import Role, read_session
from strokecell.store import models as m
from strokecell.trial import (
    DOSE_TOLERANCE,
    get_form,
    get_lot,
    list_administrations,
    list_deviations,
    record_administration,
    register_lot,
)

from .conftest import World, chain_ok, snapshot
from .partb import PRODUCT, adm_items, released_lot, subjects_by_arm


def test_on_plan_administration_links_lot_subject_and_form(world: World) -> None:
    arms = subjects_by_arm(world)
    released_lot(world)
    lab = world.ctx(Role.CELL_LAB, "ALL")
    imaged = (world.clock.now + timedelta(hours=2)).isoformat()
    view = record_administration(world.db, lab, arms["transplant"],
                                 adm_items(world, post_imaging_at=imaged))
    assert view.administration_number == 1 and view.deviations == ()
    assert view.post_imaging_at is not None and view.new_dwi_lesions == 0
    assert view.dose_cells_per_kg == pytest.approx(3.0e7 / 70)
    assert view.concentration_cells_per_ml == pytest.approx(2.0e7)
    assert view.planned["cells_per_administration"] == pytest.approx(3.0e7)
    assert view.planned["tolerance"] == DOSE_TOLERANCE
    assert 12 < view.days_since_onset < 12.2 and view.operator == "cell_lab.all"
    chain = get_lot(world.db, lab, "LOT-001").administered_to
    assert [(c.subject_code, c.administration_number) for c in chain] == [
        (arms["transplant"], 1)]
    form = get_form(world.db, lab, arms["transplant"], "administration")
    assert form.status == "complete" and form.items["vessel"] == "middle_cerebral_artery"
    with read_session(world.db) as s:
        row = s.scalars(select(m.Administration)).one()
        inst = s.get(m.FormInstance, row.form_instance_id)
        assert inst is not None and inst.form_code == "administration"
        audited = s.scalars(select(m.AuditLog.field_name).where(
            m.AuditLog.table_name == "administrations")).all()
        assert {"dose_cells_per_kg", "lot_id", "weight_kg"} <= set(audited)
    assert [a.administration_number for a in list_administrations(
        world.db, lab, arms["transplant"])] == [1]
    assert chain_ok(world.db)


@pytest.mark.parametrize(("over", "days", "expected"), [
    ({"cell_count": "4.5e7"}, 0, {("dose", True)}),             # 150 %: beyond 2 x 20 %
    ({"cell_count": "3.5e7"}, 0, {("dose", False)}),            # 117 %: inside ±20 %?
    ({"volume_ml": "2.5", "cell_count": "3.0e7"}, 0, {("volume", True)}),
    ({"infusion_rate": "1.0"}, 0, {("rate", True)}),
    ({"route": "intravenous", "vessel": None}, 0, {("route", True)}),
    ({"vessel": "internal carotid artery"}, 0, {("route", True)}),
    ({"viability_pct": "80"}, 0, {("viability", True)}),
    ({}, 8, {("timing", True)}),                                 # day 20 > 18
    ({"post_imaging_done": False, "new_dwi_lesions": None}, 0, {("safety_imaging", False)}),
], ids=["dose-major", "dose-inside", "volume", "rate", "route", "vessel", "viability",
        "timing", "imaging"])
def test_departures_are_recorded_as_deviations(world: World, over: dict[str, object],
                                               days: int, expected: set[tuple[str, bool]],
                                               ) -> None:
    arms = subjects_by_arm(world)
    released_lot(world)
    world.clock.advance(days)
    lab = world.ctx(Role.CELL_LAB, "ALL")
    view = record_administration(world.db, lab, arms["transplant"], adm_items(world, **over))
    if over.get("cell_count") == "3.5e7":
        expected = set()  # 116.7 % of plan is within the ±20 % tolerance
    assert {(d.category, d.major) for d in view.deviations} == expected
    for d in view.deviations:
        assert d.description
    # deviations of an administration reveal the arm: hidden from blinded roles
    coordinator = world.ctx(Role.COORDINATOR)
    assert list_deviations(world.db, coordinator, arms["transplant"]) == []
    assert len(list_deviations(world.db, lab, arms["transplant"])) == len(expected)


def test_tolerance_is_configurable(world: World) -> None:
    arms = subjects_by_arm(world)
    released_lot(world)
    lab = world.ctx(Role.CELL_LAB, "ALL")
    view = record_administration(world.db, lab, arms["transplant"],
                                 adm_items(world, cell_count="3.5e7"), dose_tolerance=0.10)
    assert [(d.category, d.major) for d in view.deviations] == [("dose", False)]
    assert "±10 %" in view.deviations[0].description


def test_refused_administrations_change_nothing(world: World) -> None:
    arms = subjects_by_arm(world)
    released_lot(world)
    lab = world.ctx(Role.CELL_LAB, "ALL")
    register_lot(world.db, lab, "LOT-Q", **PRODUCT)  # quarantine, never released
    register_lot(world.db, lab, "LOT-OLD", **PRODUCT,
                 expires_at=world.clock.now - timedelta(days=1))
    from strokecell.trial import record_release

    from .conftest import PASSWORD
    from .partb import RELEASE_OK
    record_release(world.db, lab, "LOT-OLD", RELEASE_OK, password=PASSWORD)
    coordinator = world.ctx(Role.COORDINATOR)
    unrandomized = world.enrol_one()
    before = snapshot(world.db)
    with pytest.raises(InputError) as info:  # dose for a control-arm subject
        record_administration(world.db, lab, arms["control"], adm_items(world))
    problem = info.value.problems[0]
    assert problem.location == "subject_code" and "'control'" in problem.message
    assert "transplant" in (problem.allowed or "")
    with pytest.raises(ConflictError, match="quarantine"):
        record_administration(world.db, lab, arms["transplant"],
                              adm_items(world, lot="LOT-Q"))
    with pytest.raises(ConflictError, match="expired"):
        record_administration(world.db, lab, arms["transplant"],
                              adm_items(world, lot="LOT-OLD"))
    with pytest.raises(ConflictError, match="not randomized"):
        record_administration(world.db, lab, unrandomized, adm_items(world))
    with pytest.raises(InputError, match="post_imaging_done"):
        record_administration(world.db, lab, arms["transplant"],
                              adm_items(world, post_imaging_done=None))
    with pytest.raises(InputError, match="post_imaging_at"):
        record_administration(world.db, lab, arms["transplant"], adm_items(
            world, post_imaging_at=(world.clock.now - timedelta(days=1)).isoformat()))
    with pytest.raises(InputError, match="in the future"):
        record_administration(world.db, lab, arms["transplant"], adm_items(
            world, administered_at=(world.clock.now + timedelta(days=2)).isoformat()))
    with pytest.raises(PermissionDeniedError, match="administer"):
        record_administration(world.db, coordinator, arms["transplant"], adm_items(world))
    assert snapshot(world.db) == before
    assert chain_ok(world.db)


def test_visit_out_of_window_is_a_visible_deviation(world: World) -> None:
    from strokecell.trial import list_visits, record_visit

    code = world.enrol_one()
    site = world.ctx(Role.COORDINATOR)
    month_1 = next(v for v in list_visits(world.db, site, code) if v.code == "month_1")
    world.clock.advance(60)
    late = record_visit(world.db, site, code, "month_1", month_1.window_end + timedelta(days=2))
    assert late.status == "out_of_window"
    devs = list_deviations(world.db, site, code)  # not about cells: shown to blinded roles
    assert [(d.category, d.major) for d in devs] == [("visit_window", False)]
    assert str(month_1.window_end) in devs[0].description
