"""A second engine on ONNX Runtime, with detector and embedder files the operator supplies.

Model weights such as YuNet, SCRFD, ArcFace or SFace cannot ship with faceguard; an operator
who holds a licence for them exports them to ONNX with these input/output contracts:

Detector
    input  ``float32 [1, 3, H, W]``: one RGB image, values 0-255, resized (aspect kept,
           padded at the right and bottom with zeros) to the model's fixed H x W, or to the
           image's own size (rounded down to a multiple of 32) when H and W are dynamic.
    output ``float32 [N, 15]``: one row per face: ``x1, y1, x2, y2, score`` then the five
           landmarks ``x, y`` (right eye, left eye, nose tip, right and left mouth corners, as
           seen in the image: "right eye" is the eye on the image's left) in input pixels.
           Rows with a score below ``min_score`` are ignored; decoding of anchors and
           non-maximum suppression belong inside the model.
Embedder
    input  ``float32 [N, 3, S, S]``: aligned RGB chips (S from the model, typically 112),
           normalised as ``(pixel - 127.5) / 128``.
    output ``float32 [N, D]``: one embedding per chip; faceguard L2-normalises it.

Chips are aligned with the least-squares similarity transform of the five landmarks onto the
usual 112x112 reference points (scaled to S). Templates are tagged ``onnx:<sha256 of both
files>``, so they never mix with the dlib engine's, and each such engine needs its own
calibration file (``faceguard calibrate``).
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

import numpy as np

from faceguard.engine.imaging import resize as _resize
from faceguard.engine.types import Face
from faceguard.errors import ConfigError

#: Reference landmark positions for 112x112 chips (as widely used for ArcFace-type models).
REFERENCE_112 = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655],
     [70.7299, 92.2041]], dtype=np.float32,
)


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2x3 matrix of the similarity (rotation, uniform scale, shift; no reflection)
    taking the points ``src`` nearest to ``dst`` in least squares (Umeyama, 1991): every
    point counts, none is discarded as an outlier. ``ConfigError`` if the points coincide."""
    src, dst = np.asarray(src, dtype=np.float64), np.asarray(dst, dtype=np.float64)
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    spread = float((src_c**2).sum(axis=1).mean())
    if not np.isfinite(spread) or spread < 1e-9:
        raise ConfigError("the landmarks are degenerate; cannot align the face")
    u, sigma, vt = np.linalg.svd(dst_c.T @ src_c / len(src))
    sign = np.array([1.0, 1.0 if np.linalg.det(u) * np.linalg.det(vt) > 0 else -1.0])
    rotation = u @ np.diag(sign) @ vt
    scale = float((sigma * sign).sum()) / spread
    shift = dst_mean - scale * rotation @ src_mean
    return np.hstack([scale * rotation, shift[:, None]])


class OnnxEngine:
    """Detect, align and embed with two operator-supplied ONNX models (CPU)."""

    def __init__(self, detector: Path, embedder: Path, *, min_score: float = 0.5,
                 threads: int = 1) -> None:
        for path in (detector, embedder):
            if not path.is_file():
                raise ConfigError(f"ONNX model {path} not found")
        self.detector_path, self.embedder_path = detector, embedder
        self.min_score = min_score
        self.threads = threads
        digest = hashlib.sha256(detector.read_bytes() + b"\0" + embedder.read_bytes())
        self._engine_id = f"onnx:{digest.hexdigest()[:12]}"
        self._sessions: dict[str, Any] | None = None
        self._lock = threading.Lock()
        self._dimension: int | None = None

    name = "onnx"

    @property
    def engine_id(self) -> str:
        return self._engine_id

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            self._dimension = int(self._load()["dim"])
        return self._dimension

    def _load(self) -> dict[str, Any]:
        with self._lock:
            if self._sessions is None:
                import onnxruntime as ort

                options = ort.SessionOptions()
                options.intra_op_num_threads = self.threads
                try:
                    det = ort.InferenceSession(str(self.detector_path), options,
                                               providers=["CPUExecutionProvider"])
                    emb = ort.InferenceSession(str(self.embedder_path), options,
                                               providers=["CPUExecutionProvider"])
                except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types
                    raise ConfigError(f"ONNX model could not be loaded: {exc}") from exc
                self._sessions = {"det": det, "emb": emb, **_contract(det, emb)}
            return self._sessions

    def detect(self, rgb: np.ndarray) -> list[Face]:
        models = self._load()
        height, width = rgb.shape[:2]
        in_h, in_w = models["det_hw"]
        if in_h is None or in_w is None:
            in_h, in_w = max(height // 32 * 32, 32), max(width // 32 * 32, 32)
        scale = min(in_w / width, in_h / height)
        resized = _resize(rgb, scale)
        canvas = np.zeros((in_h, in_w, 3), dtype=np.float32)
        canvas[: resized.shape[0], : resized.shape[1]] = resized[:in_h, :in_w]
        tensor = canvas.transpose(2, 0, 1)[None]
        (rows,) = models["det"].run(None, {models["det_input"]: tensor})
        rows = np.asarray(rows, dtype=np.float32)
        if rows.ndim != 2 or rows.shape[1] != 15:
            raise ConfigError(f"detector output must be [N, 15], got {list(rows.shape)}")
        faces = []
        for row in rows[rows[:, 4] >= self.min_score]:
            x1, y1, x2, y2 = (row[:4] / scale).tolist()
            box = (max(int(x1), 0), max(int(y1), 0), min(int(x2), width), min(int(y2), height))
            if box[2] <= box[0] or box[3] <= box[1]:
                continue
            faces.append(Face(box, row[5:15].reshape(5, 2).astype(np.float64) / scale,
                              float(row[4]), scheme="eyes-nose-mouth5"))
        faces.sort(key=lambda f: f.area, reverse=True)
        return faces

    def align(self, rgb: np.ndarray, face: Face) -> np.ndarray:
        import cv2

        size = int(self._load()["chip"])
        matrix = similarity_transform(face.landmarks, REFERENCE_112 * (size / 112.0))
        chip = cv2.warpAffine(rgb, matrix, (size, size), borderMode=cv2.BORDER_REPLICATE)
        return np.ascontiguousarray(chip, dtype=np.uint8)

    def embed(self, chip: np.ndarray) -> np.ndarray:
        result: np.ndarray = self.embed_batch([chip])[0]
        return result

    def embed_batch(self, chips: list[np.ndarray]) -> np.ndarray:
        models = self._load()
        batch = (np.stack(chips).astype(np.float32) - 127.5) / 128.0
        (out,) = models["emb"].run(None, {models["emb_input"]: batch.transpose(0, 3, 1, 2)})
        out = np.asarray(out, dtype=np.float32)
        if out.ndim != 2 or out.shape[0] != len(chips):
            raise ConfigError(f"embedder output must be [N, D], got {list(out.shape)}")
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        result: np.ndarray = out / np.maximum(norms, 1e-12)
        return result


def _contract(det: Any, emb: Any) -> dict[str, Any]:
    """Check both models against the documented contracts; ``ConfigError`` names the gap."""
    (det_in,) = det.get_inputs() if len(det.get_inputs()) == 1 else (None,)
    if det_in is None or len(det_in.shape) != 4 or det_in.shape[1] != 3:
        raise ConfigError("detector input must be one float32 tensor [1, 3, H, W]")
    (emb_in,) = emb.get_inputs() if len(emb.get_inputs()) == 1 else (None,)
    if emb_in is None or len(emb_in.shape) != 4 or emb_in.shape[1] != 3:
        raise ConfigError("embedder input must be one float32 tensor [N, 3, S, S]")
    chip = emb_in.shape[2]
    if not isinstance(chip, int) or chip != emb_in.shape[3]:
        raise ConfigError("embedder input must have a fixed square size S")
    out = emb.get_outputs()[0].shape
    if len(out) != 2 or not isinstance(out[1], int):
        raise ConfigError("embedder output must be [N, D] with a fixed D")
    hw = tuple(v if isinstance(v, int) else None for v in det_in.shape[2:])
    return {"det_input": det_in.name, "emb_input": emb_in.name, "det_hw": hw, "chip": chip,
            "dim": out[1]}
