"""In-memory 1:N search, one partition per purpose (exact, NumPy).

A partition holds the decrypted template vectors of the subjects with a valid consent for
its purpose. Enroll adds rows; withdraw, erase and expiry remove a subject's rows at once
(the row is masked out immediately and the arrays compacted when enough are dead).
The index is a cache: every match it proposes is checked again against the store.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Candidate:
    """One search hit: a template of a subject at a Euclidean distance."""

    subject_id: str
    template_id: str
    distance: float


class Partition:
    """The templates of one purpose and one engine."""

    def __init__(self, dimension: int, engine: str) -> None:
        self.dimension = dimension
        self.engine = engine
        self._vectors = np.zeros((0, dimension), dtype=np.float32)
        self._alive = np.zeros(0, dtype=bool)
        self._template_ids: list[str] = []
        self._subject_ids: list[str] = []
        self._size = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return int(self._alive[: self._size].sum())

    def add(self, subject_id: str, template_id: str, vector: np.ndarray) -> None:
        with self._lock:
            if self._size == len(self._vectors):
                capacity = max(64, 2 * len(self._vectors))
                grown = np.zeros((capacity, self.dimension), dtype=np.float32)
                grown[: self._size] = self._vectors[: self._size]
                alive = np.zeros(capacity, dtype=bool)
                alive[: self._size] = self._alive[: self._size]
                self._vectors, self._alive = grown, alive
            self._vectors[self._size] = vector
            self._alive[self._size] = True
            self._template_ids.append(template_id)
            self._subject_ids.append(subject_id)
            self._size += 1

    def remove_subject(self, subject_id: str) -> int:
        """Mask out every row of ``subject_id``; returns how many were removed."""
        with self._lock:
            rows = [
                i
                for i in range(self._size)
                if self._alive[i] and self._subject_ids[i] == subject_id
            ]
            self._alive[rows] = False
            if self._size and (self._size - int(self._alive[: self._size].sum())) > self._size // 2:
                self._compact()
            return len(rows)

    def remove_templates(self, template_ids: set[str]) -> int:
        with self._lock:
            rows = [
                i
                for i in range(self._size)
                if self._alive[i] and self._template_ids[i] in template_ids
            ]
            self._alive[rows] = False
            return len(rows)

    def _compact(self) -> None:
        keep = np.flatnonzero(self._alive[: self._size])
        self._vectors = np.ascontiguousarray(self._vectors[keep])
        self._alive = np.ones(len(keep), dtype=bool)
        self._template_ids = [self._template_ids[i] for i in keep]
        self._subject_ids = [self._subject_ids[i] for i in keep]
        self._size = len(keep)

    def search(self, probe: np.ndarray, k: int = 5) -> list[Candidate]:
        """The ``k`` nearest living templates, nearest first, at most one per subject."""
        with self._lock:
            if self._size == 0:
                return []
            vectors = self._vectors[: self._size]
            diff = vectors - probe.astype(np.float32)
            dist = np.sqrt(np.einsum("ij,ij->i", diff, diff))
            dist[~self._alive[: self._size]] = np.inf
            order = np.argsort(dist)
            out: list[Candidate] = []
            seen: set[str] = set()
            for i in order:
                if not np.isfinite(dist[i]) or len(out) >= k:
                    break
                subject = self._subject_ids[i]
                if subject in seen:
                    continue
                seen.add(subject)
                out.append(Candidate(subject, self._template_ids[i], float(dist[i])))
            return out


class GalleryIndex:
    """Partitions by purpose, loaded lazily by the caller."""

    def __init__(self) -> None:
        self._partitions: dict[str, Partition] = {}
        self._lock = threading.Lock()

    def get(self, purpose: str) -> Partition | None:
        return self._partitions.get(purpose)

    def install(self, purpose: str, partition: Partition) -> Partition:
        """Install a freshly loaded partition unless another thread already did."""
        with self._lock:
            return self._partitions.setdefault(purpose, partition)

    def remove_subject(self, subject_id: str, purpose: str | None = None) -> int:
        """Remove a subject from one purpose's partition or from all of them."""
        targets = [purpose] if purpose is not None else list(self._partitions)
        removed = 0
        for name in targets:
            part = self._partitions.get(name)
            if part is not None:
                removed += part.remove_subject(subject_id)
        return removed

    def remove_templates(self, purpose: str, template_ids: set[str]) -> int:
        part = self._partitions.get(purpose)
        return 0 if part is None else part.remove_templates(template_ids)
