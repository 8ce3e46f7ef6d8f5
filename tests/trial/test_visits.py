"""Visits: status from dates and windows, visit-date edit checks, corrections."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from strokecell.errors import ConflictError, InputError
from strokecell.store import Role, VisitStatus
from strokecell.trial import list_visits, record_visit, visit_status

from .conftest import World, chain_ok, snapshot

D = date(2026, 6, 3)


@pytest.mark.parametrize(("actual", "today", "expected"), [
    (None, D, VisitStatus.SCHEDULED),
    (None, D + timedelta(days=7), VisitStatus.SCHEDULED),   # last day of the window
    (None, D + timedelta(days=8), VisitStatus.MISSED),
    (D - timedelta(days=7), D, VisitStatus.DONE),
    (D + timedelta(days=7), D + timedelta(days=9), VisitStatus.DONE),
    (D - timedelta(days=8), D, VisitStatus.OUT_OF_WINDOW),
    (D + timedelta(days=8), D + timedelta(days=9), VisitStatus.OUT_OF_WINDOW),
])
def test_visit_status_rule(actual: date | None, today: date, expected: VisitStatus) -> None:
    assert visit_status(D, 7, 7, actual, today) is expected


def test_visit_dates_status_and_edit_checks(world: World) -> None:
    code = world.enrol_one()
    ctx = world.ctx(Role.COORDINATOR)
    day0 = world.clock.now.date()
    base = record_visit(world.db, ctx, code, "baseline", day0)
    assert base.status == "done" and base.actual_date == day0
    world.clock.advance(40)  # month 1 window is day 23-37: now missed if not done
    month1 = next(v for v in list_visits(world.db, ctx, code) if v.code == "month_1")
    assert month1.status == "missed"
    before = snapshot(world.db)
    problems: list[tuple[str, date | str, int | None, str]] = [
        ("baseline", day0 - timedelta(days=1), None, "before enrolment"),
        ("month_1", day0 + timedelta(days=60), None, "in the future"),
        ("month_3", day0 - timedelta(days=2), None, "before enrolment"),
        ("month_1", day0, None, "not after visit baseline"),
        ("month_1", "2026-06-31", None, "not a date"),
    ]
    for visit, when, version, message in problems:
        with pytest.raises(InputError, match=message) as info:
            record_visit(world.db, ctx, code, visit, when, version=version)
        assert info.value.problems[0].location == "actual_date"
    # correcting a saved date: the version read, and a reason
    with pytest.raises(ConflictError, match="version"):
        record_visit(world.db, ctx, code, "baseline", day0 + timedelta(days=1))
    with pytest.raises(InputError, match="reason for change"):
        record_visit(world.db, ctx, code, "baseline", day0 + timedelta(days=1),
                     version=base.version)
    assert snapshot(world.db) == before
    late = record_visit(world.db, ctx, code, "month_1", day0 + timedelta(days=39))
    assert late.status == "out_of_window"
    with pytest.raises(InputError, match="not before visit month_1"):
        record_visit(world.db, ctx, code, "baseline", day0 + timedelta(days=39),
                     version=base.version, reason="wrong date")
    fixed = record_visit(world.db, ctx, code, "month_1", day0 + timedelta(days=36),
                         version=late.version, reason="date taken from the wrong visit")
    assert fixed.status == "done" and fixed.version == late.version + 1
    assert chain_ok(world.db)
