"""The audit chain: append in the caller's transaction, detect tampering, no forks."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import DBAPIError

from strokecell.errors import ConflictError, InputError
from strokecell.store import (
    Actor,
    FieldChange,
    read_session,
    record_change,
    record_changes,
    session_scope,
    verify_chain,
)
from strokecell.store.audit import changes_of, row_hash
from strokecell.store.models import AuditLog, Study

ALICE = Actor(user_id=1, username="alice", role="coordinator", offset_minutes=120)

SQLITE_TRIGGERS = ["audit_log_no_update", "audit_log_no_delete", "audit_log_append_check",
                   "audit_chain_head_no_delete", "audit_chain_head_advance"]
PG_TRIGGERS = [("audit_log_append_only", "audit_log"), ("audit_log_append_check", "audit_log"),
               ("audit_chain_head_guard", "audit_chain_head")]


def _drop_guards(engine: Engine) -> None:
    """What an attacker with database access would do first."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            for name in SQLITE_TRIGGERS:
                conn.execute(text(f"DROP TRIGGER {name}"))
        else:
            for name, table in PG_TRIGGERS:
                conn.execute(text(f"DROP TRIGGER {name} ON {table}"))


def _fill(engine: Engine, n: int = 6) -> None:
    with session_scope(engine) as s:
        record_change(s, ALICE, table="subjects", row_key=1, action="insert",
                      field="subject_code", new="S01-001", study_id=1)
        for i in range(1, n):
            record_change(s, ALICE, table="item_values", row_key=f"1/mbi_feeding/{i}",
                          action="update", field="raw_text", old=str(i - 1), new=str(i),
                          reason="transcription error", study_id=1)


def _verify(engine: Engine):  # type: ignore[no-untyped-def]
    with read_session(engine) as s:
        return verify_chain(s)


def test_appended_rows_form_a_valid_chain(engine: Engine) -> None:
    _fill(engine)
    result = _verify(engine)
    assert result.ok and result.rows_checked == 6 and result.head_seq == 6
    with read_session(engine) as s:
        rows = s.scalars(select(AuditLog).order_by(AuditLog.seq)).all()
        assert [r.seq for r in rows] == list(range(1, 7))
        assert rows[0].prev_hash == "0" * 64
        assert all(b.prev_hash == a.row_hash for a, b in itertools.pairwise(rows))
        first = rows[0]
        assert first.occurred_at.tzinfo is not None and first.offset_min == 120
        assert first.role == "coordinator" and first.new_value == "S01-001"
        fields = {c.key: getattr(first, c.key) for c in AuditLog.__table__.columns}
        assert row_hash(fields) == first.row_hash


def test_values_times_and_reasons_are_recorded(engine: Engine) -> None:
    local = datetime(2026, 3, 1, 9, 30, 0, 123456, tzinfo=timezone(timedelta(hours=8)))
    with session_scope(engine) as s:
        record_changes(s, Actor(2, "bob", "investigator", 480), table="adverse_events",
                       row_key="7", action="update", reason="new information",
                       changes=[FieldChange("ctcae_grade", 2, 3),
                                FieldChange("serious", False, True),
                                FieldChange("onset", None, local)], at=local)
    with read_session(engine) as s:
        rows = s.scalars(select(AuditLog).order_by(AuditLog.seq)).all()
    assert [(r.field_name, r.old_value, r.new_value) for r in rows] == [
        ("ctcae_grade", "2", "3"), ("serious", "false", "true"),
        ("onset", None, "2026-03-01T01:30:00.123456Z")]
    assert rows[0].occurred_at == local and rows[0].occurred_at.utcoffset() == timedelta(0)
    assert {r.reason for r in rows} == {"new information"}
    assert _verify(engine).ok


@pytest.mark.parametrize(("kwargs", "location"), [
    ({"action": "update", "reason": None}, "reason"),
    ({"action": "delete", "reason": "  "}, "reason"),
    ({"action": "erase"}, "action"),
    ({"table": ""}, "table_name"),
    ({"row_key": "x" * 201}, "row_key"),
])
def test_rejected_entries_name_the_field_and_write_nothing(
        engine: Engine, kwargs: dict[str, object], location: str) -> None:
    _fill(engine, 2)
    args: dict[str, object] = {"table": "subjects", "row_key": "1", "action": "insert",
                               "field": "status", "old": "a", "new": "b"}
    args.update(kwargs)
    with pytest.raises(InputError) as info, session_scope(engine) as s:
        record_change(s, ALICE, **args)  # type: ignore[arg-type]
    assert any(p.location == location for p in info.value.problems), str(info.value)
    result = _verify(engine)
    assert result.ok and result.rows_checked == 2


def test_audit_rows_roll_back_with_the_change(engine: Engine) -> None:
    _fill(engine, 2)
    with pytest.raises(RuntimeError), session_scope(engine) as s:
        s.add(Study(code="X", title="x", created_at=datetime.now(UTC), created_offset_min=0))
        s.flush()
        record_change(s, ALICE, table="studies", row_key="X", action="insert", new="X")
        raise RuntimeError("the service failed after writing")
    with read_session(engine) as s:
        assert s.scalar(select(func.count()).select_from(AuditLog)) == 2
        assert s.scalar(select(func.count()).select_from(Study)) == 0
    assert _verify(engine).ok


def test_sqlite_read_session_cannot_append(sqlite_engine: Engine) -> None:
    with pytest.raises(ConflictError), read_session(sqlite_engine) as s:
        record_change(s, ALICE, table="t", row_key="1", action="insert", new="x")


def test_database_refuses_update_and_delete_of_audit_rows(engine: Engine) -> None:
    _fill(engine, 3)
    for statement in ("UPDATE audit_log SET new_value = 'forged' WHERE seq = 2",
                      "DELETE FROM audit_log WHERE seq = 3",
                      "UPDATE audit_chain_head SET last_seq = 2"):
        with pytest.raises(DBAPIError, match=r"append-only|advance"), engine.begin() as conn:
            conn.execute(text(statement))
    assert _verify(engine).ok


def test_edited_row_is_detected(isolated_engine: Engine) -> None:
    engine = isolated_engine
    _fill(engine)
    _drop_guards(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET new_value = '99' WHERE seq = 3"))
    result = _verify(engine)
    assert not result.ok and result.first_broken_seq == 3
    assert result.reason is not None and "row edited" in result.reason


def test_edit_with_recomputed_hash_is_detected_by_the_next_link(isolated_engine: Engine) -> None:
    engine = isolated_engine
    _fill(engine)
    _drop_guards(engine)
    with read_session(engine) as s:
        row = s.get(AuditLog, 3)
        assert row is not None
        fields = {c.key: getattr(row, c.key) for c in AuditLog.__table__.columns}
    fields["new_value"] = "99"
    forged = row_hash(fields)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET new_value = '99', row_hash = :h WHERE seq = 3"),
                     {"h": forged})
    result = _verify(engine)
    assert not result.ok and result.first_broken_seq == 4
    assert result.reason is not None and "prev_hash" in result.reason


def test_deleted_row_is_detected(isolated_engine: Engine) -> None:
    engine = isolated_engine
    _fill(engine)
    _drop_guards(engine)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq = 2"))
    result = _verify(engine)
    assert not result.ok and result.first_broken_seq == 3
    assert result.reason is not None and "gap" in result.reason


def test_deleted_tail_is_detected_by_the_chain_head(isolated_engine: Engine) -> None:
    engine = isolated_engine
    _fill(engine)
    _drop_guards(engine)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq = 6"))
    result = _verify(engine)
    assert not result.ok and result.rows_checked == 5
    assert result.reason is not None and "chain head" in result.reason


def test_inserted_rows_are_detected(isolated_engine: Engine) -> None:
    engine = isolated_engine
    _fill(engine)
    _drop_guards(engine)
    with read_session(engine) as s:
        last = s.get(AuditLog, 6)
        assert last is not None
        template = {c.key: getattr(last, c.key) for c in AuditLog.__table__.columns}
    # a well-formed row appended behind the service's back (head not advanced)
    forged = dict(template, seq=7, new_value="forged", prev_hash=template["row_hash"])
    forged["row_hash"] = row_hash(forged)
    columns = ", ".join(forged)
    values = ", ".join(f":{k}" for k in forged)
    with engine.begin() as conn:
        conn.execute(text(f"INSERT INTO audit_log ({columns}) VALUES ({values})"),
                     dict(forged, occurred_at=forged["occurred_at"].replace(tzinfo=None)
                          if engine.dialect.name == "sqlite" else forged["occurred_at"],
                          action=str(forged["action"])))
    result = _verify(engine)
    assert not result.ok and result.first_broken_seq == 7
    assert result.reason is not None and "chain head" in result.reason


def test_concurrent_writers_cannot_fork_the_chain(engine: Engine) -> None:
    threads, per_thread = 4, 15
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads)

    def writer(k: int) -> None:
        try:
            barrier.wait()
            for i in range(per_thread):
                with session_scope(engine) as s:
                    record_changes(s, Actor(k, f"user{k}", "coordinator"), table="forms",
                                   row_key=f"{k}-{i}", action="insert",
                                   changes=[FieldChange("a", None, i), FieldChange("b", None, k)])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    pool = [threading.Thread(target=writer, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert not errors, errors
    result = _verify(engine)
    assert result.ok, result
    assert result.rows_checked == threads * per_thread * 2


def test_changes_of_reports_pending_column_changes(engine: Engine) -> None:
    with session_scope(engine) as s:
        study = Study(code="STC-1", title="t", created_at=datetime.now(UTC), created_offset_min=0)
        assert {c.field for c in changes_of(study, inserted=True)} >= {"code", "title"}
        s.add(study)
    with session_scope(engine) as s:
        loaded = s.scalars(select(Study)).one()
        loaded.title = "new title"
        assert [(c.field, c.old, c.new) for c in changes_of(loaded)] == [
            ("title", "t", "new title")]


def test_the_head_moves_once_per_transaction(engine: Engine) -> None:
    from sqlalchemy import event

    statements: list[str] = []

    def count(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        _fill(engine, 6)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    head_updates = [s for s in statements if s.lstrip().upper().startswith("UPDATE")
                    and "audit_chain_head" in s]
    assert len(head_updates) == 1
    result = _verify(engine)
    assert result.ok and result.head_seq == 6


def test_verify_inside_the_writing_transaction_sees_its_rows(engine: Engine) -> None:
    with session_scope(engine) as s:
        record_change(s, ALICE, table="subjects", row_key=1, action="insert", new="x")
        record_change(s, ALICE, table="subjects", row_key=2, action="insert", new="y")
        result = verify_chain(s)
        assert result.ok and result.head_seq == 2
        record_change(s, ALICE, table="subjects", row_key=3, action="insert", new="z")
    assert _verify(engine).head_seq == 3


def test_a_rolled_back_savepoint_takes_its_audit_rows_with_it(engine: Engine) -> None:
    with session_scope(engine) as s:
        record_change(s, ALICE, table="subjects", row_key=1, action="insert", new="kept")
        with pytest.raises(RuntimeError), s.begin_nested():
            record_change(s, ALICE, table="subjects", row_key=2, action="insert", new="gone")
            raise RuntimeError("the nested step failed")
        record_change(s, ALICE, table="subjects", row_key=3, action="insert", new="kept too")
        with s.begin_nested():
            record_change(s, ALICE, table="subjects", row_key=4, action="insert", new="kept 3")
    with pytest.raises(RuntimeError), session_scope(engine) as s:
        with s.begin_nested():
            record_change(s, ALICE, table="subjects", row_key=5, action="insert", new="gone")
        raise RuntimeError("the whole transaction fails")
    result = _verify(engine)
    assert result.ok and result.rows_checked == 3 and result.head_seq == 3
    with read_session(engine) as s:
        values = s.scalars(select(AuditLog.new_value).order_by(AuditLog.seq)).all()
    assert values == ["kept", "kept too", "kept 3"]


def test_the_database_refuses_appends_that_do_not_extend_the_last_row(engine: Engine) -> None:
    _fill(engine, 3)
    with read_session(engine) as s:
        last = s.get(AuditLog, 3)
        assert last is not None
        template = {c.key: getattr(last, c.key) for c in AuditLog.__table__.columns}

    def insert_row(**changes: object) -> None:
        row = dict(template, **changes)
        row["row_hash"] = row_hash(row)
        columns = ", ".join(row)
        values = ", ".join(f":{k}" for k in row)
        params = dict(row, action=str(row["action"]),
                      occurred_at=row["occurred_at"].replace(tzinfo=None)
                      if engine.dialect.name == "sqlite" else row["occurred_at"])
        with engine.begin() as conn:
            conn.execute(text(f"INSERT INTO audit_log ({columns}) VALUES ({values})"), params)

    for bad in ({"seq": 5, "prev_hash": template["row_hash"]},  # a gap
                {"seq": 4, "prev_hash": "f" * 64},  # a wrong link
                {"seq": 4, "prev_hash": template["prev_hash"]}):  # a fork of row 3
        with pytest.raises(DBAPIError, match="extend"):
            insert_row(**bad)
    # a correct link is accepted by the trigger; moving the head anywhere but to it is not
    insert_row(seq=4, prev_hash=template["row_hash"], new_value="appended")
    with read_session(engine) as s:
        fourth = s.get(AuditLog, 4)
        assert fourth is not None
        fourth_hash = fourth.row_hash
    for statement in (f"UPDATE audit_chain_head SET last_seq = 5, last_hash = '{fourth_hash}'",
                      f"UPDATE audit_chain_head SET last_seq = 3, "
                      f"last_hash = '{template['row_hash']}'",
                      "UPDATE audit_chain_head SET last_seq = 4, last_hash = 'x'"):
        with pytest.raises(DBAPIError, match="advance"), engine.begin() as conn:
            conn.execute(text(statement))
    assert not _verify(engine).ok  # row 4 is beyond the head until the head moves to it
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_chain_head SET last_seq = 4, last_hash = :h"),
                     {"h": fourth_hash})
    assert _verify(engine).ok
