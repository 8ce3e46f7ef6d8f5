"""Administration pages: users and roles, sites, API tokens (admin) and product lots (cell
lab). They call the same services as the API: other roles get 403, every form needs its
CSRF token, a user created on the page can sign in, and a revoked role stops at once."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from trial.partb import PRODUCT

from .conftest import ROLES, STUDY, World
from .test_pages_b import _browser, _csrf

ADMIN_PAGES = ("/admin/users", "/admin/sites", "/admin/tokens")


def _sign_in(app: Any, username: str, password: str, role: str) -> Any:
    client = TestClient(app)
    token = _csrf(client.get("/login").text)
    return client, client.post("/login", data={"csrf_token": token, "username": username,
                                               "password": password, "study_code": STUDY,
                                               "role": role}, follow_redirects=False)


@pytest.mark.parametrize("role", [r for r in ROLES if r != "admin"])
def test_admin_pages_refuse_other_roles(app: Any, web_world: World, role: str) -> None:
    site = "ALL" if role == "cell_lab" else "S01"
    client = _browser(app, web_world, role, site)
    dash = client.get("/dashboard").text
    token = _csrf(dash)
    for url in ADMIN_PAGES:
        assert client.get(url).status_code == 403, url
        assert f'href="{url}"' not in dash
    posts = {"/admin/users": {"username": "mallory", "full_name": "M", "password": "x" * 12},
             "/admin/users/admin/roles": {"role": "cell_lab", "site_code": ""},
             "/admin/sites": {"code": "S09", "name": "Nine", "timezone": "UTC"},
             "/admin/tokens": {"label": "x", "role": "cell_lab", "site_code": ""}}
    for url, data in posts.items():
        assert client.post(url, data={"csrf_token": token, **data}).status_code == 403, url
    lots = client.get("/lots")
    assert lots.status_code == (200 if role == "cell_lab" else 403)
    assert ('href="/lots"' in dash) == (role == "cell_lab")


def test_admin_creates_a_user_who_signs_in_and_loses_the_role(app: Any,
                                                                web_world: World) -> None:
    admin = _browser(app, web_world, "admin", "ALL")
    page = admin.get("/admin/users")
    assert page.status_code == 200 and 'href="/admin/users"' in page.text
    token = _csrf(page.text)
    data = {"username": "wang.li", "full_name": "Wang <b>Li</b>", "email": "",
            "password": "a long enough passphrase", "role": "monitor", "site_code": "S02"}
    assert admin.post("/admin/users", data=data).status_code == 403  # no CSRF token
    r = admin.post("/admin/users", data={**data, "csrf_token": "forged"})
    assert r.status_code == 403
    r = admin.post("/admin/users", data={**data, "csrf_token": token})
    assert r.status_code == 200 and "User wang.li created." in r.text
    assert "Wang &lt;b&gt;Li&lt;/b&gt;" in r.text and "monitor @ S02" in r.text
    dup = admin.post("/admin/users", data={**data, "csrf_token": token})
    assert dup.status_code in (409, 422) and 'role="alert"' in dup.text
    assert "a long enough passphrase" not in dup.text
    grant = {"csrf_token": token, "role": "coordinator", "site_code": "S01"}
    assert admin.post("/admin/users/wang.li/roles",
                      data={k: v for k, v in grant.items() if k != "csrf_token"}
                      ).status_code == 403
    r = admin.post("/admin/users/wang.li/roles", data=grant)
    assert r.status_code == 200 and "coordinator @ S01" in r.text
    user, signed = _sign_in(app, "wang.li", data["password"], "coordinator")
    assert signed.status_code == 303
    assert user.get("/subjects").status_code == 200
    r = admin.post("/admin/users/wang.li/roles/revoke",
                   data={"csrf_token": token, "role": "coordinator", "site_code": "S01",
                         "reason": ""})
    assert r.status_code == 422  # a reason is required
    r = admin.post("/admin/users/wang.li/roles/revoke",
                   data={"csrf_token": token, "role": "coordinator", "site_code": "S01",
                         "reason": "left the team"})
    assert r.status_code == 200 and "revoked" in r.text
    assert user.get("/subjects", follow_redirects=False).status_code != 200  # at once
    _, again = _sign_in(app, "wang.li", data["password"], "coordinator")
    assert again.status_code != 303


def test_admin_adds_a_site(app: Any, web_world: World) -> None:
    admin = _browser(app, web_world, "admin", "ALL")
    page = admin.get("/admin/sites")
    assert page.status_code == 200 and "S02" in page.text
    data = {"code": "S03", "name": "Site <i>three</i>", "country": "CN",
            "timezone": "Asia/Shanghai"}
    assert admin.post("/admin/sites", data=data).status_code == 403
    r = admin.post("/admin/sites", data={**data, "csrf_token": _csrf(page.text)})
    assert r.status_code == 200 and "Site S03 added." in r.text
    assert "Site &lt;i&gt;three&lt;/i&gt;" in r.text
    bad = admin.post("/admin/sites", data={**data, "code": "S04", "timezone": "Mars/Base",
                                           "csrf_token": _csrf(page.text)})
    assert bad.status_code == 422 and 'role="alert"' in bad.text


def test_admin_issues_and_revokes_a_token(app: Any, web_world: World) -> None:
    admin = _browser(app, web_world, "admin", "ALL")
    page = admin.get("/admin/tokens")
    token = _csrf(page.text)
    data = {"label": "REDCap import", "role": "coordinator", "site_code": "S01"}
    assert admin.post("/admin/tokens", data=data).status_code == 403
    r = admin.post("/admin/tokens", data={**data, "csrf_token": token})
    assert r.status_code == 201
    found = re.search(r"<code>(sct1\.[^<]+)</code>", r.text)
    assert found
    bearer = {"Authorization": f"Bearer {found.group(1)}"}
    api = TestClient(app)
    assert api.get("/api/v1/subjects", headers=bearer).status_code == 200
    account = re.search(r"<td>(api-[^<]+)</td>", r.text)
    assert account and "REDCap import" in r.text
    assert found.group(1) not in admin.get("/admin/tokens").text  # shown once
    r = admin.post(f"/admin/tokens/{account.group(1)}/revoke",
                   data={"csrf_token": token, "reason": "rotated"})
    assert r.status_code == 200 and "revoked" in r.text
    assert api.get("/api/v1/subjects", headers=bearer).status_code in (401, 403)


def test_cell_lab_registers_and_withdraws_a_lot(app: Any, web_world: World) -> None:
    lab = _browser(app, web_world, "cell_lab", "ALL")
    page = lab.get("/lots")
    assert page.status_code == 200 and 'href="/lots"' in page.text
    token = _csrf(page.text)
    data = {"lot_number": "LOT-<9>", **{k: str(v) for k, v in PRODUCT.items()
                                        }}
    assert lab.post("/lots", data=data).status_code == 403
    r = lab.post("/lots", data={**data, "csrf_token": token})
    assert r.status_code == 200 and "LOT-&lt;9&gt;" in r.text and "quarantine" in r.text
    bad = lab.post("/lots", data={**data, "lot_number": "LOT-10", "total_cells": "many",
                                  "csrf_token": token})
    assert bad.status_code == 422
    r = lab.post("/lots/LOT-%3C9%3E/withdraw",
                 data={"csrf_token": token, "status": "rejected", "reason": "sterility"})
    assert r.status_code == 200 and "withdrawn" in r.text and "rejected" in r.text
