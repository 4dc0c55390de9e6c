"""A partition seen as people: each person's templates fused into one (1:N search).

Identification scores a probe against every *person* of a purpose, each by one fused
template (``engine.scores.fuse``: the mean of their L2-normalised templates), so a person
with three pictures is not three chances for a stranger to be named, and the gallery's size
for the false-positive identification rate (FPIR) is its number of people.

``people_of(partition)`` returns the view, rebuilt from the partition's rows whenever they
changed (``Partition.version``); the rebuild is one pass over the rows (sorted by person,
summed with ``np.add.reduceat``). The view also knows the gallery's composition (how many
people have 1, 2, 3... pictures), which the thresholds depend on.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

import numpy as np

from faceguard.engine.scores import unit
from faceguard.index.partition import Partition


@dataclass(frozen=True)
class PersonHit:
    """One person of a 1:N search, at the unit distance of their fused template."""

    subject_id: str
    distance: float
    pictures: int


class People:
    """The fused templates of one partition's people."""

    def __init__(self, partition: Partition) -> None:
        self._partition = partition
        self._lock = threading.Lock()
        self._version = -1
        self._subjects = np.zeros(0, dtype="S1")
        self._fused = np.zeros((0, partition.dimension), dtype=np.float32)
        self._pictures = np.zeros(0, dtype=np.int64)

    def _current(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        with self._lock:
            if self._version != self._partition.version:
                version, subjects, vectors = self._partition.rows()
                if len(subjects) == 0:
                    names = np.zeros(0, dtype="S1")
                    fused = np.zeros((0, self._partition.dimension), dtype=np.float32)
                    counts = np.zeros(0, dtype=np.int64)
                else:
                    order = np.argsort(subjects, kind="stable")
                    subjects, vectors = subjects[order], unit(vectors[order])
                    starts = np.flatnonzero(np.r_[True, subjects[1:] != subjects[:-1]])
                    names = subjects[starts]
                    fused = unit(np.add.reduceat(vectors, starts, axis=0))
                    counts = np.diff(np.r_[starts, len(subjects)])
                self._subjects, self._fused, self._pictures = names, fused, counts
                self._version = version
            return self._subjects, self._fused, self._pictures

    def __len__(self) -> int:
        return len(self._current()[0])

    def composition(self) -> dict[int, int]:
        """How many people hold each number of pictures (``{pictures: people}``)."""
        counts = self._current()[2]
        values, people = np.unique(counts, return_counts=True)
        return {int(v): int(n) for v, n in zip(values, people, strict=True)}

    def search(self, probe: np.ndarray, k: int = 3,
               max_distance: float | None = None) -> list[PersonHit]:
        """The ``k`` people nearest ``probe`` (nearest first), within ``max_distance``."""
        subjects, fused, pictures = self._current()
        if len(subjects) == 0:
            return []
        cos = fused @ unit(probe)
        want = min(k, len(cos))
        top = np.argpartition(-cos, want - 1)[:want] if want < len(cos) else np.arange(len(cos))
        top = top[np.argsort(-cos[top], kind="stable")]
        hits = []
        for i in top.tolist():
            distance = float(np.sqrt(max(2.0 - 2.0 * float(cos[i]), 0.0)))
            if max_distance is not None and distance > max_distance:
                break
            hits.append(PersonHit(subjects[i].decode(), distance, int(pictures[i])))
        return hits


_views: weakref.WeakKeyDictionary[Partition, People] = weakref.WeakKeyDictionary()
_views_lock = threading.Lock()


def people_of(partition: Partition) -> People:
    """The people view of ``partition`` (one per partition, kept while it lives)."""
    with _views_lock:
        view = _views.get(partition)
        if view is None:
            view = _views[partition] = People(partition)
        return view
