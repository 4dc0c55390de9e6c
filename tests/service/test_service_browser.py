"""The pages in a real browser: Debian's Chromium, headless, driven by Playwright.

- an enrollment at the kiosk, the face captured from Chromium's fake camera fed with a .y4m
  made here from a real face image;
- the same without JavaScript, with the file input;
- a declined consent showing the alternatives, and not asked again;
- an admin erasing a person, and the record page showing the erasure and a verified chain.

Screenshots go to test-artifacts/service/. Without /usr/bin/chromium these tests skip.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from faceguard import Faceguard
from faceguard.engine.dlib_engine import DlibEngine
from test_service_support import (
    ARTIFACTS,
    Service,
    good_faces,
    live_server,
    make_service,
    write_y4m,
)

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
SHOTS = ARTIFACTS / "service"
PURPOSE = "access-control"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists() or shutil.which("chromium") is None,
    reason="Debian's Chromium is not installed at /usr/bin/chromium (apt-get install -y "
           "chromium); the browser tests are skipped")

sync_api = pytest.importorskip("playwright.sync_api")


@dataclass
class Browsing:
    browser: sync_api.Browser
    face: list[Path]


@pytest.fixture(scope="module")
def browsing(engine: DlibEngine, lfw: Path, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[Browsing]:
    face = good_faces(engine, lfw, 1)[0]
    video = write_y4m(face[0], tmp_path_factory.mktemp("camera") / "face.y4m")
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[*ARGS, f"--use-file-for-fake-video-capture={video}"])
        yield Browsing(browser, face)
        browser.close()


@pytest.fixture()
def site(fg: Faceguard) -> Iterator[tuple[Service, str]]:
    service = make_service(fg)
    with live_server(service.app) as url:
        yield service, url


def log_in(page: sync_api.Page, url: str, key: str, then: str) -> None:
    page.goto(f"{url}/-/login?next={then}")
    page.fill("#key", key)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}{then}")


def shot(page: sync_api.Page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def start_kiosk(page: sync_api.Page, external_id: str, name: str) -> None:
    page.fill("#external_id", external_id)
    page.fill("#name", name)
    page.click("text=Continue")
    page.wait_for_url("**/kiosk/consent")


def test_kiosk_enrollment_with_the_camera(browsing: Browsing, site: tuple[Service, str],
                                          fg: Faceguard) -> None:
    service, url = site
    context = browsing.browser.new_context(viewport={"width": 1000, "height": 900})
    page = context.new_page()
    log_in(page, url, service.secrets["operator"], "/kiosk")
    assert page.is_visible("#alternatives")
    assert not page.is_checked("#under_14")
    shot(page, "kiosk-1-start")
    start_kiosk(page, "resident-12b", "Li Wei")
    agree = f'input[name="consent-{PURPOSE}"][value="agree"]'
    assert not page.is_checked(agree)
    assert not page.is_checked('input[name="consent-attendance"][value="decline"]')
    page.check(agree)
    page.check('input[name="consent-attendance"][value="decline"]')
    shot(page, "kiosk-2-notice-and-consent")
    page.click("text=Confirm my choices")
    page.wait_for_selector("#take-photo:not([hidden]):not([disabled])", timeout=15_000)
    assert "Camera ready" in page.inner_text("#camera-status")
    shot(page, "kiosk-3-camera")
    page.click("#take-photo")
    page.wait_for_selector("#outcome-ok", timeout=30_000)
    text = page.inner_text("main")
    assert "Your photo was not kept" in text and "access control" in text
    shot(page, "kiosk-4-enrolled")
    context.close()
    # the camera frame was enrolled: another photo of the same person is identified
    found = fg.identify(browsing.face[1].read_bytes(), PURPOSE)
    assert (found.decision, found.external_id) == ("match", "resident-12b")
    consents = fg.export("resident-12b").consents
    assert [(c["purpose"], c["method"]) for c in consents] == [(PURPOSE, "click")]


def test_kiosk_without_javascript_uses_the_file_input(browsing: Browsing,
                                                      site: tuple[Service, str],
                                                      fg: Faceguard) -> None:
    service, url = site
    context = browsing.browser.new_context(java_script_enabled=False)
    page = context.new_page()
    log_in(page, url, service.secrets["operator"], "/kiosk")
    start_kiosk(page, "resident-7", "Wang Fang")
    page.check(f'input[name="consent-{PURPOSE}"][value="agree"]')
    page.check('input[name="consent-attendance"][value="agree"]')
    page.click("text=Confirm my choices")
    page.set_input_files("#image", str(browsing.face[0]))
    page.click("text=Send the photo")
    page.wait_for_selector("#outcome-ok")
    shot(page, "kiosk-no-javascript-enrolled")
    context.close()
    assert fg.stats()["templates"] == {PURPOSE: 1, "attendance": 1}


def test_a_declined_consent_shows_the_alternatives(browsing: Browsing,
                                                   site: tuple[Service, str],
                                                   fg: Faceguard) -> None:
    service, url = site
    context = browsing.browser.new_context()
    page = context.new_page()
    log_in(page, url, service.secrets["operator"], "/kiosk")
    start_kiosk(page, "visitor-3", "Zhao Lei")
    page.check(f'input[name="consent-{PURPOSE}"][value="decline"]')
    page.check('input[name="consent-attendance"][value="decline"]')
    page.click("text=Confirm my choices")
    page.wait_for_selector("#declined-message")
    alternatives = page.inner_text("#alternatives")
    assert "resident card" in alternatives
    shot(page, "kiosk-declined-alternatives")
    page.click("text=Done")
    start_kiosk(page, "visitor-3", "Zhao Lei")
    assert "You said no before" in page.inner_text("h1")
    assert page.locator('input[type="radio"]').count() == 0
    shot(page, "kiosk-declined-not-asked-again")
    context.close()
    assert len(fg.store.audit.events(operation="consent.declined")) == 2


def test_an_admin_erases_a_person_and_the_record_shows_it(browsing: Browsing,
                                                          site: tuple[Service, str],
                                                          fg: Faceguard) -> None:
    service, url = site
    fg.grant_consent("resident-5", PURPOSE, name="Sun Mei", method="written", evidence="f-5")
    fg.enroll("resident-5", [browsing.face[0].read_bytes()], PURPOSE)
    context = browsing.browser.new_context(viewport={"width": 1300, "height": 900})
    page = context.new_page()
    log_in(page, url, service.secrets["admin"], "/dashboard")
    assert "PASS" in page.inner_text("#check") and "1" in page.inner_text("#filing .people")
    shot(page, "admin-0-dashboard")
    page.click("nav >> text=People")
    page.click("text=Sun Mei")
    page.wait_for_selector("#erase")
    shot(page, "admin-1-person")
    page.click("text=Erase now")
    page.wait_for_url("**/record?certificate=*")
    assert "Erased. Deletion certificate" in page.inner_text("#erased")
    assert "CHAIN VERIFIED" in page.inner_text("#verification")
    newest = page.locator("table.events tbody tr").first
    assert "subject.erased" in newest.inner_text()
    shot(page, "admin-2-record-after-erasure")
    context.close()
    assert fg.people_enrolled() == 0 and fg.verify_audit().ok
