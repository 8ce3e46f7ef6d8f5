"""Site isolation: a user at site A neither reads nor writes site B's subjects, and the
errors do not even tell that site B's subject exists."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from strokecell.errors import NotFoundError, PermissionDeniedError
from strokecell.store import Role
from strokecell.trial import (
    enrol,
    get_allocation,
    get_form,
    get_screening,
    get_subject,
    list_forms,
    list_subjects,
    list_visits,
    randomize,
    record_visit,
    save_form,
    screen,
    unblind,
)

from .conftest import MBI_0, World, chain_ok, snapshot


def _message(call: Callable[[str], Any], code: str) -> str:
    with pytest.raises(NotFoundError) as info:
        call(code)
    return str(info.value).replace(code, "<CODE>")


def test_site_a_cannot_read_or_write_site_b(world: World) -> None:
    a = world.enrol_one("S01")
    b = world.enrol_one("S02")
    b_screening = world.screen_one("S02")
    randomize(world.db, world.ctx(Role.COORDINATOR, "S02"), b)
    save_form(world.db, world.ctx(Role.COORDINATOR, "S02"), b, "mbi", {"feeding": 5},
              visit_code="baseline")
    coord, inv = world.ctx(Role.COORDINATOR, "S01"), world.ctx(Role.INVESTIGATOR, "S01")
    monitor_a, monitor_all = world.ctx(Role.MONITOR, "S01"), world.ctx(Role.MONITOR, "ALL")

    assert [s.subject_code for s in list_subjects(world.db, coord)] == [a]
    assert [s.subject_code for s in list_subjects(world.db, monitor_a)] == [a]
    assert [s.subject_code for s in list_subjects(world.db, monitor_all)] == [a, b]

    ghost = "SC-ICH-IA-UCMSC-S02-999"  # does not exist anywhere
    db = world.db
    calls: list[Callable[[str], Any]] = [
        lambda c: get_subject(db, coord, c),
        lambda c: list_visits(db, coord, c),
        lambda c: list_forms(db, coord, c),
        lambda c: get_form(db, coord, c, "mbi", visit_code="baseline"),
        lambda c: get_allocation(db, coord, c),
        lambda c: save_form(db, coord, c, "mbi", {"feeding": 5}, visit_code="baseline"),
        lambda c: record_visit(db, coord, c, "baseline", world.clock.now.date()),
        lambda c: randomize(db, coord, c),
        lambda c: unblind(db, inv, c, "suspected anaphylaxis"),
    ]
    before = snapshot(db)
    for call in calls:
        # same error type, same words: B's subject is indistinguishable from no subject
        assert _message(call, b) == _message(call, ghost)
        assert "S02" not in _message(call, b).replace("<CODE>", "")
    assert _message(lambda n: get_screening(db, coord, n), b_screening) == _message(
        lambda n: get_screening(db, coord, n), "SCR-NOPE")
    assert _message(lambda n: enrol(db, coord, n), b_screening) == _message(
        lambda n: enrol(db, coord, n), "SCR-NOPE")
    with pytest.raises(PermissionDeniedError, match="does not cover this site"):
        screen(db, coord, "S02", "SCR-X", age_years=50, stroke_type="ischaemic_stroke",
               stroke_onset_at=world.clock.now, consent_date=None, severity={"mbi": MBI_0},
               inclusion=[True], exclusion=[False, False])
    assert snapshot(db) == before
    # and their own site works
    assert get_subject(db, coord, a).site_code == "S01"
    assert chain_ok(db)
