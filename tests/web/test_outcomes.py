"""The study outcome page: per-arm plots only where the analysis data sets are unblinded
(a study-wide export role on a locked study), pooled for blinded export roles after the
lock, nothing before it, and refused to the roles that may not export. The HTML is scanned
for every word that names an arm."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from analysis.record_trial import ARM_WORDS, CELLS, COMPARATOR, RecordedFiles, recorded_files
from strokecell.store import make_engine
from strokecell.web import create_app

from .conftest import PASSWORD, STUDY, settings


@pytest.fixture(scope="module")
def recorded(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory,
             ) -> RecordedFiles:
    return recorded_files(sqlite_template, tmp_path_factory.mktemp("recorded"))


def _db(recorded: RecordedFiles, tmp_path: Path, *, locked: bool) -> Iterator[Engine]:
    path = tmp_path / "copy.sqlite"
    shutil.copyfile(recorded.locked if locked else recorded.unlocked, path)
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


@pytest.fixture
def locked_app(recorded: RecordedFiles, tmp_path: Path) -> Iterator[Any]:
    for engine in _db(recorded, tmp_path, locked=True):
        yield create_app(settings(), engine)


@pytest.fixture
def unlocked_app(recorded: RecordedFiles, tmp_path: Path) -> Iterator[Any]:
    for engine in _db(recorded, tmp_path, locked=False):
        yield create_app(settings(), engine)


def _browser(app: Any, role: str, site: str) -> TestClient:
    client = TestClient(app)
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert found
    r = client.post("/login", data={"csrf_token": found.group(1),
                                    "username": f"{role}.{site.lower()}", "password": PASSWORD,
                                    "study_code": STUDY, "role": role},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    return client


def _arm_words(html: str) -> set[str]:
    return {w for w in ARM_WORDS if w.lower() in html.lower()}


def test_unblinded_statistician_sees_arms_after_the_lock(locked_app: Any) -> None:
    page = _browser(locked_app, "statistician", "ALL").get("/outcomes")
    assert page.status_code == 200, page.text
    assert 'href="/outcomes"' in page.text  # in the navigation
    assert {CELLS, COMPARATOR} <= _arm_words(page.text)
    assert 'id="outcome-MBI"' in page.text and "<svg" in page.text
    assert "95% CI" in page.text and "Modified Barthel" in page.text
    # no inline style (the Content-Security-Policy would ignore it): presentation attributes
    assert "<style" not in page.text and 'style="' not in page.text


def test_blinded_export_role_sees_pooled_plots_after_the_lock(locked_app: Any) -> None:
    page = _browser(locked_app, "statistician", "S01").get("/outcomes")
    assert page.status_code == 200, page.text
    assert _arm_words(page.text) == set()
    assert "all arms pooled" in page.text and 'id="outcome-MBI"' in page.text


def test_blinded_export_role_sees_nothing_before_the_lock(unlocked_app: Any) -> None:
    page = _browser(unlocked_app, "statistician", "ALL").get("/outcomes")
    assert page.status_code == 200, page.text
    assert _arm_words(page.text) == set()
    assert 'id="outcomes-hidden"' in page.text and "<svg" not in page.text


@pytest.mark.parametrize(("role", "site"), [("investigator", "S01"), ("cell_lab", "ALL")])
def test_roles_that_may_not_export_are_refused(locked_app: Any, role: str, site: str) -> None:
    client = _browser(locked_app, role, site)
    page = client.get("/outcomes")
    assert page.status_code == 403
    if role != "cell_lab":  # the cell lab knows the arms, but gets no outcome plots here
        assert _arm_words(page.text) == set()
    assert 'href="/outcomes"' not in client.get("/dashboard").text
