"""The challenge's movements, in order and in time, and the integrity of the frame series.

Two checks:

- ``frames`` (:func:`check_frames`): enough frames and not too many; capture times strictly
  increasing (a reordered series is refused: ``frames.out_of_order``); no frame sent twice
  (SHA-256 of the bytes: ``frames.duplicated``); the whole capture within the challenge's
  ``max_capture_ms`` (``motion.too_slow``) and no long hole in it (``frames.gap``).
- ``motion`` (:func:`check_movements`): the head pose of each frame, from the 5 landmarks
  (``yaw`` and ``pitch`` as in :mod:`faceguard.engine.quality`), relative to the first frames
  (the person starts facing the camera), is labelled with the movement it shows; runs of one
  label are the *observed* movements, which must equal the asked ones exactly, in order.

Conventions (unmirrored camera frames): ``turn-left`` (the person's left) raises yaw (the nose
moves toward the image's right); ``turn-right`` lowers it; ``look-up`` lowers pitch (the nose
base rises toward the eyes); ``look-down`` raises it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from faceguard.liveness.types import CheckResult, Frame


@dataclass(frozen=True)
class PoseSample:
    """Head pose of one frame: capture time, and yaw/pitch (``None`` without a face)."""

    t_ms: int
    yaw: float | None
    pitch: float | None


@dataclass(frozen=True)
class MotionPolicy:
    """Thresholds of the movement check (inter-ocular units, as in the quality gate).

    At rest the landmark pose jitters by about +-0.03 in yaw and +-0.06 in pitch (measured on
    the live clips); a clear head turn of 20 to 30 degrees moves yaw by 0.2 to 0.35.
    """

    turn_threshold: float = 0.12
    nod_threshold: float = 0.10
    #: The first frames must face the camera within this yaw.
    max_start_yaw: float = 0.25
    #: Share of frames in which a face must be found.
    min_face_share: float = 0.6
    #: Longest allowed hole between two frames.
    max_gap_ms: int = 1500
    #: Frames that start the series and set the neutral pose.
    baseline_frames: int = 3


def frame_digest(data: bytes) -> str:
    """SHA-256 (hex) of a frame's bytes: identifies a frame across presentations."""
    return hashlib.sha256(data).hexdigest()


def perceptual_hash(rgb: np.ndarray) -> int:
    """A 64-bit perceptual hash of a frame: the signs, against their median, of the 63
    lowest spatial frequencies (DCT of the grey picture at 32x32, constant term left out),
    plus a zero bit. Re-encoding and rescaling change a few bits (at most 2 of 64 on the
    live clips' frames, JPEG quality 60-75, scaled 0.8-1.1; up to 8 when also cropped by up
    to 2%); different scenes differ in about half."""
    import cv2

    grey = rgb if rgb.ndim == 2 else cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
    small = cv2.resize(grey.astype(np.float32), (32, 32), interpolation=cv2.INTER_AREA)
    low = cv2.dct(small)[:8, :8].reshape(-1)[1:]
    bits = low > np.median(low)
    return int(sum(1 << i for i, bit in enumerate(bits) if bit))


def check_frames(
    frames: Sequence[Frame], *, min_frames: int, max_frames: int, max_capture_ms: int,
    policy: MotionPolicy | None = None,
) -> CheckResult:
    """Count, order, duplicates and timing of the frames as sent (cheap: runs first)."""
    policy = policy or MotionPolicy()
    count = len(frames)
    if count < min_frames:
        return CheckResult.failed("frames", "retry", "frames.too_few",
                                  f"{count} frames received; at least {min_frames} needed",
                                  frames=count)
    if count > max_frames:
        return CheckResult.failed("frames", "retry", "frames.too_many",
                                  f"{count} frames received; at most {max_frames} accepted",
                                  frames=count)
    times = [int(f.captured_at_ms) for f in frames]
    for index in range(1, count):
        if times[index] <= times[index - 1]:
            return CheckResult.failed(
                "frames", "attack", "frames.out_of_order",
                f"frame {index + 1} was captured at {times[index]} ms, not after frame "
                f"{index} ({times[index - 1]} ms): frames reordered or timestamps forged",
                frames=count)
    digests = [frame_digest(f.data) for f in frames]
    seen: dict[str, int] = {}
    for index, digest in enumerate(digests):
        if digest in seen:
            return CheckResult.failed(
                "frames", "attack", "frames.duplicated",
                f"frame {index + 1} is a copy of frame {seen[digest] + 1}", frames=count)
        seen[digest] = index
    span = times[-1] - times[0]
    if span > max_capture_ms:
        return CheckResult.failed(
            "frames", "retry", "motion.too_slow",
            f"the movements took {span} ms; the challenge allows {max_capture_ms} ms",
            span_ms=float(span), frames=count)
    gap = max(b - a for a, b in zip(times[:-1], times[1:], strict=True))
    if gap > policy.max_gap_ms:
        return CheckResult.failed(
            "frames", "retry", "frames.gap",
            f"no frame for {gap} ms (at most {policy.max_gap_ms} ms between frames)",
            gap_ms=float(gap), frames=count)
    return CheckResult.passed("frames", frames=float(count), span_ms=float(span),
                              fps=1000.0 * (count - 1) / max(span, 1))


def label_pose(
    yaw: float, pitch: float, base_yaw: float, base_pitch: float, policy: MotionPolicy,
) -> str | None:
    """The movement a pose shows relative to the neutral pose, or ``None`` (neutral)."""
    d_yaw, d_pitch = yaw - base_yaw, pitch - base_pitch
    if abs(d_yaw) >= policy.turn_threshold:
        # A turn wins: a turned head also foreshortens the eye line, which raises pitch.
        return "turn-left" if d_yaw > 0 else "turn-right"
    if abs(d_pitch) >= policy.nod_threshold:
        return "look-down" if d_pitch > 0 else "look-up"
    return None


@dataclass(frozen=True)
class ObservedMotion:
    """What the frames showed: the movements in order, where each peaked, the neutral pose."""

    movements: tuple[str, ...]
    peaks: tuple[int, ...]
    base_yaw: float
    base_pitch: float
    face_share: float


def observe(samples: Sequence[PoseSample], policy: MotionPolicy | None = None) -> ObservedMotion:
    """Label each sample and merge runs of one label into movements."""
    policy = policy or MotionPolicy()
    faced = [(i, s) for i, s in enumerate(samples) if s.yaw is not None and s.pitch is not None]
    share = len(faced) / max(len(samples), 1)
    if not faced:
        return ObservedMotion((), (), 0.0, 0.0, share)
    head = sorted(faced[: policy.baseline_frames], key=lambda item: item[1].yaw or 0.0)
    base = head[len(head) // 2][1]
    base_yaw, base_pitch = float(base.yaw or 0.0), float(base.pitch or 0.0)
    movements: list[str] = []
    peaks: list[int] = []
    strength = 0.0
    previous: str | None = None
    for index, sample in faced:
        label = label_pose(float(sample.yaw or 0.0), float(sample.pitch or 0.0),
                           base_yaw, base_pitch, policy)
        if label is None:
            previous = None
            continue
        size = max(abs(float(sample.yaw or 0.0) - base_yaw) / policy.turn_threshold,
                   abs(float(sample.pitch or 0.0) - base_pitch) / policy.nod_threshold)
        if label != previous:
            movements.append(label)
            peaks.append(index)
            strength = size
        elif size > strength:
            peaks[-1] = index
            strength = size
        previous = label
    return ObservedMotion(tuple(movements), tuple(peaks), base_yaw, base_pitch, share)


def check_movements(
    samples: Sequence[PoseSample], asked: Sequence[str], policy: MotionPolicy | None = None,
) -> tuple[CheckResult, ObservedMotion]:
    """The ``motion`` check: were exactly the asked movements made, in the asked order?"""
    policy = policy or MotionPolicy()
    seen = observe(samples, policy)
    asked = tuple(asked)
    scores = {"face_share": seen.face_share, "movements": float(len(seen.movements))}
    if seen.face_share < policy.min_face_share:
        return CheckResult.failed(
            "motion", "retry", "face.not_found",
            f"a face was found in {seen.face_share:.0%} of the frames "
            f"(at least {policy.min_face_share:.0%} needed)", **scores), seen
    if abs(seen.base_yaw) > policy.max_start_yaw:
        return CheckResult.failed(
            "motion", "retry", "motion.not_facing",
            "the first frames do not face the camera; start by looking at it", **scores), seen
    said = ", ".join(asked)
    shown = ", ".join(seen.movements) or "no movement"
    if seen.movements == asked:
        return CheckResult("motion", "pass", (), scores), seen
    if sorted(seen.movements) == sorted(asked):
        return CheckResult.failed(
            "motion", "retry", "motion.wrong_order",
            f"the movements were made in another order: asked {said}; seen {shown}",
            **scores), seen
    if not seen.movements:
        return CheckResult.failed("motion", "retry", "motion.none",
                                  f"no head movement seen; asked {said}", **scores), seen
    return CheckResult.failed("motion", "retry", "motion.mismatch",
                              f"asked {said}; seen {shown}", **scores), seen
