"""An ONNX engine for a detector, a 68-point landmark model and a 512-d embedder of the
layout of the ``faceplugin`` models (the operator supplies the files and holds their
licence; nothing here ships weights).

Files, in one folder (``FacepluginEngine(folder)``):

``fr_detect.onnx``
    input ``[1, 3, 240, 320]``: the picture resized to 320x240, RGB, ``(pixel - 127) / 128``;
    outputs ``scores [1, N, 2]`` (column 1: face) and ``boxes [1, N, 4]``: ``x1, y1, x2,
    y2`` as fractions of the input. Boxes scoring at least ``min_score`` are kept after
    non-maximum suppression, then made square around their centre (side = their height).
    ``detector="dlib"`` uses dlib's HOG detector (the default engine's) instead.
``fr_landmark.onnx``
    input ``[1, 1, 64, 64]``: the detector's box (as the detector gives it, not made square)
    cropped, resized, grey, ``pixel / 256``; output ``[1, 136]``: 68 points ``x, y`` as
    fractions of the box. The five alignment points are the centres of the two eyes (mean of
    4 eye points each), the nose tip and the two mouth corners (mean of the outer and inner
    corner).
``fr_feature.onnx``
    input ``[N, 3, 112, 112]``: the chip aligned by the least-squares similarity transform of
    the five points onto the 112x112 reference (``onnx_engine.REFERENCE_112``), channels
    in ``channels`` order (``"bgr"`` by default: the tested model scores 0.5 points higher on
    the LFW pairs that way than in the RGB order its own JavaScript feeds it), ``(pixel -
    127) / 128``; output ``[N, 512]``. With ``flip`` the template is the mean of the
    embeddings of the chip and of its mirror image (two passes); L2-normalised here.

What each choice is worth on the LFW pairs: docs/PERFORMANCE.md. Templates are tagged
``faceplugin:<sha256 of the three files>`` plus the settings that change them (``+dlib``
with dlib's detector, ``+bgr``, ``+flip``), so they never mix with another engine's or
another setting's; each needs its own calibration (``faceguard calibrate``;
docs/CALIBRATION.md).
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any, Literal

import numpy as np

from faceguard.engine.onnx_engine import REFERENCE_112, similarity_transform
from faceguard.engine.types import Face
from faceguard.errors import ConfigError

FILES = ("fr_detect.onnx", "fr_landmark.onnx", "fr_feature.onnx")
#: Defaults of the options (measured on the LFW pairs: docs/PERFORMANCE.md).
FLIP = False
CHANNELS: Literal["rgb", "bgr"] = "bgr"
_Box = tuple[int, int, int, int]
_DETECT_HW = (240, 320)
_NMS_OVERLAP = 0.4


class FacepluginEngine:
    """Detect (own model or dlib), locate 68 points, align and embed (CPU, one thread)."""

    name = "faceplugin"

    def __init__(self, folder: Path, *, detector: Literal["own", "dlib"] = "own",
                 channels: Literal["rgb", "bgr"] = CHANNELS, flip: bool = FLIP,
                 min_score: float = 0.65, threads: int = 1) -> None:
        paths = [folder / f for f in FILES]
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise ConfigError(f"model files not found: {', '.join(missing)}")
        self.folder, self.detector, self.min_score, self.threads = (folder, detector, min_score,
                                                                   threads)
        if channels not in ("rgb", "bgr"):
            raise ConfigError(f"channels must be 'rgb' or 'bgr', not {channels!r}")
        self.channels, self.flip = channels, flip
        digest = hashlib.sha256(b"\0".join(p.read_bytes() for p in paths)).hexdigest()[:12]
        self._engine_id = (f"faceplugin:{digest}" + ("+dlib" if detector == "dlib" else "")
                           + ("+bgr" if channels == "bgr" else "") + ("+flip" if flip else ""))
        self._sessions: dict[str, Any] | None = None
        self._dlib: Any = None
        self._lock = threading.Lock()

    def __reduce__(self) -> tuple[Any, ...]:
        # rebuilt in worker processes from its folder and settings, sessions loaded there
        return (_rebuild, (self.folder, self.detector, self.channels, self.flip,
                           self.min_score, self.threads))

    @property
    def engine_id(self) -> str:
        return self._engine_id

    @property
    def dimension(self) -> int:
        return 512

    def _load(self) -> dict[str, Any]:
        with self._lock:
            if self._sessions is None:
                import onnxruntime as ort

                options = ort.SessionOptions()
                options.intra_op_num_threads = self.threads
                sessions = {}
                for key, file in zip(("det", "lmk", "emb"), FILES, strict=True):
                    try:
                        sessions[key] = ort.InferenceSession(
                            str(self.folder / file), options,
                            providers=["CPUExecutionProvider"])
                    except Exception as exc:  # noqa: BLE001 - onnxruntime's own types
                        raise ConfigError(f"{file} could not be loaded: {exc}") from exc
                self._sessions = sessions
            return self._sessions

    def detect(self, rgb: np.ndarray) -> list[Face]:
        """Every face, largest first (by the detector's own box: made square, a box cut off
        at the picture's edge or around part of a face can outgrow the real one), with its
        five alignment points."""
        boxes = self._dlib_boxes(rgb) if self.detector == "dlib" else self._own_boxes(rgb)
        boxes.sort(key=lambda b: (b[1][2] - b[1][0]) * (b[1][3] - b[1][1]), reverse=True)
        return [Face(box, self._points(rgb, crop), score, scheme="eyes-nose-mouth5")
                for box, crop, score in boxes]

    def _dlib_boxes(self, rgb: np.ndarray) -> list[tuple[_Box, _Box, float]]:
        if self._dlib is None:
            from faceguard.engine.dlib_engine import DlibEngine

            self._dlib = DlibEngine()
        return [(f.box, f.box, f.detector_score) for f in self._dlib.detect(rgb)]

    def _own_boxes(self, rgb: np.ndarray) -> list[tuple[_Box, _Box, float]]:
        """(the box made square around its centre, the box as detected, score) per face."""
        import cv2

        height, width = rgb.shape[:2]
        in_h, in_w = _DETECT_HW
        small = cv2.resize(rgb, (in_w, in_h), interpolation=cv2.INTER_LINEAR)
        tensor = ((small.astype(np.float32) - 127.0) / 128.0).transpose(2, 0, 1)[None]
        session = self._load()["det"]
        scores, boxes = session.run(["scores", "boxes"], {"input": tensor})
        scores, boxes = np.asarray(scores)[0, :, 1], np.asarray(boxes)[0]
        keep = scores >= self.min_score
        boxes = boxes[keep] * np.array([width, height, width, height], dtype=np.float32)
        out = []
        for i in _nms(boxes, scores[keep]):
            x1, y1, x2, y2 = boxes[i].tolist()
            side, cx, cy = y2 - y1, (x1 + x2) / 2, (y1 + y2) / 2
            box = (max(int(cx - side / 2), 0), max(int(cy - side / 2), 0),
                   min(int(cx + side / 2), width - 1), min(int(cy + side / 2), height - 1))
            crop = (max(int(x1), 0), max(int(y1), 0), min(int(x2), width - 1),
                    min(int(y2), height - 1))
            if box[2] > box[0] and box[3] > box[1] and crop[2] > crop[0] and crop[3] > crop[1]:
                out.append((box, crop, float(scores[keep][i])))
        return out

    def _points(self, rgb: np.ndarray, box: _Box) -> np.ndarray:
        """The five alignment points from the 68-point model on the crop ``box``."""
        import cv2

        left, top, right, bottom = box
        crop = rgb[top:bottom, left:right]
        grey = cv2.cvtColor(cv2.resize(crop, (64, 64), interpolation=cv2.INTER_LINEAR),
                            cv2.COLOR_RGB2GRAY)
        tensor = (grey.astype(np.float32) / 256.0)[None, None]
        (out,) = self._load()["lmk"].run(None, {"input": tensor})
        points = np.asarray(out, dtype=np.float64).reshape(68, 2)
        points = points * np.array([right - left, bottom - top]) + np.array([left, top])
        return np.stack([
            points[[37, 38, 40, 41]].mean(axis=0),  # eye on the image's left
            points[[43, 44, 46, 47]].mean(axis=0),  # eye on the image's right
            points[30],                             # nose tip
            points[[48, 60]].mean(axis=0),          # mouth corner, image's left
            points[[54, 64]].mean(axis=0),          # mouth corner, image's right
        ])

    def align(self, rgb: np.ndarray, face: Face) -> np.ndarray:
        import cv2

        matrix = similarity_transform(face.landmarks, REFERENCE_112)
        chip = cv2.warpAffine(rgb, matrix, (112, 112), borderMode=cv2.BORDER_REPLICATE)
        return np.ascontiguousarray(chip, dtype=np.uint8)

    def embed(self, chip: np.ndarray) -> np.ndarray:
        result: np.ndarray = self.embed_batch([chip])[0]
        return result

    def embed_batch(self, chips: list[np.ndarray]) -> np.ndarray:
        batch = ((np.stack(chips).astype(np.float32) - 127.0) / 128.0).transpose(0, 3, 1, 2)
        if self.channels == "bgr":
            batch = np.ascontiguousarray(batch[:, ::-1])
        session = self._load()["emb"]

        def one(chip: np.ndarray) -> np.ndarray:  # the model takes one chip at a time
            vector = np.asarray(session.run(None, {"input": chip[None]})[0],
                                dtype=np.float32)[0]
            unit: np.ndarray = vector / max(float(np.linalg.norm(vector)), 1e-12)
            return unit

        rows = [one(chip) + one(np.ascontiguousarray(chip[:, :, ::-1])) if self.flip
                else one(chip) for chip in batch]
        out = np.stack(rows)
        result: np.ndarray = out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return result


def _rebuild(folder: Path, detector: Literal["own", "dlib"], channels: Literal["rgb", "bgr"],
             flip: bool, min_score: float, threads: int) -> FacepluginEngine:
    return FacepluginEngine(folder, detector=detector, channels=channels, flip=flip,
                            min_score=min_score, threads=threads)


def _nms(boxes: np.ndarray, scores: np.ndarray) -> list[int]:
    """Indices kept by greedy non-maximum suppression, best score first."""
    order = np.argsort(-scores).tolist()
    kept: list[int] = []
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    while order:
        best = order.pop(0)
        kept.append(best)
        rest = np.array(order, dtype=int)
        if len(rest) == 0:
            break
        ix1 = np.maximum(boxes[rest, 0], boxes[best, 0])
        iy1 = np.maximum(boxes[rest, 1], boxes[best, 1])
        ix2 = np.minimum(boxes[rest, 2], boxes[best, 2])
        iy2 = np.minimum(boxes[rest, 3], boxes[best, 3])
        inter = np.maximum(ix2 - ix1, 0) * np.maximum(iy2 - iy1, 0)
        iou = inter / np.maximum(areas[rest] + areas[best] - inter, 1e-9)
        order = [int(r) for r, o in zip(rest, iou, strict=True) if o < _NMS_OVERLAP]
    return kept
