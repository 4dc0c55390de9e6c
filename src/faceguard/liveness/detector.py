"""The presentation-attack detector: challenge, frames, motion, depth, identity, passive cues.

:meth:`PresentationAttackDetector.check` judges one answer to a challenge. Cheap checks run
first and stop the work when they fail: the nonce (single use, right terminal, in time), then
the frame series as sent (count, order, duplicates, capture span, frames replayed from an
earlier presentation). Then the frames are decoded (in memory), faces found and their pose
measured on a copy scaled to ``working_side``, and:

- ``motion``: the asked movements, in order (:mod:`.motion`);
- ``depth``: each movement, from the neutral pose to its peak, must show parallax; a face that
  moved out of plane like a plane is an attack (:mod:`.parallax`);
- ``identity``: the same person in every frame (:mod:`.consistency`);
- ``passive``: screen and print cues on a few frames at full resolution (:mod:`.passive`).

:meth:`assess_recording` runs depth, identity and passive on a recording made without a
challenge (evaluation); :meth:`assess_image` only the passive scorers.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from faceguard.engine.imaging import ImageLimits, decode_image
from faceguard.engine.imaging import resize as _resize
from faceguard.engine.quality import measure_quality
from faceguard.engine.types import Face, FaceEngine
from faceguard.errors import FaceguardError
from faceguard.liveness.challenge import (
    Challenge,
    Challenges,
    ChallengeStore,
    FrameMemory,
    SeenFrames,
)
from faceguard.liveness.colour import check_colours, reflection
from faceguard.liveness.consistency import ConsistencyPolicy, check_identity
from faceguard.liveness.fusion import fuse
from faceguard.liveness.motion import (
    MotionPolicy,
    ObservedMotion,
    PoseSample,
    check_frames,
    check_movements,
    frame_digest,
    observe,
    perceptual_hash,
)
from faceguard.liveness.parallax import ParallaxConfig, SegmentStats, analyse_segment, judge
from faceguard.liveness.passive import PassiveScorer, default_scorers
from faceguard.liveness.pose import LandmarkPose
from faceguard.liveness.types import CheckResult, Frame, PadDecision, PadReason, combine

Box = tuple[int, int, int, int]

#: Frames are JPEGs from a camera: smaller limits than for enrollment photos.
FRAME_LIMITS = ImageLimits(max_bytes=5 * 1024 * 1024, max_pixels=8_300_000, max_side=4096)


@dataclass(frozen=True)
class PadConfig:
    """Settings of the detector. ``working_side``: longest side of the copy that faces are
    found on (kiosk faces are large); depth is measured on the full-resolution frames;
    ``window``: frames per depth segment in recordings without a challenge."""

    working_side: int = 320
    #: Once a face is found, the next frame's is sought among faces at least this share of
    #: its width (``detect_sized``, engines that have it): a kiosk's face is large, so HOG
    #: runs without the upscaling that a search for small faces needs (a 36-frame answer
    #: in 0.56 to 0.66 of the time, bench/bench_pad.py). A frame where none is found is
    #: searched in full. ``None``: every frame in full.
    follow_size: float | None = 0.75
    #: Narrowest face (pixels, full-resolution frames) on which depth is judged.
    min_face_px: int = 100
    #: Frames compared for the identity check turn at most this much (landmark yaw).
    max_identity_yaw: float = 0.3
    #: Frames embedded for the identity check (the most frontal and the rest spread over
    #: the answer): 3 cost 0.23 s on one core with dlib, 5 cost 0.38 s.
    embed_frames: int = 3
    passive_frames: int = 3
    window: int = 10
    limits: ImageLimits = FRAME_LIMITS
    #: How much longer than the server's time since issuing the capture may seem to last
    #: (the terminal's clock may run a little fast).
    clock_slack_ms: int = 500
    #: Near-duplicate frames (perceptual hash): a frame within this many bits of 64 of one
    #: received in an earlier presentation looks the same. A person standing still looks
    #: the same from one attempt to the next too, so one such frame proves nothing: an
    #: answer is a replay when at least ``replay_share`` of its frames (and
    #: ``replay_min_frames``) look like earlier ones, and they show at least
    #: ``replay_distinct`` pictures more than ``distinct_bits`` apart (movement, not a still
    #: face). Measured on the live clips (docs/LIVENESS.md): re-encoded and rescaled copies
    #: lie within 2 bits; a second stretch of the same clip (the person, seconds later, in the
    #: same place) has 65% of its frames within 2 bits, and none of 14 met the whole rule.
    near_duplicate_bits: int = 2
    replay_share: float = 0.9
    replay_min_frames: int = 4
    replay_distinct: int = 3
    distinct_bits: int = 10
    #: Fusion of a trained model's score (scorer ``onnx``) with the other evidence: a score
    #: below the model's threshold but at least ``model_doubt`` passes only when the rest is
    #: strong: the colours followed (agreement at least ``colour_strong``) and, where depth
    #: is judged, the depth check passed. Otherwise a retry (``passive.doubtful``).
    model_doubt: float = 0.2
    colour_strong: float = 0.9
    #: ... and a score from the model's threshold up to ``model_outweighed`` is outweighed
    #: (the passive check passes) where a colour challenge was answered: the colours
    #: followed strongly, reflected as by skin, and depth passed (``fusion``, where the
    #: measurements behind 0.9 are). ``None``: never outweighed.
    model_outweighed: float | None = 0.9
    #: Head yaw for the movements from dlib's 68 landmarks (``liveness.pose``, where the
    #: model is installed) instead of the engine's 5: less moved by JPEG (docs/LIVENESS.md).
    pose_68: bool = True
    #: ... only where the 5 landmarks' yaw is within this (near frontal). Beyond it the
    #: 68-point fit folded back on composed UMIST answers (-0.41, -0.16, -0.23, -0.41 through
    #: a turn to profile: a turn read as turning back, ``motion.mismatch``).
    pose_68_within: float = 0.3
    motion: MotionPolicy = field(default_factory=MotionPolicy)
    parallax: ParallaxConfig = field(default_factory=ParallaxConfig)
    consistency: ConsistencyPolicy = field(default_factory=ConsistencyPolicy)


@dataclass
class _Seen:
    """Frames and what was found in them (working-copy coordinates)."""

    native: list[np.ndarray]
    work: list[np.ndarray]
    scales: list[float]
    faces: list[Face | None]
    poses: list[PoseSample]
    chips: dict[int, np.ndarray]
    #: Frames whose face was found by following the last one's size (``detect_sized``).
    followed: set[int] = field(default_factory=set)


def _without_slow_fallback(engine: FaceEngine) -> FaceEngine:
    """The engine, or a shallow copy of it that skips a slow fallback detector.

    ``DlibEngine`` tries its CNN detector (about a second per frame) when HOG finds no face.
    In a liveness series, frames without a face are expected (a head turned far), and a
    profile found by the CNN gives landmarks too poor to read a pose from: the copy shares the
    models already loaded and only turns the fallback off.
    """
    if getattr(engine, "cnn_fallback", False):
        clone = copy.copy(engine)
        clone.cnn_fallback = False  # type: ignore[attr-defined]
        return clone
    return engine


def _spread(candidates: list[int], count: int, first: list[int]) -> list[int]:
    """``first`` then evenly spread ``candidates``, ``count`` at most, in frame order."""
    chosen = [i for i in dict.fromkeys(first) if i in candidates][:count]
    rest = [i for i in candidates if i not in chosen]
    if rest and len(chosen) < count:
        picks = np.linspace(0, len(rest) - 1, min(count - len(chosen), len(rest)))
        chosen += [rest[int(round(p))] for p in picks]
    return sorted(set(chosen))


def check_clock(challenge: Challenge, frames: Sequence[Frame], now: datetime,
                slack_ms: int) -> CheckResult:
    """The ``clock`` check: frames cannot have been captured before the challenge was issued.

    The terminal's capture times are on its own clock; only their span is compared with the
    server's: the time from issuing the challenge to receiving the answer must cover it."""
    elapsed_ms = (now - challenge.issued_at).total_seconds() * 1000
    span_ms = float(frames[-1].captured_at_ms - frames[0].captured_at_ms)
    if span_ms > elapsed_ms + slack_ms:
        return CheckResult.failed(
            "clock", "attack", "frames.before_challenge",
            f"the frames span {span_ms:.0f} ms, but the challenge was issued only "
            f"{elapsed_ms:.0f} ms ago: they were captured before it", span_ms=span_ms,
            elapsed_ms=elapsed_ms)
    return CheckResult.passed("clock", elapsed_ms=elapsed_ms)


class PresentationAttackDetector:
    """Judges presentations; see the module docstring. ``engine`` finds, aligns and embeds
    faces (the deployment's engine); ``challenges`` issues and consumes nonces."""

    def __init__(
        self,
        engine: FaceEngine,
        challenges: Challenges | None = None,
        *,
        scorers: Sequence[PassiveScorer] | None = None,
        config: PadConfig | None = None,
        seen_frames: FrameMemory | None = None,
    ) -> None:
        self.engine = _without_slow_fallback(engine)
        self.challenges: Challenges = challenges or ChallengeStore()
        self.scorers = list(default_scorers() if scorers is None else scorers)
        self.config = config or PadConfig()
        self.seen_frames: FrameMemory = seen_frames or SeenFrames(self.challenges.policy.memory)
        pose = LandmarkPose()
        self._pose = pose if self.config.pose_68 and pose.available() else None

    def issue_challenge(self, terminal: str, *, subject: str | None = None) -> Challenge:
        return self.challenges.issue(terminal, subject=subject)

    # ---- the three entry points ----------------------------------------------------------

    def check(
        self,
        challenge_id: str,
        frames: Sequence[Frame],
        subject_hint: str | None = None,
        *,
        terminal: str | None = None,
    ) -> PadDecision:
        """Judge the frames sent in answer to challenge ``challenge_id``.

        ``subject_hint`` is who the frames claim to show (must match a challenge issued for a
        subject); ``terminal`` must match the terminal the challenge was issued to.
        Raises ``ImageError`` (naming the frame) if a frame cannot be decoded.
        """
        started = time.perf_counter()

        def done(checks: list[CheckResult], best: int | None = None) -> PadDecision:
            return combine(checks, challenge_id=challenge_id, best_frame=best,
                           seconds=time.perf_counter() - started)

        challenge, nonce = self.challenges.consume(challenge_id, terminal=terminal,
                                                   subject=subject_hint)
        if challenge is None or nonce.outcome != "pass":
            return done([nonce])
        # Every frame received is remembered, whatever the outcome, so it cannot come again.
        replayed = self.seen_frames.check_and_add(
            list(dict.fromkeys(frame_digest(f.data) for f in frames)))
        if replayed:
            return done([nonce, CheckResult.failed(
                "frames", "attack", "frames.replayed",
                f"{len(replayed)} frame(s) were already sent in an earlier presentation")])
        timing = check_frames(frames, min_frames=challenge.min_frames,
                              max_frames=challenge.max_frames,
                              max_capture_ms=challenge.max_capture_ms,
                              policy=self.config.motion)
        if timing.outcome != "pass":
            return done([nonce, timing])
        clock = check_clock(challenge, frames, self.challenges.now(), self.config.clock_slack_ms)
        if clock.outcome != "pass":
            return done([nonce, timing, clock])
        rgbs = self._decode(frames)
        for index in range(1, len(rgbs)):
            if np.array_equal(rgbs[index], rgbs[index - 1]):
                return done([nonce, CheckResult.failed(
                    "frames", "attack", "frames.duplicated",
                    f"frame {index + 1} shows exactly the same pixels as frame {index}")])
        near = self._near_duplicates(rgbs)
        if near.outcome != "pass":
            return done([nonce, timing, clock, near])
        checks_so_far = [nonce, timing, clock, near]
        seen = self._find_faces(rgbs, [f.captured_at_ms for f in frames])
        motion, observed = check_movements(seen.poses, challenge.movements, self.config.motion)
        colour = check_colours(challenge.colours, [f.captured_at_ms for f in frames],
                               self._reflections(seen, self.challenges.policy.colour.grid),
                               self.challenges.policy.colour)
        checks = [*checks_so_far, colour, motion]
        checks += self._evidence(seen, observed)
        return done(self._fused(checks), self._best_frame(seen))

    def assess_recording(
        self, frames: Sequence[np.ndarray], times_ms: Sequence[int] | None = None,
    ) -> PadDecision:
        """Depth, identity and passive checks on RGB frames recorded without a challenge."""
        started = time.perf_counter()
        times = list(times_ms) if times_ms is not None else [100 * i for i in range(len(frames))]
        seen = self._find_faces(list(frames), times)
        observed = observe(seen.poses, self.config.motion)
        checks = self._fused(self._evidence(seen, observed, windows_only=True))
        return combine(checks, best_frame=self._best_frame(seen),
                       seconds=time.perf_counter() - started)

    def assess_image(self, rgb: np.ndarray) -> PadDecision:
        """The passive scorers alone, on one RGB image (no liveness can be shown by one)."""
        started = time.perf_counter()
        seen = self._find_faces([rgb], [0])
        if seen.faces[0] is None:
            check = CheckResult.failed("passive", "retry", "face.not_found",
                                       "no face was found in the image")
        else:
            check = self._passive(seen, [0])
        return combine([check], best_frame=0 if seen.faces[0] is not None else None,
                       seconds=time.perf_counter() - started)

    # ---- stages --------------------------------------------------------------------------

    def _fused(self, checks: list[CheckResult]) -> list[CheckResult]:
        """``checks`` with a trained model's verdict fused with the other evidence
        (``fusion.fuse``); unchanged without a model."""
        model = next((s for s in self.scorers if s.name == "onnx"), None)
        if model is None:
            return checks
        config = self.config
        return fuse(checks, model.threshold, doubt=config.model_doubt,
                    agreement=config.colour_strong, outweighed=config.model_outweighed)

    def _decode(self, frames: Sequence[Frame]) -> list[np.ndarray]:
        rgbs = []
        for number, frame in enumerate(frames, start=1):
            try:
                rgbs.append(decode_image(frame.data, self.config.limits))
            except FaceguardError as exc:
                exc.add_context(f"frame {number} of {len(frames)}")
                raise
        return rgbs

    def _near_duplicates(self, rgbs: list[np.ndarray]) -> CheckResult:
        """Frames that look like frames of an earlier presentation (re-encoded, rescaled,
        slightly cropped copies): a replayed answer when enough of them, showing movement
        (``PadConfig.replay_*``). Every frame's hash is remembered."""
        config = self.config
        hashes = [perceptual_hash(rgb) for rgb in rgbs]
        similar = self.seen_frames.check_and_add_similar(hashes, config.near_duplicate_bits)
        distinct: list[int] = []
        for index in similar:
            if all(bin(hashes[index] ^ hashes[d]).count("1") > config.distinct_bits
                   for d in distinct):
                distinct.append(index)
        share = len(similar) / len(rgbs)
        if (share >= config.replay_share and len(similar) >= config.replay_min_frames
                and len(distinct) >= config.replay_distinct):
            return CheckResult.failed(
                "replay", "attack", "frames.replayed",
                f"{len(similar)} of {len(rgbs)} frames look like frames of an earlier "
                f"presentation (re-encoded or rescaled copies, {len(distinct)} different "
                "pictures among them)", near_duplicate_share=share)
        return CheckResult.passed("replay", near_duplicate_share=share)

    def _find_faces(self, rgbs: list[np.ndarray], times: Sequence[int]) -> _Seen:
        seen = _Seen(rgbs, [], [], [], [], {})
        follow = self.config.follow_size
        sized = getattr(self.engine, "detect_sized", None) if follow is not None else None
        width = 0  # of the last face found, working-copy pixels
        for index, (rgb, t_ms) in enumerate(zip(rgbs, times, strict=True)):
            scale = min(1.0, self.config.working_side / max(rgb.shape[:2]))
            work = _resize(rgb, scale)
            faces = []
            if sized is not None and follow is not None and width:
                faces = sized(work, follow * width)
                if faces:
                    seen.followed.add(index)
            if not faces:
                faces = self.engine.detect(work)
            face = faces[0] if faces else None
            if face is not None:
                width = face.box[2] - face.box[0]
            seen.work.append(work)
            seen.scales.append(scale)
            seen.faces.append(face)
            if face is None:
                seen.poses.append(PoseSample(int(t_ms), None, None))
                continue
            chip = self.engine.align(work, face)
            seen.chips[index] = chip
            quality = measure_quality(face, chip)
            yaw, pitch = quality.yaw, quality.pitch
            if self._pose is not None and abs(yaw) < self.config.pose_68_within:
                # The yaw from 18 points near frontal, where the movement thresholds lie and
                # JPEG noise matters; beyond, the 68-point fit folds back as the far eye's
                # contour collapses (a turn read as turning back), so the 5 landmarks'
                # stays. The pitch stays the 5 landmarks' (the 68-point fit's nose base
                # drifts on faces turned far, which reads as nodding).
                yaw = self._pose.pose(work, face.box)[0]
            seen.poses.append(PoseSample(int(t_ms), yaw, pitch))
        return seen

    def _from_neutral(self, pose: PoseSample, observed: ObservedMotion) -> float:
        """How far a pose is from the neutral one, in units of the movement thresholds."""
        policy = self.config.motion
        return max(abs((pose.yaw or 0.0) - observed.base_yaw) / policy.turn_threshold,
                   abs((pose.pitch or 0.0) - observed.base_pitch) / policy.nod_threshold)

    @staticmethod
    def _reflections(seen: _Seen, grid: int) -> list[np.ndarray | None]:
        signals: list[np.ndarray | None] = []
        for index, face in enumerate(seen.faces):
            if face is None:
                signals.append(None)
                continue
            # Mean colours need no full resolution: the working copy, in its coordinates.
            signals.append(reflection(seen.work[index], face.box, grid))
        return signals

    @staticmethod
    def _best_frame(seen: _Seen) -> int | None:
        faced = [i for i, p in enumerate(seen.poses) if p.yaw is not None]
        if not faced:
            return None
        return min(faced, key=lambda i: abs(seen.poses[i].yaw or 0.0))

    def _evidence(
        self, seen: _Seen, observed: ObservedMotion, *, windows_only: bool = False,
    ) -> list[CheckResult]:
        faced = [i for i, f in enumerate(seen.faces) if f is not None]
        if not faced:
            return [CheckResult.failed("depth", "retry", "face.not_found",
                                       "no face was found in any frame")]
        widths = [(f.box[2] - f.box[0]) / seen.scales[i]
                  for i, f in enumerate(seen.faces) if f is not None]
        if float(np.median(widths)) < self.config.min_face_px:
            depth = CheckResult.failed(
                "depth", "retry", "face.too_small",
                f"the face is {np.median(widths):.0f} px wide; come closer (at least "
                f"{self.config.min_face_px} px are needed to see depth)")
        else:
            depth = judge(self._segments(seen, observed, windows_only))
        best = self._best_frame(seen)
        # Templates of strongly turned faces are unreliable: compare the frames near frontal.
        frontal = [i for i in faced
                   if abs(seen.poses[i].yaw or 0.0) <= self.config.max_identity_yaw]
        chosen = _spread(frontal or faced, self.config.embed_frames,
                         [best] if best is not None else [])
        vectors = [self.engine.embed(seen.chips[i]) for i in chosen]
        identity = check_identity(vectors, chosen, self.config.consistency)
        passive = self._passive(seen, _spread(faced, self.config.passive_frames,
                                              [best] if best is not None else []))
        return [depth, identity, passive]

    def _segments(
        self, seen: _Seen, observed: ObservedMotion, windows_only: bool,
    ) -> list[SegmentStats]:
        poses = seen.poses
        spans: list[tuple[int, int]] = []
        if observed.peaks and not windows_only:
            # Each movement from the frame nearest the neutral pose since the previous
            # movement's peak, to its own peak.
            previous = 0
            for peak in observed.peaks:
                candidates = [i for i in range(previous, peak) if seen.faces[i] is not None]
                if candidates:
                    start = min(candidates, key=lambda i: self._from_neutral(poses[i], observed))
                    spans.append((start, peak))
                previous = peak
        else:
            # A recording: overlapping windows. An answer in which no movement was seen is a
            # retry whatever its depth; its depth is still judged (a plane is an attack), on
            # windows side by side, at half the cost.
            size = self.config.window
            last = max(len(poses) - size, 0)
            step = max(size // 2, 1) if windows_only else size
            spans = [(s, min(s + size, len(poses)) - 1) for s in range(0, last + 1, step)]
        segments = []
        for start, end in spans:
            first = next((i for i in range(start, end + 1) if seen.faces[i] is not None), None)
            if first is None or end - first < 1:
                continue
            face = seen.faces[first]
            assert face is not None
            if first in seen.followed:
                # Depth tracks the points inside this box: the box of the full search, as
                # measured. A followed face's box may stand a HOG cell off and take in the
                # flat background beside the face (composed UMIST answers were then called
                # planar 5 times in 24, against once).
                face = next(iter(self.engine.detect(seen.work[first])), face)
            # Yaw only: landmark pitch jitters too much at rest to prove a movement.
            changes = [abs((p.yaw or 0.0) - (poses[first].yaw or 0.0))
                       for p in poses[first:end + 1] if p.yaw is not None]
            scale = seen.scales[first]
            box: Box = tuple(int(round(v / scale)) for v in face.box)  # type: ignore[assignment]
            segments.append(analyse_segment(seen.native[first:end + 1], box,
                                            pose_change=max(changes, default=0.0),
                                            config=self.config.parallax))
        return segments

    def _passive(self, seen: _Seen, frames: list[int]) -> CheckResult:
        if not self.scorers:
            return CheckResult.passed("passive")
        scores: dict[str, float] = {}
        for scorer in self.scorers:
            values = []
            for index in frames:
                face = seen.faces[index]
                if face is None:
                    continue
                scale = seen.scales[index]
                box: Box = tuple(int(round(v / scale)) for v in face.box)  # type: ignore[assignment]
                values.append(scorer.score(seen.native[index], box))
            if values:
                scores[scorer.name] = float(np.median(values))
        flagged = [s for s in self.scorers
                   if s.name in scores and scores[s.name] >= s.threshold]
        if flagged:
            return CheckResult("passive", "attack", tuple(
                PadReason(f"passive.{s.name}",
                          f"single-frame attack cue {s.name}: score {scores[s.name]:.2f} "
                          f">= {s.threshold:.2f}")
                for s in flagged), scores)
        return CheckResult("passive", "pass", (), scores)
