"""Fixtures for the trial services: the reference study on SQLite and PostgreSQL.

The database fixtures are the store's (tests/store/conftest.py): every test gets an empty
migrated database on each backend. ``world`` sets the reference protocol up in it through
the services, with two sites and one user per role and site, and a virtual clock.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text

from store.conftest import (  # noqa: F401 (pytest fixtures, found by name)
    DB_KINDS,
    db_kind,
    db_url,
    empty_db_url,
    engine,
    pg_shared,
    pg_template,
    sqlite_template,
)
from strokecell.store import Role, passwords, read_session, verify_chain
from strokecell.store import models as m
from strokecell.trial import (
    ServiceContext,
    add_site,
    context_for,
    create_user,
    enrol,
    grant_role,
    init_study,
    screen,
)

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "protocols" / "reference-ich-ia-ucmsc.yaml"
STUDY = "SC-ICH-IA-UCMSC"
PASSWORD = "correct horse battery"
START = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)

#: MBI items scoring 0 (eligible: max 60) and 45 (stratum gt_40, still eligible).
MBI_0 = {"personal_hygiene": 0, "bathing": 0, "feeding": 0, "toilet": 0, "stairs": 0,
         "dressing": 0, "bowels": 0, "bladder": 0, "ambulation": 0, "transfers": 0}
MBI_45 = {**MBI_0, "feeding": 10, "toilet": 10, "bowels": 10, "bladder": 10,
          "personal_hygiene": 5}


@pytest.fixture(autouse=True, scope="session")
def _fast_passwords() -> Iterator[None]:
    """argon2id takes ~0.2 s a hash here; one hash per password text is enough for tests."""
    cached = functools.cache(passwords.hash_password)
    mp = pytest.MonkeyPatch()
    import strokecell.trial.setup as setup_module
    import strokecell.trial.users as users_module
    for module in (setup_module, users_module):
        mp.setattr(module, "hash_password", cached)
    yield
    mp.undo()


class Clock:
    """A virtual clock the services read through ``ServiceContext.clock``."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, days: float) -> None:
        self.now += timedelta(days=days)


@dataclass
class World:
    db: Engine
    clock: Clock
    admin: ServiceContext
    users: dict[tuple[str, str], str] = field(default_factory=dict)
    screened: int = 0

    def ctx(self, role: Role | str, site: str = "S01") -> ServiceContext:
        """The context of a user holding ``role`` at ``site`` (``"ALL"``: every site),
        created on first use."""
        key = (Role(role).value, site)
        if key not in self.users:
            username = f"{key[0]}.{site.lower()}"
            create_user(self.db, self.admin, username, f"{key[0]} {site}", PASSWORD)
            grant_role(self.db, self.admin, username, role, None if site == "ALL" else site)
            self.users[key] = username
        return context_for(self.db, self.users[key], study_code=STUDY, role=role,
                           clock=self.clock)

    def screen_one(self, site: str = "S01", *, mbi: Mapping[str, int] = MBI_0) -> str:
        """Screen an eligible patient at ``site``; returns the screening number."""
        self.screened += 1
        number = f"SCR-{site}-{self.screened:04d}"
        screen(self.db, self.ctx(Role.COORDINATOR, site), site, number, age_years=54,
               stroke_type="intracerebral_haemorrhage",
               stroke_onset_at=self.clock.now - timedelta(days=12),
               consent_date=self.clock.now.date(), severity={"mbi": mbi},
               inclusion=[True], exclusion=[False, False])
        return number

    def enrol_one(self, site: str = "S01", *, mbi: Mapping[str, int] = MBI_0,
                  strata: Mapping[str, str] | None = None) -> str:
        """Screen an eligible patient at ``site`` and enrol them; returns the USUBJID."""
        number = self.screen_one(site, mbi=mbi)
        level = "gt_40" if sum(mbi.values()) > 40 else "le_40"
        subject = enrol(self.db, self.ctx(Role.COORDINATOR, site), number,
                        strata=strata or {"baseline_mbi": level})
        return subject.subject_code


def build_world(db: Engine, *, seed: str = "test-seed", protocol_text: str | None = None,
                ) -> World:
    clock = Clock()
    text_ = protocol_text if protocol_text is not None else REFERENCE.read_text(
        encoding="utf-8")
    admin = init_study(db, text_, admin_username="admin",
                       admin_password=PASSWORD, seed=seed, clock=clock)
    world = World(db, clock, admin)
    world.users[("admin", "ALL")] = "admin"
    for site in ("S01", "S02"):
        add_site(db, admin, site, f"Site {site}", country="CN", timezone="Asia/Shanghai")
    return world


@pytest.fixture
def world(engine: Engine) -> World:  # noqa: F811 (the store's fixture)
    return build_world(engine)


def snapshot(db: Engine) -> dict[str, int | str]:
    """Row counts of every table of the trial record and the audit head: equal before and
    after a refusal (the web plumbing tables are left out: a refused sign-in is counted)."""
    with read_session(db) as s:
        counts: dict[str, int | str] = {
            t.name: int(s.scalar(select(func.count()).select_from(t)) or 0)
            for t in m.Base.metadata.sorted_tables if t.name not in m.WEB_PLUMBING_TABLES}
        head = s.execute(text("SELECT last_seq, last_hash FROM audit_chain_head")).one()
        counts["audit_head"] = f"{head[0]}:{head[1]}"
        versions = s.execute(text("SELECT coalesce(sum(version), 0) FROM form_instances")).one()
        counts["form_versions"] = int(versions[0])
    return counts


def chain_ok(db: Engine) -> bool:
    with read_session(db) as s:
        result = verify_chain(s)
    assert result.ok, result
    return True


def today(world: World) -> date:
    return world.clock.now.date()
