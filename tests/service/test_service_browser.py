"""The pages in a real browser: Debian's Chromium, headless, driven by Playwright.

- an enrollment at the kiosk, the face captured from Chromium's fake camera fed with a .y4m
  made here from a real face image;
- the same without JavaScript, with the file input;
- a declined consent showing the alternatives, and not asked again;
- an admin erasing a person, and the record page showing the erasure and a verified chain;
- where liveness is required (R26), the kiosk's live check: the page shows the challenge,
  films the fake camera and sends the frames. The camera file is written when the page
  receives its challenge (Chromium reads it when the page opens the camera, after that):
  a real head turning as asked (UMIST) is enrolled; a printed photo turned in front of the
  camera is refused with R26 and its reason, and a new attempt gets a fresh challenge.

Screenshots go to test-artifacts/service/. Without /usr/bin/chromium these tests skip.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from random import Random
from typing import Any

import numpy as np
import pytest
from PIL import Image

from faceguard import Faceguard
from faceguard.engine.dlib_engine import DlibEngine
from faceguard.errors import LivenessError
from faceguard.liveness import ChallengeStore, LivenessAnswer, SeenFrames
from faceguard.liveness.attacks import encode_jpeg, render_attack
from faceguard.service.pages_kiosk import liveness_words
from liveness.test_liveness_support import (
    TURN,
    answerable_store,
    require_liveness,
    umist_answer,
    umist_frame,
)
from test_service_support import (
    ARTIFACTS,
    Service,
    good_faces,
    live_faceguard,
    live_server,
    make_service,
    write_y4m,
    write_y4m_frames,
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
def playwright() -> Iterator[sync_api.Playwright]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as running:
        yield running


def launch(playwright: sync_api.Playwright, camera: Path) -> sync_api.Browser:
    """Chromium whose fake camera plays ``camera`` (a .y4m read again each time a page
    opens the camera, from its first frame)."""
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM),
        args=[*ARGS, f"--use-file-for-fake-video-capture={camera}"])


@pytest.fixture(scope="module")
def browsing(playwright: sync_api.Playwright, engine: DlibEngine, lfw: Path,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browsing]:
    face = good_faces(engine, lfw, 1)[0]
    video = write_y4m(face[0], tmp_path_factory.mktemp("camera") / "face.y4m")
    browser = launch(playwright, video)
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
    consents = fg.rights.export("resident-12b").consents
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
    assert fg.stats().templates == {PURPOSE: 1, "attendance": 1}


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
    assert len(fg._store.audit.events(operation="consent.declined")) == 2


def test_an_admin_erases_a_person_and_the_record_shows_it(browsing: Browsing,
                                                          site: tuple[Service, str],
                                                          fg: Faceguard) -> None:
    service, url = site
    fg.consent.grant("resident-5", PURPOSE, name="Sun Mei", method="written", evidence="f-5")
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
    assert fg.governance.people_enrolled() == 0 and fg.audit.verify().ok


# ---- the kiosk's live check (R26) -------------------------------------------------------

#: The order UMIST answers are composed for (see tests/liveness): turn left, then right.
ORDER = ("turn-left", "turn-right")
FPS = 15
CAMERA_SIZE = (480, 360)


@pytest.fixture()
def live_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: DlibEngine
              ) -> Iterator[tuple[Service, str, Faceguard]]:
    """The service over a deployment that requires liveness."""
    monkeypatch.delenv("FACEGUARD_MASTER_KEY", raising=False)
    monkeypatch.delenv("FACEGUARD_MASTER_KEY_FILE", raising=False)
    fg = live_faceguard(tmp_path / "live", engine)
    service = make_service(fg)
    with live_server(service.app) as url:
        yield service, url, fg
    fg.close()


#: Chromium's fake camera cannot see the page: this stands in for the screen's light on the
#: face. The page's camera stream is drawn on a canvas, and while the page shows a colour
#: (``body[data-flash]``) the middle of the picture, where the face is, reflects it as skin
#: does: each pixel gains the colour in proportion to its own brightness (the picture times
#: the colour, added), fading toward the edges (the room behind is too far to be lit). A
#: picture blended toward the colour whatever its brightness would be light added as on
#: glass, which the server refuses (``colour.on_glass``). The page films the canvas.
SCREEN_LIGHT = """
(() => {
  const rgb = {red: [255, 0, 0], green: [0, 255, 0], blue: [0, 0, 255],
               yellow: [255, 255, 0], cyan: [0, 255, 255], magenta: [255, 0, 255]};
  const media = navigator.mediaDevices;
  const open = media.getUserMedia.bind(media);
  media.getUserMedia = async (constraints) => {
    const camera = await open(constraints);
    const video = document.createElement("video");
    video.muted = true;
    video.srcObject = camera;
    await video.play();
    const canvas = document.createElement("canvas");
    canvas.width = video.videoWidth || 480;
    canvas.height = video.videoHeight || 360;
    const context = canvas.getContext("2d");
    const reflected = document.createElement("canvas");
    reflected.width = canvas.width;
    reflected.height = canvas.height;
    const lit = reflected.getContext("2d");
    const draw = () => {
      context.globalCompositeOperation = "source-over";
      context.globalAlpha = 1;
      context.drawImage(video, 0, 0, canvas.width, canvas.height);
      const name = document.body.dataset.flash;
      if (name && rgb[name]) {
        const [r, g, b] = rgb[name];
        const x = canvas.width / 2, y = canvas.height * 0.55, reach = canvas.height * 0.45;
        // the picture times the colour, fading out: what the face reflects
        lit.globalCompositeOperation = "source-over";
        lit.drawImage(video, 0, 0, reflected.width, reflected.height);
        const light = lit.createRadialGradient(x, y, 0, x, y, reach);
        light.addColorStop(0, `rgb(${r},${g},${b})`);
        light.addColorStop(1, "rgb(0,0,0)");
        lit.globalCompositeOperation = "multiply";
        lit.fillStyle = light;
        lit.fillRect(0, 0, reflected.width, reflected.height);
        // added to the picture
        context.globalCompositeOperation = "lighter";
        context.globalAlpha = 0.35;
        context.drawImage(reflected, 0, 0);
      }
    };
    const timer = setInterval(draw, 20);
    const stream = canvas.captureStream(30);
    const track = stream.getVideoTracks()[0];
    const stop = track.stop.bind(track);
    track.stop = () => { clearInterval(timer); camera.getTracks().forEach(t => t.stop()); stop(); };
    return stream;
  };
})();
"""


def reencoded(jpeg: str) -> str:
    """A frame as a replay carries it: decoded, scaled by 0.95 and JPEG-encoded again."""
    import base64

    import cv2

    bgr = cv2.imdecode(np.frombuffer(base64.b64decode(jpeg), np.uint8), cv2.IMREAD_COLOR)
    bgr = cv2.resize(bgr, None, fx=0.95, fy=0.95, interpolation=cv2.INTER_AREA)
    rgb = np.ascontiguousarray(bgr[:, :, ::-1])
    return base64.b64encode(encode_jpeg(rgb, 80)).decode("ascii")


def first_challenge_asks(movements: tuple[str, ...]) -> ChallengeStore:
    """A challenge store whose first challenge asks ``movements`` (a seeded random source:
    the page and the server are unchanged, only the draw is known in advance)."""
    for seed in range(10_000):
        if ChallengeStore(rng=Random(seed)).issue("probe").movements == movements:
            return ChallengeStore(rng=Random(seed))
    raise AssertionError(f"no seed draws {movements}")


def turning_head(root: Path, movements: tuple[str, ...]) -> Iterator[np.ndarray]:
    """What the camera sees of a person doing ``movements`` (UMIST s18, a real head: turning
    toward one profile is ``turn-left`` unmirrored; the mirrored series ``turn-right``), at
    FPS from the moment the page opens the camera: facing it while the page counts down
    (2.5 s) and records its screen colours (3.2 s) and one second more, each movement out
    and back in 1.6 s, then facing the camera again. (The page films 9.1 s for two
    movements: the movements fall inside that
    window even if the camera starts up to a second late.) Every frame has its own sensor
    noise, as a camera's frames do."""
    plan = [(7, False)] * round(6.6 * FPS)
    for movement in movements:
        assert movement in ORDER, f"UMIST cannot show {movement}"
        plan += [(index, movement == "turn-right") for index in TURN for _ in range(3)]
    plan += [(7, False)] * (7 * FPS)
    for number, (index, mirror) in enumerate(plan):
        yield umist_frame(root, "s18", index, mirror=mirror, seed=5000 + number)


def photo_turned(photo: np.ndarray) -> Iterator[np.ndarray]:
    """A printed photo held up to the camera and turned, as a person turning their head."""
    attack = render_attack(photo, np.random.default_rng(11), medium="print", motion="turn",
                           frames=14 * FPS, fps=FPS, size=CAMERA_SIZE, strength=1.0)
    yield from attack.frames


def agree_to_both(page: sync_api.Page, external_id: str, name: str) -> None:
    start_kiosk(page, external_id, name)
    page.check(f'input[name="consent-{PURPOSE}"][value="agree"]')
    page.check('input[name="consent-attendance"][value="agree"]')
    page.click("text=Confirm my choices")
    page.wait_for_selector("#live-start:not([hidden])", timeout=15_000)


def test_kiosk_live_check_with_a_real_head_turning(playwright: sync_api.Playwright,
                                                   live_site: tuple[Service, str, Faceguard],
                                                   tmp_path: Path) -> None:
    root = require_liveness()
    service, url, fg = live_site
    fg.liveness.configure().detector.challenges = first_challenge_asks(ORDER)
    videos = {ORDER: write_y4m_frames(turning_head(root, ORDER), tmp_path / "turning.y4m",
                                      size=CAMERA_SIZE, fps=FPS).read_bytes()}
    camera = tmp_path / "camera.y4m"
    # nothing but grey until the person is asked
    write_y4m_frames([np.full((360, 480, 3), 128, np.uint8)], camera, size=CAMERA_SIZE)
    browser = launch(playwright, camera)
    page = browser.new_page(viewport={"width": 1000, "height": 1100})
    page.add_init_script(SCREEN_LIGHT)
    log_in(page, url, service.secrets["operator"], "/kiosk")
    agree_to_both(page, "resident-18", "Chen Jie")
    assert page.locator("input[type=file]").count() == 0  # no photo instead of the check
    shot(page, "kiosk-live-1-ready")
    asked: dict[str, object] = {}

    def person_reads_the_challenge(route: sync_api.Route) -> None:
        # the person reads the movements and makes them: the camera file is written now,
        # before the page opens the camera (Chromium reads it when the camera opens)
        response = route.fetch()
        challenge = response.json()
        asked.update(challenge)
        movements = tuple(challenge["movements"])
        assert movements in videos, f"the test can only show {list(videos)}, not {movements}"
        camera.write_bytes(videos[movements])
        route.fulfill(response=response)

    page.route("**/kiosk/challenge", person_reads_the_challenge)
    sent: list[dict[str, Any]] = []
    page.on("request", lambda request: sent.append(request.post_data_json)
            if request.url.endswith("/kiosk/enroll.json") else None)
    page.click("#live-start")
    page.wait_for_selector("#live-instructions li")
    assert page.locator("#live-instructions li").all_inner_texts() == asked["instructions"]
    assert page.get_attribute("#live-form", "data-challenge-id") == asked["challenge_id"]
    page.wait_for_selector("#live-instructions li.now", timeout=10_000)
    assert page.inner_text("#live-prompt").startswith(str(asked["instructions"][0]))
    shot(page, "kiosk-live-2-filming")
    assert page.is_visible("#camera") and not page.is_visible("#live-start")
    page.wait_for_selector("#live-outcome:not([hidden])", timeout=120_000)
    shot(page, "kiosk-live-3-outcome")
    outcome = page.inner_text("#live-outcome")
    assert page.get_attribute("#live-outcome", "data-outcome") == "enrolled", outcome
    assert "Done: face recognition is set up for you" in outcome
    assert "For access control: kept until" in outcome and "For attendance" in outcome
    # The recording the page sent, re-encoded (other bytes), replayed from the same kiosk
    # session against a new challenge: refused (R26), nothing more enrolled.
    [recorded] = sent
    page.unroute("**/kiosk/challenge")
    frames = recorded["liveness"]["frames"]
    wait_ms = frames[-1]["t_ms"] - frames[0]["t_ms"] + 1000  # as long as a capture takes
    replayed = dict(recorded, liveness=dict(recorded["liveness"], frames=[
        {"t_ms": f["t_ms"], "jpeg": reencoded(f["jpeg"])}
        for f in recorded["liveness"]["frames"]]))
    answer = page.evaluate("""async (body) => {
        const post = (url, data) => fetch(url, {method: "POST", credentials: "same-origin",
            headers: {"Content-Type": "application/json", "Accept": "application/json"},
            body: JSON.stringify(data)})
            .then(async r => ({status: r.status, data: await r.json()}));
        const issued = await post("/kiosk/challenge", {external_id: body.external_id});
        body.liveness.challenge_id = issued.data.challenge_id;
        await new Promise(done => setTimeout(done, body.wait_ms));
        delete body.wait_ms;
        return {issued: issued.status, colours: issued.data.colours,
                answer: await post("/kiosk/enroll.json", body)};
    }""", {**replayed, "wait_ms": wait_ms})
    assert answer["issued"] == 201, answer
    assert answer["answer"]["status"] == 403, answer
    problem = answer["answer"]["data"]
    assert problem["rule"] == "R26"
    codes = [e.get("code") for e in problem["errors"] if e.get("code")]
    # the frames look like those sent before (perceptual hash): caught before the colours
    assert codes == ["frames.replayed"], problem
    browser.close()
    assert fg.stats().templates == {PURPOSE: 1, "attendance": 1}
    [passed] = fg._store.audit.events(operation="liveness.passed")
    operator = next(k for k in service.app.state.service.keys.list_keys()
                    if k.role == "operator")
    assert passed.detail["terminal"] == operator.id
    assert passed.detail["challenge_id"] == asked["challenge_id"]
    # the live frame was enrolled: a new live answer of the same head is identified
    store = answerable_store()
    fg.liveness.configure().detector.challenges = store
    challenge = store.issue("gate", movements=ORDER)
    # the same UMIST pictures as the camera's: a real second attempt would not be, so a
    # fresh frame memory (else the perceptual hashes call it a replay)
    fg.liveness.configure().detector.seen_frames = SeenFrames()
    found = fg.identify(b"", PURPOSE, liveness=LivenessAnswer(
        challenge.id, tuple(umist_answer(root, challenge, seed=77)), "gate"))
    assert (found.decision, found.external_id) == ("match", "resident-18")


def test_kiosk_live_check_refuses_a_photo_and_offers_a_new_challenge(
    playwright: sync_api.Playwright, live_site: tuple[Service, str, Faceguard],
    tmp_path: Path, lfw: Path,
) -> None:
    service, url, fg = live_site
    with Image.open(lfw / "Colin_Powell" / "Colin_Powell_0001.jpg") as image:
        photo = np.asarray(image.convert("RGB"))
    camera = write_y4m_frames(photo_turned(photo), tmp_path / "photo.y4m", size=CAMERA_SIZE,
                              fps=FPS)
    browser = launch(playwright, camera)
    page = browser.new_page(viewport={"width": 1000, "height": 1100})
    log_in(page, url, service.secrets["operator"], "/kiosk")
    agree_to_both(page, "resident-19", "Zhou Min")
    page.click("#live-start")
    page.wait_for_selector("#live-instructions li")
    first = page.get_attribute("#live-form", "data-challenge-id")
    assert first and page.locator("#live-instructions li").count() in (2, 3)
    page.wait_for_selector("#live-outcome:not([hidden])", timeout=120_000)
    shot(page, "kiosk-live-photo-refused")
    assert page.get_attribute("#live-outcome", "data-outcome") == "refused"
    assert page.inner_text("#live-title") == "You are not enrolled"
    assert page.inner_text("#live-rule .rule") == "R26"
    reasons = page.inner_text("#live-reasons")
    assert reasons.startswith(" · reason: ") or reasons.startswith("· reason: "), reasons
    # the refusal is the server's: recorded with its reasons, nothing enrolled
    decided = [e for e in fg._store.audit.events() if e.operation in ("liveness.attack",
                                                                      "liveness.failed")]
    assert len(decided) == 1 and decided[0].detail["challenge_id"] == first
    codes = reasons.split("reason: ")[1].split(", ")
    assert decided[0].detail["reasons"] == codes
    said = liveness_words(LivenessError("", decision=decided[0].outcome,
                                        reasons=tuple((c, "") for c in codes)))
    assert page.inner_text("#live-message") == said
    assert fg.governance.people_enrolled() == 0
    # a new attempt gets a fresh challenge
    assert page.is_visible("#live-retry") and not page.is_visible("#live-start")
    page.click("#live-retry")
    page.wait_for_function(
        "first => document.getElementById('live-form').dataset.challengeId !== first", arg=first)
    assert page.is_visible("#live-instructions li")
    shot(page, "kiosk-live-photo-retry")
    browser.close()
