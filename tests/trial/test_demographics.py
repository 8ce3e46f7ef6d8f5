"""The demographics page at baseline: sex and body weight, entered by every clinical role."""

from __future__ import annotations

import pytest

from strokecell.errors import InputError, PermissionDeniedError
from strokecell.store import Role
from strokecell.trial import get_form, list_visits, save_form

from .conftest import World, snapshot


def test_demographics_is_a_baseline_page_every_clinical_role_may_enter(world: World) -> None:
    subject = world.enrol_one()
    coord = world.ctx(Role.COORDINATOR)
    baseline = next(v for v in list_visits(world.db, coord, subject) if v.code == "baseline")
    assert "demographics" in [f.form_code for f in baseline.forms]
    version: int | None = None
    for k, role in enumerate((Role.INVESTIGATOR, Role.COORDINATOR, Role.BLINDED_ASSESSOR,
                              Role.CELL_LAB)):
        ctx = world.ctx(role)
        weight = 70.0 + k
        saved = save_form(world.db, ctx, subject, "demographics",
                          {"sex": "female", "weight_kg": f"{weight:.1f}"}, visit_code="baseline",
                          version=version, reason=None if version is None else "re-weighed")
        assert saved.status == "complete" and saved.items["weight_kg"] == weight
        version = saved.version
        assert get_form(world.db, ctx, subject, "demographics",
                        visit_code="baseline").items["sex"] == "female"
    monitor = world.ctx(Role.MONITOR)
    with pytest.raises(PermissionDeniedError):
        save_form(world.db, monitor, subject, "demographics", {"sex": "male"},
                  visit_code="baseline")


def test_weight_and_sex_are_checked(world: World) -> None:
    subject = world.enrol_one()
    coord = world.ctx(Role.COORDINATOR)
    before = snapshot(world.db)
    for items, field in (({"sex": "male", "weight_kg": "12"}, "weight_kg"),
                         ({"sex": "male", "weight_kg": "400"}, "weight_kg"),
                         ({"sex": "x", "weight_kg": "70"}, "sex")):
        with pytest.raises(InputError, match=field):
            save_form(world.db, coord, subject, "demographics", items, visit_code="baseline")
        assert snapshot(world.db) == before
