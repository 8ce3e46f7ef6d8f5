"""Integer path parameters are bounded to the database's integer range.

Regression: ``GET /api/v1/queries/{query_id}`` with an id beyond a 64-bit integer (found by
schemathesis) was a 500: the database refused the parameter. Every integer path or query
parameter of the API now carries the range of the column it is compared with, so an
out-of-range value is a 422 (or a 404 inside the range), never a 5xx, on both databases.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Engine

from strokecell.web import create_app
from strokecell.web.api._common import INTEGER_MAX, SMALLINT_MAX
from web.conftest import build_web_world, settings, sign_in_api

_PARAM = re.compile(r"\{([a-z_]+)\}")


def _integer_routes(app: Any) -> list[tuple[str, str, dict[str, int | None]]]:
    """(method, path, {integer parameter: its maximum}) of every API operation with one, from
    the OpenAPI document (what schemathesis generates from)."""
    found = []
    for path, operations in app.openapi()["paths"].items():
        if not path.startswith("/api/"):
            continue
        for method, operation in operations.items():
            bounds: dict[str, int | None] = {
                p["name"]: p["schema"].get("maximum")
                for p in operation.get("parameters", ())
                if p["in"] in ("path", "query") and p["schema"].get("type") == "integer"}
            if bounds:
                found.append((method.upper(), path, bounds))
    return found


def _url(path: str, subject: str, name: str, value: int) -> str:
    def fill(match: re.Match[str]) -> str:
        param = match.group(1)
        if param == name:
            return str(value)
        return subject if param == "subject_code" else "1"

    url = _PARAM.sub(fill, path)
    return url if f"{{{name}}}" in path else f"{url}?{name}={value}"


def test_every_integer_parameter_is_bounded_and_never_a_server_error(engine: Engine) -> None:
    world = build_web_world(engine)
    app = create_app(settings(), engine)
    routes = _integer_routes(app)
    assert any(path == "/api/v1/queries/{query_id}" for _, path, _ in routes)
    for _, path, bounds in routes:
        for name, le in bounds.items():
            assert le is not None and le <= INTEGER_MAX, f"{path}: {name} unbounded ({le})"
    subject = world.enrol_one("S01")
    users = [sign_in_api(app, world, role) for role in ("data_manager", "cell_lab",
                                                        "investigator")]
    for method, path, bounds in routes:
        for name, le in bounds.items():
            assert le is not None
            for value in (le, le + 1, 2**63, 2**64 + 7, 0, -1):
                url = _url(path, subject, name, value)
                body = {"message": "x", "reason": "x"} if method != "GET" else None
                for user in users:
                    r = (user.get(url) if method == "GET" else user.send(method, url, json=body))
                    assert r.status_code < 500, (method, url, user.role, r.text)
                    if value > le or value < 1:
                        assert r.status_code == 422, (method, url, user.role, r.text)


def test_out_of_range_query_id_is_422_and_a_large_unknown_one_404(engine: Engine) -> None:
    world = build_web_world(engine)
    app = create_app(settings(), engine)
    manager = sign_in_api(app, world, "data_manager")
    r = manager.get(f"/api/v1/queries/{2**64}")
    assert r.status_code == 422 and "query_id" in r.text, r.text
    assert manager.get(f"/api/v1/queries/{INTEGER_MAX + 1}").status_code == 422
    assert manager.get(f"/api/v1/queries/{INTEGER_MAX}").status_code == 404
    cell_lab = sign_in_api(app, world, "cell_lab")
    subject = world.enrol_one("S01")
    url = f"/api/v1/subjects/{subject}/administrations/"
    assert cell_lab.get(f"{url}{SMALLINT_MAX + 1}").status_code == 422
    r = cell_lab.get(f"{url}{SMALLINT_MAX}")  # in range: the service's own refusal
    assert r.status_code == 422 and "has no administration" in r.text, r.text
