"""The default engine: dlib's HOG detector, 5-point landmarks and ResNet 128-d embedding.

Models come from the ``face_recognition_models`` package (the 68-point model it also ships
is non-commercial and never loaded). Models load on first use, not at import.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from faceguard.engine.imaging import resize as _resize
from faceguard.engine.pool import ModelPool
from faceguard.engine.types import Face
from faceguard.errors import ConfigError

#: The ResNet input: 150x150 chips, 25% padding, as ``dlib.get_face_chip`` makes them.
CHIP_SIZE = 150
CHIP_PADDING = 0.25

#: Below this many pixels on a side an image holds no face worth finding; no detector runs.
MIN_IMAGE_SIDE = 20
#: The MMOD CNN runs only on images at least this big on each side (its filters do not fit
#: smaller ones, and dlib then reads out of bounds).
CNN_MIN_SIDE = 64

_MODEL_FILES = {
    "detector_cnn": "mmod_human_face_detector.dat",
    "landmarks": "shape_predictor_5_face_landmarks.dat",
    "embedder": "dlib_face_recognition_resnet_model_v1.dat",
}


def models_dir() -> Path:
    """The folder holding the dlib models of ``face_recognition_models`` (not imported)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "the package face_recognition_models is not installed "
            "(pip install face_recognition_models)"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    if not (folder / _MODEL_FILES["embedder"]).is_file():
        raise ConfigError(f"dlib models not found in {folder}")
    return folder


class DlibEngine:
    """Detect, align and embed faces with dlib.

    Detection works on a resized copy: small images are upscaled so that faces of about
    40 px are found; large images are downscaled so that detection stays fast. With
    ``cnn_fallback`` the MMOD CNN detector is tried when HOG finds nothing, on a copy no
    longer than ``cnn_max_side`` pixels (it costs about 1 s at 400 px on one core, so that a
    picture without a face cannot tie up a worker for long).

    Thread-safe: each call borrows a set of dlib models of its own from a pool of
    ``pool_size`` sets (default: one per core), so no native object is used by two threads
    at once.
    """

    name = "dlib-resnet-v1"
    dimension = 128

    def __init__(
        self,
        *,
        min_face_px: int = 40,
        max_detect_side: int = 2000,
        cnn_fallback: bool = True,
        cnn_max_side: int = 400,
        pool_size: int | None = None,
    ) -> None:
        self.min_face_px = min_face_px
        self.max_detect_side = max_detect_side
        self.cnn_fallback = cnn_fallback
        self.cnn_max_side = cnn_max_side
        self._pool: ModelPool[dict[str, Any]] = ModelPool(self._make_models, pool_size)
        self._engine_id: str | None = None

    def _settings(self) -> dict[str, Any]:
        return {"min_face_px": self.min_face_px, "max_detect_side": self.max_detect_side,
                "cnn_fallback": self.cnn_fallback, "cnn_max_side": self.cnn_max_side,
                "pool_size": self._pool.size}

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled as its settings (worker processes build their own models from them).
        return (_rebuild, (type(self), self._settings()))

    @property
    def engine_id(self) -> str:
        """``dlib-resnet-v1:<first 12 hex of the embedding model's SHA-256>``."""
        if self._engine_id is None:
            digest = hashlib.sha256((models_dir() / _MODEL_FILES["embedder"]).read_bytes())
            self._engine_id = f"{self.name}:{digest.hexdigest()[:12]}"
        return self._engine_id

    def _make_models(self) -> dict[str, Any]:
        import dlib

        folder = models_dir()
        return {
            "dlib": dlib,
            "hog": dlib.get_frontal_face_detector(),
            "cnn": None,  # loaded by the first fallback that needs it
            "landmarks": dlib.shape_predictor(str(folder / _MODEL_FILES["landmarks"])),
            "embedder": dlib.face_recognition_model_v1(str(folder / _MODEL_FILES["embedder"])),
        }

    @contextmanager
    def _models(self) -> Iterator[dict[str, Any]]:
        """A set of dlib models for this thread alone (see :mod:`.pool`)."""
        with self._pool.take() as models:
            yield models

    @staticmethod
    def _cnn(models: dict[str, Any]) -> Any:
        if models["cnn"] is None:
            path = models_dir() / _MODEL_FILES["detector_cnn"]
            models["cnn"] = models["dlib"].cnn_face_detection_model_v1(str(path))
        return models["cnn"]

    def _detection_scale(self, height: int, width: int, min_face_px: float | None = None
                         ) -> float:
        """Scale so a ``min_face_px`` face reaches HOG's ~80 px window, within a size cap."""
        scale = 80.0 / (min_face_px or self.min_face_px)
        longest = max(height, width)
        if longest * scale > self.max_detect_side:
            scale = self.max_detect_side / longest
        return scale

    def detect(self, rgb: np.ndarray) -> list[Face]:
        """All faces in ``rgb`` (H, W, 3 uint8), largest first, with their 5 landmarks.

        An image with a side under :data:`MIN_IMAGE_SIDE` pixels holds no face: nothing is
        run on it."""
        if min(rgb.shape[:2]) < MIN_IMAGE_SIDE:
            return []
        with self._models() as models:
            return self._detect(models, rgb)

    def detect_sized(self, rgb: np.ndarray, min_face_px: float) -> list[Face]:
        """The faces at least about ``min_face_px`` wide, largest first, without the CNN
        fallback: HOG runs on the image upscaled only as far as such a face needs to fill
        its 80 px window (not at all for faces of 80 px or more), the landmarks on ``rgb``
        itself. Where the face's size is known (a video's next frame), this costs a fraction
        of ``detect``: a quarter of its pixels for a face of 107 px or more."""
        if min(rgb.shape[:2]) < MIN_IMAGE_SIDE:
            return []
        height, width = rgb.shape[:2]
        # Never below the picture's own size: a face filling a picture scaled down was boxed
        # off its centre (HOG's window cannot reach past the edge), which moved the
        # landmarks and the colour check's cells (docs/LIVENESS.md).
        scale = max(self._detection_scale(height, width, max(min_face_px, 1.0)), 1.0)
        with self._models() as models:
            return self._faces(models, rgb, self._hog(models, rgb, scale))

    @staticmethod
    def _hog(models: dict[str, Any], rgb: np.ndarray, scale: float
             ) -> list[tuple[Any, float, float]]:
        """HOG's boxes on ``rgb`` scaled by ``scale`` (the array itself at 1), each with the
        scale it was found at, as ``_faces`` takes them."""
        return [(r, 1.0, scale) for r in models["hog"](_resize(rgb, scale), 0)]

    def _detect(self, models: dict[str, Any], rgb: np.ndarray) -> list[Face]:
        height, width = rgb.shape[:2]
        boxes = self._hog(models, rgb, self._detection_scale(height, width))
        if not boxes and self.cnn_fallback:
            cnn_scale = min(1.0, self.cnn_max_side / max(height, width))
            small = _resize(rgb, cnn_scale) if cnn_scale < 1.0 else rgb
            # the MMOD network reads out of bounds on images smaller than its filters
            if min(small.shape[:2]) >= CNN_MIN_SIDE:
                boxes = [(d.rect, float(d.confidence), cnn_scale)
                         for d in self._cnn(models)(small, 0)]
        return self._faces(models, rgb, boxes)

    def detect_largest(self, rgb: np.ndarray) -> list[Face]:
        """Faces of a probe, where only the largest one is used (verify, identify).

        HOG runs first without the upscaling ``detect`` applies for ``min_face_px`` faces:
        a quarter of the pixels, and any face of HOG's 80 px window or more is found there.
        Only when that pass finds nothing does the full ``detect`` run, so small faces are
        still found. The first face returned is the largest either way.
        """
        if min(rgb.shape[:2]) < MIN_IMAGE_SIDE:
            return []
        with self._models() as models:
            height, width = rgb.shape[:2]
            scale = min(1.0, self.max_detect_side / max(height, width))
            if self._detection_scale(height, width) <= scale:
                return self._detect(models, rgb)
            boxes = self._hog(models, rgb, scale)
            return self._faces(models, rgb, boxes) if boxes else self._detect(models, rgb)

    @staticmethod
    def _faces(models: dict[str, Any], rgb: np.ndarray, boxes: list[tuple[Any, float, float]]
               ) -> list[Face]:
        """Detector boxes (with the scale they were found at) to faces with 5 landmarks,
        largest first."""
        dlib = models["dlib"]
        height, width = rgb.shape[:2]
        faces = []
        for rect, score, scale in boxes:
            left = max(int(round(rect.left() / scale)), 0)
            top = max(int(round(rect.top() / scale)), 0)
            right = min(int(round((rect.right() + 1) / scale)), width)
            bottom = min(int(round((rect.bottom() + 1) / scale)), height)
            if right <= left or bottom <= top:
                continue
            box = dlib.rectangle(left, top, right - 1, bottom - 1)
            shape = models["landmarks"](rgb, box)
            points = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)
            faces.append(Face((left, top, right, bottom), points, score))
        faces.sort(key=lambda f: f.area, reverse=True)
        return faces

    def align(self, rgb: np.ndarray, face: Face) -> np.ndarray:
        """The 150x150 chip aligned on the 5 landmarks (dlib's own alignment)."""
        import dlib

        left, top, right, bottom = face.box
        rect = dlib.rectangle(left, top, right - 1, bottom - 1)
        parts = [dlib.point(int(round(x)), int(round(y))) for x, y in face.landmarks]
        shape = dlib.full_object_detection(rect, parts)
        chip = dlib.get_face_chip(rgb, shape, size=CHIP_SIZE, padding=CHIP_PADDING)
        return np.ascontiguousarray(np.asarray(chip, dtype=np.uint8))

    def embed(self, chip: np.ndarray) -> np.ndarray:
        """The 128-d descriptor of an aligned 150x150 chip, as float32."""
        with self._models() as models:
            vector = models["embedder"].compute_face_descriptor(np.ascontiguousarray(chip))
        return np.asarray(vector, dtype=np.float32)

    def embed_batch(self, chips: list[np.ndarray]) -> np.ndarray:
        """Descriptors of several chips at once, ``(n, 128)`` float32."""
        if not chips:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._models() as models:
            vectors = models["embedder"].compute_face_descriptor(
                [np.ascontiguousarray(c) for c in chips]
            )
        return np.asarray([np.asarray(v) for v in vectors], dtype=np.float32)


def _rebuild(cls: type[DlibEngine], settings: dict[str, Any]) -> DlibEngine:
    return cls(**settings)
