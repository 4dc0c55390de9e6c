"""Challenges: random movements, single use, expiry, binding; the lockout; frame timing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from random import Random

import pytest

from faceguard.errors import ConfigError
from faceguard.liveness import (
    MOVEMENTS,
    ChallengePolicy,
    ChallengeStore,
    Frame,
    Lockout,
    LockoutPolicy,
    SeenFrames,
)
from faceguard.liveness.motion import MotionPolicy, PoseSample, check_frames, check_movements


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


def test_challenges_ask_two_or_three_distinct_consecutive_movements() -> None:
    store = ChallengeStore(rng=Random(7))
    seen_counts = set()
    for _ in range(200):
        challenge = store.issue("kiosk-1")
        seen_counts.add(len(challenge.movements))
        assert set(challenge.movements) <= set(MOVEMENTS)
        assert all(a != b for a, b in zip(challenge.movements, challenge.movements[1:],
                                          strict=False))
    assert seen_counts == {2, 3}


def test_a_nonce_is_random_and_the_wire_form_says_what_to_do() -> None:
    store = ChallengeStore()
    ids = {store.issue("kiosk-1").id for _ in range(100)}
    assert len(ids) == 100 and all(len(i) >= 22 for i in ids)
    wire = store.issue("kiosk-1", movements=("turn-left", "look-up")).to_wire()
    assert wire["movements"] == ["turn-left", "look-up"]
    assert wire["instructions"][0].startswith("Turn your head to your left")
    assert wire["expires_in_ms"] == 15_000 and wire["max_capture_ms"] == 11_000
    assert wire["rule"] == "R26" and wire["frame_format"] == "image/jpeg"
    with pytest.raises(ConfigError, match="unknown movements"):
        store.issue("kiosk-1", movements=("wink",))


def test_a_challenge_is_consumed_once_and_a_replay_is_an_attack() -> None:
    store = ChallengeStore()
    challenge = store.issue("kiosk-1")
    first, check = store.consume(challenge.id, terminal="kiosk-1")
    assert first == challenge and check.outcome == "pass"
    again, check = store.consume(challenge.id, terminal="kiosk-1")
    assert again is None and check.outcome == "attack"
    assert check.reasons[0].code == "challenge.replayed"
    _, check = store.consume("never-issued")
    assert check.outcome == "retry" and check.reasons[0].code == "challenge.unknown"


def test_expired_challenges_and_other_terminals_or_people_are_refused() -> None:
    clock = Clock()
    store = ChallengeStore(ChallengePolicy(ttl=timedelta(seconds=10)), clock=clock)
    late = store.issue("kiosk-1")
    clock.advance(seconds=10.5)
    _, check = store.consume(late.id, terminal="kiosk-1")
    assert (check.outcome, check.reasons[0].code) == ("retry", "challenge.expired")
    assert "too slow" in check.reasons[0].message
    elsewhere = store.issue("kiosk-1")
    _, check = store.consume(elsewhere.id, terminal="kiosk-2")
    assert (check.outcome, check.reasons[0].code) == ("attack", "challenge.wrong_terminal")
    bound = store.issue("kiosk-1", subject="emp-1")
    _, check = store.consume(bound.id, terminal="kiosk-1", subject="emp-2")
    assert (check.outcome, check.reasons[0].code) == ("attack", "challenge.wrong_subject")


def test_consumed_nonces_are_forgotten_after_the_memory_period() -> None:
    clock = Clock()
    store = ChallengeStore(ChallengePolicy(memory=timedelta(minutes=5)), clock=clock)
    challenge = store.issue("kiosk-1")
    store.consume(challenge.id)
    clock.advance(minutes=6)
    store.issue("kiosk-1")  # housekeeping runs on every call
    _, check = store.consume(challenge.id)
    assert check.reasons[0].code == "challenge.unknown"


def test_seen_frames_are_recognised_across_presentations() -> None:
    clock = Clock()
    seen = SeenFrames(timedelta(minutes=10), clock=clock)
    assert seen.check_and_add(["a", "b"]) == []
    assert seen.check_and_add(["c", "b"]) == [1]
    clock.advance(minutes=11)
    assert seen.check_and_add(["a"]) == []


def test_lockout_per_subject_and_terminal_within_the_window() -> None:
    clock = Clock()
    lockout = Lockout(LockoutPolicy(max_failures=3, window=timedelta(minutes=5),
                                    lock_for=timedelta(minutes=10)), clock=clock)
    assert lockout.record_failure(subject="a", terminal="t1") == []
    clock.advance(minutes=6)  # the first failure leaves the window
    assert lockout.record_failure(subject="a", terminal="t1") == []
    assert lockout.record_failure(subject="a", terminal="t2") == []
    locks = lockout.record_failure(subject="a", terminal="t3")
    assert [(lock.kind, lock.key, lock.failures) for lock in locks] == [("subject", "a", 3)]
    lock = lockout.active(subject="a", terminal="t9")
    assert lock is not None and lock.until == clock.now + timedelta(minutes=10)
    assert lockout.active(subject="b", terminal="t1") is None
    clock.advance(minutes=10, seconds=1)
    assert lockout.active(subject="a", terminal="t1") is None


def test_a_terminal_is_locked_for_everyone_and_a_pass_clears_only_the_subject() -> None:
    clock = Clock()
    lockout = Lockout(LockoutPolicy(max_failures=2), clock=clock)
    lockout.record_failure(subject="a", terminal="t1")
    lockout.record_success(subject="a")
    locks = lockout.record_failure(subject="b", terminal="t1")
    assert [(lock.kind, lock.key) for lock in locks] == [("terminal", "t1")]
    lock = lockout.active(subject="c", terminal="t1")
    assert lock is not None and lock.kind == "terminal"


def _frames(times: list[int], payloads: list[bytes] | None = None) -> list[Frame]:
    payloads = payloads or [bytes([i]) * 10 for i in range(len(times))]
    return [Frame(p, t) for p, t in zip(payloads, times, strict=True)]


def test_frame_series_out_of_order_duplicated_slow_or_with_holes() -> None:
    def run(frames: list[Frame]) -> tuple[str, str]:
        check = check_frames(frames, min_frames=4, max_frames=10, max_capture_ms=3000)
        return check.outcome, check.reasons[0].code if check.reasons else ""

    assert run(_frames([0, 100, 200, 300])) == ("pass", "")
    assert run(_frames([0, 200, 100, 300])) == ("attack", "frames.out_of_order")
    assert run(_frames([0, 100, 100, 300])) == ("attack", "frames.out_of_order")
    assert run(_frames([0, 100, 200, 300], [b"x", b"y", b"x", b"z"])) == (
        "attack", "frames.duplicated")
    assert run(_frames([0, 1000, 2000, 3100])) == ("retry", "motion.too_slow")
    assert run(_frames([0, 100, 1700, 1800])) == ("retry", "frames.gap")
    assert run(_frames([0, 100, 200])) == ("retry", "frames.too_few")
    assert run(_frames(list(range(0, 1100, 100)))) == ("retry", "frames.too_many")


def _poses(track: list[tuple[float, float] | None]) -> list[PoseSample]:
    return [PoseSample(100 * i, *(p if p else (None, None))) for i, p in enumerate(track)]


def test_movements_are_read_from_the_pose_in_order() -> None:
    level = [(0.0, 0.75)] * 3
    left = [(0.1, 0.76), (0.25, 0.78), (0.3, 0.8), (0.1, 0.76)]
    right = [(-0.15, 0.76), (-0.3, 0.78), (-0.05, 0.75)]
    up = [(0.0, 0.6), (0.0, 0.55), (0.0, 0.7)]
    down = [(0.0, 0.9), None, (0.01, 0.95), (0.0, 0.78)]
    check, seen = check_movements(_poses(level + left + right), ["turn-left", "turn-right"])
    assert check.outcome == "pass" and seen.movements == ("turn-left", "turn-right")
    assert seen.peaks == (5, 8)
    check, seen = check_movements(_poses(level + up + down), ["look-up", "look-down"])
    assert check.outcome == "pass"
    check, _ = check_movements(_poses(level + right + left), ["turn-left", "turn-right"])
    assert (check.outcome, check.reasons[0].code) == ("retry", "motion.wrong_order")
    check, _ = check_movements(_poses(level + left), ["turn-left", "look-up"])
    assert check.reasons[0].code == "motion.mismatch"
    check, _ = check_movements(_poses(level * 3), ["turn-left", "look-up"])
    assert check.reasons[0].code == "motion.none"
    check, _ = check_movements(_poses([None] * 6 + level), ["turn-left"])
    assert check.reasons[0].code == "face.not_found"
    check, _ = check_movements(_poses([(0.35, 0.75)] * 3 + left), ["turn-left"],
                               MotionPolicy())
    assert check.reasons[0].code == "motion.not_facing"
