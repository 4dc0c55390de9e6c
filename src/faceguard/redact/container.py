"""What a file is, from its first bytes: an image Pillow decodes, or a video container.

The suffix is trusted only where the content cannot tell (a bare MJPEG stream starts like a
JPEG image). For MP4/QuickTime and AVI the video codec's four-character code is read from
the container so that an undecodable file can be reported by its codec.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

from faceguard.errors import ImageDecodeError
from faceguard.redact.errors import UnsupportedMedia, VideoDecodeError

#: Suffixes of bare MJPEG streams (concatenated JPEG frames).
MJPEG_SUFFIXES = frozenset({".mjpeg", ".mjpg"})
VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".ts", ".mpg",
                            ".mpeg", ".flv"}) | MJPEG_SUFFIXES
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp"})

_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis"}
_MP4_TOP = {b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}
_MAX_MOOV = 64 * 1024 * 1024


@dataclass(frozen=True)
class MediaType:
    """``kind`` image or video; ``container`` a readable name; ``codec`` a FourCC if known."""

    kind: Literal["image", "video"]
    container: str
    codec: str | None = None


def sniff(path: Path) -> MediaType:
    """Classify ``path`` by content. Raises ``UnsupportedMedia`` for anything else and
    ``ImageDecodeError``/``VideoDecodeError`` for an empty file."""
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(4096)
            if size == 0:
                _empty(path)
            media = _classify(path, head)
            if media.container == "MP4/QuickTime":
                handle.seek(0)
                media = MediaType("video", media.container, _mp4_codec(handle, size))
            elif media.container == "AVI":
                handle.seek(0)
                media = MediaType("video", media.container, _avi_codec(handle.read(65536)))
    except OSError as exc:
        raise UnsupportedMedia(f"{path.name}: cannot be read ({exc.strerror})") from exc
    return media


def _empty(path: Path) -> None:
    if path.suffix.lower() in VIDEO_SUFFIXES:
        raise VideoDecodeError(f"{path.name}: the video is empty (0 bytes)")
    raise ImageDecodeError(f"{path.name}: the file is empty (0 bytes)")


def _classify(path: Path, head: bytes) -> MediaType:
    suffix = path.suffix.lower()
    if head.startswith(b"\xff\xd8\xff"):
        if suffix in MJPEG_SUFFIXES:
            return MediaType("video", "MJPEG stream", "MJPG")
        return MediaType("image", "JPEG")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return MediaType("image", "PNG")
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return MediaType("image", "WEBP")
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return MediaType("video", "AVI")
    if head[4:8] in _MP4_TOP:
        if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
            raise UnsupportedMedia(
                f"{path.name}: HEIF/AVIF images are not supported (accepted images: JPEG, "
                "PNG, WEBP)"
            )
        return MediaType("video", "MP4/QuickTime")
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return MediaType("video", "Matroska/WebM")
    if head.startswith(b"FLV"):
        return MediaType("video", "FLV")
    if head.startswith(b"\x00\x00\x01\xba"):
        return MediaType("video", "MPEG program stream")
    if len(head) > 188 and head[0] == 0x47 and head[188] == 0x47:
        return MediaType("video", "MPEG transport stream")
    raise UnsupportedMedia(f"{path.name}: {_describe(head)} is not supported; accepted: "
                           "JPEG, PNG, WEBP images and MP4, MOV, AVI, MKV, MJPEG videos")


def _describe(head: bytes) -> str:
    known = {b"GIF8": "a GIF image", b"BM": "a BMP image", b"II*\x00": "a TIFF image",
             b"MM\x00*": "a TIFF image", b"%PDF": "a PDF document", b"PK\x03\x04": "a ZIP archive",
             b"OggS": "an Ogg file", b"ID3": "an MP3 file"}
    for magic, name in known.items():
        if head.startswith(magic):
            return name
    return "the data (unknown format)"


def boxes(handle: BinaryIO, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """``(type, payload_start, payload_end)`` of the ISO-BMFF boxes in ``[start, end)``."""
    found = []
    offset = start
    while offset + 8 <= end:
        handle.seek(offset)
        header = handle.read(16)
        if len(header) < 8:
            break
        size, kind = struct.unpack(">I4s", header[:8])
        payload = offset + 8
        if size == 1 and len(header) >= 16:
            size = struct.unpack(">Q", header[8:16])[0]
            payload = offset + 16
        elif size == 0:
            size = end - offset
        if size < 8:
            break
        found.append((kind, payload, min(offset + size, end)))
        offset += size
    return found


def _mp4_codec(handle: BinaryIO, size: int) -> str | None:
    """The sample-entry type (e.g. ``avc1``, ``mp4v``) of the first video track, if found."""
    for kind, start, end in boxes(handle, 0, size):
        if kind != b"moov" or end - start > _MAX_MOOV:
            continue
        for trak, t_start, t_end in boxes(handle, start, end):
            if trak != b"trak":
                continue
            codec = _trak_codec(handle, t_start, t_end)
            if codec is not None:
                return codec
    return None


def _trak_codec(handle: BinaryIO, start: int, end: int) -> str | None:
    mdia = _child(handle, start, end, b"mdia")
    if mdia is None:
        return None
    hdlr = _child(handle, *mdia, b"hdlr")
    if hdlr is None:
        return None
    handle.seek(hdlr[0] + 8)
    if handle.read(4) != b"vide":
        return None
    path = [b"minf", b"stbl", b"stsd"]
    box: tuple[int, int] | None = mdia
    for name in path:
        box = _child(handle, *box, name) if box is not None else None
    if box is None:
        return None
    handle.seek(box[0] + 8 + 4)
    entry = handle.read(4)
    return entry.decode("latin-1") if len(entry) == 4 else None


def _child(handle: BinaryIO, start: int, end: int, name: bytes) -> tuple[int, int] | None:
    for kind, c_start, c_end in boxes(handle, start, end):
        if kind == name:
            return c_start, c_end
    return None


def _avi_codec(head: bytes) -> str | None:
    """The compression FourCC of the first video stream of an AVI file, if found."""
    strh = head.find(b"strh")
    while strh >= 0 and head[strh + 8 : strh + 12] != b"vids":
        strh = head.find(b"strh", strh + 4)
    if strh < 0:
        return None
    strf = head.find(b"strf", strh)
    if strf >= 0 and strf + 8 + 20 <= len(head):
        codec = head[strf + 8 + 16 : strf + 8 + 20]
    else:
        codec = head[strh + 12 : strh + 16]
    return codec.decode("latin-1") if len(codec) == 4 and codec.strip(b"\x00") else None
