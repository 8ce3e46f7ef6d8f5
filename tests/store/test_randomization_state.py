"""The concealed randomization state survives the database and a restart unchanged."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm.exc import StaleDataError

from strokecell.store import make_engine, read_session, session_scope
from strokecell.store import models as m
from strokecell.trial import PermutedBlockRandomizer, restore_randomizer

from .factories import NOW, build_trial

STRATA = [{"site": "S01", "nihss": ">10"}, {"site": "S02", "nihss": "<=10"},
          {"site": "S01", "nihss": "<=10"}, {"site": "S01", "nihss": ">10"}] * 5


def _engine() -> PermutedBlockRandomizer:
    return PermutedBlockRandomizer({"CELL": 1, "CTRL": 1}, block_sizes=[2, 4], seed="s3cr3t",
                                   factors={"site": ["S01", "S02"], "nihss": ["<=10", ">10"]},
                                   list_length=12)


def _digest(state: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()


def test_state_kept_in_the_store_resumes_identically_after_a_restart(engine: Engine) -> None:
    straight = _engine()
    expected = [straight.allocate(p).to_dict() for p in STRATA]

    with session_scope(engine) as s:
        ids = build_trial(s)
        rl = m.RandomizationList(study_id=ids["study"], protocol_version_id=ids["pv"],
                                 name="primary", method="permuted_blocks", created_at=NOW,
                                 created_offset_min=0, created_by_user_id=ids["user"])
        s.add(rl)
        s.flush()
        randomizer = _engine()
        randomizer.pregenerate()
        state = randomizer.to_state()
        s.add(m.RandomizationState(list_id=rl.id, state=state, state_sha256=_digest(state),
                                   updated_at=NOW, updated_offset_min=0))
        list_id = rl.id

    got: list[dict[str, Any]] = []
    for i, strata in enumerate(STRATA):
        # every allocation: a new engine object (as after a restart), state from the store
        fresh = make_engine(engine.url) if i % 7 == 0 else engine
        with session_scope(fresh) as s:
            row = s.get(m.RandomizationState, list_id)
            assert row is not None and row.state_sha256 == _digest(row.state)
            live = restore_randomizer(row.state)
            got.append(live.allocate(strata).to_dict())
            row.state = live.to_state()
            row.state_sha256 = _digest(row.state)
        if fresh is not engine:
            fresh.dispose()
    assert got == expected
    with read_session(engine) as s:
        row = s.get(m.RandomizationState, list_id)
        assert row is not None and row.revision == len(STRATA) + 1


def test_two_enrolments_cannot_both_advance_the_same_state(engine: Engine) -> None:
    with session_scope(engine) as s:
        ids = build_trial(s)
        rl = s.scalars(select(m.RandomizationList)).one()
        state = _engine().to_state()
        row = s.get(m.RandomizationState, rl.id)
        assert row is not None
        row.state = state
        row.state_sha256 = _digest(state)
    assert ids
    with read_session(engine) as s:
        a = s.get(m.RandomizationState, rl.id)
    with read_session(engine) as s:
        b = s.get(m.RandomizationState, rl.id)
    assert a is not None and b is not None
    for copy in (a, b):
        live = restore_randomizer(copy.state)
        live.allocate({"site": "S01", "nihss": ">10"})
        copy.state = live.to_state()
    with session_scope(engine) as s:
        s.merge(a)
    with pytest.raises(StaleDataError), session_scope(engine) as s:
        s.merge(b)
        s.flush()
