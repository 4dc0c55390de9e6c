"""Native models that one thread at a time may use, lent out from a pool.

dlib's detectors, landmark predictor and networks keep working buffers inside the object:
two threads calling the same one at once corrupt its heap (glibc aborts) or each other's
results (a wrong decision). A :class:`ModelPool` lends each caller a set of its own for the
duration of a ``with`` block and builds a new set only when every existing one is lent out,
up to ``size`` sets; beyond that, callers wait for one to come back. dlib holds the GIL while
it computes, so more sets than cores buy nothing but memory.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

T = TypeVar("T")


def default_pool_size() -> int:
    """One set per core the process may run on (at least 2, so two threads never wait on
    a single set while the other core idles)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    return max(2, cores)


class ModelPool(Generic[T]):
    """Sets of native models made by ``factory``, each used by one thread at a time."""

    def __init__(self, factory: Callable[[], T], size: int | None = None) -> None:
        if size is not None and size < 1:
            raise ValueError("a model pool needs at least one set")
        self._factory = factory
        self.size = size or default_pool_size()
        self._idle: list[T] = []
        self._made = 0
        self._cond = threading.Condition()

    @property
    def made(self) -> int:
        """How many sets exist (lent out or idle)."""
        return self._made

    @contextmanager
    def take(self) -> Iterator[T]:
        """A set of models for this thread alone until the block ends."""
        item = self._acquire()
        try:
            yield item
        finally:
            with self._cond:
                self._idle.append(item)
                self._cond.notify()

    def _acquire(self) -> T:
        with self._cond:
            while True:
                if self._idle:
                    return self._idle.pop()
                if self._made < self.size:
                    self._made += 1
                    break
                self._cond.wait()
        try:
            return self._factory()  # built outside the lock: loading takes a while
        except BaseException:
            with self._cond:
                self._made -= 1
                self._cond.notify()
            raise
