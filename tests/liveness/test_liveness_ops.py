"""The facade's liveness operations: audit events (the alarm), lockout, the R26 check."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from conftest import CN_TEST_DEPLOYMENT, go_live
from faceguard import Faceguard
from faceguard.engine.dlib_engine import DlibEngine
from faceguard.errors import ImageDecodeError, PolicyError
from faceguard.liveness import ChallengeStore, Frame, LivenessAnswer, Lockout, LockoutPolicy
from test_liveness_support import AnsweringClock, require_liveness, umist_answer

LiveGuard = Faceguard  # Faceguard.liveness holds the liveness operations


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture()
def guard(data_dir: Path, engine: DlibEngine) -> Iterator[LiveGuard]:
    instance = LiveGuard.open(data_dir, engine=engine)
    instance.consent.publish_notice("access-control")
    instance.consent.grant("emp-1", "access-control", name="E One", method="click",
                           evidence="kiosk/1")
    yield instance
    instance.close()


def _reordered(count: int = 10) -> list[Frame]:
    """Frames whose capture times go backwards: refused before any pixel is decoded."""
    return [Frame(bytes([n]) * 32, 1000 - 50 * n) for n in range(count)]


def _events(guard: LiveGuard, operation: str) -> list[tuple[str, list[str], dict[str, object]]]:
    return [(e.outcome, list(e.rules), e.detail)
            for e in guard._store.audit.events(operation=operation)]


def test_an_attack_is_recorded_as_an_alarm(guard: LiveGuard) -> None:
    challenge = guard.liveness.issue_challenge("gate-1")
    assert challenge.to_wire()["challenge_id"] == challenge.id
    decision = guard.liveness.check(challenge.id, _reordered(), subject="emp-1",
                                    terminal="gate-1", actor="kiosk")
    assert (decision.decision, decision.codes) == ("attack", ("frames.out_of_order",))
    [(outcome, rules, detail)] = _events(guard, "liveness.attack")
    assert (outcome, rules) == ("attack", ["R26"])
    assert detail["reasons"] == ["frames.out_of_order"] and detail["terminal"] == "gate-1"
    assert detail["challenge_id"] == challenge.id
    event = guard._store.audit.events(operation="liveness.attack")[0]
    assert event.subject is not None and event.actor == "kiosk"
    assert "emp-1" not in str(event.detail)  # the processing record holds internal IDs only
    assert guard._store.audit.verify().ok


def test_repeated_failures_lock_the_person_and_are_recorded(guard: LiveGuard) -> None:
    clock = Clock()
    guard.liveness.configure(lockout=Lockout(LockoutPolicy(max_failures=3), clock=clock))
    for _ in range(2):
        challenge = guard.liveness.issue_challenge("gate-1")
        guard.liveness.check(challenge.id, _reordered(), subject="emp-1", terminal="gate-1")
    assert _events(guard, "liveness.lockout") == []
    challenge = guard.liveness.issue_challenge("gate-2")
    guard.liveness.check(challenge.id, _reordered(), subject="emp-1", terminal="gate-2")
    [(outcome, rules, detail)] = _events(guard, "liveness.lockout")
    assert (outcome, rules, detail["locked"], detail["failures"]) == (
        "locked", ["R26"], "subject", 3)
    with pytest.raises(PolicyError, match=r"^\[R26\] liveness locked for this subject"):
        guard.liveness.issue_challenge("gate-3", subject="emp-1")
    with pytest.raises(PolicyError) as refused:
        guard.liveness.check("whatever", _reordered(), subject="emp-1", terminal="gate-3")
    assert refused.value.rule == "R26"
    assert [o for o, _, _ in _events(guard, "liveness.refused")] == ["locked", "locked"]
    guard.liveness.issue_challenge("gate-3", subject="emp-2")  # someone else is not locked
    clock.now += timedelta(minutes=16)
    guard.liveness.issue_challenge("gate-3", subject="emp-1")


def test_a_terminal_is_locked_after_failures_of_several_people(guard: LiveGuard) -> None:
    guard.liveness.configure(lockout=Lockout(LockoutPolicy(max_failures=2)))
    for person in ("emp-8", "emp-9"):
        challenge = guard.liveness.issue_challenge("gate-7")
        guard.liveness.check(challenge.id, _reordered(), subject=person, terminal="gate-7")
    locks = [d["locked"] for _, _, d in _events(guard, "liveness.lockout")]
    assert locks == ["terminal"]
    with pytest.raises(PolicyError, match="locked for this terminal"):
        guard.liveness.issue_challenge("gate-7")


def test_undecodable_frames_count_as_a_failure(guard: LiveGuard) -> None:
    guard.liveness.configure(lockout=Lockout(LockoutPolicy(max_failures=1)))
    challenge = guard.liveness.issue_challenge("gate-1")
    frames = [Frame(b"junk" + bytes([n]), n) for n in range(10)]
    with pytest.raises(ImageDecodeError, match="frame 1 of 10"):
        guard.liveness.check(challenge.id, frames, subject="emp-1", terminal="gate-1")
    assert [o for o, _, _ in _events(guard, "liveness.failed")] == ["rejected"]
    assert len(_events(guard, "liveness.lockout")) == 2  # the person and the terminal


def test_a_live_answer_gives_the_picture_to_recognise(guard: LiveGuard) -> None:
    root = require_liveness()
    state = guard.liveness.configure()
    state.detector.challenges = ChallengeStore(clock=AnsweringClock())
    challenge = state.detector.challenges.issue("gate-1", movements=("turn-left", "turn-right"))
    frames = tuple(umist_answer(root, challenge, seed=21))
    probe = guard.liveness.probe(LivenessAnswer(challenge.id, frames, "gate-1"),
                                 subject="emp-1")
    frontal = [*range(25), 32, 40]  # UMIST 7: the 25 frames of the colours, each turn's end
    assert probe in {frames[i].data for i in frontal}
    [(outcome, rules, detail)] = _events(guard, "liveness.passed")
    assert (outcome, rules, detail["decision"]) == ("live", ["R26"], "live")
    assert "identity.max_distance" in detail["scores"]  # type: ignore[operator]
    guard.enroll("emp-1", [probe], "access-control")


def test_without_a_live_answer_the_probe_is_refused_where_liveness_is_required(
    guard: LiveGuard,
) -> None:
    assert guard.liveness.required() is False
    assert guard.liveness.probe(None, subject="emp-1") is None
    challenge = guard.liveness.issue_challenge("gate-1")
    with pytest.raises(PolicyError, match=r"did not pass \(attack: frames.out_of_order\)"):
        guard.liveness.probe(LivenessAnswer(challenge.id, tuple(_reordered()), "gate-1"),
                             subject="emp-1")
    guard._core.deployment = guard.deployment.model_copy(update={
        "deployment": guard.deployment.deployment.model_copy(update={"liveness": "required"})})
    assert guard.liveness.required() is True
    with pytest.raises(PolicyError, match="liveness is required") as refused:
        guard.liveness.probe(None, subject="emp-1")
    assert refused.value.rule == "R26"


def test_with_a_detector_the_cn_pack_no_longer_fails_r26(tmp_path: Path,
                                                         engine: DlibEngine) -> None:
    folder = tmp_path / "cn"
    Faceguard.init(folder)
    deployment = CN_TEST_DEPLOYMENT.replace('liveness = "off"', 'liveness = "required"')
    go_live(folder, deployment, engine)
    from faceguard.api.core import Core

    # declared once, on the core every part shares (the liveness operations are built in)
    assert Core.pad_available is True
    with LiveGuard.open(folder, engine=engine) as guard:
        assert guard.governance.facts().pad_available is True
        assert "R26" not in {v.rule for v in guard.governance.check().violations}


def test_re_rolling_challenges_runs_into_the_budget_and_is_recorded(guard: LiveGuard,
                                                                     engine: DlibEngine) -> None:
    from faceguard.errors import LivenessError
    from faceguard.liveness import ChallengeStore, PresentationAttackDetector

    clock = Clock()
    guard.liveness.configure(detector=PresentationAttackDetector(engine, ChallengeStore(
        clock=clock)), lockout=Lockout(clock=clock))
    # a person asking again and again, hoping for a sequence their recording shows
    for _ in range(10):
        guard.liveness.issue_challenge("gate-1", subject="emp-1")
    with pytest.raises(LivenessError) as spent:
        guard.liveness.issue_challenge("gate-1", subject="emp-1")
    assert spent.value.rule == "R26"
    assert [code for code, _ in spent.value.reasons] == ["liveness.challenges_spent_subject"]
    # a terminal re-rolling without a person: 200 asked, 120 issued, every one recorded
    refused = 0
    for _ in range(200):
        try:
            guard.liveness.issue_challenge("gate-2")
        except LivenessError as exc:
            assert exc.reasons[0][0] == "liveness.challenges_spent_terminal"
            refused += 1
    assert refused == 80
    issued = _events(guard, "liveness.issued")
    assert len(issued) == 130 and all(rules == ["R26"] for _, rules, _ in issued)
    assert {d["terminal"] for _, _, d in issued} == {"gate-1", "gate-2"}
    assert len(_events(guard, "liveness.refused")) == 81
    # unanswered, they expire: each a failed attempt, recorded; the terminal is locked
    clock.now += timedelta(seconds=16)
    with pytest.raises(LivenessError) as locked:
        guard.liveness.issue_challenge("gate-2")
    assert locked.value.reasons[0][0] == "liveness.locked_terminal"
    expired = _events(guard, "liveness.expired")
    assert len(expired) == 130 and {o for o, _, _ in expired} == {"expired"}
    lockouts = {d["locked"] for _, _, d in _events(guard, "liveness.lockout")}
    assert lockouts == {"subject", "terminal"}
    # a late answer to an expired challenge is a retry, not a pass
    decision = guard.liveness.check(issued[0][2]["challenge_id"], _reordered(),  # type: ignore[arg-type]
                                    subject=None, terminal="gate-3")
    assert decision.codes == ("challenge.expired",)
