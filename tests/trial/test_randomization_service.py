"""Randomization through the service: block balance per stratum, concealment, concurrency,
emergency unblinding."""

from __future__ import annotations

import threading
from collections import defaultdict

import pytest
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

import strokecell.trial.randomization_service as randomize_module
from strokecell.errors import ConflictError, InputError, PermissionDeniedError
from strokecell.store import Role, read_session
from strokecell.store import models as m
from strokecell.trial import (
    PermutedBlockRandomizer,
    get_allocation,
    get_subject,
    randomize,
    unblind,
)

from .conftest import MBI_0, MBI_45, World, chain_ok, snapshot

ARMS = ("transplant", "control")


def test_forty_enrolments_follow_the_permuted_blocks_per_stratum(world: World) -> None:
    coordinators = {site: world.ctx(Role.COORDINATOR, site) for site in ("S01", "S02")}
    order: list[tuple[str, str]] = []
    for i in range(40):
        site = ("S01", "S02")[i % 2]
        high = i % 3 == 0
        code = world.enrol_one(site, mbi=MBI_45 if high else MBI_0)
        view = randomize(world.db, coordinators[site], code)
        # what the (blinded) coordinator is shown
        assert view.arm is None and view.blinded and view.label == f"randomized #{i + 1}"
        assert not any(arm in repr(view) for arm in ARMS)
        order.append((code, "gt_40" if high else "le_40"))
    with read_session(world.db) as s:
        rows = s.execute(select(m.SubjectAllocation, m.Arm.code, m.Subject.subject_code)
                         .join(m.Arm, m.Arm.id == m.SubjectAllocation.arm_id)
                         .join(m.Subject, m.Subject.id == m.SubjectAllocation.subject_id)
                         .order_by(m.SubjectAllocation.sequence_number)).all()
        assert [r[0].sequence_number for r in rows] == list(range(1, 41))
        assert all(r[0].allocated_by_role is Role.COORDINATOR for r in rows)
        assert [r[2] for r in rows] == [code for code, _ in order]
        per_stratum: dict[str, list[tuple[str, dict[str, int]]]] = defaultdict(list)
        for alloc, arm, _ in rows:
            per_stratum[alloc.stratum].append((arm, alloc.detail["block"]))
    assert set(per_stratum) == {"baseline_mbi=le_40", "baseline_mbi=gt_40"}
    for stratum, seq in per_stratum.items():
        diff = 0
        for arm, block in seq:
            diff += 1 if arm == "transplant" else -1
            assert abs(diff) <= 2, stratum  # blocks of 2 and 4, 1:1: never more than 2 apart
            if block["position"] == block["size"]:
                assert diff == 0, stratum  # every completed block is balanced
    # the same seed and settings replay the same sequence (the seed is recorded)
    replay = PermutedBlockRandomizer({"transplant": 1, "control": 1}, block_sizes=[2, 4],
                                     seed="test-seed", factors={"baseline_mbi": ["le_40",
                                                                                 "gt_40"]},
                                     list_length=45)
    replay.pregenerate()
    assert [replay.allocate({"baseline_mbi": level}).arm for _, level in order] == [
        r[1] for r in rows]
    assert chain_ok(world.db)


def test_randomize_once_only_and_strata_checked(world: World) -> None:
    code = world.enrol_one()
    coord = world.ctx(Role.COORDINATOR)
    randomize(world.db, coord, code)
    before = snapshot(world.db)
    with pytest.raises(ConflictError, match="randomized already"):
        randomize(world.db, coord, code)
    other = world.enrol_one()
    before = snapshot(world.db)
    with pytest.raises(InputError) as info:
        randomize(world.db, coord, other, strata={"baseline_mbi": "unknown"})
    assert info.value.problems[0].location == "strata.baseline_mbi"
    assert snapshot(world.db) == before
    assert chain_ok(world.db)


def test_a_stale_revision_is_retried_then_refused(world: World,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    code = world.enrol_one()
    coord = world.ctx(Role.COORDINATOR)
    real = randomize_module._randomize
    calls = {"n": 0}

    def stale_once(*args: object, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConflictError("stale") from StaleDataError("revision moved")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(randomize_module, "_randomize", stale_once)
    assert randomize(world.db, coord, code).sequence_number == 1 and calls["n"] == 2

    def always_stale(*args: object, **kwargs: object) -> object:
        raise ConflictError("stale") from StaleDataError("revision moved")

    other = world.enrol_one()
    monkeypatch.setattr(randomize_module, "_randomize", always_stale)
    before = snapshot(world.db)
    with pytest.raises(ConflictError, match="stale"):
        randomize(world.db, coord, other)
    assert snapshot(world.db) == before


def test_concurrent_randomizations_serialise_on_the_state(world: World) -> None:
    codes = [world.enrol_one() for _ in range(4)]
    coord = world.ctx(Role.COORDINATOR)
    results: dict[str, int] = {}
    errors: list[BaseException] = []

    def run(code: str) -> None:
        try:
            results[code] = randomize(world.db, coord, code).sequence_number
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(c,)) for c in codes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert sorted(results.values()) == [1, 2, 3, 4]
    with read_session(world.db) as s:
        state = s.scalars(select(m.RandomizationState)).one()
        assert state.revision == 5 and state.state["sequence"] == 4
    assert chain_ok(world.db)


def test_emergency_unblinding_is_recorded_and_audited(world: World) -> None:
    code = world.enrol_one()
    randomize(world.db, world.ctx(Role.COORDINATOR), code)
    inv = world.ctx(Role.INVESTIGATOR)
    coord = world.ctx(Role.COORDINATOR)
    truth = get_allocation(world.db, world.ctx(Role.CELL_LAB, "ALL"), code).arm
    assert truth in ARMS
    before = snapshot(world.db)
    with pytest.raises(InputError, match="reason"):
        unblind(world.db, inv, code, "  ")
    with pytest.raises(PermissionDeniedError, match="unblind"):
        unblind(world.db, coord, code, "curious")
    assert snapshot(world.db) == before
    view = unblind(world.db, inv, code, "suspected anaphylaxis, treating physician asks")
    assert view.arm == truth and view.emergency and view.unblinded_by == "investigator.s01"
    with read_session(world.db) as s:
        event = s.scalars(select(m.UnblindingEvent)).one()
        assert event.role is Role.INVESTIGATOR and event.reason.startswith("suspected")
        audit = s.scalars(select(m.AuditLog).where(
            m.AuditLog.table_name == "unblinding_events")).all()
        assert {a.field_name for a in audit} >= {"reason", "user_id", "emergency"}
        assert all(a.username == "investigator.s01" and a.role == "investigator"
                   for a in audit)
    # the blinded views stay blinded
    assert get_subject(world.db, inv, code).arm is None
    assert chain_ok(world.db)
