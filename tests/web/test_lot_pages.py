"""A product lot's page (cell lab): the release tests with their units and limits next to
the fields, the decision made by the release service, refusals shown next to the field
with nothing changed, and the page closed to every other role (403) and to posts without
the CSRF token. The chain of identity on the page follows the cell lab's sites."""

from __future__ import annotations

import re
from typing import Any

import pytest

from strokecell.store import Role
from strokecell.trial import (
    get_lot,
    record_administration,
    register_lot,
    release_criteria,
)
from trial.partb import PRODUCT, RELEASE_OK, adm_items, released_lot, subjects_by_arm

from .conftest import PASSWORD, ROLES, World, snapshot
from .test_pages_b import _browser, _csrf

LOT = "LOT-P1"
XSS = "<script>alert(1)</script>"


def _form(token: str, **over: object) -> dict[str, str]:
    data = {f"test__{k}": str(v) for k, v in RELEASE_OK.items()}
    data.update({"csrf_token": token, "password": PASSWORD})
    data.update({k: str(v) for k, v in over.items()})
    return data


def _registered(world: World, number: str = LOT, **extra: Any) -> str:
    register_lot(world.db, world.ctx(Role.CELL_LAB, "ALL"), number, **{**PRODUCT, **extra})
    return number


def _field(html: str, code: str) -> str:
    """The HTML of one result field of the release form (label, input, limit, errors)."""
    found = re.search(rf'<div class="field[^"]*" id="field-{re.escape(code)}">(.*?)</div>',
                      html, re.S)
    assert found, code
    return found.group(1)


def test_lot_page_lists_each_test_with_unit_and_limit(app: Any, web_world: World) -> None:
    _registered(web_world)
    lab = _browser(app, web_world, "cell_lab", "ALL")
    lots = lab.get("/lots")
    assert f'href="/lots/{LOT}"' in lots.text  # linked from the list
    page = lab.get(f"/lots/{LOT}")
    assert page.status_code == 200 and 'id="release-form"' in page.text
    assert 'id="lot-status">quarantine<' in page.text
    criteria = release_criteria(web_world.db, web_world.ctx(Role.CELL_LAB, "ALL"), LOT)
    assert [c.test_code for c in criteria] == list(RELEASE_OK)  # allogeneic: donor too
    for c in criteria:
        field = _field(page.text, c.test_code)
        assert f'name="test__{c.test_code}"' in field
        assert c.specification.replace(">", "&gt;").replace("<", "&lt;") in field
        if c.unit:
            assert c.unit in field
        for word in c.choices:
            assert f'<option value="{word}"' in field
    assert "&gt;= 90 % (protocol product viability_min_percent)" in \
        _field(page.text, "viability")  # the protocol's own minimum, from the service
    assert "&gt;= 95 % positive" in _field(page.text, "CD73")
    assert "&lt;= 0.5 EU/mL" in _field(page.text, "endotoxin")


def test_release_that_passes(app: Any, web_world: World) -> None:
    _registered(web_world)
    lab = _browser(app, web_world, "cell_lab", "ALL")
    page = lab.get(f"/lots/{LOT}")
    r = lab.post(f"/lots/{LOT}/release", data=_form(_csrf(page.text)),
                 follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/lots/{LOT}"
    done = lab.get(f"/lots/{LOT}")
    assert f"Lot {LOT} released." in done.text
    assert 'id="lot-status">released<' in done.text
    assert 'id="release-form"' not in done.text  # only a lot in quarantine is released
    assert done.text.count('class="pass"') == len(RELEASE_OK)
    assert "released by cell_lab" in done.text
    lot = get_lot(web_world.db, web_world.ctx(Role.CELL_LAB, "ALL"), LOT)
    assert lot.status == "released" and len(lot.tests) == len(RELEASE_OK)
    # the decision was the service's: the list shows it too
    assert ">released<" in lab.get("/lots").text


def test_failing_result_rejects_the_lot(app: Any, web_world: World) -> None:
    _registered(web_world)
    lab = _browser(app, web_world, "cell_lab", "ALL")
    token = _csrf(lab.get(f"/lots/{LOT}").text)
    r = lab.post(f"/lots/{LOT}/release", data=_form(token, test__CD73="80"))
    assert r.status_code == 200 and f"Lot {LOT} rejected (failed: CD73)." in r.text
    assert 'id="lot-status">rejected<' in r.text and r.text.count('class="fail"') == 1


def test_bad_results_are_refused_next_to_their_field(app: Any, web_world: World) -> None:
    _registered(web_world)
    lab = _browser(app, web_world, "cell_lab", "ALL")
    token = _csrf(lab.get(f"/lots/{LOT}").text)
    before = snapshot(web_world.db)
    r = lab.post(f"/lots/{LOT}/release",
                 data=_form(token, test__CD73="lots", test__viability="",
                            test__sterility="maybe", note="kept"))
    assert r.status_code == 422
    cd73 = _field(r.text, "CD73")
    assert 'class="field-error" data-for="CD73"' in cd73
    assert "not a result of this test" in cd73 and "&#39;lots&#39;" in cd73  # the value
    assert "a percentage 0-100" in cd73  # and what is allowed
    assert 'value="lots"' in cd73  # kept for correction
    assert "release test result missing" in _field(r.text, "viability")
    assert "negative, positive" in _field(r.text, "sterility")
    assert "field-error" not in _field(r.text, "CD90")
    assert 'value="kept"' in r.text and PASSWORD not in r.text  # never echoed
    assert snapshot(web_world.db) == before  # nothing changed
    # an unknown test code (not a field of the form) is shown on top
    r = lab.post(f"/lots/{LOT}/release", data=_form(token, test__CD19="0.1"))
    assert r.status_code == 422 and 'role="alert">CD19: not a release test' in r.text
    # a wrong password: 403, next to the password field, nothing recorded
    r = lab.post(f"/lots/{LOT}/release", data=_form(token, password="wrong password"))
    assert r.status_code == 403
    assert 'data-for="password">password: re-authentication' in r.text
    assert snapshot(web_world.db) == before
    assert 'id="lot-status">quarantine<' in lab.get(f"/lots/{LOT}").text


def test_release_of_a_decided_lot_is_a_conflict(app: Any, web_world: World) -> None:
    released_lot(web_world, LOT)
    lab = _browser(app, web_world, "cell_lab", "ALL")
    page = lab.get(f"/lots/{LOT}")
    before = snapshot(web_world.db)
    r = lab.post(f"/lots/{LOT}/release", data=_form(_csrf(page.text)))
    assert r.status_code == 409 and 'role="alert">lot_number: lot' in r.text
    assert snapshot(web_world.db) == before
    assert lab.get("/lots/LOT-NONE").status_code == 404


@pytest.mark.parametrize("role", [r for r in ROLES if r != "cell_lab"])
def test_other_roles_get_403_and_see_nothing_of_the_lot(app: Any, web_world: World,
                                                        role: str) -> None:
    _registered(web_world, donor_code="DONOR-SECRET")
    client = _browser(app, web_world, role, "ALL" if role == "admin" else "S01")
    dash = client.get("/dashboard")
    assert f'href="/lots/{LOT}"' not in dash.text and 'href="/lots"' not in dash.text
    page = client.get(f"/lots/{LOT}")
    assert page.status_code == 403
    assert "DONOR-SECRET" not in page.text and "release-form" not in page.text
    before = snapshot(web_world.db)
    r = client.post(f"/lots/{LOT}/release", data=_form(_csrf(dash.text)))
    assert r.status_code == 403 and "DONOR-SECRET" not in r.text
    assert snapshot(web_world.db) == before


def test_release_needs_the_csrf_token(app: Any, web_world: World) -> None:
    _registered(web_world)
    lab = _browser(app, web_world, "cell_lab", "ALL")
    good = _csrf(lab.get(f"/lots/{LOT}").text)
    before = snapshot(web_world.db)
    for token in (None, "", "0" * 64, good[:-1] + ("0" if good[-1] != "0" else "1")):
        data = _form(good)
        if token is None:
            del data["csrf_token"]
        else:
            data["csrf_token"] = token
        assert lab.post(f"/lots/{LOT}/release", data=data).status_code == 403
    # another session's token (same user) does not work either
    other = _csrf(_browser(app, web_world, "cell_lab", "ALL").get(f"/lots/{LOT}").text)
    assert lab.post(f"/lots/{LOT}/release", data=_form(other)).status_code == 403
    assert snapshot(web_world.db) == before
    r = lab.post(f"/lots/{LOT}/release", data=_form(good), follow_redirects=False)
    assert r.status_code == 303


def test_free_text_is_escaped(app: Any, web_world: World) -> None:
    number = "LOT-<9>"
    _registered(web_world, number, donor_code=XSS)
    lab = _browser(app, web_world, "cell_lab", "ALL")
    lots = lab.get("/lots")
    assert 'href="/lots/LOT-%3C9%3E"' in lots.text
    page = lab.get("/lots/LOT-%3C9%3E")
    assert page.status_code == 200 and "<script>alert" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "Lot LOT-&lt;9&gt;" in page.text and 'action="/lots/LOT-%3C9%3E/release"' in page.text
    r = lab.post("/lots/LOT-%3C9%3E/release",
                 data=_form(_csrf(page.text), test__CD73=XSS, meaning=XSS, note=XSS))
    assert r.status_code == 422 and "<script>alert" not in r.text
    assert r.text.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 4  # donor, value, texts
    r = lab.post("/lots/LOT-%3C9%3E/release",
                 data=_form(_csrf(page.text), meaning=f"approved {XSS}"))
    assert r.status_code == 200 and "<script>alert" not in r.text
    assert "approved &lt;script&gt;alert(1)&lt;/script&gt;" in r.text


def test_chain_of_identity_follows_the_cell_labs_sites(app: Any, web_world: World) -> None:
    lab = web_world.ctx(Role.CELL_LAB, "ALL")
    released_lot(web_world, LOT)
    given = {}
    for site in ("S01", "S02"):
        code = subjects_by_arm(web_world, site)["transplant"]
        record_administration(web_world.db, lab, code, adm_items(web_world, LOT))
        given[site] = code
    everywhere = _browser(app, web_world, "cell_lab", "ALL").get(f"/lots/{LOT}").text
    assert given["S01"] in everywhere and given["S02"] in everywhere
    own = _browser(app, web_world, "cell_lab", "S01").get(f"/lots/{LOT}")
    assert own.status_code == 200
    assert given["S01"] in own.text and given["S02"] not in own.text
