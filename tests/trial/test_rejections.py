"""Every rejected input leaves the database unchanged and names the field, value, allowed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from strokecell.errors import (
    ConflictError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
    ScoringError,
    StrokecellError,
)
from strokecell.store import Role
from strokecell.trial import randomize, record_visit, save_form

from .conftest import World, chain_ok, snapshot

Case = Callable[[World, str], Any]


def _off_grid(w: World, code: str) -> Any:
    return save_form(w.db, w.ctx(Role.COORDINATOR), code, "mbi", {"feeding": 7},
                     visit_code="baseline", version=1, reason="re-rated")


def _unknown_subject(w: World, code: str) -> Any:
    return save_form(w.db, w.ctx(Role.COORDINATOR), "SC-ICH-IA-UCMSC-S01-404", "mbi",
                     {"feeding": 5}, visit_code="baseline")


def _visit_before_enrolment(w: World, code: str) -> Any:
    return record_visit(w.db, w.ctx(Role.COORDINATOR), code, "baseline",
                        w.clock.now.date() - timedelta(days=1))


def _missing_reason(w: World, code: str) -> Any:
    return save_form(w.db, w.ctx(Role.COORDINATOR), code, "mbi", {"feeding": 10},
                     visit_code="baseline", version=1)


def _wrong_role(w: World, code: str) -> Any:
    return randomize(w.db, w.ctx(Role.BLINDED_ASSESSOR), code)


def _other_site(w: World, code: str) -> Any:
    return save_form(w.db, w.ctx(Role.COORDINATOR, "S02"), code, "mbi", {"feeding": 5},
                     visit_code="baseline")


def _stale_version(w: World, code: str) -> Any:
    return save_form(w.db, w.ctx(Role.COORDINATOR), code, "mbi", {"feeding": 10},
                     visit_code="baseline", version=0, reason="x")


CASES: list[tuple[str, Case, type[StrokecellError], str]] = [
    ("off-grid scale value", _off_grid, ScoringError, "feeding"),
    ("unknown subject", _unknown_subject, NotFoundError, "subject_code"),
    ("visit before enrolment", _visit_before_enrolment, InputError, "actual_date"),
    ("missing reason for change", _missing_reason, InputError, "reason"),
    ("wrong role", _wrong_role, PermissionDeniedError, "randomize"),
    ("other site", _other_site, NotFoundError, "subject_code"),
    ("stale version", _stale_version, ConflictError, "version"),
]


@pytest.mark.parametrize(("case", "error", "field"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_rejected_input_changes_nothing(world: World, case: Case,
                                        error: type[StrokecellError], field: str) -> None:
    code = world.enrol_one()
    save_form(world.db, world.ctx(Role.COORDINATOR), code, "mbi", {"feeding": 5},
              visit_code="baseline")
    for role, site in ((Role.BLINDED_ASSESSOR, "S01"), (Role.COORDINATOR, "S02")):
        world.ctx(role, site)  # users exist before the snapshot
    before = snapshot(world.db)
    with pytest.raises(error) as info:
        case(world, code)
    assert snapshot(world.db) == before
    message = str(info.value)
    assert field in message
    if isinstance(info.value, InputError):
        problem = info.value.problems[0]
        assert problem.location == field and problem.message
        assert problem.allowed or problem.value is not None
    assert chain_ok(world.db)
