"""End-to-end in a real browser: Playwright driving Debian's Chromium (never
``playwright install``) against ``strokecell serve`` started by the test on a free loopback
port over a SQLite file.

Sign in, screen and enrol, randomize (the coordinator is blinded: no arm anywhere), enter
a modified Barthel form with one off-grid value that the server refuses next to its item,
save, see the running and the engine's total, edit with a reason (the page asks for one),
see the audit entry as a monitor; a blinded assessor sees no arm, the cell lab does.
Screenshots of the main pages go to ``$STROKECELL_SCREENSHOTS`` (default: a temp dir).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from strokecell.store import make_engine
from strokecell.trial import randomize, save_form

from ._server import Server
from .conftest import MBI_0, MBI_45, PASSWORD, SECRET, STUDY, World, build_web_world

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
ARMS = ("transplant", ">control<", "Routine rehabilitation")

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason="needs Debian's chromium: scripts/ensure-system-deps.sh")
sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory,
           sqlite_template: Path) -> Iterator[tuple[str, World]]:
    folder = tmp_path_factory.mktemp("browser")
    path = folder / "trial.sqlite"
    shutil.copyfile(sqlite_template, path)
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    world = build_web_world(engine)
    for site, n in (("S01", 3), ("S02", 2)):  # some history for the dashboard
        for i in range(n):
            code = world.enrol_one(site, mbi=MBI_45 if i % 2 else MBI_0)
            randomize(engine, world.ctx("coordinator", site), code)
    for role, site in (("coordinator", "S01"), ("monitor", "S01"),
                       ("blinded_assessor", "S01"), ("cell_lab", "S01")):
        world.ctx(role, site)
    engine.dispose()
    # Two worker processes: the pages must work whichever process answers a request.
    server = Server(url, folder / "server.log", secret=SECRET, workers=2, ready_within_s=30)
    try:
        yield server.base, world
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = os.environ.get("STROKECELL_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _sign_in(browser: Any, base: str, world: World, role: str) -> Any:
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.goto(f"{base}/login")
    page.fill("input[name=study_code]", STUDY)
    page.fill("input[name=username]", world.users[(role, "S01")])
    page.fill("input[name=password]", PASSWORD)
    page.select_option("select[name=role]", role)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/dashboard")
    return page


def test_coordinator_day(served: tuple[str, World], browser: Any, shots: Path) -> None:
    base, world = served
    page = _sign_in(browser, base, world, "coordinator")
    assert "Enrolment by site" in page.content()
    page.screenshot(path=str(shots / "dashboard-blinded.png"), full_page=True)

    # screening and enrolment
    page.click("text=Screen a patient")
    onset = (datetime.now(UTC) - timedelta(days=12)).replace(microsecond=0)
    page.fill("input[name=screening_number]", "BR-0001")
    page.fill("input[name=age_years]", "61")
    page.select_option("select[name=stroke_type]", "intracerebral_haemorrhage")
    page.fill("input[name=stroke_onset_at]", onset.isoformat())
    page.fill("input[name=consent_date]", datetime.now(UTC).date().isoformat())
    for item, value in MBI_45.items():
        page.select_option(f"select[name=sev__mbi__{item}]", str(value))
    page.check("input[name=inc_0]")
    page.screenshot(path=str(shots / "screening.png"), full_page=True)
    page.click("button:has-text('Screen')")
    page.wait_for_url(f"{base}/screenings/BR-0001")
    assert page.inner_text("#outcome") == "eligible"
    page.select_option("select[name=stratum__baseline_mbi]", "gt_40")
    page.click("#enrol")
    page.wait_for_url(f"{base}/subjects/*")
    code = page.url.rsplit("/", 1)[1]
    assert code.startswith(f"{STUDY}-S01-")

    # randomization: the button is there, the coordinator (blinded) sees no arm
    page.click("#randomize")
    page.wait_for_selector(".flash")
    assert "randomized #" in page.inner_text(".flash")
    assert page.inner_text("#allocation").startswith("randomized #")
    assert not any(arm in page.content() for arm in ARMS)
    assert page.locator("#randomize").count() == 0

    # the modified Barthel index at baseline
    page.click(f"a[href='/subjects/{code}/forms/mbi?visit_code=baseline']")
    page.wait_for_selector("#entry-form")
    # one off-grid attempt: 7 is not on the feeding grid (0, 2, 5, 8, 10)
    page.evaluate("""() => { const s = document.querySelector('select[name=item__feeding]');
        s.options[4].value = '7'; s.value = '7'; }""")
    page.click("#save")
    page.wait_for_selector("#field-feeding .field-error")
    assert "off the grid" in page.inner_text("#field-feeding .field-error")
    assert page.inner_text("#form-status") == "not started"  # nothing saved
    for item, value in {**MBI_45, "ambulation": 0}.items():
        page.select_option(f"select[name=item__{item}]", str(value))
    assert page.inner_text("output.live-total").startswith("45 ")
    page.click("#save")
    page.wait_for_selector(".flash")
    assert "MBI = 45" in page.inner_text(".flash")
    assert page.inner_text("#form-status") == "complete"
    assert page.inner_text("dd.derived[data-param=MBI]") == "45"
    page.screenshot(path=str(shots / "form-mbi.png"), full_page=True)

    # edit: the page asks for a reason before it sends the change
    page.select_option("select[name=item__bathing]", "1")
    assert page.inner_text("output.live-total").startswith("46 ")
    page.click("#save")
    assert page.is_visible("#reason-prompt")
    page.fill("#reason", "transcription error")
    page.click("#save")
    page.wait_for_selector(".flash")
    assert "MBI = 46" in page.inner_text(".flash")
    page.goto(f"{base}/subjects/{code}")
    page.screenshot(path=str(shots / "subject.png"), full_page=True)
    page.context.close()

    # the audit entry, as a monitor
    monitor = _sign_in(browser, base, world, "monitor")
    monitor.goto(f"{base}/subjects/{code}/forms/mbi/audit?visit_code=baseline")
    rows = monitor.locator("#audit tbody tr", has_text="transcription error")
    assert rows.count() >= 1
    text = monitor.inner_text("#audit")
    assert "bathing" in text and "coordinator.s01" in text
    monitor.screenshot(path=str(shots / "audit.png"), full_page=True)
    monitor.context.close()

    # a blinded assessor sees no arm; the cell lab (unblinded) does
    assessor = _sign_in(browser, base, world, "blinded_assessor")
    for url in ("/dashboard", "/subjects", f"/subjects/{code}"):
        assessor.goto(base + url)
        assert not any(arm in assessor.content() for arm in ARMS), url
    assert assessor.inner_text("#allocation").startswith("randomized #")
    assert assessor.locator("#randomize").count() == 0  # not a role that randomizes
    assessor.context.close()
    lab = _sign_in(browser, base, world, "cell_lab")
    lab.goto(f"{base}/subjects/{code}")
    assert lab.inner_text("#allocation") in ("transplant", "control")
    lab.goto(f"{base}/dashboard")
    lab.screenshot(path=str(shots / "dashboard-unblinded.png"), full_page=True)
    lab.context.close()


def test_scores_plot_and_errors_next_to_items(served: tuple[str, World], browser: Any,
                                              shots: Path) -> None:
    base, world = served
    code = world.enrol_one("S01", mbi=MBI_45)
    save_form(world.db, world.ctx("coordinator", "S01"), code, "mbi",
              {**MBI_45, "ambulation": 0}, visit_code="baseline")
    page = _sign_in(browser, base, world, "coordinator")
    page.goto(f"{base}/subjects/{code}")
    assert page.locator("svg.plot").count() == 1
    page.goto(f"{base}/subjects/{code}/forms/baseline_stroke?visit_code=baseline")
    page.fill("input[name=item__age_years]", "two hundred")
    page.fill("input[name=item__gcs_eye]", "9")
    page.click("#save")
    page.wait_for_selector("#field-gcs_eye .field-error")
    assert "out of range" in page.inner_text("#field-gcs_eye .field-error")
    assert "whole number" in page.inner_text("#field-age_years .field-error")
    page.context.close()

