"""The data model on both databases: one row of every entity, types, locks, constraints."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from strokecell.errors import InputError
from strokecell.store import (
    FormStatus,
    Role,
    hash_password,
    read_session,
    session_scope,
    verify_password,
)
from strokecell.store import models as m

from .factories import NOW, YAML, build_trial


def test_one_row_of_every_entity_round_trips(engine: Engine) -> None:
    with session_scope(engine) as s:
        ids = build_trial(s)
    with read_session(engine) as s:
        for table in m.Base.metadata.sorted_tables:
            if table.name not in ("audit_log", "audit_chain_head"):
                assert s.execute(select(table)).first() is not None, table.name
        subj = s.get(m.Subject, ids["subject"])
        assert subj is not None and subj.strata == {"site": "S01", "nihss": ">10"}
        assert subj.enrolled_at == NOW and subj.enrolled_at.tzinfo is not None
        assert subj.visits[0].expected_date == date(2026, 6, 3)
        form = s.get(m.FormInstance, ids["form"])
        assert form is not None and form.status is FormStatus.INCOMPLETE and form.version == 1
        assert [(i.item_code, i.raw_text, i.value_int) for i in form.items] == [
            ("feeding", "8", 8)]
        user = s.get(m.User, ids["user"])
        assert user is not None and verify_password(user.password_hash, "correct horse")
        assert not verify_password(user.password_hash, "wrong horse!")
        assert user.roles[0].role is Role.INVESTIGATOR
        pv = s.get(m.ProtocolVersion, ids["pv"])
        assert pv is not None and pv.yaml_text == YAML


def test_times_are_utc_aware_and_naive_times_are_refused(engine: Engine) -> None:
    local = datetime(2026, 1, 2, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    with session_scope(engine) as s:
        s.add(m.Study(code="T1", title="t", created_at=local, created_offset_min=-300))
    with read_session(engine) as s:
        study = s.scalars(select(m.Study)).one()
        assert study.created_at == local
        assert study.created_at.utcoffset() == timedelta(0)
        assert study.created_at.hour == 4 and study.created_offset_min == -300
    with pytest.raises(Exception) as info, session_scope(engine) as s:
        s.add(m.Study(code="T2", title="t", created_at=datetime(2026, 1, 2),
                      created_offset_min=0))
    assert isinstance(info.value, InputError) or isinstance(info.value.__cause__, InputError)


def test_second_writer_of_a_form_gets_a_conflict(engine: Engine) -> None:
    # Two users open the same form (short read transactions), then both save: the version
    # column makes the second save a conflict instead of a silent overwrite.
    with session_scope(engine) as s:
        form_id = build_trial(s)["form"]
    with read_session(engine) as s:
        a = s.get(m.FormInstance, form_id)
    with read_session(engine) as s:
        b = s.get(m.FormInstance, form_id)
    assert a is not None and b is not None and a.version == b.version == 1
    a.status = FormStatus.COMPLETE
    with session_scope(engine) as s:
        s.merge(a)
    b.assessment_date = date(2026, 6, 4)
    with pytest.raises(StaleDataError), session_scope(engine) as s:
        s.merge(b)
        s.flush()
    with read_session(engine) as s:
        form = s.get(m.FormInstance, form_id)
        assert form is not None and form.status is FormStatus.COMPLETE and form.version == 2
        assert form.assessment_date is None


@pytest.mark.parametrize("statement", [
    "INSERT INTO sites (study_id, code, name, timezone, active) "
    "VALUES (999, 'S9', 'x', 'UTC', true)",                                  # foreign key
    "UPDATE adverse_events SET ctcae_grade = 6",                             # CTCAE 1-5
    "UPDATE role_assignments SET role = 'superuser'",                        # enum check
    "INSERT INTO sites (study_id, code, name, timezone, active) "
    "SELECT study_id, code, name, timezone, active FROM sites",              # unique code
])
def test_database_constraints_hold(engine: Engine, statement: str) -> None:
    with session_scope(engine) as s:
        build_trial(s)
    with pytest.raises((IntegrityError, DBAPIError)), engine.begin() as conn:
        conn.execute(text(statement))


def test_sqlite_connections_are_durable_and_checked(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect() as conn:
        got = {p: conn.exec_driver_sql(f"PRAGMA {p}").scalar()
               for p in ("journal_mode", "foreign_keys", "synchronous", "busy_timeout")}
    assert got == {"journal_mode": "wal", "foreign_keys": 1, "synchronous": 2,
                   "busy_timeout": 30000}


def test_concurrent_writers_wait_instead_of_failing(engine: Engine) -> None:
    errors: list[BaseException] = []

    def writer(k: int) -> None:
        try:
            for i in range(10):
                with session_scope(engine) as s:
                    s.scalars(select(m.Study)).all()  # read first, then write
                    s.add(m.Study(code=f"C{k}-{i}", title="t", created_at=NOW,
                                  created_offset_min=0))
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    with read_session(engine) as s:
        assert len(s.scalars(select(m.Study)).all()) == 30


def test_password_rules() -> None:
    with pytest.raises(InputError, match="password"):
        hash_password("short")
    h = hash_password("a long enough passphrase")
    assert h.startswith("$argon2id$") and "passphrase" not in h
    assert verify_password(h, "a long enough passphrase")
    assert not verify_password("not a hash", "a long enough passphrase")
