"""Liveness over HTTP (R26): challenges issued to the calling key, answers sent as JSON with
base64 frames, real head turns (UMIST) enrolled, verified and identified; a photo turned in
front of the camera, a replayed challenge, a missing answer and repeated failures refused
citing R26; malformed frames named; attacks and lockouts shown as alarms on the dashboard.

Deployments here require liveness (``liveness = "required"``). Real head motion comes from
``../shared/data/liveness`` (tests needing it skip, saying so, without it); answers are
composed by the liveness tests' own helpers.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import numpy as np
import pytest
from PIL import Image

import faceguard
from faceguard import Faceguard
from faceguard.engine.dlib_engine import DlibEngine
from faceguard.liveness import Frame, Lockout, LockoutPolicy, SeenFrames
from faceguard.liveness.attacks import render_attack
from faceguard.service import ServiceSettings
from faceguard.service.pages_kiosk import LIVENESS_WORDS
from liveness.test_liveness_support import from_wire, require_liveness, umist_answer
from test_service_support import Service, live_faceguard, make_service, wire_frames

PURPOSE = "access-control"
CHALLENGES = "/api/v1/liveness/challenges"
ENROLL = f"/api/v1/purposes/{PURPOSE}/enrollments"
VERIFY = f"/api/v1/purposes/{PURPOSE}/verifications"
IDENTIFY = f"/api/v1/purposes/{PURPOSE}/identifications"
#: The movements UMIST answers are composed for, in the order the liveness tests validate.
#: (Composed in the other order, 1 answer in 10 was judged planar in a trial: a false attack
#: that would make these tests depend on which challenge comes.)
ORDER = ("turn-left", "turn-right")
LIVENESS_SOURCE = Path(faceguard.__file__).parent / "liveness"
WIRE_KEYS = {"challenge_id", "movements", "instructions", "issued_at", "expires_at",
             "expires_in_ms", "max_capture_ms", "min_frames", "max_frames", "frame_format",
             "rule", "colours", "colour_ms", "colour_start_ms"}


@pytest.fixture()
def live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
         engine: DlibEngine) -> Iterator[Faceguard]:
    monkeypatch.delenv("FACEGUARD_MASTER_KEY", raising=False)
    monkeypatch.delenv("FACEGUARD_MASTER_KEY_FILE", raising=False)
    fg = live_faceguard(tmp_path / "live", engine)
    yield fg
    fg.close()


@pytest.fixture()
def service(live: Faceguard) -> Service:
    return make_service(live)


def consent(fg: Faceguard, external_id: str, *purposes: str) -> None:
    for purpose in purposes or (PURPOSE,):
        fg.consent.grant(external_id, purpose, name="Test Person", method="click",
                         evidence="kiosk 1")


def ask(service: Service, role: str, *, external_id: str | None = None,
        path: str = CHALLENGES,
        want: Callable[[tuple[str, ...]], bool] = lambda m: m == ORDER) -> dict[str, Any]:
    """A challenge whose movements ``want`` accepts: asks again until one comes (UMIST shows
    head turns only; challenges are random)."""
    body = {"external_id": external_id} if external_id else None
    for _ in range(500):
        response = service.client.post(path, headers=service.auth(role), json=body)
        assert response.status_code == 201, response.text
        challenge: dict[str, Any] = response.json()
        if want(tuple(challenge["movements"])):
            return challenge
    raise AssertionError("500 challenges without the wanted movements")


def answer(challenge: dict[str, Any], frames: list[Frame], **fields: Any) -> dict[str, Any]:
    return {**fields, "liveness": {"challenge_id": challenge["challenge_id"],
                                   "frames": wire_frames(frames)}}


def junk(count: int, *, start: int = 0, step: int = 100, tag: int = 0) -> list[Frame]:
    """Frames that look like JPEGs to the service (so they reach the library) but are not
    decodable; the checks that refuse them run before any decoding."""
    return [Frame(b"\xff\xd8\xff" + bytes([tag, n]) * 20, start + step * n) for n in range(count)]


def refused(response: httpx.Response, status: int = 403, kind: str = "refused-by-rule",
            rule: str | None = "R26") -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == f"/-/problems#{kind}" and body.get("rule") == rule
    return body


def codes(problem: dict[str, Any]) -> list[str]:
    return [e["code"] for e in problem.get("errors", []) if "code" in e]


def events(fg: Faceguard, operation: str) -> list[Any]:
    return fg._store.audit.events(operation=operation)


# ---- challenges -------------------------------------------------------------------------


def test_a_challenge_is_issued_to_the_calling_key(service: Service, live: Faceguard) -> None:
    client = service.client
    issued = client.post(CHALLENGES, headers=service.auth("terminal"))
    assert issued.status_code == 201, issued.text
    wire = issued.json()
    assert set(wire) == WIRE_KEYS
    assert (wire["rule"], wire["frame_format"], wire["min_frames"], wire["max_frames"]) == (
        "R26", "image/jpeg", 8, 60)
    assert 2 <= len(wire["movements"]) <= 3 and len(wire["instructions"]) == len(
        wire["movements"])
    assert wire["expires_in_ms"] == 15_000 and wire["max_capture_ms"] == 11_000
    assert len(wire["colours"]) == 8 and wire["colour_ms"] == 300
    bound = client.post(CHALLENGES, headers=service.auth("operator"),
                        json={"external_id": "emp-1"})
    assert bound.status_code == 201 and bound.json()["challenge_id"] != wire["challenge_id"]
    # the terminal is the key: it cannot be named in the body
    named = client.post(CHALLENGES, headers=service.auth("terminal"),
                        json={"external_id": "emp-1", "terminal": "gate-9"})
    problem = refused(named, 422, "validation", None)
    assert "terminal" in problem["detail"] and "Extra inputs" in problem["detail"]
    # ...and a challenge answered with another key is an attack on it
    consent(live, "emp-1")
    stolen = client.post(ENROLL, headers=service.auth("operator"),
                         json=answer(wire, junk(10), external_id="emp-1"))
    problem = refused(stolen)
    assert codes(problem) == ["challenge.wrong_terminal"]
    assert problem["errors"][0]["decision"] == "attack"
    assert problem["error"] == "LivenessError"
    # bound to emp-1: answered for someone else, it is an attack too
    consent(live, "emp-2")
    other = client.post(ENROLL, headers=service.auth("operator"),
                        json=answer(bound.json(), junk(10, tag=1), external_id="emp-2"))
    assert codes(refused(other)) == ["challenge.wrong_subject"]
    assert [e.outcome for e in events(live, "liveness.attack")] == ["attack", "attack"]


# ---- real answers -----------------------------------------------------------------------


def test_a_real_head_turning_enrolls_verifies_and_identifies(service: Service,
                                                             live: Faceguard) -> None:
    root = require_liveness()
    client, operator, terminal = service.client, service.auth("operator"), service.auth(
        "terminal")
    consent(live, "umist-18", PURPOSE, "attendance")
    challenge = ask(service, "operator", external_id="umist-18")
    body = answer(challenge, umist_answer(root, from_wire(challenge), seed=31),
                  external_id="umist-18")
    enrolled = client.post(ENROLL, headers=operator, json=body)
    assert enrolled.status_code == 201, enrolled.text
    assert len(enrolled.json()["template_ids"]) == 1
    # the same live answer enrolls the person's other purpose, once
    other = client.post("/api/v1/purposes/attendance/enrollments", headers=operator, json=body)
    assert other.status_code == 201, other.text
    assert live.stats().templates == {PURPOSE: 1, "attendance": 1}
    assert len(events(live, "liveness.passed")) == 1
    # but not the same purpose twice: that is a replay
    again = client.post(ENROLL, headers=operator, json=body)
    assert codes(refused(again)) == ["challenge.replayed"]
    # verification from a new live answer of the same head
    challenge = ask(service, "terminal")
    # The composed answers reuse the same UMIST pictures, which a second real attempt would
    # not: a fresh frame memory stands for that (else the perceptual hashes call it a replay).
    live.liveness.configure().detector.seen_frames = SeenFrames()
    body = answer(challenge, umist_answer(root, from_wire(challenge), seed=32),
                  external_id="umist-18")
    verified = client.post(VERIFY, headers=terminal, json=body)
    assert verified.status_code == 200, verified.text
    assert verified.json()["decision"] == "match"
    # the answer cannot be sent again: a nonce is valid once
    replayed = client.post(VERIFY, headers=terminal, json=body)
    problem = refused(replayed)
    assert codes(problem) == ["challenge.replayed"]
    assert "did not pass (attack: challenge.replayed)" in problem["detail"]
    # identification
    challenge = ask(service, "terminal")
    live.liveness.configure().detector.seen_frames = SeenFrames()  # as above
    body = answer(challenge, umist_answer(root, from_wire(challenge), seed=33))
    found = client.post(IDENTIFY, headers=terminal, json=body)
    assert found.status_code == 200, found.text
    assert (found.json()["decision"], found.json()["external_id"]) == ("match", "umist-18")
    assert len(events(live, "liveness.passed")) == 3
    assert [e.detail["reasons"] for e in events(live, "liveness.attack")] == [
        ["challenge.replayed"], ["challenge.replayed"]]


def test_a_photo_turned_in_front_of_the_camera_is_refused_and_raised_as_an_alarm(
    service: Service, live: Faceguard, lfw: Path,
) -> None:
    with Image.open(lfw / "Colin_Powell" / "Colin_Powell_0001.jpg") as image:
        photo = np.asarray(image.convert("RGB"))
    attack = render_attack(photo, np.random.default_rng(5), medium="print", motion="turn",
                           frames=12, face_box=(70, 70, 180, 190), size=(480, 360),
                           strength=1.0)
    consent(live, "colin")
    challenge = ask(service, "operator", external_id="colin",
                    want=lambda m: True)
    response = service.client.post(ENROLL, headers=service.auth("operator"),
                                   json=answer(challenge, attack.to_frames(),
                                               external_id="colin"))
    problem = refused(response)
    assert "depth.planar" in codes(problem)
    assert {e["decision"] for e in problem["errors"]} == {"attack"}
    assert problem["detail"].startswith("[R26] the liveness check did not pass (attack:")
    planar = next(e for e in problem["errors"] if e["code"] == "depth.planar")
    assert "explained by a single plane" in planar["message"]
    assert live.governance.people_enrolled() == 0
    # the alarm, on the dashboard and its JSON twin
    alarms = service.client.get("/dashboard.json", headers=service.auth("admin")).json()[
        "alarms"]
    assert [(a["operation"], a["outcome"], a["rules"]) for a in alarms] == [
        ("liveness.attack", "attack", ["R26"])]
    assert "depth.planar" in alarms[0]["detail"]["reasons"]
    page = service.client.get("/dashboard", headers=service.auth("auditor"))
    alarm_html = page.text.split('id="alarms"')[1].split("</section>")[0]
    assert "liveness.attack" in alarm_html and "depth.planar" in alarm_html


# ---- refusals ---------------------------------------------------------------------------


def test_without_an_answer_where_liveness_is_required_nothing_is_recognised(
    service: Service, live: Faceguard, lfw: Path,
) -> None:
    image = (lfw / "Colin_Powell" / "Colin_Powell_0001.jpg").read_bytes()
    consent(live, "emp-5")
    enrolled = service.client.post(ENROLL, headers=service.auth("operator"),
                                   data={"external_id": "emp-5"},
                                   files={"image": ("face.jpg", image)})
    problem = refused(enrolled)
    assert "liveness is required" in problem["detail"]
    assert problem["errors"][0]["decision"] == "required"
    for url, headers in ((VERIFY, {"X-External-Id": "emp-5"}), (IDENTIFY, {})):
        response = service.client.post(url, content=image, headers={
            **service.auth("terminal"), "Content-Type": "image/jpeg", **headers})
        assert codes(refused(response)) == ["liveness.required"]
    assert live.governance.people_enrolled() == 0
    refusals = [e for e in live._store.audit.events() if e.outcome == "refused"]
    assert [(e.operation, list(e.rules)) for e in refusals] == [
        ("template.enrolled", ["R26"]), ("face.verified", ["R26"]),
        ("face.identified", ["R26"])]


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (120, 130, 140)).save(out, "PNG")
    return out.getvalue()


def test_malformed_frames_are_named_and_use_nothing_up(service: Service,
                                                      live: Faceguard) -> None:
    client, terminal = service.client, service.auth("terminal")
    consent(live, "emp-7")
    challenge = ask(service, "terminal", want=lambda m: True)
    good = wire_frames(junk(3))

    def send(frames: list[dict[str, Any]], **extra: Any) -> httpx.Response:
        body = {"external_id": "emp-7", "liveness": {
            "challenge_id": challenge["challenge_id"], "frames": frames}, **extra}
        return client.post(VERIFY, headers=terminal, json=body)

    bad_base64 = send([good[0], {"t_ms": 100, "jpeg": "not base64!"}, good[2]])
    problem = refused(bad_base64, 422, "validation", None)
    assert problem["detail"].startswith("frame 2 of 3: 'jpeg' is not valid base64")
    data_url = send([{"t_ms": 0, "jpeg": "data:image/jpeg;base64,/9j/4AAQ"}])
    assert "without a data: prefix" in refused(data_url, 422, "validation", None)["detail"]
    not_jpeg = send([good[0], {"t_ms": 100, "jpeg": base64.b64encode(png()).decode()}])
    assert refused(not_jpeg, 415, "unsupported-media-type", None)["detail"] == (
        "frame 2 of 2 is not a JPEG (it is image/png; judged from its content)")
    text = send([{"t_ms": 0, "jpeg": base64.b64encode(b"hello, world").decode()}])
    assert "frame 1 of 1 is not a JPEG (its first bytes are not an image's" in refused(
        text, 415, "unsupported-media-type", None)["detail"]
    huge = b"\xff\xd8\xff" + bytes(5 * 1024 * 1024)
    too_large = send([{"t_ms": 0, "jpeg": base64.b64encode(huge).decode()}])
    assert refused(too_large, 413, "too-large", None)["detail"] == (
        "frame 1 of 1 is 5,242,883 bytes; a frame may have at most 5,242,880")
    negative = send([{"t_ms": -5, "jpeg": good[0]["jpeg"]}])
    problem = refused(negative, 422, "validation", None)
    assert problem["errors"][0]["loc"] == ["body", "liveness", "frames", "0", "t_ms"]
    extra = send(good, image="also a picture")
    assert "image" in refused(extra, 422, "validation", None)["detail"]
    broken = client.post(VERIFY, headers={**terminal, "Content-Type": "application/json"},
                         content=b'{"liveness": {"challenge_id": ')
    assert refused(broken, 422, "validation", None)["errors"][0]["type"] == "json_invalid"
    tiny = make_service(live, ServiceSettings(max_liveness_bytes=1000))
    oversized = tiny.client.post(VERIFY, headers=tiny.auth("terminal"), json={
        "external_id": "emp-7", "liveness": {"challenge_id": "x", "frames": wire_frames(
            junk(20))}})
    assert "the limit is 1,000" in refused(oversized, 413, "too-large", None)["detail"]
    # none of this reached the challenge: no liveness event, and it can still be answered
    assert [e.operation for e in live._store.audit.events()
            if e.operation.startswith("liveness.")] == ["liveness.issued"]
    corrupt = send(wire_frames(junk(10, tag=7)))
    problem = refused(corrupt, 422, "invalid-image", None)
    assert problem["detail"].startswith("frame 1 of 10: ")
    assert [e.outcome for e in events(live, "liveness.failed")] == ["rejected"]


def test_repeated_failures_lock_the_terminal_out_and_raise_alarms(service: Service,
                                                                  live: Faceguard) -> None:
    live.liveness.configure(lockout=Lockout(LockoutPolicy(max_failures=2)))
    client, terminal = service.client, service.auth("terminal")
    first = ask(service, "terminal", want=lambda m: True)
    reordered = list(reversed(junk(10, tag=1)))  # capture times going backwards
    problem = refused(client.post(IDENTIFY, headers=terminal, json=answer(first, reordered)))
    assert codes(problem) == ["frames.out_of_order"]
    second = ask(service, "terminal", want=lambda m: True)
    problem = refused(client.post(IDENTIFY, headers=terminal,
                                  json=answer(second, junk(3, tag=2))))
    assert (codes(problem), problem["errors"][0]["decision"]) == (["frames.too_few"], "retry")
    # two failures: this terminal is locked; it gets no challenge, and says why
    locked = refused(client.post(CHALLENGES, headers=terminal))
    assert locked["detail"].startswith("[R26] liveness locked for this terminal after 2 "
                                       "failed attempts, until ")
    assert locked["errors"][0]["decision"] == "locked"
    assert codes(locked) == ["liveness.locked_terminal"]
    other = client.post(CHALLENGES, headers=service.auth("operator"))  # another device
    assert other.status_code == 201
    # the dashboard's alarms: the attack, the lockout, the refused attempt; not the retry
    dashboard = client.get("/dashboard.json", headers=service.auth("admin")).json()
    assert [(a["operation"], a["outcome"], a["rules"]) for a in dashboard["alarms"]] == [
        ("liveness.refused", "locked", ["R26"]),
        ("liveness.lockout", "locked", ["R26"]),
        ("liveness.attack", "attack", ["R26"])]
    key_id = service.app.state.service.keys.authenticate(service.secrets["terminal"]).id
    assert dashboard["alarms"][1]["detail"]["terminal"] == key_id
    page = client.get("/dashboard", headers=service.auth("operator"))
    alarm_html = page.text.split('id="alarms"')[1].split("</section>")[0]
    assert "liveness.lockout" in alarm_html and "liveness.failed" not in alarm_html
    assert [e.outcome for e in events(live, "liveness.failed")] == ["retry"]


# ---- the kiosk's live check -------------------------------------------------------------


def test_the_kiosk_enrolls_each_agreed_purpose_from_one_live_answer(service: Service,
                                                                    live: Faceguard) -> None:
    root = require_liveness()
    client, operator = service.client, service.auth("operator")
    assert client.get("/kiosk.json", headers=operator).json()["liveness_required"] is True
    consent(live, "resident-18", PURPOSE, "attendance")
    challenge = ask(service, "operator", external_id="resident-18", path="/kiosk/challenge")
    frames = umist_answer(root, from_wire(challenge), seed=41)
    done = client.post("/kiosk/enroll.json", headers=operator, json=answer(
        challenge, frames, external_id="resident-18", purposes=[PURPOSE, "attendance"]))
    assert done.status_code == 201, done.text
    assert [e["purpose"] for e in done.json()["enrollments"]] == [PURPOSE, "attendance"]
    assert done.json()["message"].startswith("Your pictures were not kept.")
    assert live.stats().templates == {PURPOSE: 1, "attendance": 1}
    assert len(events(live, "liveness.passed")) == 1
    # a refusal is in the person's words, with the rule and the reasons
    consent(live, "resident-19")
    challenge = ask(service, "operator", external_id="resident-19", path="/kiosk/challenge",
                    want=lambda m: True)
    reordered = list(reversed(junk(12, tag=3)))
    failed = client.post("/kiosk/enroll.json", headers=operator, json=answer(
        challenge, reordered, external_id="resident-19", purposes=[PURPOSE]))
    problem = refused(failed)
    assert problem["detail"].startswith("The check did not see a live person")
    assert codes(problem) == ["frames.out_of_order"]
    assert problem["errors"][-1]["message"].startswith("[R26] the liveness check did not pass")
    # the kiosk's challenge is bound to the person: another person cannot use it
    challenge = ask(service, "operator", external_id="resident-19", path="/kiosk/challenge",
                    want=lambda m: True)
    swapped = client.post("/kiosk/enroll.json", headers=operator, json=answer(
        challenge, junk(10, tag=4), external_id="resident-18", purposes=[PURPOSE]))
    assert codes(refused(swapped)) == ["challenge.wrong_subject"]
    # the person reads the movements in the kiosk's language; a program gets English
    chinese = client.post("/kiosk/challenge", headers={**operator, "Accept-Language": "zh-CN"},
                          json={"external_id": "resident-19"}).json()
    assert all(text.startswith("请") and text.endswith("。") for text in chinese["instructions"])
    assert len(chinese["instructions"]) == len(chinese["movements"])
    program = client.post(CHALLENGES, headers={**operator, "Accept-Language": "zh-CN"}).json()
    assert all(text.isascii() for text in program["instructions"])
    missing = client.post("/kiosk/challenge", headers=operator, json={})
    assert refused(missing, 422, "validation", None)["errors"][0]["loc"] == [
        "body", "external_id"]


def test_the_kiosk_refuses_a_photo_file_where_liveness_is_required(service: Service,
                                                                   live: Faceguard,
                                                                   lfw: Path) -> None:
    consent(live, "resident-20")
    page = service.client.post("/kiosk/decide", headers=service.auth("operator"), data={
        "external_id": "resident-20", "name": "Chen", "consent-attendance": "decline"})
    assert page.status_code == 200
    assert 'id="live-form"' in page.text and 'type="file"' not in page.text
    image = (lfw / "Colin_Powell" / "Colin_Powell_0001.jpg").read_bytes()
    response = service.client.post("/kiosk/enroll", headers=service.auth("operator"),
                                   files={"image": ("face.jpg", image)},
                                   data={"external_id": "resident-20", "purpose": PURPOSE})
    assert response.status_code == 403
    assert "A live check with the camera is needed here" in response.text
    assert '<span class="rule">R26</span>' in response.text
    assert live.governance.people_enrolled() == 0


def test_the_kiosk_words_name_reasons_the_detector_gives() -> None:
    """Each reason the kiosk explains in plain words is a code the detector emits."""
    source = "".join(p.read_text() for p in LIVENESS_SOURCE.glob("*.py"))
    assert [c for c in LIVENESS_WORDS if f'"{c}"' not in source] == []
