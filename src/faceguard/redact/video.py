"""Redacting one video in two passes through OpenCV's FFmpeg backend.

Pass 1 (analysis) decodes every frame, detects faces every few frames and tracks them in
between (track.py), giving the regions to cover per frame. It can run as several
overlapping segments in parallel (batch.py): regions from overlaps are united, so a
segment boundary never uncovers a face. Pass 2 decodes again, covers, and encodes into a
hidden temporary file that replaces the destination only once it has been read back with
the input's frame count and size.

Decoding takes whatever FFmpeg decodes (H.264, HEVC, MPEG-4, Motion JPEG, VP8/9, ...).
Encoding uses what opencv-python-headless can write without extra libraries: MPEG-4
Part 2 (``mp4v``) for .mp4/.m4v/.mov and Motion JPEG for .avi/.mkv. It has no H.264
encoder. Audio is not copied (voices are personal data too).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2

from faceguard.errors import ImageTooLarge
from faceguard.files import sha256_file
from faceguard.redact.container import MediaType
from faceguard.redact.cover import cover, expand, new_rng
from faceguard.redact.detect import finder_for
from faceguard.redact.errors import OutputError, UnsupportedMedia, VideoDecodeError
from faceguard.redact.image import small_face_warning
from faceguard.redact.metadata import METADATA_NOTE, verify_clean
from faceguard.redact.options import RedactOptions
from faceguard.redact.output import atomic_output, check_destination
from faceguard.redact.report import CoveredRegion, FileReport, FrameCover
from faceguard.redact.track import Planner, Region

#: Output suffix -> (FourCC, description).
WRITERS = {
    ".mp4": ("mp4v", "MPEG-4 Part 2 (mp4v) in MP4"),
    ".m4v": ("mp4v", "MPEG-4 Part 2 (mp4v) in MP4"),
    ".mov": ("mp4v", "MPEG-4 Part 2 (mp4v) in QuickTime"),
    ".avi": ("MJPG", "Motion JPEG in AVI"),
    ".mkv": ("MJPG", "Motion JPEG in Matroska"),
}
#: Codecs FFmpeg decodes: a file with one of these that cannot be opened is damaged.
KNOWN_CODECS = frozenset({
    "avc1", "avc3", "h264", "H264", "x264", "X264", "hvc1", "hev1", "mp4v", "FMP4", "XVID",
    "xvid", "DIVX", "DX50", "MPG4", "MJPG", "mjpa", "mjpb", "jpeg", "vp08", "vp09", "VP80",
    "VP90", "av01", "AV01",
})
_MJPEG_QUALITY = 90
_DEFAULT_FPS = 25.0

Progress = Callable[[int], None]


@dataclass(frozen=True)
class VideoInfo:
    """What the container declares (``declared_frames`` may be an estimate)."""

    width: int
    height: int
    fps: float
    declared_frames: int
    fps_declared: bool


@dataclass(frozen=True)
class Analysis:
    """Pass 1 over frames ``[start, end)``: regions per frame and tracks started."""

    start: int
    end: int
    regions: dict[int, list[Region]]
    tracks: int


def writer_for(dst: Path) -> tuple[str, str]:
    """The FourCC and description written for an output path, by its suffix."""
    writer = WRITERS.get(dst.suffix.lower())
    if writer is None:
        raise OutputError(
            f"cannot write a video as {dst.suffix or 'a file without suffix'}; use "
            f"{', '.join(WRITERS)}"
        )
    return writer


def open_capture(src: Path, media: MediaType) -> cv2.VideoCapture:
    """An opened capture of ``src``, or a clear error naming the codec or the damage."""
    capture = cv2.VideoCapture(str(src), cv2.CAP_FFMPEG)
    if not capture.isOpened():
        capture.release()
        raise _unreadable(src, media)
    return capture


def _unreadable(src: Path, media: MediaType, what: str = "cannot be opened") -> Exception:
    if media.codec is not None and media.codec not in KNOWN_CODECS:
        return UnsupportedMedia(
            f"{src.name}: the {media.container} file's video codec {media.codec!r} cannot be "
            "decoded (supported: H.264, HEVC, MPEG-4, Motion JPEG, VP8/VP9, AV1)"
        )
    codec = f" ({media.codec})" if media.codec else ""
    return VideoDecodeError(
        f"{src.name}: the {media.container}{codec} video {what}: the file is corrupt, "
        "truncated or incomplete"
    )


def probe_video(src: Path, media: MediaType, max_side: int) -> VideoInfo:
    """Open ``src``, decode its first frame, and return its size, rate and frame count."""
    capture = open_capture(src, media)
    try:
        ok, frame = capture.read()
        if not ok or frame is None:
            raise _unreadable(src, media, "has no frame that can be decoded")
        height, width = frame.shape[:2]
        if max(width, height) > max_side:
            raise ImageTooLarge(f"{src.name}: frames of {width}x{height} exceed the limit of "
                                f"{max_side} pixels per side")
        fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
        declared = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    finally:
        capture.release()
    good_fps = math.isfinite(fps) and 0.5 <= fps <= 1000.0
    return VideoInfo(width, height, fps if good_fps else _DEFAULT_FPS, max(declared, 0),
                     good_fps)


def analyse(src: Path, media: MediaType, info: VideoInfo, options: RedactOptions,
            start: int = 0, stop: int | None = None, progress: Progress | None = None,
            counted: tuple[int, int | None] = (0, None)) -> Analysis:
    """Pass 1 over frames ``[start, stop)`` (``stop=None``: to the end). ``progress`` is
    called for frames inside ``counted`` (the part this segment answers for)."""
    tracking = options.tracking
    finder = finder_for(options.video_finder)
    planner = Planner(tracking, info.width, info.height)
    capture = open_capture(src, media)
    index = 0
    try:
        while index < start and capture.grab():
            index += 1
        while stop is None or index < stop:
            ok, frame = capture.read()
            if not ok or frame is None:
                break
            if frame.shape[:2] != (info.height, info.width):
                raise VideoDecodeError(
                    f"{src.name}: frame {index} is {frame.shape[1]}x{frame.shape[0]}, not "
                    f"{info.width}x{info.height}; videos that change size are not supported"
                )
            offset = index - start
            detections = None
            if tracking.is_detection_frame(offset):
                rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
                detections = finder.find(rgb, cnn=tracking.runs_cnn(offset))
            planner.step(index, planner.small_grey(frame), detections)
            if progress is not None and counted[0] <= index and (
                counted[1] is None or index < counted[1]
            ):
                progress(1)
            index += 1
    finally:
        capture.release()
    regions = {i: r for i, r in planner.regions.items() if r}
    return Analysis(start, index, regions, planner.tracks_started)


def unite(parts: list[Analysis]) -> Analysis:
    """One analysis from overlapping segments: every region of every segment is kept."""
    regions: dict[int, list[Region]] = {}
    for part in sorted(parts, key=lambda p: p.start):
        for index, found in part.regions.items():
            kept = regions.setdefault(index, [])
            kept.extend(r for r in found if r not in kept)
    start = min((p.start for p in parts), default=0)
    end = max((p.end for p in parts), default=0)
    return Analysis(start, end, regions, sum(p.tracks for p in parts))


Analyser = Callable[[Path, MediaType, VideoInfo, RedactOptions], Analysis]


def redact_video(src: Path, dst: Path, media: MediaType, options: RedactOptions, *,
                 analyser: Analyser | None = None, progress: Progress | None = None
                 ) -> FileReport:
    """Cover every face in every frame of ``src`` and write the video to ``dst``.

    ``analyser`` runs pass 1 (default: in this process, in one piece).
    """
    started = time.perf_counter()
    fourcc, description = writer_for(dst)
    check_destination(dst, overwrite=options.overwrite)
    info = probe_video(src, media, options.max_video_side)
    if analyser is not None:
        analysis = analyser(src, media, info, options)
    else:
        analysis = analyse(src, media, info, options, progress=progress)
    frames = analysis.end
    if frames == 0:
        raise _unreadable(src, media, "has no frame that can be decoded")
    with atomic_output(dst, overwrite=options.overwrite) as temporary:
        _write(src, temporary, media, info, analysis, fourcc, options, progress)
        _check_output(temporary, info, frames)
        verify_clean(temporary, "video")
        digest, written = sha256_file(temporary), temporary.stat().st_size
    warnings = list(small_face_warning(finder_for(options.video_finder), info.height,
                                       info.width))
    if not info.fps_declared:
        warnings.append(f"the input declares no usable frame rate; {_DEFAULT_FPS:g} fps written")
    if info.declared_frames and info.declared_frames != frames:
        warnings.append(f"the container declares {info.declared_frames} frames; {frames} "
                        "could be decoded and were written")
    covered = tuple(
        FrameCover(index, tuple(
            CoveredRegion(r.face, expand(r.face, options.margin, info.width, info.height),
                          r.source)
            for r in analysis.regions[index]
        ))
        for index in sorted(analysis.regions)
    )
    return FileReport(
        source=str(src),
        output=str(dst),
        kind="video",
        input_format=f"{media.container} ({media.codec})" if media.codec else media.container,
        output_format=description,
        width=info.width,
        height=info.height,
        frames=frames,
        fps=info.fps,
        faces=analysis.tracks,
        frames_with_faces=len(covered),
        regions_covered=sum(len(c.regions) for c in covered),
        output_sha256=digest,
        output_bytes=written,
        metadata=METADATA_NOTE,
        seconds=round(time.perf_counter() - started, 3),
        warnings=tuple(warnings),
        covered=covered,
    )


def _write(src: Path, temporary: Path, media: MediaType, info: VideoInfo, analysis: Analysis,
           fourcc: str, options: RedactOptions, progress: Progress | None) -> None:
    """Pass 2: decode again, cover the planned regions, encode."""
    writer = cv2.VideoWriter(str(temporary), cv2.VideoWriter.fourcc(*fourcc), info.fps,
                             (info.width, info.height))
    if not writer.isOpened():
        raise OutputError(f"OpenCV cannot encode {fourcc} into {temporary.suffix} here")
    if fourcc == "MJPG":
        writer.set(cv2.VIDEOWRITER_PROP_QUALITY, _MJPEG_QUALITY)
    capture = open_capture(src, media)
    rng = new_rng()
    try:
        for index in range(analysis.end):
            ok, frame = capture.read()
            if not ok or frame is None or frame.shape[:2] != (info.height, info.width):
                raise VideoDecodeError(f"{src.name}: frame {index} could not be decoded again; "
                                       "did the file change while it was redacted?")
            regions = [expand(r.face, options.margin, info.width, info.height)
                       for r in analysis.regions.get(index, ())]
            cover(frame, regions, options.style, rng)
            writer.write(frame)
            if progress is not None:
                progress(1)
        if capture.grab():
            raise VideoDecodeError(f"{src.name}: more frames decoded on the second pass than "
                                   "on the first; did the file change while it was redacted?")
    finally:
        capture.release()
        writer.release()


def _check_output(path: Path, info: VideoInfo, frames: int) -> None:
    """The written video must decode with the input's frame count and size."""
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    try:
        if not capture.isOpened():
            raise OutputError("the written video cannot be decoded; not kept")
        count = 0
        while True:
            ok, frame = capture.read()
            if not ok or frame is None:
                break
            if frame.shape[:2] != (info.height, info.width):
                raise OutputError(f"the written video's frame {count} has the wrong size")
            count += 1
    finally:
        capture.release()
    if count != frames:
        raise OutputError(f"the written video decodes to {count} frames, not {frames}; "
                          "not kept")
