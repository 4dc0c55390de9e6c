"""Passive single-frame scorers: cues of a screen or a print in one picture of the face.

A scorer has a ``name``, a ``threshold`` and ``score(rgb, box) -> float``; a score at or
above the threshold is evidence of an attack. The detector scores a few frames of each
presentation and uses the median, so one odd frame does not decide.

- :class:`MoireScorer` (screens): a display's pixel grid, filmed, aliases into moire: sharp
  periodic peaks in the spatial spectrum of the face region that skin does not have. The
  spectrum is a Welch average over tiles of the face at its native resolution; the score is
  how far the strongest peaks stand above the spectrum's local background (natural log units),
  ignoring the axes (edges) and the 8-pixel JPEG block harmonics.
- :class:`HalftoneScorer` (prints, not used by default): the same measure on the
  colour-difference channels, where a printer's dot screens and dithering leave periodic
  structure. On the real printed-photo pictures at hand it scored like live faces (their
  camera does not resolve the dots), so it is offered, not relied on.
- :class:`OnnxPadScorer`: a user-supplied PAD model (no such weights ship with faceguard).

These cues are weak on their own and were validated only on generated attacks and a handful
of real spoof pictures (docs/LIVENESS.md); their thresholds are set so that the live clips
are not called attacks.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np

from faceguard.errors import ConfigError

if TYPE_CHECKING:
    from faceguard.policy.deployment import PadModelSection

Box = tuple[int, int, int, int]


class PassiveScorer(Protocol):
    """What the detector needs from a single-frame scorer."""

    @property
    def name(self) -> str: ...

    @property
    def threshold(self) -> float: ...

    def score(self, rgb: np.ndarray, box: Box) -> float:
        """Attack evidence for the face at ``box`` ``(left, top, right, bottom)`` in ``rgb``."""
        ...


def _shifted_region(rgb: np.ndarray, box: Box, grow: float) -> np.ndarray:
    """The face box grown by ``grow`` (less where the picture is too small for it), moved
    inside the picture rather than cut at its edge: the crop keeps the box's shape."""
    left, top, right, bottom = box
    height, width = rgb.shape[:2]
    box_w, box_h = max(right - left, 1), max(bottom - top, 1)
    grow = min(grow, (width - 1) / box_w, (height - 1) / box_h)
    crop_w, crop_h = box_w * grow, box_h * grow
    x0 = min(max((left + right) / 2 - crop_w / 2, 0.0), width - crop_w)
    y0 = min(max((top + bottom) / 2 - crop_h / 2, 0.0), height - crop_h)
    return rgb[int(y0):int(y0 + crop_h), int(x0):int(x0 + crop_w)]


def _face_region(rgb: np.ndarray, box: Box, grow: float = 1.0) -> np.ndarray:
    left, top, right, bottom = box
    cx, cy = (left + right) / 2, (top + bottom) / 2
    half_w, half_h = (right - left) * grow / 2, (bottom - top) * grow / 2
    height, width = rgb.shape[:2]
    x0, x1 = int(max(cx - half_w, 0)), int(min(cx + half_w, width))
    y0, y1 = int(max(cy - half_h, 0)), int(min(cy + half_h, height))
    return rgb[y0:y1, x0:x1]


def _welch_spectrum(channel: np.ndarray, tile: int) -> np.ndarray | None:
    """Mean power spectrum (fft-shifted) over half-overlapping Hann-windowed tiles."""
    height, width = channel.shape
    if height < tile or width < tile:
        return None
    window = np.outer(np.hanning(tile), np.hanning(tile))
    step = tile // 2
    total = np.zeros((tile, tile))
    count = 0
    for y in range(0, height - tile + 1, step):
        for x in range(0, width - tile + 1, step):
            patch = channel[y:y + tile, x:x + tile]
            patch = (patch - patch.mean()) * window
            total += np.abs(np.fft.fft2(patch)) ** 2
            count += 1
    return np.fft.fftshift(total / count)


def _band_mask(tile: int, low: float, high: float) -> np.ndarray:
    freqs = np.fft.fftshift(np.fft.fftfreq(tile))
    fy, fx = np.meshgrid(freqs, freqs, indexing="ij")
    radius = np.hypot(fx, fy)
    mask = (radius >= low) & (radius <= high)
    mask &= (np.abs(fx) > 1.5 / tile) & (np.abs(fy) > 1.5 / tile)  # axis streaks (edges)
    for f in (fx, fy):  # JPEG 8x8 block harmonics
        nearest = np.round(f * 8) / 8
        mask &= np.abs(f - nearest) > 1.01 / tile
    return np.asarray(mask, bool)


def spectral_peak_score(
    channel: np.ndarray, *, tile: int = 64, band: tuple[float, float] = (0.1, 0.48), top: int = 3,
    min_tiles: int = 9,
) -> float:
    """How far the strongest spectral peaks in ``band`` (cycles/pixel) rise above the local
    background of the log spectrum (mean of the ``top`` strongest, natural log units).

    The spectrum is averaged over at least ``min_tiles`` tiles (shorter tiles for small
    faces, down to 32 pixels); a region too small for that scores 0 (no evidence)."""
    import cv2

    height, width = channel.shape
    while tile > 32 and ((height - tile) // (tile // 2) + 1) * (
            (width - tile) // (tile // 2) + 1) < min_tiles:
        tile //= 2  # a small face: shorter tiles, so that enough of them are averaged
    if ((height - tile) // (tile // 2) + 1) * ((width - tile) // (tile // 2) + 1) < min_tiles:
        return 0.0  # too small to tell a peak from the noise of a single spectrum
    spectrum = _welch_spectrum(channel.astype(np.float64), tile)
    if spectrum is None:
        return 0.0
    log_power = np.log(spectrum + 1e-9).astype(np.float32)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))
    background = cv2.GaussianBlur(cv2.morphologyEx(log_power, cv2.MORPH_OPEN, kernel), (0, 0), 2)
    excess = (log_power - background)[_band_mask(tile, *band)]
    if excess.size == 0:
        return 0.0
    strongest = np.sort(excess)[-top:]
    return float(strongest.mean())


class MoireScorer:
    """Screen moire: periodic peaks in the luminance spectrum of the face region."""

    name = "moire"

    def __init__(self, threshold: float = 3.0, *, tile: int = 64) -> None:
        self.threshold = threshold
        self.tile = tile

    def score(self, rgb: np.ndarray, box: Box) -> float:
        region = _face_region(rgb, box).astype(np.float64)
        if region.ndim == 3:
            region = region @ np.array([0.299, 0.587, 0.114])
        return spectral_peak_score(region, tile=self.tile)


class HalftoneScorer:
    """Print dot screens: periodic peaks in the colour-difference spectra of the face."""

    name = "halftone"

    def __init__(self, threshold: float = 3.2, *, tile: int = 64) -> None:
        self.threshold = threshold
        self.tile = tile

    def score(self, rgb: np.ndarray, box: Box) -> float:
        region = _face_region(rgb, box).astype(np.float64)
        if region.ndim != 3:
            return 0.0
        red, green, blue = region[:, :, 0], region[:, :, 1], region[:, :, 2]
        return max(spectral_peak_score(red - green, tile=self.tile),
                   spectral_peak_score(blue - (red + green) / 2, tile=self.tile))


def default_scorers() -> list[PassiveScorer]:
    """The passive scorers used when none are given: the moire scorer only (the halftone
    scorer separated nothing on the data at hand; see docs/LIVENESS.md)."""
    return [MoireScorer()]


class OnnxPadScorer:
    """A user-supplied PAD model in ONNX format, run with ONNX Runtime on the CPU.

    Input contract: one float32 tensor ``[1, 3, H, W]`` (``H`` and ``W`` fixed in the model),
    RGB channel order (``bgr=True`` for BGR models), values ``(pixel / 255 - mean) / std``
    (``pixels="unit"``, default) or the raw 0-255 values (``pixels="raw"``). The crop is the
    face box grown by ``crop_scale`` around its centre, clipped at the image's edge
    (``crop="clip"``, default) or moved inside the image keeping its size where the image
    allows (``crop="shift"``), resized to ``W x H``.

    Output contract: the model's first output, either one value (shape ``[1]`` or ``[1, 1]``)
    that is the attack probability (``output="probability"``) or an attack logit
    (``output="logit"``, a sigmoid is applied); or ``K >= 2`` class scores (shape ``[1, K]``)
    where class ``live_index`` is bona fide: the score is ``1 - softmax(...)[live_index]``
    (``output="logits"``) or ``1 - scores[live_index]`` (``output="probability"``).
    The model loads on first use.
    """

    name = "onnx"

    def __init__(
        self,
        model_path: Path | str,
        *,
        threshold: float = 0.5,
        crop_scale: float = 1.5,
        mean: tuple[float, float, float] = (0.0, 0.0, 0.0),
        std: tuple[float, float, float] = (1.0, 1.0, 1.0),
        bgr: bool = False,
        live_index: int = 0,
        output: Literal["probability", "logit", "logits"] | None = None,
        pixels: Literal["unit", "raw"] = "unit",
        crop: Literal["clip", "shift"] = "clip",
    ) -> None:
        if pixels not in ("unit", "raw") or crop not in ("clip", "shift"):
            raise ConfigError(f"PAD model: pixels must be 'unit' or 'raw' (not {pixels!r}), "
                              f"crop 'clip' or 'shift' (not {crop!r})")
        if crop_scale <= 0 or not 0 < threshold <= 1:
            raise ConfigError(f"PAD model: crop_scale must be positive (not {crop_scale}) and "
                              f"threshold in (0, 1] (not {threshold})")
        self.model_path = Path(model_path)
        self.threshold = threshold
        self.crop_scale = crop_scale
        self.mean = np.asarray(mean, np.float32).reshape(1, 3, 1, 1)
        self.std = np.asarray(std, np.float32).reshape(1, 3, 1, 1)
        self.bgr = bgr
        self.live_index = live_index
        self.output = output
        self.pixels = pixels
        self.crop = crop
        self._lock = threading.Lock()
        self._session: Any = None
        self._input: tuple[str, int, int] | None = None

    def _load(self) -> tuple[Any, tuple[str, int, int]]:
        with self._lock:
            if self._session is None or self._input is None:
                if not self.model_path.is_file():
                    raise ConfigError(f"PAD model not found: {self.model_path}")
                import onnxruntime

                options = onnxruntime.SessionOptions()
                # One thread: a decision's few crops gain little from more, and the
                # service's workers share the cores.
                options.intra_op_num_threads = 1
                try:
                    session = onnxruntime.InferenceSession(
                        str(self.model_path), options, providers=["CPUExecutionProvider"])
                except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types
                    raise ConfigError(f"PAD model {self.model_path.name} could not be "
                                      f"loaded: {exc}") from exc
                inputs = session.get_inputs()
                shape = list(inputs[0].shape) if inputs else []
                if (len(inputs) != 1 or len(shape) != 4 or shape[1] != 3
                        or not all(isinstance(d, int) and d > 0 for d in shape[2:])):
                    raise ConfigError(
                        f"PAD model {self.model_path.name} must take one input of shape "
                        f"[1, 3, H, W] with fixed H and W; it takes {shape}")
                self._session = session
                self._input = (inputs[0].name, int(shape[2]), int(shape[3]))
            return self._session, self._input

    def _tensor(self, rgb: np.ndarray, box: Box, height: int, width: int) -> np.ndarray:
        import cv2

        if self.crop == "shift":
            crop = _shifted_region(rgb, box, self.crop_scale)
        else:
            crop = _face_region(rgb, box, self.crop_scale)
        if crop.size == 0:
            crop = rgb
        if crop.ndim == 2:
            crop = np.repeat(crop[:, :, None], 3, axis=2)
        resized = cv2.resize(crop, (width, height), interpolation=cv2.INTER_AREA)
        if self.bgr:
            resized = resized[:, :, ::-1]
        tensor = resized.astype(np.float32).transpose(2, 0, 1)[None]
        if self.pixels == "raw":
            return np.ascontiguousarray(tensor, dtype=np.float32)
        tensor /= 255.0
        return np.ascontiguousarray((tensor - self.mean) / self.std, dtype=np.float32)

    def score(self, rgb: np.ndarray, box: Box) -> float:
        session, (name, height, width) = self._load()
        result = np.asarray(session.run(None, {name: self._tensor(rgb, box, height, width)})[0],
                            dtype=np.float64).reshape(-1)
        if result.size == 1:
            value = float(result[0])
            if (self.output or "probability") == "logit":
                return float(1.0 / (1.0 + np.exp(-value)))
            return float(min(max(value, 0.0), 1.0))
        if not 0 <= self.live_index < result.size:
            raise ConfigError(f"PAD model gives {result.size} classes; live_index "
                              f"{self.live_index} is out of range")
        if (self.output or "logits") == "logits":
            shifted = np.exp(result - result.max())
            result = shifted / shifted.sum()
        return float(min(max(1.0 - result[self.live_index], 0.0), 1.0))


def scorers_for(pad_model: PadModelSection | None, config_dir: Path) -> list[PassiveScorer]:
    """The deployment's passive scorers: the moire scorer, and the operator's model named
    in ``[pad_model]`` (a path relative to ``config_dir``, the folder of faceguard.toml).
    A model file that is missing is a ``ConfigError`` naming it, at once, not at the first
    presentation."""
    scorers = default_scorers()
    if pad_model is None:
        return scorers
    path = Path(pad_model.path)
    if not path.is_absolute():
        path = config_dir / path
    if not path.is_file():
        raise ConfigError(f"pad_model.path: the PAD model {path} does not exist (R26: the "
                          "deployment names a presentation-attack model it cannot run)")
    scorers.append(OnnxPadScorer(
        path, threshold=pad_model.threshold, crop_scale=pad_model.crop_scale,
        mean=(pad_model.mean[0], pad_model.mean[1], pad_model.mean[2]),
        std=(pad_model.std[0], pad_model.std[1], pad_model.std[2]),
        bgr=pad_model.channels == "bgr", live_index=pad_model.live_class,
        output=pad_model.output, pixels=pad_model.pixels, crop=pad_model.crop))
    return scorers
