"""Blinding: no view returned to a blinded role carries the arm; the cell lab sees it."""

from __future__ import annotations

from typing import Any

import pytest

from strokecell.errors import NotFoundError
from strokecell.store import Role
from strokecell.trial import (
    ServiceContext,
    get_allocation,
    get_form,
    get_subject,
    is_blinded,
    list_forms,
    list_subjects,
    list_visits,
    randomize,
    save_form,
)

from .conftest import MBI_0, World, chain_ok

ARMS = ("transplant", "control")
READERS = [Role.INVESTIGATOR, Role.COORDINATOR, Role.BLINDED_ASSESSOR, Role.MONITOR,
           Role.STATISTICIAN, Role.DATA_MANAGER, Role.CELL_LAB]


def _views(world: World, ctx: ServiceContext, code: str) -> list[Any]:
    return [get_subject(world.db, ctx, code), *list_subjects(world.db, ctx),
            get_allocation(world.db, ctx, code), *list_visits(world.db, ctx, code),
            *list_forms(world.db, ctx, code),
            get_form(world.db, ctx, code, "mbi", visit_code="baseline")]


def test_every_view_masks_the_arm_for_blinded_roles(world: World) -> None:
    codes = [world.enrol_one() for _ in range(2)]
    for code in codes:
        randomize(world.db, world.ctx(Role.COORDINATOR), code)
        save_form(world.db, world.ctx(Role.BLINDED_ASSESSOR), code, "mbi", MBI_0,
                  visit_code="baseline")
    lab = world.ctx(Role.CELL_LAB, "ALL")
    save_form(world.db, lab, codes[0], "administration",
              {"lot_number": "LOT-1", "route": "intra_arterial"})
    arms = {c: get_subject(world.db, lab, c).arm for c in codes}
    assert set(arms.values()) <= set(ARMS) and None not in arms.values()
    for role in READERS:
        ctx = world.ctx(role, "ALL")
        for code in codes:
            views = _views(world, ctx, code)
            text = " ".join(repr(v) for v in views)
            subject = views[0]
            if is_blinded(role):
                assert not any(arm in text for arm in ARMS), (role, text)
                assert subject.arm is None and subject.arm_label.startswith("randomized #")
                # the administration page would betray the arm: hidden, as if absent
                assert all(f.form_code != "administration" for f in views if
                           hasattr(f, "form_code"))
                with pytest.raises(NotFoundError) as info:
                    get_form(world.db, ctx, code, "administration")
                assert str(info.value) == str(_absent(world, ctx, code))
            else:
                assert subject.arm == arms[code] and subject.arm_label == arms[code]
                assert get_allocation(world.db, ctx, code).arm == arms[code]
    assert chain_ok(world.db)


def _absent(world: World, ctx: ServiceContext, code: str) -> NotFoundError:
    try:
        get_form(world.db, ctx, code, "withdrawal")  # never saved
    except NotFoundError as exc:
        return NotFoundError(str(exc).replace("withdrawal", "administration"))
    raise AssertionError("withdrawal form should not exist")
