"""Decoding untrusted image bytes into an RGB array, in memory only.

Images are never written anywhere (R9): this module works on ``bytes`` and returns a
NumPy array; nothing touches the file system.
"""

from __future__ import annotations

import io
import struct
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from PIL import Image

# Pillow is imported where a picture is decoded: opening a data directory to check it or
# to verify its record must not load an image library.

from faceguard.errors import ImageDecodeError, ImageTooLarge

#: Formats accepted, by content (the file name does not matter). MPO is a JPEG with extra
#: pictures (previews, depth maps) as phone cameras write it; its first picture is used.
ACCEPTED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP"})

#: The Pillow parsers allowed to read untrusted bytes (JPEG's opener also reads MPO).
_PARSERS = ("JPEG", "PNG", "WEBP")

#: Bytes a decoded pixel takes in Pillow's memory, by mode (multi-band images are stored
#: four bytes a pixel whatever their bands).
_MODE_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2}

#: A JPEG larger than this on its longer side is decoded at a reduced scale (its DCT does
#: it for free): detection works on at most 2000 px and the aligned chip is 150 px.
JPEG_DRAFT_SIDE = 4000


@dataclass(frozen=True)
class ImageLimits:
    """Limits applied before any pixel is decoded.

    ``max_bytes``: size of the encoded input. ``max_pixels``: width x height as declared
    by the header, checked before decoding (a 100000x100000 PNG is refused unread).
    ``max_decoded_bytes``: the memory the decoded picture would take (width x height x the
    bytes of a pixel in its mode), also checked before decoding. Decoding one image then
    peaks at 7.5 to 9 bytes a pixel (the decoded picture and its RGB array, measured by
    ``bench/bench_decode.py``); nothing makes a wider copy (no float64).
    """

    max_bytes: int = 20 * 1024 * 1024
    max_pixels: int = 40_000_000
    max_side: int = 12_000
    max_decoded_bytes: int = 160 * 1024 * 1024


def decode_image(data: bytes, limits: ImageLimits | None = None) -> np.ndarray:
    """Decode JPEG, PNG (RGBA too) or WEBP bytes into an ``(H, W, 3)`` uint8 RGB array.

    EXIF orientation is applied; grayscale, palette, CMYK and 16-bit images are converted
    to RGB; transparent pixels are composited on white. Raises ``ImageDecodeError`` for
    empty, truncated or non-image data and ``ImageTooLarge`` beyond ``limits``.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    limits = limits or ImageLimits()
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ImageDecodeError(f"expected image bytes, got {type(data).__name__}")
    size = len(data)
    if size == 0:
        raise ImageDecodeError("the image is empty (0 bytes)")
    if size > limits.max_bytes:
        raise ImageTooLarge(f"the image is {size} bytes; the limit is {limits.max_bytes}")
    try:
        with warnings.catch_warnings():
            # Pillow warns of malformed metadata it skips (EXIF tags, an MPO index) in
            # pictures that still decode: untrusted bytes neither reach the log nor fail there
            warnings.simplefilter("ignore")
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # only the accepted formats' parsers ever read the bytes (not Pillow's forty)
            img: Image.Image = Image.open(io.BytesIO(data), formats=_PARSERS)
            fmt = img.format or "unknown"
            if fmt not in ACCEPTED_FORMATS:
                raise ImageDecodeError(
                    f"unsupported image format {fmt}; accepted: JPEG, PNG, WEBP"
                )
            _check_dimensions(*img.size, limits)
            if fmt in ("JPEG", "MPO") and max(img.size) > JPEG_DRAFT_SIDE:
                longest = max(img.size)
                # at least 1 px a side: Pillow divides by the requested size
                img.draft("RGB", (max(1, img.size[0] * JPEG_DRAFT_SIDE // longest),
                                  max(1, img.size[1] * JPEG_DRAFT_SIDE // longest)))
            _check_decoded_bytes(img, limits)
            img.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLarge(f"the image declares too many pixels: {exc}") from exc
    except UnidentifiedImageError as exc:
        other = _other_format(bytes(data[:16]))
        if other is not None:
            raise ImageDecodeError(
                f"unsupported image format {other}; accepted: JPEG, PNG, WEBP"
            ) from exc
        raise ImageDecodeError(
            "the data is not a recognised image (accepted: JPEG, PNG, WEBP)"
        ) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageDecodeError(f"the image is corrupt or truncated: {exc}") from exc
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # as above: EXIF tags Pillow skips
            img = ImageOps.exif_transpose(img) or img
    except Exception as exc:  # noqa: BLE001 - malformed EXIF from untrusted input
        raise ImageDecodeError(f"the image's EXIF data is malformed: {exc}") from exc
    return _to_rgb_array(img)


def _other_format(prefix: bytes) -> str | None:
    """The refused format whose signature ``prefix`` has (GIF, TIFF, BMP...), judged by
    Pillow's signature checks alone: no parser of a refused format runs."""
    from PIL import Image

    Image.init()
    for fmt, (_factory, accept) in Image.OPEN.items():
        if fmt in ACCEPTED_FORMATS or accept is None:
            continue
        try:  # what Image.open catches from these checks (short prefixes)
            if accept(prefix):
                return fmt
        except (SyntaxError, IndexError, TypeError, struct.error):
            continue
    return None


def _check_dimensions(width: int, height: int, limits: ImageLimits) -> None:
    if width <= 0 or height <= 0:
        raise ImageDecodeError(f"the image has no pixels ({width}x{height})")
    if width > limits.max_side or height > limits.max_side or width * height > limits.max_pixels:
        raise ImageTooLarge(
            f"the image declares {width}x{height} pixels; the limit is "
            f"{limits.max_pixels} pixels and {limits.max_side} per side"
        )


def _check_decoded_bytes(img: Image.Image, limits: ImageLimits) -> None:
    width, height = img.size
    need = width * height * _MODE_BYTES.get(img.mode, 4)
    if need > limits.max_decoded_bytes:
        raise ImageTooLarge(
            f"the image ({width}x{height}, mode {img.mode}) would take {need} bytes decoded; "
            f"the limit is {limits.max_decoded_bytes}"
        )


def _to_rgb_array(img: Image.Image) -> np.ndarray:
    """The picture as an ``(H, W, 3)`` uint8 array, converted a band of rows at a time, so
    that no whole-picture copy is made besides the array itself: transparency composited on
    white, 16- and 32-bit grey scaled so that the brightest pixel is 255."""
    from PIL import Image

    width, height = img.size
    out = np.empty((height, width, 3), dtype=np.uint8)
    wide = img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")
    peak = 1
    if wide:
        extrema: Any = img.getextrema()  # (low, high) for a one-band image
        peak = max(int(extrema[1]), 1)
    alpha = img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)
    step = max(1, (1 << 20) // width)
    for top in range(0, height, step):
        bottom = min(top + step, height)
        band = img.crop((0, top, width, bottom))
        if wide:
            grey = np.asarray(band, dtype=np.int64)
            np.clip(grey * 255 // peak, 0, 255, out=grey)
            out[top:bottom] = grey[:, :, None]
            continue
        if alpha:
            rgba = band.convert("RGBA")
            white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            band = Image.alpha_composite(white, rgba)
        out[top:bottom] = np.asarray(band.convert("RGB"), dtype=np.uint8)
    return out


def resize(rgb: np.ndarray, scale: float) -> np.ndarray:
    """``rgb`` scaled by ``scale`` (each side rounded, at least 1 px), area-averaged when
    shrinking and bilinear when enlarging; the array itself when the scale is 1. The one
    resize routine of detection, liveness and redaction."""
    import cv2

    if abs(scale - 1.0) < 1e-3:
        return rgb
    height, width = rgb.shape[:2]
    size = (max(int(round(width * scale)), 1), max(int(round(height * scale)), 1))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return np.ascontiguousarray(cv2.resize(rgb, size, interpolation=interpolation))
