"""Plain types of presentation-attack detection (PAD): frames in, a decision out.

A *presentation* is what the camera saw during one challenge: a short series of frames. The
detector answers with a :class:`PadDecision`:

- ``live``: the checks found a live, three-dimensional head that did what was asked;
- ``attack``: positive evidence of an attack (a flat photo or screen moved in front of the
  camera, a replayed challenge or frame, frames of two people, tampered frame order);
- ``retry``: not enough evidence either way (too little movement, face not found, too slow,
  movements in another order). A retry is not a pass: callers refuse the operation, and it
  counts as a failed attempt for the lockout.

Every decision carries the rule it enforces (``R26``, GB/T 38671) and machine-readable
reason codes, e.g. ``challenge.replayed`` or ``depth.planar``; ``scores`` holds the measured
figures behind them (no image data, no templates), safe for the processing record.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

#: The rule every liveness decision enforces (REQUIREMENTS.md).
RULE = "R26"

Decision = Literal["live", "attack", "retry"]
Outcome = Literal["pass", "attack", "retry"]


@dataclass(frozen=True)
class Frame:
    """One captured frame as the client sends it.

    ``data`` is the encoded image (JPEG; PNG and WEBP are accepted too) exactly as captured
    and unmirrored (the camera's own orientation; mirror the preview only). ``captured_at_ms``
    is the client's capture time in milliseconds (any epoch, e.g. ``performance.now()``):
    only differences between frames are used, so the client clock need not be set.
    """

    data: bytes
    captured_at_ms: int


@dataclass(frozen=True)
class LivenessAnswer:
    """A terminal's answer to a challenge, as enroll and verify take it: the challenge ID,
    the frames it captured, and the terminal's ID."""

    challenge_id: str
    frames: tuple[Frame, ...]
    terminal: str


@dataclass(frozen=True)
class PadReason:
    """Why a check did not pass: a dotted ``code`` and a sentence for people."""

    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check (challenge, timing, motion, depth, identity, passive)."""

    name: str
    outcome: Outcome
    reasons: tuple[PadReason, ...] = ()
    scores: Mapping[str, float] = field(default_factory=dict)

    @staticmethod
    def passed(name: str, **scores: float) -> CheckResult:
        return CheckResult(name, "pass", (), dict(scores))

    @staticmethod
    def failed(
        name: str, outcome: Outcome, code: str, message: str, **scores: float
    ) -> CheckResult:
        return CheckResult(name, outcome, (PadReason(code, message),), dict(scores))


@dataclass(frozen=True)
class PadDecision:
    """The detector's answer for one presentation.

    ``best_frame`` is the index (into the frames sent) of the most frontal frame with a face,
    the one to use as the probe or enrollment image so that the liveness proof and the
    recognised face are the same pictures. ``seconds`` is the decision time.
    """

    decision: Decision
    reasons: tuple[PadReason, ...]
    scores: Mapping[str, float]
    rule: str = RULE
    challenge_id: str | None = None
    checks: tuple[CheckResult, ...] = ()
    best_frame: int | None = None
    seconds: float = 0.0

    @property
    def live(self) -> bool:
        return self.decision == "live"

    @property
    def codes(self) -> tuple[str, ...]:
        """The reason codes, in the order the checks ran."""
        return tuple(r.code for r in self.reasons)

    def summary(self) -> dict[str, object]:
        """A plain, audit-safe summary: decision, rule, codes and rounded scores."""
        return {
            "decision": self.decision,
            "rule": self.rule,
            "reasons": [r.code for r in self.reasons],
            "scores": {k: round(float(v), 4) for k, v in sorted(self.scores.items())
                       if math.isfinite(float(v))},
        }


def combine(
    checks: list[CheckResult], *, challenge_id: str | None = None,
    best_frame: int | None = None, seconds: float = 0.0,
) -> PadDecision:
    """One decision from several checks: any attack wins, then any retry, else live."""
    ranked = sorted(checks, key=lambda c: {"attack": 0, "retry": 1, "pass": 2}[c.outcome])
    reasons = tuple(r for c in ranked for r in c.reasons)
    scores = {f"{c.name}.{k}": float(v) for c in checks for k, v in c.scores.items()}
    if any(c.outcome == "attack" for c in checks):
        decision: Decision = "attack"
    elif any(c.outcome == "retry" for c in checks) or not checks:
        decision = "retry"
    else:
        decision = "live"
    if decision == "retry" and not reasons:
        reasons = (PadReason("pad.no_evidence", "no check produced evidence of liveness"),)
    return PadDecision(decision, reasons, scores, challenge_id=challenge_id,
                       checks=tuple(checks), best_frame=best_frame, seconds=seconds)
