"""Liveness operations of the ``Faceguard`` facade (R26): challenges, checks, lockout, alarms.

``issue_challenge`` hands a terminal a challenge; ``check_liveness`` judges the frames sent
back. Every decision lands in the processing record: ``liveness.passed``, ``liveness.failed``
(a retry), ``liveness.attack`` (the alarm), ``liveness.lockout`` when repeated failures lock a
person or a terminal, and ``liveness.refused`` for an attempt while locked. The record holds
the decision, reason codes and measured scores, never frames or templates.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError, FaceguardError, PolicyError
from .facade import FacadeBase
from .liveness.challenge import Challenge
from .liveness.consistency import ConsistencyPolicy
from .liveness.detector import PadConfig, PresentationAttackDetector
from .liveness.lockout import Lock, Lockout
from .liveness.types import RULE, Frame, LivenessAnswer, PadDecision
from .policy import pack_numbers
from .timeutil import iso

_STATE_LOCK = threading.Lock()


@dataclass
class LivenessState:
    """The detector (with its challenge store) and the lockout of one facade."""

    detector: PresentationAttackDetector
    lockout: Lockout


class LivenessOps(FacadeBase):
    """Challenge-response liveness with lockout and audit events."""

    #: A presentation-attack detector is available (the R26 deployment check reads this).
    pad_available: bool = True

    _liveness_state: LivenessState | None = None

    def configure_liveness(
        self, *, detector: PresentationAttackDetector | None = None,
        lockout: Lockout | None = None,
    ) -> LivenessState:
        """Replace the detector (e.g. with an ``OnnxPadScorer``, other policies or a test
        clock) and/or the lockout. Without arguments, build the defaults now."""
        with _STATE_LOCK:
            current = self._liveness_state
            state = LivenessState(
                detector or (current.detector if current else self._default_detector()),
                lockout or (current.lockout if current else Lockout()),
            )
            self._liveness_state = state
        return state

    def _liveness(self) -> LivenessState:
        state = self._liveness_state
        return state if state is not None else self.configure_liveness()

    def _default_detector(self) -> PresentationAttackDetector:
        try:
            threshold = self.calibration.point("access-control").threshold
        except ConfigError:
            threshold = ConsistencyPolicy().max_distance
        config = PadConfig(consistency=ConsistencyPolicy(max_distance=threshold))
        return PresentationAttackDetector(self.engine, config=config)

    # ---- operations ---------------------------------------------------------------------

    def issue_challenge(self, terminal: str, *, subject: str | None = None,
                        actor: str = "library") -> Challenge:
        """A new challenge for ``terminal`` (``Challenge.to_wire()`` is what it receives).

        ``subject`` (an external ID) binds the challenge to one person. Refused with
        ``PolicyError`` (R26) while the terminal or the person is locked out.
        """
        state = self._liveness()
        lock = state.lockout.active(subject=subject, terminal=terminal)
        if lock is not None:
            self._refuse_locked(lock, actor, subject, terminal, None)
        return state.detector.issue_challenge(terminal, subject=subject)

    def check_liveness(
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
        state = self._liveness()
        lock = state.lockout.active(subject=subject, terminal=terminal)
        if lock is not None:
            self._refuse_locked(lock, actor, subject, terminal, challenge_id)
        try:
            decision = state.detector.check(challenge_id, frames, subject, terminal=terminal)
        except FaceguardError as exc:
            self._record_liveness(actor, subject, "liveness.failed", "rejected",
                         {"terminal": terminal, "challenge_id": challenge_id,
                          "error": type(exc).__name__, "message": exc.message[:300]})
            self._count_failure(state, actor, subject, terminal)
            raise
        detail = {"terminal": terminal, "challenge_id": challenge_id, **decision.summary(),
                  "seconds": round(decision.seconds, 3)}
        if decision.live:
            state.lockout.record_success(subject=subject)
            self._record_liveness(actor, subject, "liveness.passed", "live", detail)
            return decision
        operation = "liveness.attack" if decision.decision == "attack" else "liveness.failed"
        self._record_liveness(actor, subject, operation, decision.decision, detail)
        self._count_failure(state, actor, subject, terminal)
        return decision

    def liveness_required(self) -> bool:
        """Whether the deployment or one of its packs requires liveness (R26)."""
        return (self.deployment.deployment.liveness == "required"
                or pack_numbers(self.deployment).liveness_required)

    def liveness_probe(
        self, answer: LivenessAnswer | None, *, subject: str | None, actor: str = "library",
    ) -> bytes | None:
        """The picture to recognise, taken from a live answer to a challenge.

        For enroll, verify and identify: checks ``answer`` (recording the decision) and
        returns the bytes of its most frontal frame, so the face recognised is the face shown
        live. ``None`` when no answer is given and liveness is not required. Raises
        ``PolicyError`` (R26) when liveness is required and no answer is given, when the answer
        is not judged live (the reason codes are in the message), or while locked out.
        """
        if answer is None:
            if self.liveness_required():
                raise PolicyError("liveness is required: issue a challenge and send the "
                                  "frames that answer it", rule=RULE)
            return None
        decision = self.check_liveness(answer.challenge_id, answer.frames, subject=subject,
                                       terminal=answer.terminal, actor=actor)
        if not decision.live or decision.best_frame is None:
            raise PolicyError(f"the liveness check did not pass ({decision.decision}: "
                              f"{', '.join(decision.codes)})", rule=RULE)
        return answer.frames[decision.best_frame].data

    # ---- helpers ------------------------------------------------------------------------

    def _count_failure(self, state: LivenessState, actor: str, subject: str | None,
                       terminal: str) -> None:
        for lock in state.lockout.record_failure(subject=subject, terminal=terminal):
            self._record_liveness(actor, subject, "liveness.lockout", "locked", {
                "locked": lock.kind, "terminal": terminal, "until": iso(lock.until),
                "failures": lock.failures,
            })

    def _refuse_locked(self, lock: Lock, actor: str, subject: str | None, terminal: str,
                       challenge_id: str | None) -> None:
        self._record_liveness(actor, subject, "liveness.refused", "locked", {
            "locked": lock.kind, "terminal": terminal, "until": iso(lock.until),
            "challenge_id": challenge_id,
        })
        raise PolicyError(
            f"liveness locked for this {lock.kind} after {lock.failures} failed attempts, "
            f"until {iso(lock.until)}", rule=RULE)

    def _record_liveness(self, actor: str, subject: str | None, operation: str, outcome: str,
                detail: dict[str, Any]) -> None:
        with self.store.write_lock, self.store.records.begin() as conn:
            subject_id = self._subject_id(conn, subject) if subject is not None else None
            self.store.audit.append(conn, actor=actor, operation=operation, outcome=outcome,
                                    subject=subject_id, rules=[RULE], detail=detail)
