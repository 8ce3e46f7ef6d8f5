"""The role × endpoint × own/other-site matrix for the services of part B (adverse events,
safety signals, queries, locks, e-signatures, datasets, product lots, administrations).

Expected outcomes come from the permission matrix (``trial.PERMISSIONS``; safety signals:
``SIGNAL_READERS``) and site isolation: a wrong role is 403; another site's subject, query
or lock is 404 like a missing one. Where the role and site are right, the cell must not be
refused for them (no 401/403/404, no 5xx): business outcomes (201, 200, 409 stale version,
422 invalid input) are accepted, since these cells share records. Closing and reopening a
query is reserved to its opener (a service rule), so a 403 there is a business outcome too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine

from strokecell.trial import (
    PERMISSIONS,
    Action,
    lock_records,
    open_query,
    randomize,
    register_lot,
    report_adverse_event,
    save_form,
)
from strokecell.trial.adverse_events import SIGNAL_READERS
from strokecell.web import create_app

from .conftest import (
    MBI_45,
    PASSWORD,
    ROLES,
    ApiUser,
    World,
    build_web_world,
    settings,
    sign_in_api,
)

OWN, OTHER = "S01", "S02"
OK_ISH = {200, 201, 204, 409, 422}


def ae_items() -> dict[str, Any]:
    today = datetime.now(UTC).date().isoformat()
    return {"term": "Headache", "body_system": "Nervous system disorders",
            "onset_date": today, "ongoing": "true", "ctcae_grade": "1", "serious": "false",
            "related_to_product": "unlikely", "related_to_procedure": "unlikely",
            "expected": "true", "action_taken": "none", "outcome": "recovering"}


@dataclass
class Env:
    world: World
    app: Any
    users: dict[str, ApiUser]
    shared: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # {subject} {query} {lock} {lot}
    roles: frozenset[str] | None  # None: any signed-in caller
    target: str = "none"  # "subject" (path or body names one at own/other site) or "none"
    body: Callable[[dict[str, Any]], Any] | None = None
    ok: frozenset[int] = frozenset(OK_ISH)
    all_sites: bool = False

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"


def _roles(action: Action) -> frozenset[str]:
    return frozenset(r.value for r in PERMISSIONS[action])


A = Action
ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("GET", "/api/v1/adverse-events?subject_code={subject}", _roles(A.READ_SUBJECTS),
             "subject"),
    Endpoint("POST", "/api/v1/subjects/{subject}/adverse-events", _roles(A.REPORT_AE),
             "subject", body=lambda _v: {"items": ae_items()}),
    Endpoint("GET", "/api/v1/subjects/{subject}/adverse-events/1", _roles(A.READ_SUBJECTS),
             "subject"),
    Endpoint("PUT", "/api/v1/subjects/{subject}/adverse-events/1", _roles(A.REPORT_AE),
             "subject", body=lambda _v: {"items": {"outcome": "recovered"}, "version": 999,
                                         "reason": "follow-up"}),
    Endpoint("POST", "/api/v1/subjects/{subject}/adverse-events/1/expedited-report",
             _roles(A.REPORT_AE), "subject", body=lambda _v: {"version": 999}),
    Endpoint("GET", "/api/v1/safety-signals", frozenset(r.value for r in SIGNAL_READERS)),
    Endpoint("POST", "/api/v1/safety-signals/999999/acknowledge",
             frozenset(r.value for r in SIGNAL_READERS), ok=frozenset({404})),
    Endpoint("GET", "/api/v1/queries?subject_code={subject}", _roles(A.READ_SUBJECTS),
             "subject"),
    Endpoint("POST", "/api/v1/queries", _roles(A.RAISE_QUERY), "subject",
             body=lambda v: {"subject_code": v["subject"], "form_code": "mbi",
                             "visit_code": "baseline", "item_code": "feeding",
                             "message": "please check against the source"}),
    Endpoint("GET", "/api/v1/queries/{query}", _roles(A.READ_SUBJECTS), "subject"),
    Endpoint("POST", "/api/v1/queries/{query}/answer", _roles(A.ANSWER_QUERY), "subject",
             body=lambda _v: {"message": "checked: correct"}),
    Endpoint("POST", "/api/v1/queries/{query}/close", _roles(A.RAISE_QUERY), "subject",
             body=lambda _v: {"message": "resolved"}, ok=frozenset(OK_ISH | {403})),
    Endpoint("POST", "/api/v1/queries/{query}/reopen", _roles(A.RAISE_QUERY), "subject",
             body=lambda _v: {"message": "reopened"}, ok=frozenset(OK_ISH | {403})),
    Endpoint("GET", "/api/v1/locks?subject_code={subject}", _roles(A.READ_SUBJECTS),
             "subject"),
    Endpoint("POST", "/api/v1/locks", _roles(A.LOCK), "subject",
             body=lambda v: {"scope": "visit", "subject_code": v["subject"],
                             "visit_code": "month_6"}),
    Endpoint("POST", "/api/v1/locks/{lock}/unlock", _roles(A.LOCK), "subject",
             body=lambda _v: {"reason": "correction needed"}),
    Endpoint("GET", "/api/v1/subjects/{subject}/signatures", _roles(A.READ_SUBJECTS),
             "subject"),
    Endpoint("POST", "/api/v1/signatures", _roles(A.SIGN), "subject",
             body=lambda v: {"password": PASSWORD, "subject_code": v["subject"]}),
    Endpoint("GET", "/api/v1/datasets", _roles(A.EXPORT)),
    Endpoint("GET", "/api/v1/lots", _roles(A.MANAGE_LOTS)),
    Endpoint("POST", "/api/v1/lots", _roles(A.MANAGE_LOTS),
             body=lambda v: {"lot_number": f"LOT-{v['n']}", "cell_type":
                             "mesenchymal_stem_cells", "source_tissue": "umbilical_cord",
                             "donor_type": "allogeneic", "donor_code": "D-002"}),
    Endpoint("GET", "/api/v1/lots/{lot}", _roles(A.MANAGE_LOTS)),
    Endpoint("POST", "/api/v1/lots/{lot}/release", _roles(A.MANAGE_LOTS),
             body=lambda _v: {"results": {}, "password": PASSWORD}),
    Endpoint("POST", "/api/v1/lots/{lot}/withdraw", _roles(A.MANAGE_LOTS),
             body=lambda _v: {"status": "rejected", "reason": "matrix"}),
    Endpoint("GET", "/api/v1/subjects/{subject}/administrations", _roles(A.ADMINISTER),
             "subject"),
    Endpoint("POST", "/api/v1/subjects/{subject}/administrations", _roles(A.ADMINISTER),
             "subject", body=lambda _v: {"items": {"weight_kg": "70"}}),
    Endpoint("GET", "/api/v1/subjects/{subject}/administrations/1", _roles(A.ADMINISTER),
             "subject"),
    Endpoint("GET", "/api/v1/deviations?subject_code={subject}", _roles(A.READ_SUBJECTS),
             "subject"),
)


def expected(role: str, ep: Endpoint, where: str) -> frozenset[int]:
    if ep.roles is not None and role not in ep.roles:
        return frozenset({403})
    site_scoped = role != "admin"
    if where == OTHER and site_scoped and ep.target == "subject":
        return frozenset({404})
    return ep.ok


@pytest.fixture(scope="module")
def env(module_db: Engine) -> Iterator[Env]:
    world = build_web_world(module_db)
    app = create_app(settings(), module_db)
    users = {role: sign_in_api(app, world, role, "ALL" if role == "admin" else OWN)
             for role in ROLES}
    e = Env(world, app, users)
    db = world.db
    register_lot(db, world.ctx("cell_lab", OWN), "LOT-SHARED",
                 cell_type="mesenchymal_stem_cells", source_tissue="umbilical_cord",
                 donor_type="allogeneic", donor_code="D-001")
    for site in (OWN, OTHER):
        subject = world.enrol_one(site, mbi=MBI_45)
        coordinator = world.ctx("coordinator", site)
        randomize(db, coordinator, subject)
        save_form(db, coordinator, subject, "mbi", {**MBI_45, "ambulation": 0},
                  visit_code="baseline")
        report_adverse_event(db, coordinator, subject, ae_items())
        query = open_query(db, world.ctx("monitor", site), subject, "mbi",
                           visit_code="baseline", item_code="feeding", message="check")
        lock = lock_records(db, world.ctx("data_manager", "ALL"), "visit",
                            subject_code=subject, visit_code="month_12")
        e.shared[site] = {"subject": subject, "query": query.id, "lock": lock.id}
    yield e
    for user in users.values():
        user.client.close()


CELLS = [(role, ep, where) for ep in ENDPOINTS for role in ROLES for where in (OWN, OTHER)]
_n = iter(range(1, 10_000))


@pytest.mark.parametrize(("role", "ep", "where"), CELLS,
                         ids=[f"{r}-{e.id}-{'own' if w == OWN else 'other'}"
                              for r, e, w in CELLS])
def test_cell(env: Env, role: str, ep: Endpoint, where: str) -> None:
    values = {**env.shared[where], "lot": "LOT-SHARED", "n": next(_n)}
    path = ep.path.format(**values)
    user = env.users[role]
    body = ep.body(values) if ep.body else None
    r = user.get(path) if ep.method == "GET" else user.send(ep.method, path, json=body)
    allowed = expected(role, ep, where)
    assert r.status_code in allowed, \
        f"{role} {ep.id} at {where}: {r.status_code} not in {sorted(allowed)}: {r.text[:300]}"
    if r.status_code == 404 and where == OTHER:
        assert env.shared[OTHER]["subject"] not in r.text or "no subject" in r.text


def test_every_part_b_operation_is_in_a_matrix(env: Env) -> None:
    from .test_security_matrix import ENDPOINTS as PART_A

    def norm(path: str) -> str:
        out = path.split("?")[0]
        for a, b in (("{subject}", "{subject_code}"), ("{query}", "{query_id}"),
                     ("{lock}", "{lock_id}"), ("{lot}", "{lot_number}"),
                     ("{screening}", "{screening_number}"),
                     ("/adverse-events/1", "/adverse-events/{ae_number}"),
                     ("/administrations/1", "/administrations/{number}"),
                     ("/safety-signals/999999", "/safety-signals/{signal_id}"),
                     ("/visits/baseline", "/visits/{visit_code}"),
                     ("/forms/mbi/audit", "/forms/{form_code}/audit"),
                     ("/forms/consent", "/forms/{form_code}"),
                     ("/forms/mbi", "/forms/{form_code}"),
                     ("/forms/administration", "/forms/{form_code}")):
            out = out.replace(a, b)
        return out

    covered = {(ep.method, norm(ep.path)) for ep in (*PART_A, *ENDPOINTS)}
    ops = {(method.upper(), path) for path, item in env.app.openapi()["paths"].items()
           for method in item}
    missing = ops - covered - {("POST", "/api/v1/session"), ("DELETE", "/api/v1/session")}
    assert not missing, sorted(missing)
