"""The full matrix: every role × every API endpoint × a target at the caller's own site or
at the other site, each cell asserting the expected HTTP status.

Expected outcomes are generated from the permission matrix (``trial.PERMISSIONS``), the
form narrowing (``form_spec(code).roles``), blinding (``unblinded_only`` pages) and site
isolation: another site's subject or screening is a 404 exactly like a missing one; acting
at a site the role does not cover is a 403. Every user holds its role at S01 only, the
admin at all sites (as set up in practice). Successful writes get fresh subjects, so cells
do not depend on each other. A second test checks that the matrix covers every operation
of the OpenAPI document.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from strokecell.trial import (
    PERMISSIONS,
    Action,
    create_user,
    form_spec,
    grant_role,
    is_blinded,
    randomize,
    save_form,
)
from strokecell.web import create_app

from .conftest import MBI_0, MBI_45, ROLES, ApiUser, World, build_web_world, settings, sign_in_api

OWN, OTHER = "S01", "S02"
_counter = itertools.count(1)


@dataclass
class Env:
    world: World
    app: Any
    users: dict[str, ApiUser]
    shared: dict[str, dict[str, str]] = field(default_factory=dict)  # site -> name -> value

    def fresh_subject(self, site: str) -> str:
        return self.world.enrol_one(site)

    def fresh_screening(self, site: str) -> str:
        return self.world.screen_one(site)

    def fresh_user(self, *, role: str | None = None) -> str:
        name = f"matrix.user{next(_counter)}"
        create_user(self.world.db, self.world.admin, name, "Matrix user", "long enough pw")
        if role:
            grant_role(self.world.db, self.world.admin, name, role, OWN)
        return name


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # placeholders: {subject} {screening} {username}
    action: str | None  # None: any signed-in caller
    ok: int
    target: str = "none"  # "subject", "screening", "site_body" or "none"
    needs: str = "shared"  # what the path names on success: see _prepare
    body: Callable[[str], Any] | None = None  # target site -> JSON body
    form: str | None = None  # a form narrows enter_form to its roles
    all_sites: bool = False
    unblinded_only: bool = False

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"


def _screening_body(site: str) -> dict[str, Any]:
    onset = datetime.now(UTC) - timedelta(days=12)
    return {"site_code": site, "screening_number": f"MX-{next(_counter):05d}",
            "age_years": 54, "stroke_type": "intracerebral_haemorrhage",
            "stroke_onset_at": onset.isoformat(),
            "consent_date": datetime.now(UTC).date().isoformat(),
            "severity": {"mbi": MBI_0}, "inclusion": [True], "exclusion": [False, False]}


A = Action
ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("GET", "/api/v1/me", None, 200),
    Endpoint("GET", "/api/v1/study", A.READ_STUDY, 200),
    Endpoint("GET", "/api/v1/study/design", A.READ_STUDY, 200),
    Endpoint("GET", "/api/v1/dashboard", A.READ_STUDY, 200),
    Endpoint("GET", "/api/v1/sites", A.READ_STUDY, 200),
    Endpoint("POST", "/api/v1/sites", A.MANAGE_STUDY, 201, all_sites=True,
             body=lambda _s: {"code": f"X{next(_counter)}", "name": "New site"}),
    Endpoint("GET", "/api/v1/users", A.MANAGE_USERS, 200, all_sites=True),
    Endpoint("POST", "/api/v1/users", A.MANAGE_USERS, 201, all_sites=True,
             body=lambda _s: {"username": f"matrix.new{next(_counter)}",
                              "full_name": "New user", "password": "long enough pw"}),
    Endpoint("POST", "/api/v1/users/{username}/roles", A.MANAGE_USERS, 201, all_sites=True,
             needs="fresh_user", body=lambda _s: {"role": "monitor", "site_code": OWN}),
    Endpoint("POST", "/api/v1/users/{username}/roles/revoke", A.MANAGE_USERS, 200,
             all_sites=True, needs="fresh_user_with_role",
             body=lambda _s: {"role": "monitor", "site_code": OWN, "reason": "left"}),
    Endpoint("POST", "/api/v1/tokens", A.MANAGE_USERS, 201, all_sites=True,
             body=lambda _s: {"label": "matrix", "role": "monitor", "site_code": None}),
    Endpoint("POST", "/api/v1/tokens/{username}/revoke", A.MANAGE_USERS, 204,
             all_sites=True, needs="fresh_token", body=lambda _s: {"reason": "rotated"}),
    Endpoint("GET", "/api/v1/forms", A.READ_STUDY, 200),
    Endpoint("GET", "/api/v1/forms/mbi", A.READ_STUDY, 200),
    Endpoint("GET", "/api/v1/forms/administration", A.READ_STUDY, 200, unblinded_only=True),
    Endpoint("POST", "/api/v1/screenings", A.SCREEN, 201, target="site_body",
             body=_screening_body),
    Endpoint("GET", "/api/v1/screenings/{screening}", A.READ_SUBJECTS, 200,
             target="screening"),
    Endpoint("POST", "/api/v1/screenings/{screening}/enrol", A.ENROL, 201,
             target="screening", needs="fresh_screening",
             body=lambda _s: {"strata": {"baseline_mbi": "le_40"}}),
    Endpoint("GET", "/api/v1/subjects", A.READ_SUBJECTS, 200),
    Endpoint("GET", "/api/v1/subjects/{subject}", A.READ_SUBJECTS, 200, target="subject"),
    Endpoint("POST", "/api/v1/subjects/{subject}/randomization", A.RANDOMIZE, 201,
             target="subject", needs="fresh_subject", body=lambda _s: {}),
    Endpoint("GET", "/api/v1/subjects/{subject}/allocation", A.READ_SUBJECTS, 200,
             target="subject"),
    Endpoint("POST", "/api/v1/subjects/{subject}/unblinding", A.UNBLIND, 201,
             target="subject", body=lambda _s: {"reason": "emergency: matrix test"}),
    Endpoint("GET", "/api/v1/subjects/{subject}/visits", A.READ_SUBJECTS, 200,
             target="subject"),
    Endpoint("PUT", "/api/v1/subjects/{subject}/visits/baseline", A.RECORD_VISIT, 200,
             target="subject", needs="fresh_subject",
             body=lambda _s: {"actual_date": datetime.now(UTC).date().isoformat()}),
    Endpoint("GET", "/api/v1/subjects/{subject}/forms", A.READ_SUBJECTS, 200,
             target="subject"),
    Endpoint("GET", "/api/v1/subjects/{subject}/forms/mbi?visit_code=baseline",
             A.READ_SUBJECTS, 200, target="subject"),
    Endpoint("PUT", "/api/v1/subjects/{subject}/forms/mbi?visit_code=baseline",
             A.ENTER_FORM, 200, target="subject", needs="fresh_subject", form="mbi",
             body=lambda _s: {"items": {"feeding": "10"}}),
    Endpoint("PUT", "/api/v1/subjects/{subject}/forms/consent?visit_code=baseline",
             A.ENTER_FORM, 200, target="subject", needs="fresh_subject", form="consent",
             body=lambda _s: {"items": {"consented_by": "patient"}}),
    Endpoint("GET", "/api/v1/subjects/{subject}/scores", A.READ_SUBJECTS, 200,
             target="subject"),
    Endpoint("GET", "/api/v1/subjects/{subject}/audit", A.READ_AUDIT, 200, target="subject"),
    Endpoint("GET", "/api/v1/subjects/{subject}/forms/mbi/audit?visit_code=baseline",
             A.READ_AUDIT, 200, target="subject"),
)


def expected(role: str, ep: Endpoint, where: str) -> int:
    """The status the cell must return, from the permission matrix and the site rules."""
    if ep.action is None:
        return ep.ok
    if ep.unblinded_only and is_blinded(role):
        return 404  # reported like a form that does not exist
    roles = {r.value for r in PERMISSIONS[Action(ep.action)]}
    if ep.form is not None:
        roles &= {r.value for r in form_spec(ep.form).roles}
    if role not in roles:
        return 403
    site_scoped = role != "admin"
    if ep.all_sites and site_scoped:
        return 403
    if where == OTHER and site_scoped:
        if ep.target in ("subject", "screening"):
            return 404  # same words as for a subject or screening that does not exist
        if ep.target == "site_body":
            return 403
    return ep.ok


@pytest.fixture(scope="module")
def env(module_db: Engine) -> Iterator[Env]:
    world = build_web_world(module_db)
    app = create_app(settings(), module_db)
    users = {role: sign_in_api(app, world, role, "ALL" if role == "admin" else OWN)
             for role in ROLES}
    e = Env(world, app, users)
    for site in (OWN, OTHER):
        subject = world.enrol_one(site, mbi=MBI_45)
        coordinator = world.ctx("coordinator", site)
        randomize(world.db, coordinator, subject)
        save_form(world.db, coordinator, subject, "mbi", {**MBI_45, "ambulation": 0},
                  visit_code="baseline")
        e.shared[site] = {"subject": subject, "screening": world.screen_one(site)}
    yield e
    for user in users.values():
        user.client.close()


def _prepare(env: Env, ep: Endpoint, role: str, where: str, status: int) -> str:
    """The path of the cell: shared records, or fresh ones when the cell must succeed."""
    values = dict(env.shared[where])
    values["username"] = "api-0000000000000000"
    success = status == ep.ok
    if ep.needs == "fresh_subject" and success:
        values["subject"] = env.fresh_subject(where)
    elif ep.needs == "fresh_screening" and success:
        values["screening"] = env.fresh_screening(where)
    elif ep.needs == "fresh_user":
        values["username"] = env.fresh_user() if success else "matrix.nobody"
    elif ep.needs == "fresh_user_with_role":
        values["username"] = env.fresh_user(role="monitor") if success else "matrix.nobody"
    elif ep.needs == "fresh_token" and success:
        r = env.users["admin"].send("POST", "/api/v1/tokens",
                                    json={"label": "to revoke", "role": "monitor"})
        values["username"] = r.json()["username"]
    return ep.path.format(**values)


CELLS = [(role, ep, where) for ep in ENDPOINTS for role in ROLES for where in (OWN, OTHER)]


@pytest.mark.parametrize(("role", "ep", "where"), CELLS,
                         ids=[f"{r}-{e.id}-{'own' if w == OWN else 'other'}"
                              for r, e, w in CELLS])
def test_cell(env: Env, role: str, ep: Endpoint, where: str) -> None:
    status = expected(role, ep, where)
    path = _prepare(env, ep, role, where, status)
    user = env.users[role]
    body = ep.body(where) if ep.body else None
    r = user.get(path) if ep.method == "GET" else user.send(ep.method, path, json=body)
    assert r.status_code == status, f"{role} {ep.id} at {where}: {r.status_code} {r.text}"
    if status == 404 and ep.target == "subject":  # no hint that the other site has it
        assert r.json()["detail"] == f"subject_code: no subject {path.split('/')[4]!r} " \
                                     "among the subjects you can see"
    if r.status_code == 200 and ep.path == "/api/v1/subjects" and role != "admin":
        assert {s["site_code"] for s in r.json()} <= {OWN}
        assert all((s["arm"] is None) == is_blinded(role) for s in r.json() if s["randomized"])
    if r.status_code in (200, 201) and ep.path.endswith(("/allocation", "/randomization")):
        assert (r.json()["arm"] is None) == is_blinded(role)
    if r.status_code == 200 and ep.path == "/api/v1/dashboard":
        assert (r.json()["by_arm"] is None) == is_blinded(role)


def test_matrix_rows_are_real_operations(env: Env) -> None:
    covered = {(ep.method, ep.path.split("?")[0]) for ep in ENDPOINTS}
    templated = {(m, p.replace("{subject}", "{subject_code}")
                  .replace("{screening}", "{screening_number}")
                  .replace("/visits/baseline", "/visits/{visit_code}")
                  .replace("/forms/mbi/audit", "/forms/{form_code}/audit")
                  .replace("/forms/consent", "/forms/{form_code}")
                  .replace("/forms/mbi", "/forms/{form_code}")
                  .replace("/forms/administration", "/forms/{form_code}"))
                 for m, p in covered}
    ops = {(method.upper(), path) for path, item in env.app.openapi()["paths"].items()
           for method in item}
    assert templated <= ops, sorted(templated - ops)  # every matrix row is a real operation
    assert len(CELLS) == len(ENDPOINTS) * len(ROLES) * 2
    # (that every operation is in a matrix is checked in test_security_matrix_b.py)
