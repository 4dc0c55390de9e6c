"""Liveness (R26), ``Faceguard.liveness``: challenges, checks, lockout, alarms.

``issue_challenge`` hands a terminal a challenge; ``check`` judges the frames sent
back. Every decision lands in the processing record: ``liveness.passed``, ``liveness.failed``
(a retry), ``liveness.attack`` (the alarm), ``liveness.lockout`` when repeated failures lock a
person or a terminal, and ``liveness.refused`` for an attempt while locked. The record holds
the decision, reason codes and measured scores, never frames or templates.

A challenge is answered once. One exception: a person consenting to several purposes is
enrolled in each from the same live answer (``probe(..., enrolling=purpose)``): the
passed answer is remembered for a minute, and the identical answer (same challenge, frames,
person and terminal) enrolls each purpose at most once. Verification and identification never
reuse an answer.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from faceguard.api.core import Core, Part
from faceguard.audit.operations import Op
from faceguard.errors import ConfigError, FaceguardError, LivenessError
from faceguard.liveness.challenge import Challenge
from faceguard.liveness.consistency import ConsistencyPolicy
from faceguard.liveness.detector import PadConfig, PresentationAttackDetector
from faceguard.liveness.lockout import Lock, Lockouts
from faceguard.liveness.passive import scorers_for
from faceguard.liveness.shared import (
    SharedChallenges,
    SharedFrames,
    SharedLockout,
    SharedPassed,
)
from faceguard.liveness.types import RULE, Frame, LivenessAnswer, PadDecision
from faceguard.policy import pack_numbers
from faceguard.timeutil import iso

_STATE_LOCK = threading.Lock()

#: How long a passed answer may still enroll the person's other purposes.
REUSE_WINDOW = timedelta(minutes=1)


@dataclass
class LivenessState:
    """The detector (with its challenge store) and the lockout of one facade."""

    detector: PresentationAttackDetector
    lockout: Lockouts
    passed: SharedPassed


class Liveness(Part):
    """Challenge-response liveness with lockout and audit events."""

    def __init__(self, core: Core) -> None:
        super().__init__(core)
        self._state: LivenessState | None = None

    def configure(
        self, *, detector: PresentationAttackDetector | None = None,
        lockout: Lockouts | None = None,
    ) -> LivenessState:
        """Replace the detector (e.g. with an ``OnnxPadScorer``, other policies or a test
        clock) and/or the lockout. Without arguments, build the defaults now."""
        with _STATE_LOCK:
            current = self._state
            records = self._core.store.records
            state = LivenessState(
                detector or (current.detector if current else self._default_detector()),
                lockout or (current.lockout if current else SharedLockout(records)),
                current.passed if current else SharedPassed(records, REUSE_WINDOW),
            )
            self._state = state
        return state

    def _current(self) -> LivenessState:
        state = self._state
        return state if state is not None else self.configure()

    def _default_detector(self) -> PresentationAttackDetector:
        try:
            threshold = self._core.calibration.point("access-control").threshold
        except ConfigError:
            threshold = ConsistencyPolicy().max_distance
        config = PadConfig(consistency=ConsistencyPolicy(max_distance=threshold))
        # Challenges and frames received live in the record store: a challenge issued by one
        # worker is answered on another, and a replay is refused on every one.
        records = self._core.store.records
        challenges = SharedChallenges(records)
        scorers = scorers_for(self._core.deployment.pad_model, self._core.config_dir)
        return PresentationAttackDetector(
            self._core.engine, challenges, config=config, scorers=scorers,
            seen_frames=SharedFrames(records, challenges.policy.memory))

    # ---- operations ---------------------------------------------------------------------

    def issue_challenge(self, terminal: str, *, subject: str | None = None,
                        actor: str = "library") -> Challenge:
        """A new challenge for ``terminal`` (``Challenge.to_wire()`` is what it receives).

        ``subject`` (an external ID) binds the challenge to one person. Refused with
        ``PolicyError`` (R26) while the terminal or the person is locked out, or when they
        have used up their budget of challenges (``LockoutPolicy.max_issued_*``); every
        challenge issued is recorded (``liveness.issued``), and one that expires unanswered
        is recorded (``liveness.expired``) and counts as a failed attempt.
        """
        state = self._current()
        self._expire_unanswered(state, actor)
        lock = state.lockout.active(subject=subject, terminal=terminal)
        if lock is not None:
            self._refuse_locked(lock, actor, subject, terminal, None)
        spent = state.lockout.charge_issue(subject=subject, terminal=terminal)
        if spent is not None:
            self._refuse_locked(spent, actor, subject, terminal, None, budget=True)
        challenge = state.detector.issue_challenge(terminal, subject=subject)
        self._record(actor, subject, Op.LIVENESS_ISSUED, "issued", {
            "terminal": terminal, "challenge_id": challenge.id,
            "expires_at": iso(challenge.expires_at)})
        return challenge

    def check(
        self,
        challenge_id: str,
        frames: Sequence[Frame],
        *,
        subject: str | None,
        terminal: str,
        actor: str = "library",
    ) -> PadDecision:
        """Judge the frames answering ``challenge_id``; record the decision.

        ``subject`` is the external ID the frames are claimed to show (``None`` for 1:N).
        A failed attempt (attack, retry, or frames that cannot be decoded) counts toward the
        lockout of the subject and the terminal; raises ``PolicyError`` (R26) while locked.
        """
        state = self._current()
        self._expire_unanswered(state, actor)
        lock = state.lockout.active(subject=subject, terminal=terminal)
        if lock is not None:
            self._refuse_locked(lock, actor, subject, terminal, challenge_id)
        try:
            decision = state.detector.check(challenge_id, frames, subject, terminal=terminal)
        except FaceguardError as exc:
            self._record(actor, subject, Op.LIVENESS_FAILED, "rejected",
                         {"terminal": terminal, "challenge_id": challenge_id,
                          "error": type(exc).__name__, "message": exc.message[:300]})
            self._count_failure(state, actor, subject, terminal)
            raise
        detail = {"terminal": terminal, "challenge_id": challenge_id, **decision.summary(),
                  "seconds": round(decision.seconds, 3)}
        if decision.live:
            state.lockout.record_success(subject=subject)
            self._record(actor, subject, Op.LIVENESS_PASSED, "live", detail)
            return decision
        operation = Op.LIVENESS_ATTACK if decision.decision == "attack" else Op.LIVENESS_FAILED
        self._record(actor, subject, operation, decision.decision, detail)
        self._count_failure(state, actor, subject, terminal)
        return decision

    def required(self) -> bool:
        """Whether the deployment or one of its packs requires liveness (R26)."""
        return (self._core.deployment.deployment.liveness == "required"
                or pack_numbers(self._core.deployment).liveness_required)

    def probe(
        self, answer: LivenessAnswer | None, *, subject: str | None, actor: str = "library",
        enrolling: str | None = None,
    ) -> bytes | None:
        """The picture to recognise, taken from a live answer to a challenge.

        For enroll, verify and identify: checks ``answer`` (recording the decision) and
        returns the bytes of its most frontal frame, so the face recognised is the face shown
        live. ``None`` when no answer is given and liveness is not required. Raises
        ``LivenessError`` (R26) when liveness is required and no answer is given, when the
        answer is not judged live (the reason codes are in the message and in ``reasons``),
        or while locked out. ``enrolling`` (a purpose) lets a passed answer enroll the same
        person in each of their purposes, once each, within ``REUSE_WINDOW``.
        """
        if answer is None:
            if self.required():
                raise LivenessError("liveness is required: issue a challenge and send the "
                                    "frames that answer it", decision="required",
                                    reasons=(("liveness.required", "no answer to a "
                                              "challenge was sent"),))
            return None
        state = self._current()
        fingerprint = _fingerprint(answer, subject)
        if enrolling is not None:
            reused = state.passed.reuse(answer.challenge_id, fingerprint, enrolling)
            if reused is not None and 0 <= reused < len(answer.frames):
                frame: bytes = answer.frames[reused].data
                return frame
        decision = self.check(answer.challenge_id, answer.frames, subject=subject,
                                       terminal=answer.terminal, actor=actor)
        if not decision.live or decision.best_frame is None:
            raise LivenessError(f"the liveness check did not pass ({decision.decision}: "
                                f"{', '.join(decision.codes)})", decision=decision.decision,
                                reasons=tuple((r.code, r.message) for r in decision.reasons))
        if enrolling is not None:
            state.passed.remember(answer.challenge_id, fingerprint, decision.best_frame,
                                  enrolling)
        return answer.frames[decision.best_frame].data

    # ---- helpers ------------------------------------------------------------------------

    def _expire_unanswered(self, state: LivenessState, actor: str) -> None:
        """Record each challenge that expired unanswered, and count it as a failure."""
        for challenge in state.detector.challenges.take_expired():
            self._record(actor, challenge.subject, Op.LIVENESS_EXPIRED, "expired", {
                "terminal": challenge.terminal, "challenge_id": challenge.id,
                "expired_at": iso(challenge.expires_at)})
            self._count_failure(state, actor, challenge.subject, challenge.terminal)

    def _count_failure(self, state: LivenessState, actor: str, subject: str | None,
                       terminal: str) -> None:
        for lock in state.lockout.record_failure(subject=subject, terminal=terminal):
            self._record(actor, subject, Op.LIVENESS_LOCKOUT, "locked", {
                "locked": lock.kind, "terminal": terminal, "until": iso(lock.until),
                "failures": lock.failures,
            })

    def _refuse_locked(self, lock: Lock, actor: str, subject: str | None, terminal: str,
                       challenge_id: str | None, *, budget: bool = False) -> None:
        code = f"liveness.{'challenges_spent' if budget else 'locked'}_{lock.kind}"
        self._record(actor, subject, Op.LIVENESS_REFUSED, "locked", {
            "locked": lock.kind, "terminal": terminal, "until": iso(lock.until),
            "challenge_id": challenge_id, "code": code,
        })
        message = (f"{lock.failures} challenges issued to this {lock.kind} recently; no new "
                   f"one until {iso(lock.until)}" if budget else
                   f"liveness locked for this {lock.kind} after {lock.failures} failed "
                   f"attempts, until {iso(lock.until)}")
        raise LivenessError(message, decision="locked", reasons=((code, message),))

    def _record(self, actor: str, subject: str | None, operation: str, outcome: str,
                detail: dict[str, Any]) -> None:
        with self._core.store.write() as conn:
            subject_id = self._core.subject_id(conn, subject) if subject is not None else None
            self._core.store.audit.append(conn, actor=actor, operation=operation, outcome=outcome,
                                    subject=subject_id, rules=[RULE], detail=detail)


def _fingerprint(answer: LivenessAnswer, subject: str | None) -> str:
    """SHA-256 over everything an answer consists of, and who it is claimed to show."""
    digest = hashlib.sha256()
    for part in (answer.challenge_id, answer.terminal, subject or ""):
        digest.update(part.encode() + b"\0")
    for frame in answer.frames:
        digest.update(hashlib.sha256(frame.data).digest())
        digest.update(str(int(frame.captured_at_ms)).encode() + b"\0")
    return digest.hexdigest()
