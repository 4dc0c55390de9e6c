"""The quality gate: face size, sharpness and pose, each measured and judged separately.

Pose comes from the 5 landmarks (eye corners and nose base). ``yaw`` is the nose's
sideways offset from the eyes' midpoint along the eye line, in inter-ocular distances
(0 frontal, about +-0.5 near profile); ``roll`` is the eye line's angle in degrees;
``pitch`` is the nose's distance below the eye line in inter-ocular distances (about 0.6
to 0.9 for a level head). Sharpness is the variance of a Laplacian over the aligned chip's
central region (grey levels 0-255).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from faceguard.engine.types import Face
from faceguard.errors import QualityError


@dataclass(frozen=True)
class QualityReport:
    """Measured quality of one face."""

    face_px: int
    sharpness: float
    yaw: float
    roll: float
    pitch: float


@dataclass(frozen=True)
class QualityGate:
    """Thresholds of the gate. Defaults were set on LFW (see docs/CALIBRATION.md)."""

    min_face_px: int = 60
    min_sharpness: float = 8.0
    max_abs_yaw: float = 0.45
    max_abs_roll: float = 35.0
    pitch_range: tuple[float, float] = (0.2, 1.6)

    def judge(self, report: QualityReport) -> None:
        """Raise ``QualityError`` naming the first failed check (size, sharpness, pose)."""
        if report.face_px < self.min_face_px:
            raise QualityError(
                f"face too small: {report.face_px} px wide, at least {self.min_face_px} px needed",
                check="size",
            )
        if report.sharpness < self.min_sharpness:
            raise QualityError(
                f"face too blurred: sharpness {report.sharpness:.1f}, "
                f"at least {self.min_sharpness:.1f} needed",
                check="sharpness",
            )
        if abs(report.yaw) > self.max_abs_yaw:
            raise QualityError(
                f"face turned too far sideways (yaw {report.yaw:+.2f}, limit "
                f"+-{self.max_abs_yaw:.2f}); look at the camera",
                check="pose",
            )
        if abs(report.roll) > self.max_abs_roll:
            raise QualityError(
                f"head tilted too far (roll {report.roll:+.0f} degrees, limit "
                f"+-{self.max_abs_roll:.0f}); hold the head upright",
                check="pose",
            )
        low, high = self.pitch_range
        if not low <= report.pitch <= high:
            raise QualityError(
                f"head tipped too far up or down (pitch {report.pitch:.2f}, "
                f"range {low:.2f}-{high:.2f})",
                check="pose",
            )


#: Probes (verify / identify) accept smaller faces than enrollment.
PROBE_GATE = QualityGate(min_face_px=40)
ENROLL_GATE = QualityGate()


def measure_quality(face: Face, chip: np.ndarray) -> QualityReport:
    """Measure size, sharpness and pose of ``face`` and its aligned ``chip``."""
    pts = face.landmarks
    if face.scheme == "eyes-nose-mouth5":
        eye_image_left, eye_image_right, nose = pts[0], pts[1], pts[2]
    else:
        eye_image_left = (pts[2] + pts[3]) / 2.0
        eye_image_right = (pts[0] + pts[1]) / 2.0
        nose = pts[4]
    axis = eye_image_right - eye_image_left
    iod = float(np.hypot(axis[0], axis[1])) or 1.0
    unit = axis / iod
    normal = np.array([-unit[1], unit[0]])
    rel = nose - (eye_image_left + eye_image_right) / 2.0
    yaw = float(rel @ unit) / iod
    pitch = float(rel @ normal) / iod
    roll = math.degrees(math.atan2(float(axis[1]), float(axis[0])))
    return QualityReport(
        face_px=int(face.width),
        sharpness=_sharpness(chip),
        yaw=yaw,
        roll=roll,
        pitch=pitch,
    )


def _sharpness(chip: np.ndarray) -> float:
    grey = chip.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    h, w = grey.shape
    core = grey[h // 4 : h - h // 4, w // 4 : w - w // 4]
    lap = (
        core[1:-1, :-2] + core[1:-1, 2:] + core[:-2, 1:-1] + core[2:, 1:-1] - 4.0 * core[1:-1, 1:-1]
    )
    return float(lap.var())
