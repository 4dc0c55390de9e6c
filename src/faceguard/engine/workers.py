"""Face extraction in worker processes: both cores for face work, and a crash stays there.

dlib computes while holding Python's GIL, so threads of one process take turns on one
core. :class:`ExtractionPool` runs :func:`.pipeline.extract` in ``workers`` processes
(started with ``spawn``: a process that ran dlib is never forked), each with its own copy of
the caller's engine (engines pickle as their settings; each copy loads its own models). Image bytes
go to a worker through a pipe, never through a file (R9); the extraction (a template, the
face box, the quality figures) comes back.

If native code kills a worker (a crafted image that trips a bug in a decoder or detector),
the pool is rebuilt and the caller gets an ``ImageError`` naming the problem: the service
itself never goes down with it.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from faceguard.engine.imaging import ImageLimits
from faceguard.engine.pipeline import Extraction, FaceChoice, FacesFound, extract, find_faces
from faceguard.engine.quality import QualityGate
from faceguard.engine.types import FaceEngine
from faceguard.errors import ImageError

_WORKER: dict[str, Any] = {}
T = TypeVar("T")
#: How often a worker looks whether the process that started it is still there.
PARENT_CHECK_SECONDS = 1.0


def _start_worker(engine: FaceEngine) -> None:
    _WORKER["engine"] = engine
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True,
                     name="faceguard-parent-watch").start()


def _exit_with_parent(parent: int) -> None:
    """A worker outlives a parent killed with SIGKILL (it holds both ends of its own task
    pipe, so it never reads an end of file): it leaves once it has been handed to another
    parent."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(0)


def _run(image: bytes, single_face: bool, gate: QualityGate | None,
         limits: ImageLimits | None, choose: FaceChoice | None = None) -> Extraction:
    return extract(_WORKER["engine"], image, single_face=single_face, gate=gate, limits=limits,
                   choose=choose)


def _find(image: bytes, limits: ImageLimits | None, min_face_px: int) -> FacesFound:
    return find_faces(_WORKER["engine"], image, limits=limits, min_face_px=min_face_px)


def _engine_id() -> str:
    return str(_WORKER["engine"].engine_id)


class ExtractionPool:
    """``workers`` processes that turn image bytes into extractions."""

    def __init__(self, engine: FaceEngine, workers: int) -> None:
        if workers < 1:
            raise ValueError("an extraction pool needs at least one worker")
        self.workers = workers
        self._engine = engine
        self._lock = threading.Lock()
        self._pool = self._start()

    def _start(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_start_worker, initargs=(self._engine,))

    def engine_id(self) -> str:
        """The workers' engine (started now if not yet), to check it is the caller's."""
        return str(self._pool.submit(_engine_id).result())

    def extract(self, image: bytes, *, single_face: bool, gate: QualityGate | None,
                limits: ImageLimits | None, choose: FaceChoice | None = None) -> Extraction:
        """:func:`.pipeline.extract` in a worker; its errors are raised here unchanged."""
        return self._submit(_run, bytes(image), single_face, gate, limits, choose)

    def find_faces(self, image: bytes, *, limits: ImageLimits | None,
                   min_face_px: int) -> FacesFound:
        """:func:`.pipeline.find_faces` in a worker (detection only)."""
        return self._submit(_find, bytes(image), limits, min_face_px)

    def _submit(self, call: Callable[..., T], *args: Any) -> T:
        pool = self._pool
        try:
            return pool.submit(call, *args).result()
        except BrokenProcessPool as exc:
            with self._lock:
                if self._pool is pool:  # the first caller to see it rebuilds the pool
                    self._pool = self._start()
                    pool.shutdown(wait=False, cancel_futures=True)
            raise ImageError(
                "the image could not be processed: the face engine stopped on it "
                "(a malformed or hostile file)"
            ) from exc

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
