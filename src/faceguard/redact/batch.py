"""Redacting a file or a folder, in this process or over worker processes.

Workers are spawned, never forked: forking a process that already ran dlib can deadlock.
A folder is shared out file by file; a single video is analysed as overlapping segments,
one per worker (video.py), and written by this process. Workers report progress through
a queue; errors come back as data, so that each keeps its class, message and rule.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2

from faceguard.errors import FaceguardError, ImageDecodeError, ImageTooLarge, NotFound
from faceguard.redact.container import IMAGE_SUFFIXES, VIDEO_SUFFIXES, MediaType, sniff
from faceguard.redact.errors import OutputError, UnsupportedMedia, VideoDecodeError
from faceguard.redact.image import redact_image
from faceguard.redact.options import RedactOptions
from faceguard.redact.report import FileFailure, FileReport, RedactionReport
from faceguard.redact.video import (
    WRITERS,
    Analyser,
    Analysis,
    VideoInfo,
    analyse,
    redact_video,
    unite,
)

Progress = Callable[[int], None]

#: Below this many frames per worker a video is analysed in one piece (starting a worker
#: costs about 2 s; each segment also re-analyses an overlap of about 40 frames).
MIN_SEGMENT_FRAMES = 250

_ERRORS: dict[str, type[FaceguardError]] = {
    cls.__name__: cls
    for cls in (UnsupportedMedia, VideoDecodeError, ImageDecodeError, ImageTooLarge,
                OutputError, NotFound)
}

_worker_queue: Any = None


def redact_media(src: Path, dst: Path, options: RedactOptions | None = None, *,
                 workers: int = 1, progress: Progress | None = None) -> RedactionReport:
    """Redact an image, a video, or every image and video under a folder.

    A file goes to ``dst`` (or into ``dst`` if that is a folder); a folder's files go to
    the same relative paths under ``dst`` (made if missing; videos whose suffix cannot be
    written become .mp4). A single file that fails raises its error; in a folder, failed
    files are listed in the report's ``failed`` and the others are still written.
    ``workers`` processes share the work (1: this process only). ``progress`` is called
    with units done; :func:`work_units` gives the total.
    """
    options = options or RedactOptions()
    if workers < 1:
        raise ValueError("workers must be at least 1")
    if not src.exists():
        raise NotFound(f"{src} does not exist")
    pool = _Workers(workers, progress) if workers > 1 else None
    try:
        if src.is_dir():
            tasks, skipped = plan_folder(src, dst)
            files, failed = _redact_many(tasks, options, pool, progress)
            return RedactionReport(tuple(files), tuple(failed), tuple(skipped),
                                   options.describe())
        target = output_path(src, dst) if dst.is_dir() else dst
        analyser = _segmented(pool) if pool is not None else None
        report = redact_file(src, target, options, analyser=analyser, progress=progress)
        return RedactionReport((report,), settings=options.describe())
    finally:
        if pool is not None:
            pool.close()


def redact_file(src: Path, dst: Path, options: RedactOptions, *,
                analyser: Analyser | None = None, progress: Progress | None = None
                ) -> FileReport:
    """Redact one image or video, chosen by content."""
    media = sniff(src)
    if media.kind == "image":
        report = redact_image(src, dst, media, options)
        if progress is not None:
            progress(1)
        return report
    return redact_video(src, dst, media, options, analyser=analyser, progress=progress)


def media_files(src: Path) -> tuple[list[Path], list[str]]:
    """The images and videos under ``src`` by suffix (hidden files and folders left out),
    and the relative paths of the other files, which are skipped."""
    found: list[Path] = []
    skipped: list[str] = []
    for path in sorted(src.rglob("*")):
        relative = path.relative_to(src)
        if not path.is_file() or any(part.startswith(".") for part in relative.parts):
            continue
        if path.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES:
            found.append(path)
        else:
            skipped.append(str(relative))
    return found, skipped


def plan_folder(src: Path, dst: Path) -> tuple[list[tuple[Path, Path]], list[str]]:
    """``(input, output)`` pairs for the images and videos under ``src``, and the files
    skipped. Outputs keep their relative paths; unwritable video suffixes become .mp4."""
    source, target = src.resolve(), dst.resolve()
    if target == source or target.is_relative_to(source):
        raise OutputError("the output folder must not be the input folder or inside it")
    if dst.exists() and not dst.is_dir():
        raise OutputError(f"{dst} is a file; a folder is redacted into a folder")
    found, skipped = media_files(src)
    pairs = [(path, output_path(path, dst / path.relative_to(src).parent)) for path in found]
    return pairs, skipped


def output_path(src: Path, folder: Path) -> Path:
    """Where ``src`` goes in ``folder``: the same name, except that a video suffix no
    encoder here writes (.webm, .ts, ...) becomes .mp4."""
    suffix = src.suffix.lower()
    if suffix in VIDEO_SUFFIXES and suffix not in WRITERS:
        return folder / f"{src.stem}.mp4"
    return folder / src.name


def work_units(src: Path) -> int:
    """The total ``progress`` units of redacting ``src``: 1 per image, 2 per video frame
    (analysis and writing), by what the containers declare."""
    paths = media_files(src)[0] if src.is_dir() else [src]
    total = 0
    for path in paths:
        try:
            media = sniff(path)
        except FaceguardError:
            total += 1
            continue
        if media.kind == "image":
            total += 1
            continue
        capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
        frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0) if capture.isOpened() else 0
        capture.release()
        total += 2 * max(frames, 1)
    return total


def _redact_many(tasks: list[tuple[Path, Path]], options: RedactOptions,
                 pool: _Workers | None, progress: Progress | None
                 ) -> tuple[list[FileReport], list[FileFailure]]:
    for _, out in tasks:
        out.parent.mkdir(parents=True, exist_ok=True)
    if pool is not None and len(tasks) > 1:
        results = pool.run([(_file_task, (str(s), str(d), options)) for s, d in tasks])
    else:
        results = [_one(s, d, options, progress) for s, d in tasks]
    files = [r for r in results if isinstance(r, FileReport)]
    failed = [r for r in results if isinstance(r, FileFailure)]
    return files, failed


def _one(src: Path, dst: Path, options: RedactOptions, progress: Progress | None
         ) -> FileReport | FileFailure:
    try:
        return redact_file(src, dst, options, progress=progress)
    except FaceguardError as exc:
        return FileFailure(str(src), type(exc).__name__, exc.message, exc.rule)


# ---- worker processes --------------------------------------------------------------------


@dataclass(frozen=True)
class _Raised:
    """An error raised in a worker, carried back as data."""

    error: str
    message: str
    rule: str | None

    def rebuild(self) -> FaceguardError:
        return _ERRORS.get(self.error, FaceguardError)(self.message, rule=self.rule)


class _Ticker:
    """Progress from a worker: counts sent through the queue a few times a second."""

    def __init__(self) -> None:
        self.pending = 0
        self.sent = time.monotonic()

    def __call__(self, units: int) -> None:
        self.pending += units
        if time.monotonic() - self.sent > 0.2:
            self.flush()

    def flush(self) -> None:
        if self.pending and _worker_queue is not None:
            _worker_queue.put(self.pending)
        self.pending, self.sent = 0, time.monotonic()


def _start_worker(progress_queue: Any) -> None:
    global _worker_queue
    _worker_queue = progress_queue


def _file_task(src: str, dst: str, options: RedactOptions) -> FileReport | FileFailure:
    ticker = _Ticker()
    try:
        return _one(Path(src), Path(dst), options, ticker)
    finally:
        ticker.flush()


def _segment_task(src: str, media: MediaType, info: VideoInfo, options: RedactOptions,
                  start: int, stop: int | None, counted: tuple[int, int | None]
                  ) -> Analysis | _Raised:
    ticker = _Ticker()
    try:
        return analyse(Path(src), media, info, options, start, stop, ticker, counted)
    except FaceguardError as exc:
        return _Raised(type(exc).__name__, exc.message, exc.rule)
    finally:
        ticker.flush()


def _segmented(pool: _Workers) -> Analyser:
    """Pass 1 of a video as overlapping segments, one per worker."""

    def run(src: Path, media: MediaType, info: VideoInfo, options: RedactOptions
            ) -> Analysis:
        frames, workers = info.declared_frames, pool.workers
        if frames < workers * MIN_SEGMENT_FRAMES:
            return analyse(src, media, info, options, progress=pool.progress)
        t = options.tracking
        overlap = t.hold + t.backfill + t.detect_every
        bounds = [frames * k // workers for k in range(workers + 1)]
        calls = []
        for k in range(workers):
            last = k == workers - 1
            start = max(bounds[k] - overlap, 0)
            stop = None if last else bounds[k + 1] + overlap
            counted = (bounds[k], None if last else bounds[k + 1])
            calls.append((_segment_task, (str(src), media, info, options, start, stop,
                                          counted)))
        parts = pool.run(calls)
        for part in parts:
            if isinstance(part, _Raised):
                raise part.rebuild()
        return unite([p for p in parts if isinstance(p, Analysis)])

    return run


class _Workers:
    """A spawn-context process pool whose tasks report progress through a queue."""

    def __init__(self, workers: int, progress: Progress | None) -> None:
        context = multiprocessing.get_context("spawn")
        self.workers = workers
        self.progress = progress
        # a SimpleQueue writes in put() itself (no feeder thread): whatever a task reported
        # is in the pipe before its result arrives, so nothing is lost at the end
        self.queue: Any = context.SimpleQueue()
        self.pool = ProcessPoolExecutor(workers, mp_context=context,
                                        initializer=_start_worker, initargs=(self.queue,))

    def run(self, calls: Sequence[tuple[Callable[..., Any], tuple[Any, ...]]]) -> list[Any]:
        """Run the calls in the workers; results in order."""
        futures: list[Future[Any]] = [self.pool.submit(fn, *args) for fn, args in calls]
        pending = set(futures)
        while pending:
            _, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            self._drain()
        self._drain()
        return [f.result() for f in futures]

    def _drain(self) -> None:
        while not self.queue.empty():
            units = self.queue.get()
            if self.progress is not None:
                self.progress(int(units))

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.queue.close()
