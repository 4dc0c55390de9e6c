"""Decoding untrusted image bytes into an RGB array, in memory only.

Images are never written anywhere (R9): this module works on ``bytes`` and returns a
NumPy array; nothing touches the file system.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import ImageDecodeError, ImageTooLarge

#: Formats accepted, by content (the file name does not matter). MPO is a JPEG with extra
#: pictures (previews, depth maps) as phone cameras write it; its first picture is used.
ACCEPTED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP"})


@dataclass(frozen=True)
class ImageLimits:
    """Limits applied before any pixel is decoded.

    ``max_bytes``: size of the encoded input. ``max_pixels``: width x height as declared
    by the header, checked before decoding (a 100000x100000 PNG is refused unread).
    """

    max_bytes: int = 20 * 1024 * 1024
    max_pixels: int = 40_000_000
    max_side: int = 12_000


def decode_image(data: bytes, limits: ImageLimits | None = None) -> np.ndarray:
    """Decode JPEG, PNG (RGBA too) or WEBP bytes into an ``(H, W, 3)`` uint8 RGB array.

    EXIF orientation is applied; grayscale, palette, CMYK and 16-bit images are converted
    to RGB; transparent pixels are composited on white. Raises ``ImageDecodeError`` for
    empty, truncated or non-image data and ``ImageTooLarge`` beyond ``limits``.
    """
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
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img: Image.Image = Image.open(io.BytesIO(data))
            fmt = img.format or "unknown"
            if fmt not in ACCEPTED_FORMATS:
                raise ImageDecodeError(
                    f"unsupported image format {fmt}; accepted: JPEG, PNG, WEBP"
                )
            width, height = img.size
            _check_dimensions(width, height, limits)
            img.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLarge(f"the image declares too many pixels: {exc}") from exc
    except UnidentifiedImageError as exc:
        raise ImageDecodeError(
            "the data is not a recognised image (accepted: JPEG, PNG, WEBP)"
        ) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageDecodeError(f"the image is corrupt or truncated: {exc}") from exc
    try:
        img = ImageOps.exif_transpose(img) or img
    except Exception as exc:  # noqa: BLE001 - malformed EXIF from untrusted input
        raise ImageDecodeError(f"the image's EXIF data is malformed: {exc}") from exc
    return _to_rgb_array(img)


def _check_dimensions(width: int, height: int, limits: ImageLimits) -> None:
    if width <= 0 or height <= 0:
        raise ImageDecodeError(f"the image has no pixels ({width}x{height})")
    if width > limits.max_side or height > limits.max_side or width * height > limits.max_pixels:
        raise ImageTooLarge(
            f"the image declares {width}x{height} pixels; the limit is "
            f"{limits.max_pixels} pixels and {limits.max_side} per side"
        )


def _to_rgb_array(img: Image.Image) -> np.ndarray:
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr16 = np.asarray(img, dtype=np.float64)
        peak = float(arr16.max()) or 1.0
        img = Image.fromarray((arr16 * (255.0 / peak)).astype(np.uint8), mode="L")
    rgb = img.convert("RGB")
    return np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8))
