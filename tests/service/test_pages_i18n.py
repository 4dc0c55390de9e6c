"""Every operator page, every kiosk page and the generated documents, in Chromium, in
English and in Chinese (the browser's language, ``Accept-Language``): each page is in the
language asked for (``<html lang>``; in zh-CN none of the English messages of the
templates is left, in English no Chinese character), and no table is wider than its card.

A screenshot of each page in each language is saved under pytest's temporary folder
(``screenshots-*``) and, when ``FACEGUARD_ARTEFACTS`` names a folder, there too."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from test_service_browser import (  # noqa: F401  (fixtures used by name)
    PURPOSE,
    Browsing,
    Service,
    browsing,
    log_in,
    playwright,
    site,
)

from faceguard import Faceguard, i18n

TEMPLATES = Path(__file__).resolve().parents[2] / "src" / "faceguard" / "templates"
CJK = re.compile(r"[\u4e00-\u9fff]")
VIEWPORT = {"width": 1024, "height": 800}

#: The page's text without the parts marked ``lang="en"`` (and scripts: a detached copy's
#: text includes them).
WITHOUT_ENGLISH = """() => {
  const body = document.body.cloneNode(true);
  body.querySelectorAll('[lang="en"], script, style').forEach(e => e.remove());
  return body.innerText;
}"""

#: Tables wider than their card (or than the page), by JavaScript in the page.
OVERFLOWS = """() => {
  const out = [];
  if (document.documentElement.scrollWidth > document.documentElement.clientWidth + 1)
    out.push('the page scrolls sideways');
  for (const table of document.querySelectorAll('table')) {
    const box = table.closest('section.card') || table.closest('main') || document.body;
    const right = table.getBoundingClientRect().right, edge = box.getBoundingClientRect().right;
    if (box.scrollWidth > box.clientWidth + 1 || right > edge + 1)
      out.push(`${table.className || 'table'} ${table.scrollWidth}px in ${box.clientWidth}px`);
  }
  return out;
}"""


def english_messages() -> list[str]:
    """Pieces of three words or more of the pages' English messages (between their
    placeholders) that the catalogue translates: none may show on a Chinese page."""
    catalogue = i18n.translations("zh-CN")
    assert catalogue is not None
    pieces: set[str] = set()
    for *_where, message, _comments, _context in extract_from_dir(
            str(TEMPLATES), method_map=[("**.html", "jinja2")],
            options_map={"**.html": {"extensions": "jinja2.ext.i18n"}}):
        for text in (message if isinstance(message, tuple) else (message,)):
            if catalogue.gettext(text) == text:
                continue
            for piece in re.split(r"%\(\w+\)[sdr]", text):
                piece = piece.strip(" .,:;()")
                if len(piece.split()) >= 3:
                    pieces.add(piece)
    assert len(pieces) > 100
    return sorted(pieces)


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Path]]:
    made: list[Path] = []
    yield made
    target = os.environ.get("FACEGUARD_ARTEFACTS")
    if target:
        folder = Path(target) / "pages"
        folder.mkdir(parents=True, exist_ok=True)
        for path in made:
            shutil.copy2(path, folder / path.name)


class Checker:
    """Saves a screenshot of a page and checks its language and its tables."""

    def __init__(self, folder: Path, shots: list[Path], language: str) -> None:
        self.folder, self.shots, self.language = folder, shots, language
        self.english = english_messages() if language == "zh-CN" else []
        self.seen: list[str] = []

    def __call__(self, page: object, name: str) -> None:
        page.wait_for_load_state()  # type: ignore[attr-defined]
        path = self.folder / f"{self.language}-{name}.png"
        page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
        self.shots.append(path)
        self.seen.append(name)
        assert page.get_attribute("html", "lang") == self.language, name  # type: ignore[attr-defined]
        # what the page marks as English (texts written in code: route summaries, a
        # refusal's detail) is left out; everything else must be in the page's language
        text = page.evaluate(WITHOUT_ENGLISH if self.language != "en" else  # type: ignore[attr-defined]
                             "() => document.body.innerText")
        if self.language == "zh-CN":
            assert CJK.search(text), f"{name}: no Chinese"
            left = [m for m in self.english if m in text]
            assert left == [], f"{name}: English left on the Chinese page: {left}"
        else:
            assert CJK.search(text) is None, f"{name}: Chinese on the English page"
        assert page.evaluate(OVERFLOWS) == [], name  # type: ignore[attr-defined]


def populate(fg: Faceguard, face: list[Path]) -> str:
    """People, consents, an erasure, a decision under review: every table has rows."""
    fg.consent.grant("resident-21", PURPOSE, name="Chen Jie", method="written",
                     evidence="paper form 21, binder 3", language="zh-CN")
    fg.consent.grant("resident-21", "attendance", name="Chen Jie", method="click",
                     evidence="kiosk 2", language="en")
    fg.enroll("resident-21", [face[0].read_bytes()], PURPOSE)
    decision = fg.verify("resident-21", face[1].read_bytes(), PURPOSE)
    fg.rights.request_review(decision.audit_seq, "The gate did not open for me this morning.")
    fg.consent.grant("resident-22", PURPOSE, name="Liu Yang", method="click", evidence="k")
    fg.rights.erase("resident-22", reason="the person asked at the front desk")
    subject = fg.rights.export("resident-21").subject_id
    return str(subject)


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_every_page_in_both_languages(browsing: Browsing,  # noqa: F811
                                      site: tuple[Service, str],  # noqa: F811
                                      fg: Faceguard, language: str, shots: list[Path],
                                      tmp_path_factory: pytest.TempPathFactory) -> None:
    service, url = site
    subject = populate(fg, browsing.face)
    check = Checker(tmp_path_factory.mktemp(f"screenshots-{language}"), shots, language)
    context = browsing.browser.new_context(locale=language, viewport=VIEWPORT)
    page = context.new_page()
    page.goto(f"{url}/-/login")
    check(page, "login")
    page.goto(f"{url}/-/problems")
    check(page, "problems")
    log_in(page, url, service.secrets["admin"], "/dashboard")
    check(page, "dashboard")
    for name, path in (("people", "/subjects"), ("person", f"/subjects/{subject}"),
                       ("record", "/record"), ("reports", "/reports"),
                       ("reviews", "/reviews"), ("keys", "/keys"), ("api-docs", "/-/docs"),
                       ("error-not-found", "/subjects/" + "0" * 32),
                       ("assessment-dpo", "/assessment"),
                       ("assessment", "/api/v1/reports/assessment?format=html"),
                       ("protection", "/api/v1/reports/protection?format=html")):
        page.goto(url + path)
        check(page, name)
    person = page.context.request.get(f"{url}/subjects/{subject}.json").json()
    languages = {c["purpose"]: c["language"] for c in person["consents"]}
    assert languages == {PURPOSE: "zh-CN", "attendance": "en"}
    context.close()
    # the kiosk, without JavaScript (the file input): start, notice and consent, photo,
    # outcome; then a person who declines
    context = browsing.browser.new_context(locale=language, viewport=VIEWPORT,
                                           java_script_enabled=False)
    page = context.new_page()
    log_in(page, url, service.secrets["operator"], "/enroll")
    check(page, "operator-enroll")
    page.goto(f"{url}/try")
    check(page, "operator-try")
    page.goto(f"{url}/kiosk")
    check(page, "kiosk-1-start")
    page.fill("#external_id", "resident-30")
    page.fill("#name", "Zhou Min")
    page.click("button[type=submit]")
    page.wait_for_url("**/kiosk/consent")
    check(page, "kiosk-2-notice-and-consent")
    page.check(f'input[name="consent-{PURPOSE}"][value="agree"]')
    page.check('input[name="consent-attendance"][value="decline"]')
    page.click("#consent-form button[type=submit]")
    check(page, "kiosk-3-photo")
    page.set_input_files("#image", str(browsing.face[0]))
    page.click("#capture-form button[type=submit]")
    page.wait_for_selector("#outcome-ok")
    check(page, "kiosk-4-enrolled")
    page.goto(f"{url}/kiosk")
    page.fill("#external_id", "visitor-31")
    page.fill("#name", "Xu Lan")
    page.click("button[type=submit]")
    page.check(f'input[name="consent-{PURPOSE}"][value="decline"]')
    page.check('input[name="consent-attendance"][value="decline"]')
    page.click("#consent-form button[type=submit]")
    page.wait_for_selector("#declined-message")
    check(page, "kiosk-5-declined")
    context.close()
    assert [c["language"] for c in fg.rights.export("resident-30").consents] == [language]
    assert len(check.seen) == 21
