"""The permission matrix: as data (every role × action) and as enforced by the services."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from strokecell.errors import PermissionDeniedError
from strokecell.store import Role
from strokecell.trial import (
    PERMISSIONS,
    Action,
    ServiceContext,
    add_site,
    allowed,
    create_user,
    enrol,
    get_study,
    get_subject,
    is_blinded,
    randomize,
    record_visit,
    save_form,
    screen,
    unblind,
    withdraw_subject,
)

from .conftest import MBI_0, World, chain_ok, snapshot

# The matrix written out independently of the module, row by row (docs/data-model.md).
INV, C, B, L, MO, ST, DM, AD = ("investigator", "coordinator", "blinded_assessor", "cell_lab",
                              "monitor", "statistician", "data_manager", "admin")
READERS = {INV, C, B, L, MO, ST, DM}
EXPECTED: dict[str, set[str]] = {
    "manage_study": {AD}, "manage_users": {AD}, "read_study": READERS | {AD},
    "screen": {INV, C}, "enrol": {INV, C}, "randomize": {INV, C}, "unblind": {INV},
    "read_subjects": READERS, "record_visit": {INV, C}, "enter_form": {INV, C, B, L},
    "manage_lots": {L}, "administer": {L}, "report_ae": {INV, C}, "raise_query": {MO, DM},
    "answer_query": {INV, C}, "lock": {DM}, "sign": {INV}, "export": {ST, DM},
    "read_audit": {MO, DM, AD}, "withdraw": {INV, C},
}


@pytest.mark.parametrize("action", list(Action), ids=str)
@pytest.mark.parametrize("role", list(Role), ids=str)
def test_matrix_cell(role: Role, action: Action) -> None:
    assert allowed(role, action) is (role.value in EXPECTED[action.value])


def test_matrix_covers_every_action_and_blinding() -> None:
    assert set(EXPECTED) == {a.value for a in PERMISSIONS}
    assert [r.value for r in Role if not is_blinded(r)] == ["cell_lab"]


def _services(world: World, subject: str, enrolled: str, screening: str,
              ) -> dict[Action, Callable[[ServiceContext, Role], Any]]:
    return {
        Action.MANAGE_STUDY: lambda ctx, r: add_site(world.db, ctx, "S77", "Site 77"),
        Action.MANAGE_USERS: lambda ctx, r: create_user(world.db, ctx, "newcomer", "New",
                                                        "a long password"),
        Action.READ_STUDY: lambda ctx, r: get_study(world.db, ctx),
        Action.SCREEN: lambda ctx, r: screen(
            world.db, ctx, "S01", "SCR-MATRIX", age_years=90, stroke_type="ischaemic_stroke",
            stroke_onset_at=world.clock.now, consent_date=None, severity={"mbi": MBI_0},
            inclusion=[True], exclusion=[False, False]),
        Action.ENROL: lambda ctx, r: enrol(world.db, ctx, screening),
        Action.RANDOMIZE: lambda ctx, r: randomize(world.db, ctx, enrolled),
        Action.UNBLIND: lambda ctx, r: unblind(world.db, ctx, subject, "anaphylaxis"),
        Action.READ_SUBJECTS: lambda ctx, r: get_subject(world.db, ctx, subject),
        Action.RECORD_VISIT: lambda ctx, r: record_visit(world.db, ctx, subject, "baseline",
                                                         world.clock.now.date()),
        Action.ENTER_FORM: lambda ctx, r: save_form(
            world.db, ctx, subject, "mbi", {"feeding": 5}, visit_code="baseline")
        if r is not Role.CELL_LAB else save_form(
            world.db, ctx, subject, "administration", {"lot_number": "LOT-1"}),
        Action.WITHDRAW: lambda ctx, r: withdraw_subject(
            world.db, ctx, enrolled, reason_code="consent_withdrawn", date=world.clock.now.date()),
    }


@pytest.mark.parametrize("role", list(Role), ids=str)
def test_services_enforce_the_matrix(world: World, role: Role) -> None:
    subject = world.enrol_one()
    randomize(world.db, world.ctx(Role.COORDINATOR), subject)
    enrolled = world.enrol_one()
    screening = world.screen_one()
    ctx = world.ctx(role, "ALL")
    for action, call in _services(world, subject, enrolled, screening).items():
        before = snapshot(world.db)
        if allowed(role, action):
            call(ctx, role)
        else:
            with pytest.raises(PermissionDeniedError, match=action.value):
                call(ctx, role)
            assert snapshot(world.db) == before, action
    assert chain_ok(world.db)
