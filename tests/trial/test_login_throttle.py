"""The sign-in throttle in the database (trial/login_throttle.py), on SQLite and PostgreSQL:
the per-address rate over a sliding minute, the per-name lockout after failures in a row,
names stored by hash only, exact counts under concurrent callers, clear input errors."""

from __future__ import annotations

import hashlib
import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select, text

from strokecell.errors import InputError
from strokecell.store import make_engine, read_session
from strokecell.store import models as m
from strokecell.trial import (
    ThrottlePolicy,
    check_sign_in,
    record_sign_in_failure,
    record_sign_in_success,
)

from .conftest import START

POLICY = ThrottlePolicy(attempts_per_minute=4, max_failures=3,
                        lockout=timedelta(minutes=15))


def _count(db: Engine, table: type[m.Base]) -> int:
    with read_session(db) as s:
        return int(s.scalar(select(func.count()).select_from(table)) or 0)


def test_rate_per_address_over_a_sliding_minute(engine: Engine) -> None:
    at = [START + timedelta(seconds=s) for s in (0, 10, 20, 30)]
    for moment in at:
        assert check_sign_in(engine, "a", "192.0.2.1", policy=POLICY, now=moment) is None
    refused = check_sign_in(engine, "b", "192.0.2.1", policy=POLICY,
                            now=START + timedelta(seconds=40))
    assert refused is not None and "too many sign-in attempts" in refused.reason
    assert refused.retry_after == 21  # the oldest attempt leaves the window then
    assert _count(engine, m.LoginAttempt) == 4  # a refused attempt is not counted
    # another address is not affected
    assert check_sign_in(engine, "a", "192.0.2.2", policy=POLICY,
                         now=START + timedelta(seconds=40)) is None
    # a minute after the first attempt there is room for one more again
    assert check_sign_in(engine, "a", "192.0.2.1", policy=POLICY,
                         now=START + timedelta(seconds=61)) is None
    assert check_sign_in(engine, "a", "192.0.2.1", policy=POLICY,
                         now=START + timedelta(seconds=62)) is not None
    # attempts older than the window are deleted as new ones come in
    check_sign_in(engine, "a", "192.0.2.3", policy=POLICY, now=START + timedelta(hours=1))
    assert _count(engine, m.LoginAttempt) == 1


def test_lockout_after_failures_in_a_row(engine: Engine) -> None:
    for i in range(POLICY.max_failures):
        assert check_sign_in(engine, "Alice", f"198.51.100.{i}", policy=POLICY,
                             now=START) is None
        record_sign_in_failure(engine, "Alice", policy=POLICY, now=START)
    locked = check_sign_in(engine, " alice ", "198.51.100.9", policy=POLICY,
                           now=START + timedelta(minutes=1))
    assert locked is not None and "locked after 3 failed sign-ins" in locked.reason
    assert "try again in 15 minutes" in locked.reason and locked.retry_after == 14 * 60 + 1
    assert check_sign_in(engine, "bob", "198.51.100.9", policy=POLICY,
                         now=START + timedelta(minutes=1)) is None  # another name
    assert check_sign_in(engine, "ALICE", "198.51.100.8", policy=POLICY,
                         now=START + timedelta(minutes=15, seconds=1)) is None  # over
    # the lock counted as the end of that run: the next run starts from zero
    record_sign_in_failure(engine, "alice", policy=POLICY, now=START + timedelta(minutes=16))
    assert check_sign_in(engine, "alice", "198.51.100.7", policy=POLICY,
                         now=START + timedelta(minutes=16)) is None


def test_a_success_resets_the_run_of_failures(engine: Engine) -> None:
    for _ in range(POLICY.max_failures - 1):
        record_sign_in_failure(engine, "carol", policy=POLICY, now=START)
    record_sign_in_success(engine, "Carol")
    for _ in range(POLICY.max_failures - 1):
        record_sign_in_failure(engine, "carol", policy=POLICY, now=START)
    assert check_sign_in(engine, "carol", "203.0.113.1", policy=POLICY, now=START) is None


def test_names_are_stored_by_hash_and_expired_locks_are_deleted(engine: Engine) -> None:
    secret_like = "Correct Horse Battery"  # a password typed into the name field
    record_sign_in_failure(engine, secret_like, policy=POLICY, now=START)
    with read_session(engine) as s:
        (row,) = s.execute(text("SELECT username_sha256, failures FROM login_failures")).all()
    assert row == (hashlib.sha256(b"correct horse battery").hexdigest(), 1)
    for _ in range(POLICY.max_failures):
        record_sign_in_failure(engine, "dave", policy=POLICY, now=START)
    assert _count(engine, m.LoginFailure) == 2
    check_sign_in(engine, "x", "203.0.113.2", policy=POLICY, now=START + timedelta(hours=1))
    assert _count(engine, m.LoginFailure) == 1  # dave's lock is over: row gone


def test_counts_are_exact_under_concurrent_callers(engine: Engine) -> None:
    """Threads with engines of their own (as separate server processes) hit one address
    and one name at once: exactly the allowed number of attempts gets through, and no
    failure is lost."""
    policy = ThrottlePolicy(attempts_per_minute=10, max_failures=1000,
                            lockout=timedelta(minutes=1))
    results: list[bool] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        own = make_engine(engine.url)
        try:
            for _ in range(5):
                refusal = check_sign_in(own, "eve", "192.0.2.99", policy=policy, now=START)
                record_sign_in_failure(own, "eve", policy=policy, now=START)
                with lock:
                    results.append(refusal is None)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            own.dispose()

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(results) == 30 and results.count(True) == 10
    assert _count(engine, m.LoginAttempt) == 10
    with read_session(engine) as s:
        assert s.scalar(select(m.LoginFailure.failures)) == 30


def test_bad_input_names_the_field(engine: Engine) -> None:
    with pytest.raises(InputError, match="address"):
        check_sign_in(engine, "a", "x" * 101, policy=POLICY, now=START)
    with pytest.raises(InputError, match="address"):
        check_sign_in(engine, "a", "", policy=POLICY, now=START)
    with pytest.raises(InputError, match="username"):
        record_sign_in_failure(engine, None, policy=POLICY)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="now"):
        check_sign_in(engine, "a", "192.0.2.1", policy=POLICY, now=datetime(2026, 1, 1))
    with pytest.raises(InputError, match="attempts_per_minute"):
        ThrottlePolicy(attempts_per_minute=0, max_failures=1, lockout=timedelta(minutes=1))
    with pytest.raises(InputError, match="max_failures"):
        ThrottlePolicy(attempts_per_minute=1, max_failures=True,  # type: ignore[arg-type]
                       lockout=timedelta(minutes=1))
    with pytest.raises(InputError, match="lockout"):
        ThrottlePolicy(attempts_per_minute=1, max_failures=1, lockout=timedelta(0))
