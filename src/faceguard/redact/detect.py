"""A recall-first face finder for redaction.

Recognition wants one good face; redaction wants every face, and a missed face is a leak
while a covered patch of background costs nothing. So this finder runs dlib's HOG detector
several times (two scales, three angles, below its default threshold, on a canvas with a
grey border so that faces cut by the image edge fit the detector's window) and optionally
dlib's MMOD CNN on a small copy for large turned faces, then merges what they found.

Boxes are ``(left, top, right, bottom)`` in pixels of the input image; dlib objects never
leave this module. Models load on first use.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from faceguard.engine.dlib_engine import models_dir
from faceguard.engine.imaging import resize as _resize
from faceguard.engine.pool import ModelPool

Box = tuple[int, int, int, int]

#: dlib's HOG frontal detector scans an 80x80 window over a pyramid that only shrinks.
HOG_WINDOW_PX = 80
_BORDER_GREY = (128, 128, 128)


@dataclass(frozen=True)
class FinderSettings:
    """How hard to look.

    ``min_face_px``: the smallest face (HOG box side, pixels) aimed for; the image is
    upscaled so that it fills HOG's 80 px window, within ``max_work_pixels``.
    ``second_scale``: a second HOG pass at 2/3 of that scale (the pyramids interleave).
    ``hog_threshold``: dlib's ``adjust_threshold``; below 0 finds more faces and more
    false alarms. ``angles``: in-plane rotations (degrees) of extra HOG passes, for tilted
    heads, run at the lower scale only (a rotated canvas is larger, and slower).
    ``border``: grey border added on each side at the lower scale, as a fraction of the
    longer side, so that faces cut by the edge are found. ``cnn_max_pixels``: run the MMOD
    CNN on a copy of at most this many pixels, never enlarged (0: never); it finds turned
    faces HOG misses (profiles: 20 of 20 UMIST profiles against HOG's 7) down to about
    50 px in that copy, and costs about 1.2 s per call on one core at 300,000 pixels.
    """

    min_face_px: int = 26
    second_scale: bool = True
    hog_threshold: float = -0.5
    angles: tuple[float, ...] = (0.0, -25.0, 25.0)
    border: float = 0.1
    max_work_pixels: int = 24_000_000
    cnn_max_pixels: int = 300_000

    def describe(self) -> dict[str, Any]:
        """Plain settings for reports."""
        return {
            "min_face_px": self.min_face_px,
            "second_scale": self.second_scale,
            "hog_threshold": self.hog_threshold,
            "angles": list(self.angles),
            "border": self.border,
            "max_work_pixels": self.max_work_pixels,
            "cnn_max_pixels": self.cnn_max_pixels,
        }


#: For still images: everything, recall first (about 2 s per 500x375 photo on one core,
#: 10 s or more for a 12-megapixel one, whose faces are looked for from about 50 px).
THOROUGH = FinderSettings()

#: For video frames between which tracking fills in: one upright HOG pass at 2x up to
#: 720p (faces from 40 px; 1080p from 58 px), no border; the CNN runs only when asked
#: (the video pass asks every few detections).
FAST = FinderSettings(
    min_face_px=40,
    second_scale=False,
    hog_threshold=-0.3,
    angles=(0.0,),
    border=0.0,
    max_work_pixels=4_000_000,
    cnn_max_pixels=150_000,
)


class FaceFinder:
    """Finds face boxes with dlib's HOG (and MMOD CNN); models load on first use."""

    def __init__(self, settings: FinderSettings = THOROUGH) -> None:
        self.settings = settings
        # dlib's detectors are not safe to share between threads: each call borrows its own
        self._pool: ModelPool[tuple[Any, Any]] = ModelPool(self._make_models)

    def _make_models(self) -> tuple[Any, Any]:
        import dlib

        cnn = None
        if self.settings.cnn_max_pixels > 0:
            cnn = dlib.cnn_face_detection_model_v1(
                str(models_dir() / "mmod_human_face_detector.dat"))
        return dlib.get_frontal_face_detector(), cnn

    def scales(self, height: int, width: int) -> list[float]:
        """The HOG scales used for an image of this size (largest first)."""
        s = self.settings
        pad = 1.0 + 2.0 * s.border
        cap = math.sqrt(s.max_work_pixels / (height * width * pad * pad))
        top = min(HOG_WINDOW_PX / s.min_face_px, cap)
        return [top, top * 2.0 / 3.0] if s.second_scale else [top]

    def smallest_face(self, height: int, width: int) -> int:
        """The smallest face (pixels) looked for in an image of this size: ``min_face_px``
        unless ``max_work_pixels`` kept the image from being enlarged enough."""
        return int(math.ceil(HOG_WINDOW_PX / self.scales(height, width)[0] - 1e-6))

    def find(self, rgb: np.ndarray, *, cnn: bool = True) -> list[Box]:
        """Face boxes in ``rgb`` (H, W, 3 uint8), merged across passes, largest first.

        ``cnn=False`` skips the CNN pass for this call (video runs it every few frames).
        """
        with self._pool.take() as (hog, cnn_model):
            return self._find(hog, cnn_model, rgb, cnn=cnn)

    def _find(self, hog: Any, cnn_model: Any, rgb: np.ndarray, *, cnn: bool) -> list[Box]:
        height, width = rgb.shape[:2]
        border = int(round(self.settings.border * max(height, width)))
        found: list[tuple[float, float, float, float]] = []
        scales = self.scales(height, width)
        # small faces at the top scale; edges and tilts (bigger faces) at the lower one
        passes = [(scale, 0.0, 0) for scale in scales[:-1]]
        passes += [(scales[-1], angle, border) for angle in self.settings.angles or (0.0,)]
        for scale, angle, pad in passes:
            work, inverse = _warp(rgb, scale, angle, pad)
            rects, _, _ = hog.run(work, 0, self.settings.hog_threshold)
            found.extend(
                _unwarp(r.left(), r.top(), r.right() + 1, r.bottom() + 1, inverse)
                for r in rects
            )
        if cnn and cnn_model is not None:
            scale = min(1.0, math.sqrt(self.settings.cnn_max_pixels / (height * width)))
            work = _resize(rgb, scale)
            # the MMOD network's filters do not fit images this small (nor do faces)
            detections = cnn_model(work, 0) if min(work.shape[:2]) >= _CNN_MIN_SIDE else []
            for det in detections:
                r = det.rect
                found.append(
                    (r.left() / scale, r.top() / scale,
                     (r.right() + 1) / scale, (r.bottom() + 1) / scale)
                )
        boxes = [_clip(b, width, height) for b in found]
        return merge_boxes([b for b in boxes if b is not None])


_CNN_MIN_SIDE = 64


def _warp(rgb: np.ndarray, scale: float, angle: float, border: int
          ) -> tuple[np.ndarray, np.ndarray]:
    """``rgb`` scaled, rotated by ``angle`` degrees and framed in a grey border of
    ``border`` source pixels; returns the canvas and the affine map back to ``rgb``."""
    import cv2  # OpenCV loads when a picture is redacted, not with the package

    height, width = rgb.shape[:2]
    if angle == 0.0 and border == 0:
        work = _resize(rgb, scale)
        inverse = np.array([[width / work.shape[1], 0.0, 0.0],
                            [0.0, height / work.shape[0], 0.0]])
        return work, inverse
    matrix = cv2.getRotationMatrix2D((width / 2.0, height / 2.0), angle, scale)
    cos, sin = abs(math.cos(math.radians(angle))), abs(math.sin(math.radians(angle)))
    out_w = int(math.ceil((width * cos + height * sin + 2 * border) * scale))
    out_h = int(math.ceil((width * sin + height * cos + 2 * border) * scale))
    matrix[0, 2] += out_w / 2.0 - width / 2.0
    matrix[1, 2] += out_h / 2.0 - height / 2.0
    interpolation = cv2.INTER_LINEAR if scale > 1 else cv2.INTER_AREA
    work = cv2.warpAffine(rgb, matrix, (out_w, out_h), flags=interpolation,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=_BORDER_GREY)
    return np.ascontiguousarray(work), cv2.invertAffineTransform(matrix)


def _unwarp(left: float, top: float, right: float, bottom: float, inverse: np.ndarray
            ) -> tuple[float, float, float, float]:
    """The axis-aligned box around a canvas rectangle mapped back to the source image."""
    corners = np.array([[left, top], [right, top], [left, bottom], [right, bottom]])
    mapped = corners @ inverse[:, :2].T + inverse[:, 2]
    return (float(mapped[:, 0].min()), float(mapped[:, 1].min()),
            float(mapped[:, 0].max()), float(mapped[:, 1].max()))


def _clip(box: tuple[float, float, float, float], width: int, height: int) -> Box | None:
    left = max(int(math.floor(box[0])), 0)
    top = max(int(math.floor(box[1])), 0)
    right = min(int(math.ceil(box[2])), width)
    bottom = min(int(math.ceil(box[3])), height)
    if right - left < 2 or bottom - top < 2:
        return None
    return left, top, right, bottom


def area(box: Box) -> int:
    return max(box[2] - box[0], 0) * max(box[3] - box[1], 0)


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes (0 when disjoint)."""
    inter = area((max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])))
    union = area(a) + area(b) - inter
    return inter / union if union > 0 else 0.0


def same_face(a: Box, b: Box) -> bool:
    """Two boxes of one face: they overlap well, or each holds the other's centre."""
    if iou(a, b) >= 0.3:
        return True
    return _holds_centre(a, b) and _holds_centre(b, a)


def _holds_centre(outer: Box, inner: Box) -> bool:
    cx, cy = (inner[0] + inner[2]) / 2.0, (inner[1] + inner[3]) / 2.0
    return outer[0] <= cx <= outer[2] and outer[1] <= cy <= outer[3]


def merge_boxes(boxes: list[Box]) -> list[Box]:
    """Group boxes of the same face and keep each group's union box, largest first."""
    groups: list[Box] = []
    for box in sorted(boxes, key=area, reverse=True):
        for number, kept in enumerate(groups):
            if same_face(kept, box):
                groups[number] = (min(kept[0], box[0]), min(kept[1], box[1]),
                                  max(kept[2], box[2]), max(kept[3], box[3]))
                break
        else:
            groups.append(box)
    return sorted(groups, key=area, reverse=True)


@functools.lru_cache(maxsize=4)
def finder_for(settings: FinderSettings) -> FaceFinder:
    """One finder per settings in this process (models load once, on first use)."""
    return FaceFinder(settings)
