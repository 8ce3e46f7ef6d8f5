"""Security of the web layer: settings that refuse unsafe defaults, cookies, CSRF, sign-in
throttling and lockout, API tokens, output escaping (XSS), site isolation and blinding on
the pages, the OpenAPI document."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import text

from strokecell.store import read_session
from strokecell.trial import randomize, save_form
from strokecell.web import Settings, create_app

from .conftest import MBI_45, PASSWORD, STUDY, World, settings, sign_in_api, snapshot

XSS = "<script>alert(1)</script>"


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def _page_login(client: TestClient, username: str, role: str,
                password: str = PASSWORD) -> Any:
    token = _csrf(client.get("/login").text)
    return client.post("/login", data={"csrf_token": token, "username": username,
                                       "password": password, "study_code": STUDY,
                                       "role": role}, follow_redirects=False)


# --- settings ---------------------------------------------------------------------------

def test_settings_refuse_unsafe_defaults_outside_development() -> None:
    Settings(env="development")  # a random per-process key is fine for development
    with pytest.raises(ValidationError, match="secret_key"):
        Settings(env="production", https=True)
    with pytest.raises(ValidationError, match="at least 32 bytes"):
        Settings(env="test", secret_key="short")
    with pytest.raises(ValidationError, match="https"):
        Settings(env="production", secret_key="k" * 32)
    ok = Settings(env="production", secret_key="k" * 32, https=True)
    assert ok.cookie_secure
    env = {"STROKECELL_WEB_ENV": "test", "STROKECELL_WEB_SECRET_KEY": "s" * 40,
           "STROKECELL_WEB_LOGIN_MAX_FAILURES": "3"}
    assert Settings.from_env(env).login_max_failures == 3


def test_session_cookie_flags(web_world: World) -> None:
    web_world.ctx("coordinator", "S01")
    for https, secure in ((False, False), (True, True)):
        app = create_app(settings(https=https), web_world.db)
        with TestClient(app, base_url="https://testserver") as client:
            r = client.post("/api/v1/session", json={
                "username": "coordinator.s01", "password": PASSWORD, "study_code": STUDY,
                "role": "coordinator"})
            assert r.status_code == 201
            cookie = r.headers["set-cookie"].lower()
            assert "httponly" in cookie and "samesite=lax" in cookie
            assert ("secure" in cookie) is secure
            assert r.headers["content-security-policy"].startswith("default-src 'self'")
            assert r.headers["x-frame-options"] == "DENY"


def test_session_id_changes_at_sign_in_and_dies_at_sign_out(app: Any, web_world: World) -> None:
    web_world.ctx("coordinator", "S01")
    with TestClient(app) as client:
        before = client.get("/login").cookies.get("sc_session") or \
            client.cookies.get("sc_session")
        r = _page_login(client, "coordinator.s01", "coordinator")
        assert r.status_code == 303
        after = client.cookies.get("sc_session")
        assert after and after != before
        page = client.get("/dashboard")
        assert page.status_code == 200
        r = client.post("/logout", data={"csrf_token": _csrf(page.text)},
                        follow_redirects=False)
        assert r.status_code == 303
        client.cookies.set("sc_session", after)  # replaying the old cookie does not work
        assert client.get("/dashboard", follow_redirects=False).status_code == 303
        assert client.get("/api/v1/me").status_code == 401


# --- CSRF -------------------------------------------------------------------------------

def test_csrf_missing_or_invalid_is_refused(app: Any, web_world: World) -> None:
    subject = web_world.enrol_one("S01")
    other = sign_in_api(app, web_world, "investigator")
    before = snapshot(web_world.db)
    with TestClient(app) as client:
        assert _page_login(client, "coordinator.s01", "coordinator").status_code == 303
        page = client.get(f"/subjects/{subject}")
        good = _csrf(page.text)
        for token in (None, "", "0" * 64, good[:-1] + ("0" if good[-1] != "0" else "1")):
            data = {} if token is None else {"csrf_token": token}
            r = client.post(f"/subjects/{subject}/randomize", data=data,
                            follow_redirects=False)
            assert r.status_code == 403, r.text
            r = client.post(f"/subjects/{subject}/forms/mbi?visit_code=baseline",
                            data={**data, "item__feeding": "10"}, follow_redirects=False)
            assert r.status_code == 403
        # the JSON API with the session cookie needs the header
        r = client.put(f"/api/v1/subjects/{subject}/forms/mbi?visit_code=baseline",
                       json={"items": {"feeding": "10"}})
        assert r.status_code == 403
        r = client.put(f"/api/v1/subjects/{subject}/forms/mbi?visit_code=baseline",
                       json={"items": {"feeding": "10"}}, headers={"X-CSRF-Token": "nope"})
        assert r.status_code == 403
        assert snapshot(web_world.db) == before  # nothing was written
        # another session's token does not work either
        r = client.put(f"/api/v1/subjects/{subject}/forms/mbi?visit_code=baseline",
                       json={"items": {"feeding": "10"}}, headers={"X-CSRF-Token": other.csrf})
        assert r.status_code == 403
        assert snapshot(web_world.db) == before
        r = client.post(f"/subjects/{subject}/randomize", data={"csrf_token": good},
                        follow_redirects=False)
        assert r.status_code == 303  # the right token works


# --- sign-in throttling -----------------------------------------------------------------

def test_lockout_after_repeated_failures(web_world: World) -> None:
    web_world.ctx("coordinator", "S01")
    app = create_app(settings(login_max_failures=3, login_lockout_minutes=5), web_world.db)
    body = {"username": "coordinator.s01", "study_code": STUDY, "role": "coordinator"}
    with TestClient(app) as client:
        for _ in range(3):
            r = client.post("/api/v1/session", json={**body, "password": "wrong password!"})
            assert r.status_code == 403
            assert r.json()["detail"].startswith("sign in: unknown user")
        r = client.post("/api/v1/session", json={**body, "password": PASSWORD})
        assert r.status_code == 429  # locked: the right password is refused too
        assert "locked" in r.json()["detail"] and int(r.headers["retry-after"]) > 0
        assert _page_login(client, "coordinator.s01", "coordinator").status_code == 429
        # another account is not affected
        web_world.ctx("investigator", "S01")
        r = client.post("/api/v1/session", json={**body, "username": "investigator.s01",
                                                 "role": "investigator", "password": PASSWORD})
        assert r.status_code == 201


def test_rate_limit_per_address(web_world: World) -> None:
    app = create_app(settings(login_attempts_per_minute=4, login_max_failures=100),
                     web_world.db)
    with TestClient(app) as client:
        codes = [client.post("/api/v1/session", json={
            "username": f"nobody{i}", "password": "x" * 12, "study_code": STUDY,
            "role": "monitor"}).status_code for i in range(6)]
    assert codes == [403] * 4 + [429] * 2


def test_unknown_user_and_wrong_password_read_the_same(app: Any, web_world: World) -> None:
    web_world.ctx("monitor", "S01")
    with TestClient(app) as client:
        a = client.post("/api/v1/session", json={"username": "monitor.s01", "password":
                                                 "wrong password", "study_code": STUDY,
                                                 "role": "monitor"})
        b = client.post("/api/v1/session", json={"username": "ghost", "password":
                                                 "wrong password", "study_code": STUDY,
                                                 "role": "monitor"})
    assert a.status_code == b.status_code == 403 and a.json() == b.json()


# --- API tokens -------------------------------------------------------------------------

def test_api_token_scoped_hashed_and_revocable(app: Any, web_world: World) -> None:
    own = web_world.enrol_one("S01")
    other = web_world.enrol_one("S02")
    admin = sign_in_api(app, web_world, "admin", "ALL")
    r = admin.send("POST", "/api/v1/tokens", json={"label": "import script",
                                                   "role": "coordinator", "site_code": "S01"})
    assert r.status_code == 201, r.text
    token, account = r.json()["token"], r.json()["username"]
    secret = token.rsplit(".", 1)[1]
    with read_session(web_world.db) as s:  # only an argon2id hash is stored
        stored = s.execute(text("SELECT password_hash FROM users WHERE username = :u"),
                           {"u": account}).scalar_one()
        assert stored.startswith("$argon2id$") and secret not in stored
        trail = s.execute(text("SELECT coalesce(new_value, '') FROM audit_log")).scalars()
        assert all(secret not in v for v in trail)
    with TestClient(app) as script:
        auth = {"Authorization": f"Bearer {token}"}
        assert script.get(f"/api/v1/subjects/{own}", headers=auth).status_code == 200
        assert script.get(f"/api/v1/subjects/{other}", headers=auth).status_code == 404
        r = script.put(f"/api/v1/subjects/{own}/forms/mbi?visit_code=baseline",
                       json={"items": {"feeding": "10"}}, headers=auth)  # no CSRF needed
        assert r.status_code == 200
        assert script.get("/api/v1/users", headers=auth).status_code == 403  # role scope
        r = admin.send("POST", f"/api/v1/tokens/{account}/revoke", json={"reason": "rotated"})
        assert r.status_code == 204
        assert script.get(f"/api/v1/subjects/{own}", headers=auth).status_code == 401
        bad = {"Authorization": "Bearer " + token[:-2] + "xx"}
        assert script.get("/api/v1/me", headers=bad).status_code == 401
        assert script.get("/api/v1/me", headers={"Authorization": "Basic eA=="}
                          ).status_code == 401
    # a token account cannot sign in on the pages
    with TestClient(app) as browser:
        assert _page_login(browser, account, "coordinator", secret).status_code == 403


# --- escaping, site isolation and blinding on pages -------------------------------------

def test_free_text_is_escaped_on_every_page(app: Any, web_world: World) -> None:
    coordinator = web_world.ctx("coordinator", "S01")
    number = web_world.screen_one("S01")
    subject = web_world.enrol_one("S01")
    db = web_world.db
    view = save_form(db, coordinator, subject, "consent", {"consent_form_version": XSS},
                     visit_code="baseline")
    save_form(db, coordinator, subject, "consent", {"consent_form_version": XSS + "2"},
              visit_code="baseline", version=view.version, reason=XSS)
    from strokecell.trial import screen
    xss_number = "<img src=x onerror=alert(1)>"
    onset = datetime.now(UTC) - timedelta(days=12)
    screen(db, coordinator, "S01", xss_number, age_years=54,
           stroke_type="intracerebral_haemorrhage", stroke_onset_at=onset,
           consent_date=datetime.now(UTC).date(), severity={"mbi": MBI_45},
           inclusion=[True], exclusion=[False, False])
    pages = ["/dashboard", "/subjects", f"/subjects/{subject}",
             f"/subjects/{subject}/forms/consent?visit_code=baseline",
             f"/subjects/{subject}/forms/mbi?visit_code=baseline",
             f"/screenings/{number}", "/screening"]
    audit_pages = [f"/subjects/{subject}/audit",
                   f"/subjects/{subject}/forms/consent/audit?visit_code=baseline"]
    seen = 0
    for role, urls in (("coordinator", pages), ("data_manager", audit_pages)):
        user = sign_in_api(app, web_world, role)
        for url in urls:
            r = user.get(url)
            assert r.status_code == 200, (url, r.status_code)
            assert "<script>alert" not in r.text, url
            seen += r.text.count("&lt;script&gt;alert(1)")
    assert seen >= 4  # shown, escaped: item values, reason for change, audit
    r = sign_in_api(app, web_world, "coordinator").get(f"/screenings/{quote(xss_number)}")
    assert r.status_code == 200 and "<img" not in r.text and "&lt;img src=x" in r.text


def test_other_sites_subject_page_reads_like_a_missing_one(app: Any, web_world: World) -> None:
    other = web_world.enrol_one("S02")
    user = sign_in_api(app, web_world, "coordinator", "S01")
    a = user.get(f"/subjects/{other}")
    b = user.get("/subjects/SC-ICH-IA-UCMSC-S02-999")
    assert a.status_code == b.status_code == 404
    assert a.text.replace(other, "X") == b.text.replace("SC-ICH-IA-UCMSC-S02-999", "X")
    assert user.get(f"/subjects/{other}/forms/mbi?visit_code=baseline").status_code == 404


BLINDED_ROLES = ("coordinator", "investigator", "blinded_assessor", "monitor", "data_manager")


def test_blinded_roles_see_no_arm_on_any_page(app: Any, web_world: World) -> None:
    subjects = [web_world.enrol_one("S01") for _ in range(3)]
    for code in subjects:
        randomize(web_world.db, web_world.ctx("coordinator", "S01"), code)
    for role in BLINDED_ROLES:
        user = sign_in_api(app, web_world, role)
        urls = ["/dashboard", "/subjects", "/adverse-events",
                *[f"/subjects/{c}" for c in subjects]]
        for url in urls:
            body = user.get(url).text
            assert "transplant" not in body and ">control<" not in body, (role, url)
            assert "/administrations" not in body and "/forms/administration" not in body
        assert "randomized #" in user.get(f"/subjects/{subjects[0]}").text
        assert user.get("/api/v1/dashboard").json()["by_arm"] is None
    unblinded = sign_in_api(app, web_world, "cell_lab")
    arms = {unblinded.get(f"/api/v1/subjects/{c}").json()["arm"] for c in subjects}
    assert arms <= {"transplant", "control"} and None not in arms
    assert "transplant" in unblinded.get("/dashboard").text


def test_openapi_lists_every_api_path_with_its_prefix(app: Any) -> None:
    with TestClient(app) as client:
        doc = client.get("/openapi.json").json()
    paths = list(doc["paths"])
    assert len(paths) >= 20
    assert all(p.startswith("/api/v1/") for p in paths), paths
    assert "/api/v1/subjects/{subject_code}/forms/{form_code}" in paths


def test_login_redirect_is_local_only(app: Any, web_world: World) -> None:
    web_world.ctx("coordinator", "S01")
    with TestClient(app) as client:
        token = _csrf(client.get("/login").text)
        for target, expected in (("https://evil.example/", "/dashboard"),
                                 ("//evil.example", "/dashboard"), ("/subjects", "/subjects")):
            client.cookies.clear()
            token = _csrf(client.get("/login").text)
            r = client.post("/login", data={"csrf_token": token, "username": "coordinator.s01",
                                            "password": PASSWORD, "study_code": STUDY,
                                            "role": "coordinator", "next": target},
                            follow_redirects=False)
            assert r.headers["location"] == expected
