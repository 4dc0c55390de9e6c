"""Presentation-attack detection (R26, GB/T 38671): challenge-response liveness by default.

The server issues a :class:`Challenge` (a single-use nonce and two or three head movements);
the terminal films the person and sends the frames (:class:`Frame`: JPEG bytes and capture
time in ms); :class:`PresentationAttackDetector` answers with a :class:`PadDecision` (``live``,
``attack`` or ``retry``, with reason codes and rule ``R26``). No learned anti-spoofing model
ships with faceguard: the default works from geometry (a photo or a screen moves like a plane,
a head does not) and protocol; :class:`OnnxPadScorer` takes a user-supplied model.

Nothing heavy is imported here: OpenCV and ONNX Runtime load on first use.
"""

from faceguard.liveness.challenge import (
    MOVEMENTS,
    Challenge,
    ChallengePolicy,
    Challenges,
    ChallengeStore,
    SeenFrames,
)
from faceguard.liveness.colour import PALETTE, ColourPolicy
from faceguard.liveness.consistency import ConsistencyPolicy
from faceguard.liveness.detector import FRAME_LIMITS, PadConfig, PresentationAttackDetector
from faceguard.liveness.lockout import Lock, Lockout, LockoutPolicy
from faceguard.liveness.motion import MotionPolicy, PoseSample
from faceguard.liveness.parallax import ParallaxConfig, SegmentStats, analyse_segment
from faceguard.liveness.passive import HalftoneScorer, MoireScorer, OnnxPadScorer, PassiveScorer
from faceguard.liveness.types import (
    RULE,
    CheckResult,
    Frame,
    LivenessAnswer,
    PadDecision,
    PadReason,
)

__all__ = [
    "FRAME_LIMITS",
    "MOVEMENTS",
    "RULE",
    "Challenge",
    "PALETTE",
    "ChallengePolicy",
    "ChallengeStore",
    "Challenges",
    "ColourPolicy",
    "CheckResult",
    "ConsistencyPolicy",
    "Frame",
    "HalftoneScorer",
    "LivenessAnswer",
    "Lock",
    "Lockout",
    "LockoutPolicy",
    "MoireScorer",
    "MotionPolicy",
    "OnnxPadScorer",
    "PadConfig",
    "PadDecision",
    "PadReason",
    "ParallaxConfig",
    "PassiveScorer",
    "PoseSample",
    "PresentationAttackDetector",
    "SeenFrames",
    "SegmentStats",
    "analyse_segment",
]
