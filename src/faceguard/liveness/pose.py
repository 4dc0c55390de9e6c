"""Head pose for the movement check, from dlib's 68 landmarks (more than the engine's 5).

The engine's 5 landmarks give the pose from three points (two eye centres, one nose base),
so a pixel of JPEG noise on the nose point moves the yaw noticeably. Here the same two
measures (the quality gate's: ``yaw`` the nose's sideways offset from the middle of the eyes,
``pitch`` its drop below the eye line, both in inter-ocular distances) are taken from 18
points: each eye's centre from its 6 contour points, the nose from its tip and the 5 points
of its base. The 68-point model is the one ``face_recognition_models`` ships beside the
5-point one; without it the detector keeps the 5-point pose.

Measured (docs/LIVENESS.md): on frames of the real live clips, re-encoding at JPEG quality 80
moves the yaw by a fraction of what it moves the 5-point yaw.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from faceguard.errors import ConfigError

Box = tuple[int, int, int, int]
MODEL_FILE = "shape_predictor_68_face_landmarks.dat"

#: dlib's 68-point order: 36-41 the eye on the image's left, 42-47 the other, 30 the nose
#: tip, 31-35 the base of the nose.
_EYE_LEFT = slice(36, 42)
_EYE_RIGHT = slice(42, 48)
_NOSE = [30, 31, 32, 33, 34, 35]


def pose_from_landmarks(points: np.ndarray) -> tuple[float, float]:
    """``(yaw, pitch)`` from 68 ``(x, y)`` landmarks (see the module docstring)."""
    eye_left = points[_EYE_LEFT].mean(axis=0)
    eye_right = points[_EYE_RIGHT].mean(axis=0)
    nose = points[_NOSE].mean(axis=0)
    axis = eye_right - eye_left
    iod = float(np.hypot(axis[0], axis[1])) or 1.0
    unit = axis / iod
    normal = np.array([-unit[1], unit[0]])
    rel = nose - (eye_left + eye_right) / 2.0
    return float(rel @ unit) / iod, float(rel @ normal) / iod


class LandmarkPose:
    """Head pose from the 68-point model, loaded on first use (thread-safe)."""

    def __init__(self, model_path: Path | None = None) -> None:
        self.model_path = model_path
        self._lock = threading.Lock()
        self._predictor: Any = None

    def available(self) -> bool:
        """Whether the 68-point model can be found."""
        try:
            return self._path().is_file()
        except ConfigError:
            return False

    def _path(self) -> Path:
        if self.model_path is not None:
            return self.model_path
        from faceguard.engine.dlib_engine import models_dir

        return models_dir() / MODEL_FILE

    def _load(self) -> Any:
        with self._lock:
            if self._predictor is None:
                import dlib

                path = self._path()
                if not path.is_file():
                    raise ConfigError(f"68-point landmark model not found: {path}")
                self._predictor = dlib.shape_predictor(str(path))
            return self._predictor

    def landmarks(self, rgb: np.ndarray, box: Box) -> np.ndarray:
        """The 68 landmarks of the face in ``box`` of ``rgb`` (uint8, RGB or grey)."""
        import dlib

        predictor = self._load()
        left, top, right, bottom = (int(v) for v in box)
        shape = predictor(np.ascontiguousarray(rgb), dlib.rectangle(left, top, right, bottom))
        return np.array([[p.x, p.y] for p in shape.parts()], np.float64)

    def pose(self, rgb: np.ndarray, box: Box) -> tuple[float, float]:
        """``(yaw, pitch)`` of the face in ``box``."""
        return pose_from_landmarks(self.landmarks(rgb, box))
