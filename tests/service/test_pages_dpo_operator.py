"""The DPO's assessment pages and the operator's face pages, in Debian's Chromium (Playwright)
against a real service, and their refusals through the test client.

- the DPO drafts the assessment, is refused approval (R10) while sections are left, writes
  each section in the page, approves, and downloads the PDF (read back with pypdf);
- an operator enrolls a person from real photos (LFW) with the consent evidence, and the
  try page identifies them (``match``) and verifies them, showing the terminal's JSON and
  the event recorded;
- a picture holding two faces: the page draws both boxes, the operator clicks the right
  one, and that person (not the other) is enrolled.

Screenshots go to test-artifacts/pages/. Without /usr/bin/chromium the browser tests skip.
"""

from __future__ import annotations

import html
import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from faceguard import Faceguard
from faceguard.engine.dlib_engine import DlibEngine
from test_service_support import ARTIFACTS, Service, good_faces, live_server, make_service

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = ARTIFACTS / "pages"
PURPOSE = "access-control"
browser_only = pytest.mark.skipif(
    not CHROMIUM.exists() or shutil.which("chromium") is None,
    reason="Debian's Chromium is not installed at /usr/bin/chromium (apt-get install -y "
           "chromium); the browser tests are skipped")


@pytest.fixture(scope="module")
def people(engine: DlibEngine, lfw: Path) -> list[list[Path]]:
    """Two LFW people with three clean pictures each."""
    return good_faces(engine, lfw, 2, per_person=3)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    sync_api = pytest.importorskip("playwright.sync_api")
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as running:
        launched = running.chromium.launch(
            executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox", "--disable-gpu"])
        yield launched
        launched.close()


@pytest.fixture()
def site(fg: Faceguard) -> Iterator[tuple[Service, str]]:
    service = make_service(fg)
    with live_server(service.app) as url:
        yield service, url


def log_in(page: object, url: str, key: str, then: str) -> None:
    page.goto(f"{url}/-/login?next={then}")  # type: ignore[attr-defined]
    page.fill("#key", key)  # type: ignore[attr-defined]
    page.click("button[type=submit]")  # type: ignore[attr-defined]
    page.wait_for_url(f"{url}{then}")  # type: ignore[attr-defined]


def side_by_side(left: Path, right: Path, folder: Path) -> Path:
    """A picture holding two real faces: ``left``'s photo beside ``right``'s."""
    a, b = Image.open(left).convert("RGB"), Image.open(right).convert("RGB")
    canvas = Image.new("RGB", (a.width + b.width, max(a.height, b.height)), "white")
    canvas.paste(a, (0, 0))
    canvas.paste(b, (a.width, 0))
    path = folder / "two-faces.jpg"
    canvas.save(path, quality=95)
    return path


# ---- in Chromium ------------------------------------------------------------------------


@browser_only
def test_the_dpo_drafts_writes_approves_and_downloads(browser: object,
                                                      site: tuple[Service, str],
                                                      fg: Faceguard) -> None:
    service, url = site
    context = browser.new_context(viewport={"width": 1100, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    log_in(page, url, service.secrets["admin"], "/assessment")
    # the assessment in force is replaced only once the DPO confirms it
    page.click("#draft")
    assert page.url == f"{url}/assessment" and fg.governance.facts().assessment.approved
    page.check("#confirm-draft")
    page.click("#draft")
    page.wait_for_url(f"{url}/assessment?done=drafted")
    pending = fg.governance.assessment().pending
    assert pending, "a new draft over an approved assessment leaves the DPO's texts to review"
    assert "not in force" in page.inner_text("#state")
    page.screenshot(path=str(SHOTS / "assessment-1-drafted.png"), full_page=True)
    # approval is refused while sections are left, on the page, with the rule
    page.click("#approve-button")
    assert "R10" in page.inner_text("#refusal") and pending[0] in page.inner_text("#refusal")
    page.screenshot(path=str(SHOTS / "assessment-2-refused.png"), full_page=True)
    for key in pending:
        page.fill(f"#text-{key}", f"The DPO weighed {key} for the gate: acceptable.")
        page.click(f"#section-{key} button[type=submit]")
        page.wait_for_url(f"{url}/assessment?done=saved#section-{key}")
    assert fg.governance.assessment().pending == []
    page.fill("#by", "Mei Chen (DPO)")
    page.click("#approve-button")
    page.wait_for_url(f"{url}/assessment?done=approved")
    assert "approved by Mei Chen (DPO)" in page.inner_text("#state-detail")
    page.screenshot(path=str(SHOTS / "assessment-3-approved.png"), full_page=True)
    with page.expect_download() as download:
        page.click("#assessment-pdf")
    pdf = Path(download.value.path()).read_bytes()
    context.close()
    from pypdf import PdfReader

    text = " ".join((p.extract_text() or "") for p in PdfReader(io.BytesIO(pdf)).pages)
    flat = " ".join(text.split())
    assert f"The DPO weighed {pending[0]} for the gate" in flat
    assert "Mei Chen (DPO)" in flat
    assert fg.governance.facts().assessment.approved
    edits = fg.audit.events(operations=("assessment.edited",), limit=50)
    assert sorted(e["detail"]["section"] for e in edits) == sorted(pending)


@browser_only
def test_an_operator_enrolls_from_photos_and_the_try_page_matches(
        browser: object, site: tuple[Service, str], fg: Faceguard,
        people: list[list[Path]]) -> None:
    service, url = site
    photos = people[0]
    context = browser.new_context(viewport={"width": 1100, "height": 1000})  # type: ignore[attr-defined]
    page = context.new_page()
    log_in(page, url, service.secrets["operator"], "/enroll")
    page.fill("#external_id", "resident-3a")
    page.fill("#name", "Liu Yang")
    page.select_option("#purpose", PURPOSE)
    page.select_option("#language", "zh-CN")
    page.select_option("#method", "signature")
    page.fill("#evidence", "signed form 2026-118, binder 4")
    page.set_input_files("#image", [str(photos[0]), str(photos[1])])
    # both photos' faces come back (in either order)
    page.locator("#previews figure[data-faces]").nth(1).wait_for()
    assert page.locator("#photo-1 .box").count() == 1
    page.click("#enroll-button")
    page.wait_for_selector("#enrolled")
    page.screenshot(path=str(SHOTS / "enroll-photos.png"), full_page=True)
    answer = json.loads(page.inner_text("#result-json"))
    assert len(answer["enrollment"]["template_ids"]) == 2
    assert "template.enrolled" in page.inner_text("table.events")
    consent = fg.rights.export("resident-3a").consents[0]
    assert consent["method"] == "signature"
    assert "signed form 2026-118" in consent["evidence_ref"]
    assert "operator holder" in consent["evidence_ref"]
    assert "read in zh-CN" in consent["evidence_ref"]
    assert consent["language"] == "zh-CN"  # the consent record names it, not only the text
    # the try page: identify, then verify, on a third picture
    page.goto(f"{url}/try")
    page.select_option("#purpose", PURPOSE)
    page.set_input_files("#image", str(photos[2]))
    page.click("#try-button")
    page.wait_for_selector("#verdict")
    decision = json.loads(page.inner_text("#answer-json"))
    assert decision["decision"] == "match" and decision["external_id"] == "resident-3a"
    assert set(decision) == {"decision", "purpose", "operating_point", "audit_seq",
                             "external_id", "candidates", "reason"}
    assert "resident-3a" in page.inner_text("#verdict")
    assert f"event-{decision['audit_seq']}" in page.inner_html("table.events")
    page.screenshot(path=str(SHOTS / "try-identify-match.png"), full_page=True)
    page.check("input[name=mode][value=verify]")
    page.fill("#external_id", "resident-3a")
    page.set_input_files("#image", str(people[1][0]))  # someone else
    page.click("#try-button")
    page.wait_for_selector("#verdict")
    assert json.loads(page.inner_text("#answer-json"))["decision"] == "no-match"
    page.screenshot(path=str(SHOTS / "try-verify-no-match.png"), full_page=True)
    context.close()


@browser_only
def test_a_two_face_picture_enrolls_the_face_clicked(
        browser: object, site: tuple[Service, str], fg: Faceguard,
        people: list[list[Path]], tmp_path: Path) -> None:
    service, url = site
    left, right = people[0], people[1]
    picture = side_by_side(left[0], right[0], tmp_path)
    context = browser.new_context(viewport={"width": 1100, "height": 1000})  # type: ignore[attr-defined]
    page = context.new_page()
    log_in(page, url, service.secrets["operator"], "/enroll")
    page.fill("#external_id", "right-person")
    page.fill("#name", "Right Person")
    page.fill("#evidence", "signed form 77")
    page.set_input_files("#image", str(picture))
    page.wait_for_selector("#photo-1 .box >> nth=1")
    assert page.locator("#photo-1 .box").count() == 2
    assert "click the face" in page.inner_text("#photo-1 figcaption").lower()
    # sending without a choice is stopped in the page
    page.click("#enroll-button")
    assert page.url == f"{url}/enroll"
    boxes = [page.locator("#photo-1 .box").nth(i) for i in range(2)]
    lefts = [int(b.get_attribute("data-box").split(",")[0]) for b in boxes]
    rightmost = boxes[lefts.index(max(lefts))]
    page.screenshot(path=str(SHOTS / "enroll-two-faces.png"), full_page=True)
    rightmost.click()
    assert "chosen" in (rightmost.get_attribute("class") or "")
    page.screenshot(path=str(SHOTS / "enroll-two-faces-chosen.png"), full_page=True)
    page.click("#enroll-button")
    page.wait_for_selector("#enrolled")
    context.close()
    found = fg.identify(right[1].read_bytes(), PURPOSE)
    assert (found.decision, found.external_id) == ("match", "right-person")
    other = fg.identify(left[1].read_bytes(), PURPOSE)
    assert other.decision != "match"


@browser_only
def test_without_javascript_the_faces_are_chosen_on_the_answer_page(
        browser: object, site: tuple[Service, str], fg: Faceguard,
        people: list[list[Path]], tmp_path: Path) -> None:
    """No script: the photo comes back with its faces numbered; the operator ticks one,
    chooses the photo again and sends; that face is enrolled."""
    service, url = site
    picture = side_by_side(people[0][0], people[1][0], tmp_path)
    context = browser.new_context(java_script_enabled=False,  # type: ignore[attr-defined]
                                  viewport={"width": 1100, "height": 1000})
    page = context.new_page()
    log_in(page, url, service.secrets["operator"], "/enroll")
    page.fill("#external_id", "left-person")
    page.fill("#name", "Left Person")
    page.fill("#evidence", "signed form 78")
    page.set_input_files("#image", str(picture))
    page.click("#enroll-button")
    page.wait_for_selector("#choose")
    radios = page.locator("input[name=face_1]")
    assert radios.count() == 2
    lefts = [int((radios.nth(i).get_attribute("value") or "").split(",")[0]) for i in range(2)]
    page.screenshot(path=str(SHOTS / "enroll-no-javascript-choose.png"), full_page=True)
    leftmost = lefts.index(min(lefts)) + 1
    page.click(f"label.box[for=face-1-{leftmost}]")  # a click on the face ticks its button
    assert page.is_checked(f"#face-1-{leftmost}")
    page.set_input_files("#image", str(picture))
    page.click("#enroll-button")
    page.wait_for_selector("#enrolled")
    context.close()
    found = fg.identify(people[0][1].read_bytes(), PURPOSE)
    assert (found.decision, found.external_id) == ("match", "left-person")


# ---- refusals and the fallback without JavaScript (test client) -------------------------


def test_refusals_show_on_the_assessment_page_with_the_rule(fg: Faceguard) -> None:
    service = make_service(fg)
    admin = service.auth("admin")
    page = service.client.post("/assessment/sections/no-such", data={"text": "x"},
                               headers={**admin, "Accept": "text/html"})
    assert page.status_code == 400 and "R10" in page.text and "no-such" in page.text
    again = service.client.post("/assessment/approve", data={"by": "DPO"},
                                headers={**admin, "Accept": "text/html"})
    assert again.status_code == 400 and "already approved" in again.text
    nobody = service.client.post("/assessment/approve", data={"by": "  "},
                                 headers={**admin, "Accept": "text/html"})
    assert nobody.status_code == 400 and "approver" in nobody.text
    for role in ("operator", "auditor", "terminal"):
        denied = service.client.post("/assessment/draft", headers=service.auth(role))
        assert denied.status_code == 403 and denied.json()["rule"] == "R14"
    assert service.client.get("/assessment.json", headers=service.auth("auditor")).json()[
        "assessment"]["in_force"] is True
    # a section written after the approval: reassessment required, as a hand edit would
    key = fg.governance.assessment().sections[0].key
    written = service.client.post(f"/assessment/sections/{key}", data={"text": "Changed."},
                                  headers=admin, follow_redirects=False)
    assert written.status_code == 303
    assert "reassessment required" in fg.governance.facts().assessment.detail


def test_without_javascript_a_two_face_picture_is_shown_back_to_choose(
        fg: Faceguard, people: list[list[Path]], tmp_path: Path) -> None:
    service = make_service(fg)
    picture = side_by_side(people[0][0], people[1][0], tmp_path).read_bytes()
    fields = {"external_id": "p-2", "name": "Two", "purpose": PURPOSE, "method": "written",
              "evidence": "form 9", "language": "en"}
    operator = {**service.auth("operator"), "Accept": "text/html"}
    shown = service.client.post("/enroll", data=fields,
                                files={"image": ("two.jpg", picture, "image/jpeg")},
                                headers=operator)
    assert shown.status_code == 409
    assert shown.text.count('name="face_1"') == 2 and "data:image/jpeg;base64," in shown.text
    assert fg.consent.active_purposes("p-2") == []  # nothing recorded before the choice
    faces = service.client.post("/enroll/faces.json", data={"purpose": PURPOSE},
                                files={"image": ("two.jpg", picture, "image/jpeg")},
                                headers=service.auth("operator")).json()
    right = max(faces["faces"], key=lambda f: f["box"][0])["box"]
    done = service.client.post("/enroll", data={**fields, "face_1": ",".join(map(str, right))},
                               files={"image": ("two.jpg", picture, "image/jpeg")},
                               headers=operator)
    assert done.status_code == 201
    found = fg.identify(people[1][1].read_bytes(), PURPOSE)
    assert (found.decision, found.external_id) == ("match", "p-2")
    bad = service.client.post("/enroll", data={**fields, "face_1": "1,2,3"},
                              files={"image": ("two.jpg", picture, "image/jpeg")},
                              headers=operator)
    assert bad.status_code == 422 and "face_1" in bad.text


def test_the_try_page_shows_a_refusal_as_a_terminal_gets_it(fg: Faceguard,
                                                            people: list[list[Path]]) -> None:
    service = make_service(fg)
    photo = people[0][0].read_bytes()
    page = service.client.post("/try", data={"mode": "verify", "purpose": PURPOSE,
                                             "external_id": "nobody"},
                               files={"image": ("p.jpg", photo, "image/jpeg")},
                               headers={**service.auth("operator"), "Accept": "text/html"})
    terminal = service.client.post(f"/api/v1/purposes/{PURPOSE}/verifications",
                                   data={"external_id": "nobody"},
                                   files={"image": ("p.jpg", photo, "image/jpeg")},
                                   headers=service.auth("terminal")).json()
    assert page.status_code == terminal["status"]
    start = page.text.index('id="answer-json">') + len('id="answer-json">')
    shown = json.loads(html.unescape(page.text[start:page.text.index("</pre>", start)]))
    assert {k: v for k, v in shown.items() if k != "instance"} == {
        k: v for k, v in terminal.items() if k != "instance"}
    assert "consent.refused" in page.text or "face.verified" in page.text


@browser_only
def test_the_pages_in_chinese(browser: object, site: tuple[Service, str]) -> None:
    """A browser asking for Chinese gets the new pages in Chinese (screenshots of each)."""
    service, url = site
    headings = {"/assessment": ("admin", "个人信息保护影响评估"),
                "/enroll": ("operator", "用照片录入已同意的人员"),
                "/try": ("operator", "用照片试用验证与识别")}
    for path, (role, heading) in headings.items():
        context = browser.new_context(locale="zh-CN",  # type: ignore[attr-defined]
                                      viewport={"width": 1100, "height": 900})
        page = context.new_page()
        log_in(page, url, service.secrets[role], path)
        assert heading in page.inner_text("h1")
        assert page.get_attribute("html", "lang") == "zh-CN"
        page.screenshot(path=str(SHOTS / f"zh-CN{path.replace('/', '-')}.png"), full_page=True)
        context.close()


def test_under_cn_the_page_offers_the_filing_packet(tmp_path: Path, engine: DlibEngine) -> None:
    """Under the cn pack (which sets a filing threshold) the DPO downloads the filing packet
    from the assessment page: a PDF, recorded as made (R15)."""
    from pypdf import PdfReader

    from conftest import CN_TEST_DEPLOYMENT, go_live

    folder = tmp_path / "cn"
    Faceguard.init(folder)
    go_live(folder, CN_TEST_DEPLOYMENT, engine)
    with Faceguard.open(folder, engine=engine) as fg:
        service = make_service(fg)
        page = service.client.get("/assessment", headers={**service.auth("admin"),
                                                          "Accept": "text/html"})
        assert page.status_code == 200 and 'id="filing-pdf"' in page.text
        link = "/api/v1/reports/filing?format=pdf"
        assert link in page.text
        pdf = service.client.get(link, headers=service.auth("admin"))
        assert pdf.headers["content-type"] == "application/pdf"
        text = " ".join((p.extract_text() or "") for p in PdfReader(io.BytesIO(pdf.content)).pages)
        assert "Test gate" in text
        assert fg.audit.events(operations=("filing.packet_made",), limit=1)
