"""The trial's daily flow through the JSON API, on SQLite and PostgreSQL: screen, enrol,
randomize, visit date, form entry with an off-grid refusal, partial save, edit with a
reason, the engine's total, the audit trail; refusals change nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from strokecell.web import create_app

from .conftest import MBI_0, MBI_45, build_web_world, settings, sign_in_api, snapshot


def test_daily_flow(engine: Engine) -> None:
    world = build_web_world(engine)
    app = create_app(settings(), engine)
    co = sign_in_api(app, world, "coordinator")
    today = datetime.now(UTC).date().isoformat()
    onset = (datetime.now(UTC) - timedelta(days=12)).isoformat()
    body = {"site_code": "S01", "screening_number": "API-0001", "age_years": 54,
            "stroke_type": "intracerebral_haemorrhage", "stroke_onset_at": onset,
            "consent_date": today, "severity": {"mbi": MBI_0}, "inclusion": [True],
            "exclusion": [False, False]}
    r = co.send("POST", "/api/v1/screenings", json=body)
    assert r.status_code == 201 and r.json()["eligible"], r.text
    before = snapshot(engine)
    bad = {**body, "screening_number": "API-0002", "age_years": "54",
           "stroke_onset_at": "2026-05-01T08:00"}
    r = co.send("POST", "/api/v1/screenings", json=bad)
    assert r.status_code == 422
    assert {p["location"] for p in r.json()["problems"]} >= {"age_years", "stroke_onset_at"}
    assert snapshot(engine) == before
    r = co.send("POST", "/api/v1/screenings/API-0001/enrol",
                json={"strata": {"baseline_mbi": "le_40"}})
    assert r.status_code == 201, r.text
    code = r.json()["subject_code"]
    r = co.send("POST", f"/api/v1/subjects/{code}/randomization", json={})
    assert r.status_code == 201 and r.json()["arm"] is None
    assert r.json()["label"].startswith("randomized #")
    r = co.send("PUT", f"/api/v1/subjects/{code}/visits/baseline", json={"actual_date": today})
    assert r.status_code == 200 and r.json()["status"] == "done"
    url = f"/api/v1/subjects/{code}/forms/mbi?visit_code=baseline"
    before = snapshot(engine)
    r = co.send("PUT", url, json={"items": {"feeding": "7"}})
    assert r.status_code == 422
    assert r.json()["problems"][0]["location"] == "feeding"
    assert r.json()["problems"][0]["allowed"] == "0, 2, 5, 8, 10"
    assert snapshot(engine) == before
    r = co.send("PUT", url, json={"items": {"feeding": "10", "bathing": "1"}})
    assert r.status_code == 200 and r.json()["status"] == "incomplete"
    version = r.json()["version"]
    rest = {k: str(v) for k, v in MBI_45.items() if k not in ("feeding", "bathing")}
    r = co.send("PUT", url, json={"items": {**rest, "ambulation": "0"}, "version": version})
    assert r.status_code == 200 and r.json()["status"] == "complete"
    assert r.json()["derived"]["MBI"] == 46.0
    version = r.json()["version"]
    r = co.send("PUT", url, json={"items": {"bathing": "0"}, "version": version})
    assert r.status_code == 422 and r.json()["problems"][0]["location"] == "reason"
    r = co.send("PUT", url, json={"items": {"bathing": "0"}, "version": version - 1,
                                  "reason": "typo"})
    assert r.status_code == 409
    r = co.send("PUT", url, json={"items": {"bathing": "0"}, "version": version,
                                  "reason": "transcription error"})
    assert r.status_code == 200 and r.json()["derived"]["MBI"] == 45.0
    dm = sign_in_api(app, world, "data_manager")
    trail = dm.get(f"/api/v1/subjects/{code}/forms/mbi/audit?visit_code=baseline").json()
    changes = [row for row in trail if row["item_code"] == "bathing"
               and row["field"] == "value_int" and row["action"] == "update"]
    assert changes and changes[-1]["old_value"] == "1" and changes[-1]["new_value"] == "0"
    assert changes[-1]["reason"] == "transcription error"
    assert changes[-1]["username"] == "coordinator.s01"
    scores = co.get(f"/api/v1/subjects/{code}/scores").json()
    assert scores == [{"param": "MBI", "points": [
        {"visit_code": "baseline", "visit_number": 0, "day": 0, "value": 45.0}]}]
