"""Property-based API testing with schemathesis against the OpenAPI document.

Every operation gets a few generated requests (bounded: a handful of examples each, no
shrinking), sent as a coordinator of site S01 with an API token. Required: no server error
(5xx) ever, and a request that is refused (4xx) leaves the database exactly as it was (row
counts of every table, the audit chain head, the form versions).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given
from sqlalchemy import Engine

from strokecell.trial import randomize, save_form
from strokecell.web import create_app

from .conftest import MBI_45, World, build_web_world, settings, sign_in_api, snapshot

MAX_EXAMPLES = 6


@pytest.fixture(scope="module")
def fuzz(module_db: Engine) -> Iterator[tuple[World, Any, dict[str, str]]]:
    world = build_web_world(module_db)
    app = create_app(settings(), module_db)
    subject = world.enrol_one("S01", mbi=MBI_45)
    coordinator = world.ctx("coordinator", "S01")
    randomize(module_db, coordinator, subject)
    save_form(module_db, coordinator, subject, "mbi", {"feeding": "10"}, visit_code="baseline")
    admin = sign_in_api(app, world, "admin", "ALL")
    r = admin.send("POST", "/api/v1/tokens", json={"label": "fuzz", "role": "coordinator",
                                                   "site_code": "S01"})
    assert r.status_code == 201
    yield world, app, {"Authorization": f"Bearer {r.json()['token']}"}
    admin.client.close()


def test_no_server_error_and_no_change_from_refused_requests(
        fuzz: tuple[World, Any, dict[str, str]]) -> None:
    world, app, auth = fuzz
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[str] = []
    statuses: list[int] = []
    checked = 0
    with TestClient(app, raise_server_exceptions=False) as client:
        for result in schema.get_all_operations():
            operation = result.ok()

            @given(case=operation.as_strategy())
            @hypothesis.settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
                                 phases=[Phase.explicit, Phase.generate],
                                 suppress_health_check=list(HealthCheck))
            def run(case: Any) -> None:
                nonlocal checked
                kwargs = case.as_transport_kwargs(base_url="http://testserver")
                headers = {**(kwargs.get("headers") or {}), **auth}
                before = snapshot(world.db)
                r = client.request(kwargs["method"], kwargs["url"], params=kwargs.get("params"),
                                   headers=headers, content=_body(kwargs),
                                   cookies=None)
                checked += 1
                statuses.append(r.status_code)
                label = f"{kwargs['method']} {kwargs['url']} -> {r.status_code}"
                if r.status_code >= 500:
                    failures.append(f"{label}: {r.text[:300]}")
                elif r.status_code >= 400 and snapshot(world.db) != before:
                    failures.append(f"{label}: refused but the database changed")

            run()
    assert not failures, "\n".join(failures[:20])
    assert checked >= 50
    assert any(200 <= code < 300 for code in statuses)  # not only refusals


def _body(kwargs: dict[str, Any]) -> bytes | None:
    import json
    if "json" in kwargs and kwargs["json"] is not None:
        return json.dumps(kwargs["json"]).encode("utf-8")
    data = kwargs.get("data") or kwargs.get("content")
    if isinstance(data, str):
        return data.encode("utf-8")
    return data if isinstance(data, bytes) else None

