"""The server-rendered pages through the test client: screening with errors next to the
fields, enrolment, randomization, visit dates, form entry (partial save, off-grid refusal,
reason for change), the audit page, the score plot."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from .conftest import MBI_45, PASSWORD, STUDY, World, snapshot


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found
    return found.group(1)


def _browser(app: Any, world: World, role: str) -> TestClient:
    world.ctx(role, "S01")
    client = TestClient(app)
    token = _csrf(client.get("/login").text)
    r = client.post("/login", data={"csrf_token": token, "username": world.users[(role, "S01")],
                                    "password": PASSWORD, "study_code": STUDY, "role": role},
                    follow_redirects=False)
    assert r.status_code == 303
    return client


def test_sign_in_page_refuses_bad_credentials(app: Any, web_world: World) -> None:
    web_world.ctx("coordinator", "S01")
    with TestClient(app) as client:
        assert client.get("/dashboard", follow_redirects=False).headers["location"] \
            .startswith("/login?next=")
        token = _csrf(client.get("/login").text)
        r = client.post("/login", data={"csrf_token": token, "username": "coordinator.s01",
                                        "password": "wrong password", "study_code": STUDY,
                                        "role": "coordinator"})
        assert r.status_code == 403 and "wrong password" in r.text
        assert 'value="coordinator.s01"' in r.text  # the user name is kept, not the password


def test_screen_enrol_randomize_visit(app: Any, web_world: World) -> None:
    client = _browser(app, web_world, "coordinator")
    page = client.get("/screening")
    token = _csrf(page.text)
    onset = (datetime.now(UTC) - timedelta(days=12)).isoformat()
    form = {"csrf_token": token, "site_code": "S01", "screening_number": "PG-1",
            "age_years": "abc", "stroke_type": "intracerebral_haemorrhage",
            "stroke_onset_at": "yesterday", "consent_date": datetime.now(UTC).date().isoformat(),
            "inc_0": "true", **{f"sev__mbi__{k}": str(v) for k, v in MBI_45.items()}}
    before = snapshot(web_world.db)
    r = client.post("/screening", data=form)
    assert r.status_code == 422
    assert r.text.count('class="field-error"') >= 2  # age and onset, next to their fields
    assert snapshot(web_world.db) == before
    r = client.post("/screening", data={**form, "age_years": "60", "stroke_onset_at": onset},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/screenings/PG-1"
    page = client.get("/screenings/PG-1")
    assert 'id="outcome">eligible<' in page.text
    r = client.post("/screenings/PG-1/enrol", data={"csrf_token": token,
                                                    "stratum__baseline_mbi": "gt_40"},
                    follow_redirects=False)
    assert r.status_code == 303
    subject_url = r.headers["location"]
    page = client.get(subject_url)
    assert "Enrolled as" in page.text and 'id="randomize"' in page.text
    r = client.post(f"{subject_url}/randomize", data={"csrf_token": token})
    assert "randomized #1" in r.text and 'id="randomize"' not in r.text
    today = datetime.now(UTC).date().isoformat()
    r = client.post(f"{subject_url}/visits/baseline", data={"csrf_token": token,
                                                             "actual_date": today,
                                                             "version": "1"})
    assert r.status_code == 200 and "Visit baseline date saved" in r.text
    r = client.post(f"{subject_url}/visits/baseline", data={"csrf_token": token,
                                                             "actual_date": "2020-01-01",
                                                             "version": "1"})
    assert r.status_code in (409, 422) and 'class="error"' in r.text


def test_form_entry_partial_offgrid_reason_audit(app: Any, web_world: World) -> None:
    code = web_world.enrol_one("S01", mbi=MBI_45)
    client = _browser(app, web_world, "coordinator")
    url = f"/subjects/{code}/forms/mbi?visit_code=baseline"
    page = client.get(url)
    assert page.status_code == 200 and 'data-points="10"' in page.text
    token = _csrf(page.text)
    before = snapshot(web_world.db)
    r = client.post(url, data={"csrf_token": token, "item__feeding": "7",
                               "item__bathing": "1"})
    assert r.status_code == 422
    assert re.search(r'id="field-feeding">.*?off the grid', r.text, re.S)
    assert 'selected>1 – substantial help' in r.text  # what was entered is kept
    assert snapshot(web_world.db) == before
    r = client.post(url, data={"csrf_token": token, "item__feeding": "10",
                               "item__bathing": "1"})  # partial save
    assert "incomplete" in r.text and "Still missing" in r.text
    items = {f"item__{k}": str(v) for k, v in {**MBI_45, "ambulation": 0}.items()}
    r = client.post(url, data={"csrf_token": token, "version": "1", **items})
    assert r.status_code == 422 and 'id="field-reason"' in r.text  # bathing 1 -> 0
    r = client.post(url, data={"csrf_token": token, "version": "1", **items,
                               "reason": "source document says 0"})
    assert r.status_code == 200 and "MBI = 45" in r.text
    page = client.get(f"/subjects/{code}")
    assert '<svg class="plot"' in page.text
    monitor = _browser(app, web_world, "monitor")
    audit = monitor.get(f"/subjects/{code}/forms/mbi/audit?visit_code=baseline")
    assert audit.status_code == 200 and "source document says 0" in audit.text
    full = monitor.get(f"/subjects/{code}/forms/mbi/audit?visit_code=baseline&all=1")
    assert full.text.count("<tr") > audit.text.count("<tr")
    assert client.get(f"/subjects/{code}/forms/mbi/audit?visit_code=baseline").status_code \
        == 403  # coordinators do not read the audit trail
    assert client.get(f"/subjects/{code}/forms/administration").status_code == 404


def test_every_form_page_renders(app: Any, web_world: World) -> None:
    code = web_world.enrol_one("S01")
    client = _browser(app, web_world, "coordinator")
    layouts = client.get("/api/v1/forms").json()
    for layout in layouts:
        url = f"/subjects/{code}/forms/{layout['code']}"
        r = client.get(url + ("?visit_code=baseline" if not layout["repeating"] else ""))
        assert r.status_code == 200, layout["code"]
        assert all(f'name="item__{f["code"]}"' in r.text for f in layout["fields"])
