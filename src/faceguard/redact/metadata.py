"""Outputs carry pixels only: images are encoded from the pixel array (no EXIF, GPS, XMP,
ICC profile, comments or thumbnails are copied, the orientation is already applied), and
each written file is read back to check that no such block is present.

Videos are re-encoded frame by frame by OpenCV, which copies no audio, subtitles or tags;
in MP4/QuickTime outputs the only tag is the encoder's name, and that is checked too.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image

from faceguard.redact.container import boxes
from faceguard.redact.errors import OutputError

#: Output suffix -> Pillow format.
IMAGE_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP"}

_SAVE_OPTIONS: dict[str, dict[str, object]] = {
    "JPEG": {"quality": 92, "subsampling": 0},
    "PNG": {"compress_level": 6},
    "WEBP": {"quality": 90, "method": 4},
}

#: Keys Pillow reports for a bare file of each format (encoding facts, not metadata).
_HARMLESS = {"jfif", "jfif_version", "jfif_unit", "jfif_density", "dpi", "progressive",
             "progression", "loop", "duration", "background", "lossless", "gamma", "srgb",
             "aspect"}

#: Tags an MP4/QuickTime ``udta`` box may hold in our outputs: the encoder's name.
_ALLOWED_MP4_TAGS = {b"\xa9too"}
METADATA_NOTE = ("re-encoded from pixels: EXIF, GPS, XMP, ICC profile, comments, thumbnails, "
                 "audio and device tags not copied (verified on the output)")


def image_format_for(path: Path) -> str:
    """The Pillow format written for an output path, by its suffix."""
    fmt = IMAGE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise OutputError(
            f"cannot write an image as {path.suffix or 'a file without suffix'}; "
            "use .jpg, .png or .webp"
        )
    return fmt


def write_image(rgb: np.ndarray, path: Path, fmt: str) -> None:
    """Encode ``rgb`` (H, W, 3 uint8) to ``path`` with nothing but the pixels."""
    image = Image.fromarray(np.ascontiguousarray(rgb))
    image.save(path, format=fmt, **_SAVE_OPTIONS[fmt])


def image_metadata(path: Path) -> list[str]:
    """Names of the metadata blocks found in an image file (empty when clean)."""
    with Image.open(path) as image:
        found = sorted(str(key) for key in image.info if key not in _HARMLESS)
        if len(image.getexif()) and "exif" not in found:
            found.append("exif")
        applist: list[tuple[str, bytes]] = getattr(image, "applist", None) or []
        found += [marker for marker, _ in applist
                  if marker not in ("APP0", "APP14") and marker not in found]
    return found


def mp4_tags(path: Path) -> list[str]:
    """The tags under an MP4/QuickTime file's ``moov/udta`` and ``moov/meta`` boxes, other
    than the encoder's name (which FFmpeg always writes)."""
    found: list[str] = []
    size = path.stat().st_size
    with path.open("rb") as handle:
        for kind, start, end in boxes(handle, 0, size):
            if kind != b"moov":
                continue
            for child, c_start, c_end in boxes(handle, start, end):
                if child == b"udta":
                    tags = _udta_tags(handle, c_start, c_end)
                elif child == b"meta":
                    tags = _meta_tags(handle, c_start, c_end)
                else:
                    continue
                found += [t.decode("latin-1") for t in tags if t not in _ALLOWED_MP4_TAGS]
    return found


def _udta_tags(handle: BinaryIO, start: int, end: int) -> list[bytes]:
    tags: list[bytes] = []
    for kind, c_start, c_end in boxes(handle, start, end):
        tags += _meta_tags(handle, c_start, c_end) if kind == b"meta" else [kind]
    return tags


def _meta_tags(handle: BinaryIO, start: int, end: int) -> list[bytes]:
    """The item tags of a ``meta`` full box (its ``ilst``); other children are tags too,
    except the handler."""
    tags: list[bytes] = []
    for kind, c_start, c_end in boxes(handle, start + 4, end):
        if kind == b"ilst":
            tags += [t for t, _, _ in boxes(handle, c_start, c_end)]
        elif kind != b"hdlr":
            tags.append(kind)
    return tags


def verify_clean(path: Path, kind: str) -> None:
    """Raise ``OutputError`` if the written output holds any metadata block."""
    if kind == "image":
        found = image_metadata(path)
    elif path.suffix.lower() in (".mp4", ".m4v", ".mov"):
        found = mp4_tags(path)
    else:
        found = []
    if found:
        raise OutputError(f"the output still holds metadata ({', '.join(found)}); not kept")
