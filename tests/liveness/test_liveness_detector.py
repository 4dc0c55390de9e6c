"""The detector end to end: a real turn passes; replays, reorders, two people, the wrong
order, slowness and a photo held up to the camera are each refused with their reason."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from random import Random

import numpy as np
import pytest

from faceguard.engine.dlib_engine import DlibEngine
from faceguard.errors import ImageDecodeError
from faceguard.liveness import (
    Challenge,
    ChallengeStore,
    Frame,
    PadDecision,
    PresentationAttackDetector,
)
from faceguard.liveness.attacks import encode_jpeg, render_attack
from test_liveness_support import (
    AnsweringClock,
    placement,
    require_liveness,
    shifted,
    umist_answer,
    umist_frame,
)

ORDER = ("turn-left", "turn-right")


@pytest.fixture()
def clock() -> AnsweringClock:
    return AnsweringClock()


@pytest.fixture()
def detector(engine: DlibEngine, clock: AnsweringClock) -> PresentationAttackDetector:
    # Seeded: the colour sequences, and so the simulated light on the composed answers, are
    # the same at every run (a random sequence once left a composed answer's colours unclear).
    return PresentationAttackDetector(engine, ChallengeStore(clock=clock, rng=Random(17)))


def ask(detector: PresentationAttackDetector, movements: tuple[str, ...] = ORDER) -> Challenge:
    return detector.challenges.issue("kiosk-1", movements=movements)


def only_reason(decision: PadDecision) -> str:
    assert decision.reasons, decision
    return decision.reasons[0].code


def test_a_real_head_turning_as_asked_is_live(detector: PresentationAttackDetector) -> None:
    root = require_liveness()
    challenge = ask(detector)
    decision = detector.check(challenge.id, umist_answer(root, challenge, seed=1),
                              terminal="kiosk-1")
    assert decision.decision == "live", decision.reasons
    assert decision.reasons == () and decision.rule == "R26"
    assert decision.scores["motion.movements"] == 2.0
    assert decision.scores["depth.segments"] == 2.0
    assert decision.scores["identity.max_distance"] < 0.5
    assert decision.scores["colour.agreement"] >= 0.75
    frontal = [*range(25), 32, 40]  # UMIST 7: the 25 frames of the colours, each turn's end
    assert decision.best_frame is not None and decision.best_frame in frontal
    assert 0 < decision.seconds < 30


def test_a_replayed_challenge_is_an_attack(detector: PresentationAttackDetector) -> None:
    root = require_liveness()
    challenge = ask(detector).id
    detector.check(challenge, umist_answer(root, ORDER, seed=2)[:3], terminal="kiosk-1")
    decision = detector.check(challenge, umist_answer(root, ORDER, seed=3),
                              terminal="kiosk-1")
    assert (decision.decision, only_reason(decision)) == ("attack", "challenge.replayed")


def test_frames_sent_again_for_a_new_challenge_are_an_attack(
    detector: PresentationAttackDetector,
) -> None:
    root = require_liveness()
    frames = umist_answer(root, ORDER, seed=4)
    detector.check(ask(detector).id, frames[:5], terminal="kiosk-1")
    decision = detector.check(ask(detector).id, frames, terminal="kiosk-1")
    assert (decision.decision, only_reason(decision)) == ("attack", "frames.replayed")


def _reencoded(frames: list[Frame], scale: float, quality: int) -> list[Frame]:
    """The frames decoded, rescaled and JPEG-encoded again: other bytes, other pixels."""
    import cv2

    copies = []
    for frame in frames:
        bgr = cv2.imdecode(np.frombuffer(frame.data, np.uint8), cv2.IMREAD_COLOR)
        bgr = cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        copies.append(Frame(encode_jpeg(np.ascontiguousarray(bgr[:, :, ::-1]), quality),
                            frame.captured_at_ms + 7))
    return copies


def test_a_reencoded_rescaled_copy_of_an_answer_is_a_replay(
    detector: PresentationAttackDetector,
) -> None:
    root = require_liveness()
    first = ask(detector)
    sent = umist_answer(root, first, seed=11)
    assert detector.check(first.id, sent, terminal="kiosk-1").decision == "live"
    copy = _reencoded(sent, 0.9, 70)
    assert not {f.data for f in copy} & {f.data for f in sent}
    decision = detector.check(ask(detector).id, copy, terminal="kiosk-1")
    assert (decision.decision, only_reason(decision), decision.rule) == (
        "attack", "frames.replayed", "R26")
    assert decision.scores["replay.near_duplicate_share"] >= 0.9


def test_a_still_face_like_an_earlier_one_is_not_a_replay(
    detector: PresentationAttackDetector,
) -> None:
    """Frames that only repeat a still face (a person waiting at the same kiosk again) look
    like earlier ones but show no movement: not a replay by themselves."""
    root = require_liveness()
    first = ask(detector)
    detector.check(first.id, umist_answer(root, first, seed=12), terminal="kiosk-1")
    where = placement(0)  # where the first answer stood
    still = [Frame(encode_jpeg(shifted(umist_frame(root, "s18", 7, seed=500 + i), *where), 88),
                   1000 + 120 * i) for i in range(12)]
    decision = detector.check(ask(detector).id, still, terminal="kiosk-1")
    assert "frames.replayed" not in decision.codes, decision.reasons
    assert decision.decision != "live"  # no movement: not live either


def test_frames_out_of_order_are_an_attack(detector: PresentationAttackDetector) -> None:
    root = require_liveness()
    frames = umist_answer(root, ORDER, seed=5)
    frames[4], frames[8] = frames[8], frames[4]
    decision = detector.check(ask(detector).id, frames, terminal="kiosk-1")
    assert (decision.decision, only_reason(decision)) == ("attack", "frames.out_of_order")


def test_a_duplicated_frame_is_an_attack(detector: PresentationAttackDetector) -> None:
    root = require_liveness()
    frames = umist_answer(root, ORDER, seed=6)
    frames[5] = replace(frames[4], captured_at_ms=frames[5].captured_at_ms)
    decision = detector.check(ask(detector).id, frames, terminal="kiosk-1")
    assert (decision.decision, only_reason(decision)) == ("attack", "frames.duplicated")


def test_a_too_slow_response_is_refused(detector: PresentationAttackDetector,
                                        clock: AnsweringClock) -> None:
    root = require_liveness()
    slow = umist_answer(root, ORDER, seed=7, step_ms=700)  # 19 frames over 12.6 s
    decision = detector.check(ask(detector).id, slow, terminal="kiosk-1")
    assert (decision.decision, only_reason(decision)) == ("retry", "motion.too_slow")
    late = ask(detector).id
    clock.now += timedelta(seconds=10)
    decision = detector.check(late, umist_answer(root, ORDER, seed=8), terminal="kiosk-1")
    assert (decision.decision, only_reason(decision)) == ("retry", "challenge.expired")


def test_movements_in_the_wrong_order_are_refused(detector: PresentationAttackDetector) -> None:
    root = require_liveness()
    challenge = ask(detector)
    frames = umist_answer(root, ("turn-right", "turn-left"), seed=9, lit_by=challenge)
    decision = detector.check(challenge.id, frames, terminal="kiosk-1")
    assert decision.decision == "retry"
    assert only_reason(decision) == "motion.wrong_order"
    assert "asked turn-left, turn-right; seen turn-right, turn-left" in str(decision.reasons[0])


def test_frames_of_two_people_are_an_attack(detector: PresentationAttackDetector) -> None:
    root = require_liveness()
    challenge = ask(detector)
    first = umist_answer(root, ("turn-left",), person="s18", seed=10, lit_by=challenge)
    second = umist_answer(root, ("turn-right",), person="s06", seed=11,
                          start_ms=first[-1].captured_at_ms + 300)
    decision = detector.check(challenge.id, first + second, terminal="kiosk-1")
    assert decision.decision == "attack"
    assert "identity.changed" in decision.codes
    identity = next(r for r in decision.reasons if r.code == "identity.changed")
    assert "show different people" in identity.message


def test_a_photo_turned_in_front_of_the_camera_is_not_live(
    detector: PresentationAttackDetector, faces: Path,
) -> None:
    from PIL import Image

    with Image.open(faces / "lfw" / "lfw" / "Colin_Powell" / "Colin_Powell_0001.jpg") as image:
        photo = np.asarray(image.convert("RGB"))
    rng = np.random.default_rng(5)
    for medium, motion, strength in (("print", "turn", 1.0), ("screen", "turn", 0.9),
                                     ("print", "tilt", 1.0), ("screen", "mixed", 0.8),
                                     ("print", "shift", None)):
        sequence = render_attack(photo, rng, medium=medium, motion=motion, frames=12,
                                 face_box=(70, 70, 180, 190), size=(480, 360),
                                 strength=strength)
        decision = detector.check(ask(detector, ("turn-left", "look-up")).id,
                                  sequence.to_frames(), terminal="kiosk-1")
        assert decision.decision != "live", (medium, motion)
        if strength is None:  # a photo only moved sideways: no movement, no depth to see
            assert decision.decision == "retry" and "motion.none" in decision.codes
        else:  # a clear out-of-plane movement, yet no parallax: a plane
            assert decision.decision == "attack", (medium, motion, decision.reasons)
            assert "depth.planar" in decision.codes
            assert "explained by a single plane" in str(decision.reasons)


def test_a_challenge_for_another_terminal_or_an_undecodable_frame(
    detector: PresentationAttackDetector,
) -> None:
    root = require_liveness()
    decision = detector.check(ask(detector).id, umist_answer(root, ORDER, seed=12),
                              terminal="kiosk-2")
    assert (decision.decision, only_reason(decision)) == ("attack", "challenge.wrong_terminal")
    frames = umist_answer(root, ORDER, seed=13)
    frames[3] = Frame(b"\xff\xd8 not a jpeg", frames[3].captured_at_ms)
    with pytest.raises(ImageDecodeError, match="frame 4 of 19"):
        detector.check(ask(detector).id, frames, terminal="kiosk-1")


def test_a_single_picture_gets_the_passive_checks_only(
    detector: PresentationAttackDetector,
) -> None:
    root = require_liveness()
    decision = detector.assess_image(umist_frame(root, "s18", 7))
    assert decision.decision == "live"
    assert [c.name for c in decision.checks] == ["passive"]
    blank = detector.assess_image(np.full((200, 200, 3), 128, np.uint8))
    assert (blank.decision, only_reason(blank)) == ("retry", "face.not_found")
    assert encode_jpeg(np.zeros((8, 8, 3), np.uint8))[:2] == b"\xff\xd8"
