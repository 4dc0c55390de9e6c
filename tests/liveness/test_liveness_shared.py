"""Liveness across workers (issue 14): two Faceguard objects on one store stand for two
workers (on PostgreSQL, two machines). A challenge issued by one is answered on the other,
and a replay of that answer is refused on both; failures on both count toward one lockout;
an answer that enrolled one purpose on one worker enrolls the next purpose on the other."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from faceguard import Faceguard
from faceguard.engine.dlib_engine import DlibEngine
from faceguard.liveness import Frame, LivenessAnswer
from faceguard.liveness.shared import SharedChallenges
from test_liveness_support import AnsweringClock, require_liveness, umist_answer

#: The order the UMIST composition answers reliably (see test_liveness_support).
TURNS = ("turn-left", "turn-right")


@pytest.fixture()
def workers(data_dir: Path, engine: DlibEngine) -> Iterator[tuple[Faceguard, Faceguard]]:
    clock = AnsweringClock()  # one clock: the time a person takes, seen by both
    one = Faceguard.open(data_dir, engine=engine)
    two = Faceguard.open(data_dir, engine=engine)
    one.consent.publish_notice("access-control")
    one.consent.publish_notice("attendance")
    for worker in (one, two):
        state = worker.liveness.configure()
        state.detector.challenges = SharedChallenges(worker._store.records, clock=clock)
    yield one, two
    one.close()
    two.close()


def test_a_challenge_issued_on_one_worker_is_answered_on_the_other_once(
        workers: tuple[Faceguard, Faceguard]) -> None:
    root = require_liveness()
    one, two = workers
    challenge = one.liveness.configure().detector.challenges.issue("gate-1", movements=TURNS)
    frames = umist_answer(root, challenge, seed=21)
    decision = two.liveness.check(challenge.id, frames, subject=None, terminal="gate-1")
    assert decision.live, decision.codes
    for worker in (one, two):  # the same answer again, on either worker
        replay = worker.liveness.check(challenge.id, frames, subject=None, terminal="gate-1")
        assert replay.decision == "attack" and "challenge.replayed" in replay.codes


def test_a_reencoded_copy_of_an_answer_is_refused_on_the_other_worker(
        workers: tuple[Faceguard, Faceguard]) -> None:
    import cv2
    import numpy as np

    from faceguard.liveness.attacks import encode_jpeg

    root = require_liveness()
    one, two = workers
    challenge = one.liveness.configure().detector.challenges.issue("gate-2", movements=TURNS)
    frames = umist_answer(root, challenge, seed=22)
    assert one.liveness.check(challenge.id, frames, subject=None, terminal="gate-2").live
    copy = []
    for frame in frames:  # decoded, scaled to 110%, encoded again: other bytes and pixels
        bgr = cv2.imdecode(np.frombuffer(frame.data, np.uint8), cv2.IMREAD_COLOR)
        bgr = cv2.resize(bgr, None, fx=1.1, fy=1.1, interpolation=cv2.INTER_LINEAR)
        copy.append(Frame(encode_jpeg(np.ascontiguousarray(bgr[:, :, ::-1]), 75),
                          frame.captured_at_ms))
    again = two.liveness.configure().detector.challenges.issue("gate-2", movements=TURNS)
    decision = two.liveness.check(again.id, copy, subject=None, terminal="gate-2")
    assert decision.decision == "attack" and decision.codes == ("frames.replayed",)
    assert decision.rule == "R26"


def test_failures_on_both_workers_count_toward_one_lockout(
        workers: tuple[Faceguard, Faceguard]) -> None:
    one, two = workers
    limit = one.liveness.configure().lockout.policy.max_failures
    bad = [Frame(bytes([n]) * 32, 1000 - 50 * n) for n in range(10)]  # time runs backwards
    for attempt in range(limit):
        worker = (one, two)[attempt % 2]
        challenge = worker.liveness.issue_challenge("gate-7")
        assert not worker.liveness.check(challenge.id, bad, subject=None,
                                         terminal="gate-7").live
    for worker in (one, two):
        lock = worker.liveness.configure().lockout.active(subject=None, terminal="gate-7")
        assert lock is not None and lock.kind == "terminal"


def test_a_passed_answer_enrolls_the_next_purpose_on_the_other_worker(
        workers: tuple[Faceguard, Faceguard]) -> None:
    root = require_liveness()
    one, two = workers
    one.consent.grant("emp-9", "access-control", name="E Nine", method="click", evidence="k/9")
    one.consent.grant("emp-9", "attendance", name="E Nine", method="click", evidence="k/9")
    challenge = one.liveness.configure().detector.challenges.issue(
        "gate-1", subject="emp-9", movements=TURNS)
    answer = LivenessAnswer(challenge.id, tuple(umist_answer(root, challenge, seed=21)),
                            "gate-1")
    first = one.liveness.probe(answer, subject="emp-9", enrolling="access-control")
    again = two.liveness.probe(answer, subject="emp-9", enrolling="attendance")
    assert first is not None and again == first  # the same frame, by its number
    with pytest.raises(Exception, match="liveness"):  # a third use is a replay
        two.liveness.probe(answer, subject="emp-9", enrolling="attendance")
