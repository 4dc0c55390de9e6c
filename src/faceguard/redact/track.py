"""Covering faces in every frame of a video although detection runs only every few frames.

``Planner`` takes consecutive frames (as greyscale) and, on some of them, the faces the
detector found. It keeps one track per face and decides, for every frame, which regions
to cover:

- between detections a track follows its face by sparse optical flow (Lucas-Kanade on
  corners inside the box, checked forward and backward);
- a face the detector misses is still covered for ``hold`` frames after it was last
  detected (carried forward by the flow, or left in place when the flow is lost);
- a face detected for the first time is tracked backwards through the last ``backfill``
  frames, so the frames before its first detection are covered too.

Covering a little background too long is harmless; leaving a face uncovered is not, so
every choice here errs towards covering.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Literal

import numpy as np

from faceguard.redact.detect import Box, iou, same_face

Source = Literal["detected", "tracked", "backfilled"]
FloatBox = tuple[float, float, float, float]

_LK_WINDOW = (21, 21)
_LK_LEVELS = 3
_LK_STOP = (3, 20, 0.03)  # cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT (2 | 1)


@dataclass(frozen=True)
class TrackSettings:
    """``detect_every``: run the detector on one frame in this many. ``hold``: frames a face
    stays covered after its last detection. ``backfill``: frames covered before a face's
    first detection. ``cnn_every``: also run the CNN on one detection pass in this many
    (0: never); ``hold`` must then span a CNN cycle, so that a face only the CNN finds
    (a profile) stays covered between its detections. ``track_max_side``: the flow runs on
    a greyscale copy no longer than this."""

    detect_every: int = 3
    hold: int = 18
    backfill: int = 18
    cnn_every: int = 5
    track_max_side: int = 960

    def __post_init__(self) -> None:
        if self.detect_every < 1:
            raise ValueError("detect_every must be at least 1")
        cycle = self.detect_every * max(self.cnn_every, 1)
        if self.hold < cycle:
            raise ValueError(
                f"hold ({self.hold} frames) must span a detection cycle ({cycle} frames: "
                "detect_every x cnn_every), or faces would go uncovered between detections"
            )
        if self.backfill < 0 or self.cnn_every < 0 or self.track_max_side < 64:
            raise ValueError("backfill and cnn_every must be >= 0, track_max_side >= 64")

    @classmethod
    def every(cls, detect_every: int, cnn_every: int = 5) -> TrackSettings:
        """Settings for a detection interval, holding and back-filling one CNN cycle plus
        one interval (18 frames for the default 3 x 5)."""
        span = detect_every * (max(cnn_every, 1) + 1)
        return cls(detect_every, hold=span, backfill=span, cnn_every=cnn_every)

    def is_detection_frame(self, offset: int) -> bool:
        return offset % self.detect_every == 0

    def runs_cnn(self, offset: int) -> bool:
        """Whether the detection at ``offset`` frames into the run includes the CNN."""
        if self.cnn_every == 0 or offset % self.detect_every:
            return False
        return (offset // self.detect_every) % self.cnn_every == 0


@dataclass(frozen=True)
class Region:
    """A face box ``(left, top, right, bottom)`` to cover in one frame, and why."""

    face: Box
    source: Source


@dataclass
class _Track:
    number: int
    box: FloatBox
    last_detected: int


class Planner:
    """Regions to cover per frame, from frames fed in order and sparse detections."""

    def __init__(self, settings: TrackSettings, width: int, height: int) -> None:
        self.settings = settings
        self.width, self.height = width, height
        self.scale = min(1.0, settings.track_max_side / max(width, height))
        self.regions: dict[int, list[Region]] = {}
        self.tracks_started = 0
        self._tracks: list[_Track] = []
        self._history: deque[tuple[int, np.ndarray]] = deque(maxlen=settings.backfill + 1)

    def small_grey(self, bgr: np.ndarray) -> np.ndarray:
        """The greyscale copy the flow runs on."""
        import cv2  # OpenCV loads when a video is redacted, not with the package

        grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        if self.scale < 1.0:
            size = (max(int(self.width * self.scale), 1), max(int(self.height * self.scale), 1))
            grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
        return grey

    def step(self, index: int, grey: np.ndarray, detections: list[Box] | None) -> None:
        """Feed frame ``index`` (its ``small_grey``); ``detections`` is ``None`` on frames
        where the detector did not run."""
        detected: set[int] = set()
        previous = self._history[-1] if self._history else None
        if previous is not None and previous[0] == index - 1:
            for track in self._tracks:
                moved = self._flow(track.box, previous[1], grey)
                if moved is not None:
                    track.box = moved
        if detections is not None:
            detected = self._match(index, grey, detections)
        self._tracks = [t for t in self._tracks if self._alive(t, index)]
        self._dedupe()
        self.regions[index] = [
            Region(box, "detected" if t.number in detected else "tracked")
            for t in self._tracks
            if (box := self._clip(t.box)) is not None
        ]
        self._history.append((index, grey))

    def _match(self, index: int, grey: np.ndarray, detections: list[Box]) -> set[int]:
        detected: set[int] = set()
        for box in sorted(detections, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]),
                          reverse=True):
            best, best_iou = None, 0.0
            for track in self._tracks:
                if track.number in detected:
                    continue
                current = self._clip(track.box)
                if current is None:
                    continue
                overlap = iou(current, box)
                if (overlap >= 0.2 or same_face(current, box)) and overlap >= best_iou:
                    best, best_iou = track, overlap
            if best is None:
                best = _Track(self.tracks_started, _as_float(box), index)
                self.tracks_started += 1
                self._tracks.append(best)
                self._backfill(index, grey, box)
            best.box, best.last_detected = _as_float(box), index
            detected.add(best.number)
        return detected

    def _alive(self, track: _Track, index: int) -> bool:
        return index - track.last_detected <= self.settings.hold and (
            self._clip(track.box) is not None
        )

    def _dedupe(self) -> None:
        """Two tracks that converged on one face: keep the more recently detected."""
        kept: list[_Track] = []
        for track in sorted(self._tracks, key=lambda t: t.last_detected, reverse=True):
            box = self._clip(track.box)
            if box is None:
                continue
            if any(iou(box, other) >= 0.5 for k in kept if (other := self._clip(k.box))):
                continue
            kept.append(track)
        self._tracks = kept

    def _backfill(self, index: int, grey: np.ndarray, box: Box) -> None:
        """Follow a newly detected face backwards through the remembered frames."""
        current: FloatBox = _as_float(box)
        later = grey
        for frame, earlier in reversed(self._history):
            if index - frame > self.settings.backfill:
                break
            moved = self._flow(current, later, earlier)
            current = moved if moved is not None else current
            clipped = self._clip(current)
            if clipped is None:
                break
            existing = self.regions.setdefault(frame, [])
            if any(iou(r.face, clipped) >= 0.5 for r in existing):
                break
            existing.append(Region(clipped, "backfilled"))
            later = earlier

    def _clip(self, box: FloatBox) -> Box | None:
        """The integer box inside the frame; ``None`` when less than a sliver is left."""
        left, top = max(int(math.floor(box[0])), 0), max(int(math.floor(box[1])), 0)
        right = min(int(math.ceil(box[2])), self.width)
        bottom = min(int(math.ceil(box[3])), self.height)
        if right - left < 2 or bottom - top < 2:
            return None
        return left, top, right, bottom

    def _flow(self, box: FloatBox, grey_a: np.ndarray, grey_b: np.ndarray) -> FloatBox | None:
        """``box`` moved from frame a to frame b by the flow of its corners; ``None`` when
        too few corners could be followed both ways."""
        s = self.scale
        small = (box[0] * s, box[1] * s, box[2] * s, box[3] * s)
        moved = flow_box(small, grey_a, grey_b)
        if moved is None:
            return None
        return moved[0] / s, moved[1] / s, moved[2] / s, moved[3] / s


def flow_box(box: FloatBox, grey_a: np.ndarray, grey_b: np.ndarray) -> FloatBox | None:
    """Move ``box`` from ``grey_a`` to ``grey_b`` by the median shift and scale of the
    corners inside it that the pyramidal Lucas-Kanade flow follows there and back."""
    import cv2

    height, width = grey_a.shape[:2]
    left, top = max(int(box[0]), 0), max(int(box[1]), 0)
    right, bottom = min(int(math.ceil(box[2])), width), min(int(math.ceil(box[3])), height)
    if right - left < 6 or bottom - top < 6:
        return None
    corners = cv2.goodFeaturesToTrack(
        grey_a[top:bottom, left:right], maxCorners=40, qualityLevel=0.01,
        minDistance=max(2.0, (right - left) / 12.0),
    )
    if corners is None or len(corners) < 3:
        return None
    points = (corners.reshape(-1, 2) + np.array([left, top], np.float32)).astype(np.float32)
    ahead, status = _lucas_kanade(grey_a, grey_b, points)
    back, status_back = _lucas_kanade(grey_b, grey_a, ahead)
    good = (
        (status == 1)
        & (status_back == 1)
        & (np.linalg.norm(back - points, axis=1) < 1.5)
    )
    if int(good.sum()) < 3:
        return None
    src, dst = points[good], ahead[good]
    shift = np.median(dst - src, axis=0)
    spread_src = np.linalg.norm(src - src.mean(axis=0), axis=1)
    spread_dst = np.linalg.norm(dst - dst.mean(axis=0), axis=1)
    usable = spread_src > 1.0
    scale = float(np.median(spread_dst[usable] / spread_src[usable])) if usable.sum() >= 3 else 1.0
    scale = min(max(scale, 0.8), 1.25)
    cx = (box[0] + box[2]) / 2.0 + float(shift[0])
    cy = (box[1] + box[3]) / 2.0 + float(shift[1])
    half_w, half_h = (box[2] - box[0]) * scale / 2.0, (box[3] - box[1]) * scale / 2.0
    return cx - half_w, cy - half_h, cx + half_w, cy + half_h


def _lucas_kanade(grey_a: np.ndarray, grey_b: np.ndarray, points: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    import cv2

    moved, status, _ = cv2.calcOpticalFlowPyrLK(
        grey_a, grey_b, points, points.copy(), winSize=_LK_WINDOW, maxLevel=_LK_LEVELS,
        criteria=_LK_STOP,
    )
    return np.asarray(moved, dtype=np.float32).reshape(-1, 2), np.asarray(status).ravel()


def _as_float(box: Box) -> FloatBox:
    return float(box[0]), float(box[1]), float(box[2]), float(box[3])
