"""What an in-silico trial run (:mod:`~strokecell.simulate.driver`) hands back: the users
it created, the subjects with the arm the service assigned, counts, seeds and timings; and
the virtual clock every service context reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from strokecell.errors import InputError, Problem
from strokecell.simulate.records import PatientCohort

__all__ = ["DemoUser", "SimulatedSubject", "SimulatedTrialSummary", "VirtualClock"]


class VirtualClock:
    """The simulated "now" that every service context reads (timezone-aware)."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: str
    site: str | None  # None: every site
    password: str = field(repr=False)


@dataclass(frozen=True)
class SimulatedSubject:
    subject_code: str  # USUBJID given by the platform
    patient: str  # the virtual patient (SIM-0001)
    site: str
    arm: str  # from the randomization service (read by the cell lab)
    randomization_number: int
    status: str  # completed, died, withdrawn
    end_date: date


@dataclass(frozen=True)
class SimulatedTrialSummary:
    study: str
    protocol_file: str
    protocol_sha256: str
    seed: int
    randomization_seed: str
    n_screened: int
    n_screen_failures: int
    subjects: tuple[SimulatedSubject, ...]
    arm_counts: dict[str, int]
    visits_done: int
    visits_missed: int
    forms_saved: int
    administrations: int
    lots: tuple[str, ...]
    adverse_events: int
    serious_adverse_events: int
    deaths: int
    withdrawals: int
    signatures: int
    locks: int
    queries: int  # monitor queries (opened, answered, closed)
    service_calls: int
    service_seconds: dict[str, tuple[int, float]]  # service name: calls, seconds
    first_date: date
    last_date: date
    seconds: float
    users: tuple[DemoUser, ...]
    scenario: dict[str, Any]
    cohort_seed: dict[str, Any]
    cohort: PatientCohort = field(repr=False, compare=False)

    def user(self, role: str, site: str | None = None) -> DemoUser:
        for u in self.users:
            if u.role == role and (site is None or u.site in (site, None)):
                return u
        raise InputError(Problem("role", "no demo user holds it", role,
                                 ", ".join(sorted({u.role for u in self.users}))))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, without passwords."""
        return {
            "study": self.study, "protocol_file": self.protocol_file,
            "protocol_sha256": self.protocol_sha256, "seed": self.seed,
            "randomization_seed": self.randomization_seed, "n_screened": self.n_screened,
            "n_screen_failures": self.n_screen_failures, "n_randomized": len(self.subjects),
            "arm_counts": self.arm_counts, "visits_done": self.visits_done,
            "visits_missed": self.visits_missed, "forms_saved": self.forms_saved,
            "administrations": self.administrations, "lots": list(self.lots),
            "adverse_events": self.adverse_events,
            "serious_adverse_events": self.serious_adverse_events, "deaths": self.deaths,
            "withdrawals": self.withdrawals, "signatures": self.signatures,
            "locks": self.locks, "queries": self.queries,
            "service_calls": self.service_calls,
            "service_seconds": {k: {"calls": c, "seconds": round(t, 2)}
                                for k, (c, t) in self.service_seconds.items()},
            "first_date": self.first_date.isoformat(), "last_date": self.last_date.isoformat(),
            "seconds": round(self.seconds, 2),
            "users": [{"username": u.username, "role": u.role, "site": u.site}
                      for u in self.users],
            "scenario": self.scenario, "cohort_seed": self.cohort_seed}
