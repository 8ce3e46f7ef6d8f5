"""Pages over the services of part B: the adverse event form and log, query threads on a
form item, locking a form, e-signing the case book, the administration page's blinding,
and the dashboard's safety and query counts."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from strokecell.trial import randomize, save_form

from .conftest import MBI_45, PASSWORD, STUDY, World
from .test_security_matrix_b import ae_items


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found
    return found.group(1)


def _browser(app: Any, world: World, role: str, site: str = "S01") -> TestClient:
    world.ctx(role, site)
    client = TestClient(app)
    token = _csrf(client.get("/login").text)
    r = client.post("/login", data={"csrf_token": token, "username": world.users[(role, site)],
                                    "password": PASSWORD, "study_code": STUDY, "role": role},
                    follow_redirects=False)
    assert r.status_code == 303
    return client


def test_adverse_event_form_log_and_dashboard(app: Any, web_world: World) -> None:
    code = web_world.enrol_one("S01")
    coordinator = _browser(app, web_world, "coordinator")
    page = coordinator.get(f"/subjects/{code}/adverse-events/new")
    assert page.status_code == 200 and 'name="item__term"' in page.text
    token = _csrf(page.text)
    serious = {**ae_items(), "serious": "true", "sc_hospitalisation": "true",
               "related_to_product": "probable", "expected": "false", "ctcae_grade": "3"}
    data = {"csrf_token": token, **{f"item__{k}": v for k, v in serious.items()}}
    r = coordinator.post(f"/subjects/{code}/adverse-events", data={**data,
                                                                   "item__ctcae_grade": "9"})
    assert r.status_code == 422 and re.search(r'id="field-ctcae_grade".*?field-error', r.text,
                                              re.S)
    r = coordinator.post(f"/subjects/{code}/adverse-events", data=data)
    assert r.status_code == 200 and "EXPEDITED REPORT due" in r.text
    assert "Expedited report" in r.text  # the service's verdict is shown on the AE page
    log = coordinator.get("/adverse-events")
    assert code in log.text and "due" in log.text
    dash = coordinator.get("/api/v1/dashboard").json()
    assert dash["aes_awaiting_report"] == 1 and dash["serious_aes"] == 1
    assert "AEs awaiting expedited report" in coordinator.get("/dashboard").text
    # follow-up needs a reason
    ae_page = coordinator.get(f"/subjects/{code}/adverse-events/1")
    token = _csrf(ae_page.text)
    version = re.search(r'name="version" value="(\d+)"', ae_page.text)
    assert version
    follow = {"csrf_token": token, "version": version.group(1),
              **{f"item__{k}": v for k, v in {**serious, "outcome": "recovered"}.items()}}
    r = coordinator.post(f"/subjects/{code}/adverse-events/1", data=follow)
    assert r.status_code == 422
    r = coordinator.post(f"/subjects/{code}/adverse-events/1",
                         data={**follow, "reason": "follow-up call"})
    assert r.status_code == 200 and "updated" in r.text


def test_query_thread_lock_and_signature(app: Any, web_world: World) -> None:
    code = web_world.enrol_one("S01", mbi=MBI_45)
    save_form(web_world.db, web_world.ctx("coordinator", "S01"), code, "mbi",
              {**MBI_45, "ambulation": 0}, visit_code="baseline")
    form_url = f"/subjects/{code}/forms/mbi?visit_code=baseline"
    monitor = _browser(app, web_world, "monitor")
    page = monitor.get(form_url)
    assert 'id="open-query"' in page.text
    r = monitor.post("/queries", data={"csrf_token": _csrf(page.text), "back": form_url,
                                       "subject_code": code, "form_code": "mbi",
                                       "visit_code": "baseline", "repeat_index": "1",
                                       "item_code": "feeding",
                                       "message": "source says <b>8</b>?"})
    assert "Query opened" in r.text and "&lt;b&gt;8&lt;/b&gt;" in r.text
    qid = re.search(r"<strong>#(\d+)</strong>", r.text)
    assert qid
    coordinator = _browser(app, web_world, "coordinator")
    page = coordinator.get(form_url)
    assert "open" in page.text and 'id="open-query"' not in page.text
    r = coordinator.post(f"/queries/{qid.group(1)}/answer",
                         data={"csrf_token": _csrf(page.text), "back": form_url,
                               "message": "checked: 10 is right"})
    assert "answered" in r.text and "checked: 10 is right" in r.text
    r = monitor.post(f"/queries/{qid.group(1)}/close",
                     data={"csrf_token": _csrf(page.text), "back": form_url,
                           "message": "thanks"})
    assert r.status_code == 403  # another session's CSRF token
    page = monitor.get(form_url)
    r = monitor.post(f"/queries/{qid.group(1)}/close",
                     data={"csrf_token": _csrf(page.text), "back": form_url,
                           "message": "thanks"})
    assert "closed" in r.text
    # lock the form: the coordinator's next save is refused
    dm = _browser(app, web_world, "data_manager")
    page = dm.get(form_url)
    r = dm.post("/locks", data={"csrf_token": _csrf(page.text), "back": form_url,
                                "scope": "form", "subject_code": code,
                                "visit_code": "baseline", "form_code": "mbi"})
    assert "Locked (form)" in r.text
    page = coordinator.get(form_url)
    assert "Locked:" in page.text
    r = coordinator.post(form_url, data={"csrf_token": _csrf(page.text), "version": "1",
                                         "item__feeding": "8", "reason": "query"})
    assert r.status_code == 409
    # e-signature by the investigator, re-authenticated
    investigator = _browser(app, web_world, "investigator")
    page = investigator.get(f"/subjects/{code}")
    assert 'id="sign-form"' in page.text
    r = investigator.post(f"/subjects/{code}/sign", data={
        "csrf_token": _csrf(page.text), "back": f"/subjects/{code}", "password": "wrong pw"})
    assert "Not done" in r.text
    r = investigator.post(f"/subjects/{code}/sign", data={
        "csrf_token": _csrf(page.text), "back": f"/subjects/{code}", "password": PASSWORD})
    assert "Signed the case book" in r.text and "signed by investigator.s01" in r.text


def test_administration_pages_are_for_the_unblinded_cell_lab(app: Any,
                                                             web_world: World) -> None:
    code = web_world.enrol_one("S01")
    randomize(web_world.db, web_world.ctx("coordinator", "S01"), code)
    lab = _browser(app, web_world, "cell_lab")
    page = lab.get(f"/subjects/{code}")
    assert 'id="administrations"' in page.text
    new = lab.get(f"/subjects/{code}/administrations/new")
    assert new.status_code == 200 and 'name="item__weight_kg"' in new.text
    r = lab.post(f"/subjects/{code}/administrations",
                 data={"csrf_token": _csrf(new.text), "item__weight_kg": "70"})
    assert r.status_code in (409, 422) and ('field-error' in r.text or 'class="error"' in r.text)
    coordinator = _browser(app, web_world, "coordinator")
    assert 'id="administrations"' not in coordinator.get(f"/subjects/{code}").text
    assert coordinator.get(f"/subjects/{code}/administrations/new").status_code == 404


def test_study_status_follows_the_study_lock(app: Any, web_world: World) -> None:
    from strokecell.trial import lock_records, unlock_records

    from .conftest import sign_in_api
    coordinator = _browser(app, web_world, "coordinator")
    page = coordinator.get("/dashboard").text
    assert 'id="study-status">active<' in page and 'id="study-locked"' not in page
    lock = lock_records(web_world.db, web_world.ctx("data_manager", "ALL"), "study")
    page = coordinator.get("/dashboard").text
    assert 'id="study-status">locked<' in page
    assert "The study is locked: no data can be changed." in page
    api = sign_in_api(app, web_world, "monitor")
    assert api.get("/api/v1/study").json()["status"] == "locked"
    assert api.get("/api/v1/dashboard").json()["study_status"] == "locked"
    unlock_records(web_world.db, web_world.ctx("data_manager", "ALL"), lock.id,
                   reason="late correction")
    assert 'id="study-status">active<' in coordinator.get("/dashboard").text
    assert api.get("/api/v1/study").json()["status"] == "active"
