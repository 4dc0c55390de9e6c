"""In-memory exact 1:N search, one partition per purpose (NumPy, BLAS-backed).

``search_binary`` adds a first stage for large galleries: each template also has a 128-bit
code (the signs of its centred, randomly rotated vector; 16 bytes instead of 512), the
shortlist nearest in Hamming distance is re-ranked exactly in float32. It is approximate:
its rank-1 agreement with the exact search is measured by ``bench/bench_search.py``.

A partition holds the decrypted template vectors of the subjects with a valid consent for
its purpose, row by row in one contiguous float32 matrix with their squared norms. A search
computes every row's score ``2 x.q - |x|^2`` (the squared distance is ``|q|^2`` minus it)
with one matrix-vector product of the doubled probe, which reads each template once (the
memory-bandwidth floor for float32), and one in-place pass over the scores; several probes
at once take one matrix-matrix product. Enroll appends rows; withdraw, erase and expiry mask
a subject's rows at once, setting their norms to +inf so that they score -inf and no search
returns them (compacted when half are dead). The index is a cache: every match it
proposes is checked again against the store before it is answered.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from itertools import pairwise

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
        self._norms = np.zeros(0, dtype=np.float32)
        self._scratch = np.zeros(0, dtype=np.float32)  # one probe's scores (see _scores)
        self._alive = np.zeros(0, dtype=bool)
        # IDs as fixed-width ASCII bytes, one array each (a Python string and its list slot
        # would cost about three times the bytes; see bench_store's memory figure)
        self._template_ids = np.zeros(0, dtype="S1")
        self._subject_ids = np.zeros(0, dtype="S1")
        self._size = 0
        self._lock = threading.Lock()
        rng = np.random.default_rng(20261122)
        self._rotation = np.linalg.qr(rng.normal(size=(dimension, dimension)))[0].astype(
            np.float32)
        self._center: np.ndarray | None = None
        self._centered_at = 0
        self._codes = np.zeros((0, dimension // 64), dtype=np.uint64)
        #: Counts changes (rows added or removed): a view built from the rows (``people``)
        #: is rebuilt when it moves.
        self.version = 0
        #: The last row of the store's change feed applied to this partition (index_feed).
        self.feed_seq = 0
        self.feed_lock = threading.Lock()

    def __len__(self) -> int:
        return int(self._alive[: self._size].sum())

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays (vectors, norms, mask, binary codes, IDs, the score
        buffer), for the memory budget."""
        return int(self._vectors.nbytes + self._norms.nbytes + self._alive.nbytes
                   + self._codes.nbytes + self._scratch.nbytes + self._subject_ids.nbytes
                   + self._template_ids.nbytes)

    def _reserve(self, extra: int) -> None:
        need = self._size + extra
        if need <= len(self._vectors):
            return
        capacity = max(64, need, int(len(self._vectors) * 1.5))
        vectors = np.zeros((capacity, self.dimension), dtype=np.float32)
        vectors[: self._size] = self._vectors[: self._size]
        norms = np.zeros(capacity, dtype=np.float32)
        norms[: self._size] = self._norms[: self._size]
        alive = np.zeros(capacity, dtype=bool)
        alive[: self._size] = self._alive[: self._size]
        codes = np.zeros((capacity, self.dimension // 64), dtype=np.uint64)
        codes[: self._size] = self._codes[: self._size]
        self._vectors, self._norms, self._alive, self._codes = vectors, norms, alive, codes
        self._subject_ids = _grown(self._subject_ids, self._size, capacity)
        self._template_ids = _grown(self._template_ids, self._size, capacity)

    def add(self, subject_id: str, template_id: str, vector: np.ndarray) -> None:
        self.add_many([subject_id], [template_id], np.asarray(vector)[None, :])

    def add_many(
        self, subject_ids: list[str], template_ids: list[str], vectors: np.ndarray
    ) -> None:
        """Append many rows at once (index start-up loads a purpose in batches)."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dimension:
            raise ValueError(f"vectors must be (n, {self.dimension})")
        if not len(subject_ids) == len(template_ids) == len(vectors):
            raise ValueError("subject_ids, template_ids and vectors differ in length")
        if len(vectors) == 0:
            return
        with self._lock:
            self._append(subject_ids, template_ids, vectors)

    def _append(
        self, subject_ids: list[str], template_ids: list[str], vectors: np.ndarray
    ) -> None:
        """Append rows (the caller holds the lock and checked the shapes)."""
        self._reserve(len(vectors))
        start, end = self._size, self._size + len(vectors)
        self._vectors[start:end] = vectors
        self._norms[start:end] = np.einsum("ij,ij->i", vectors, vectors)
        self._alive[start:end] = True
        if self._center is None or end >= 4 * max(self._centered_at, 256):
            self._center = self._vectors[:end].mean(axis=0)
            self._centered_at = end
            self._codes[:end] = self._encode(self._vectors[:end])
        else:
            self._codes[start:end] = self._encode(vectors)
        self._subject_ids = _put(self._subject_ids, start, subject_ids)
        self._template_ids = _put(self._template_ids, start, template_ids)
        self._size = end
        self.version += 1

    def rows(self) -> tuple[int, np.ndarray, np.ndarray]:
        """``(version, subject IDs, vectors)`` of the living rows, copied under the lock."""
        with self._lock:
            alive = np.flatnonzero(self._alive[: self._size])
            return self.version, self._subject_ids[alive], self._vectors[alive]

    def add_missing(
        self, subject_ids: list[str], template_ids: list[str], vectors: np.ndarray
    ) -> int:
        """``add_many`` for the rows whose template is not already held (alive); returns how
        many were added. The change feed and the enrolling thread may both bring the same
        template: it is held once."""
        if not template_ids:
            return 0
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        wanted = np.array([t.encode() for t in template_ids], dtype=bytes)
        with self._lock:
            new = np.flatnonzero(~np.isin(wanted, self._present(wanted)))
            if len(new):
                self._append([subject_ids[i] for i in new], [template_ids[i] for i in new],
                              vectors[new])
        return len(new)

    def held(self, template_ids: set[str]) -> set[str]:
        """Which of ``template_ids`` this partition holds alive."""
        wanted = np.array([t.encode() for t in template_ids], dtype=bytes)
        with self._lock:
            return {t.decode() for t in self._present(wanted)}

    def _present(self, wanted: np.ndarray) -> np.ndarray:
        """The IDs of ``wanted`` held alive (the caller holds the lock): one pass over the
        IDs, no copy of them."""
        size = self._size
        ids = self._template_ids[:size]
        return ids[np.isin(ids, wanted) & self._alive[:size]]

    def remove_subject(self, subject_id: str) -> int:
        """Mask out every row of ``subject_id`` at once; returns how many were removed."""
        with self._lock:
            size = self._size
            rows = np.flatnonzero((self._subject_ids[:size] == subject_id.encode())
                                  & self._alive[:size])
            self._alive[rows] = False
            self._norms[rows] = np.inf  # a dead row scores -inf: no search can return it
            self.version += 1
            self._maybe_compact()
            return len(rows)

    def remove_templates(self, template_ids: set[str]) -> int:
        with self._lock:
            size = self._size
            wanted = np.array([t.encode() for t in template_ids], dtype=bytes)
            rows = np.flatnonzero(np.isin(self._template_ids[:size], wanted)
                                  & self._alive[:size])
            self._alive[rows] = False
            self._norms[rows] = np.inf
            self.version += 1
            self._maybe_compact()
            return len(rows)

    def _maybe_compact(self) -> None:
        dead = self._size - int(self._alive[: self._size].sum())
        if self._size and dead > self._size // 2:
            keep = np.flatnonzero(self._alive[: self._size])
            self._vectors = np.ascontiguousarray(self._vectors[keep])
            self._norms = np.ascontiguousarray(self._norms[keep])
            self._codes = np.ascontiguousarray(self._codes[keep])
            self._alive = np.ones(len(keep), dtype=bool)
            self._template_ids = self._template_ids[keep]
            self._subject_ids = self._subject_ids[keep]
            self._size = len(keep)

    def _encode(self, vectors: np.ndarray) -> np.ndarray:
        assert self._center is not None
        bits = ((vectors - self._center) @ self._rotation) > 0
        return np.ascontiguousarray(np.packbits(bits, axis=1)).view(np.uint64)

    def search_binary(
        self, probe: np.ndarray, k: int = 5, max_distance: float | None = None,
        shortlist: int = 500,
    ) -> list[Candidate]:
        """Like ``search``, but exact distances only for the ``shortlist`` templates nearest
        in Hamming distance of the 128-bit codes (reads 16 bytes a template, not 512)."""
        probe = np.ascontiguousarray(probe, dtype=np.float32)
        with self._lock:
            if self._size == 0:
                return []
            qq = float(probe @ probe)
            if self._size <= 4 * shortlist:
                return self._top(self._scores(probe[None, :])[0], qq, k, max_distance)
            code = self._encode(probe[None, :])[0]
            codes = self._codes[: self._size]
            ham = np.bitwise_count(codes[:, 0] ^ code[0])
            for word in range(1, codes.shape[1]):
                ham += np.bitwise_count(codes[:, word] ^ code[word])
            ham[~self._alive[: self._size]] = 255
            cutoff = int(np.searchsorted(np.cumsum(np.bincount(ham, minlength=256)), shortlist))
            rows = np.flatnonzero(ham <= cutoff)
            diff = self._vectors[rows] - probe
            scores = np.full(self._size, -np.inf, dtype=np.float32)
            scores[rows] = qq - np.einsum("ij,ij->i", diff, diff)
            return self._top(scores, qq, k, max_distance)

    def _scores(self, probes: np.ndarray) -> np.ndarray:
        """``(n_probes, n_rows)`` closeness scores ``2 x.q - |x|^2`` (the squared distance is
        ``|q|^2`` minus the score), dead rows at -inf: one BLAS pass over the gallery with the
        doubled probes (matrix-vector for one, matrix-matrix for many) and one in-place pass
        over the result; dead rows need none, their norm is +inf."""
        vectors = self._vectors[: self._size]
        doubled = probes + probes
        if len(doubled) == 1:
            # into a buffer kept for it (a fresh 4 MB result per probe at 1M templates would
            # cost its page faults); callers hold the lock while they read it
            if len(self._scratch) < self._size:
                self._scratch = np.empty(len(self._vectors), dtype=np.float32)
            scores = np.dot(vectors, doubled[0], out=self._scratch[: self._size])[None, :]
        else:
            scores = doubled @ vectors.T
        scores -= self._norms[None, : self._size]
        return scores

    def search(
        self, probe: np.ndarray, k: int = 5, max_distance: float | None = None
    ) -> list[Candidate]:
        """The ``k`` nearest living templates, nearest first, at most one per subject;
        with ``max_distance`` only those within it (much faster on large galleries)."""
        probe = np.ascontiguousarray(probe, dtype=np.float32).reshape(1, -1)
        with self._lock:
            if self._size == 0:
                return []
            return self._top(self._scores(probe)[0], float(probe[0] @ probe[0]), k,
                             max_distance)

    def search_many(
        self, probes: np.ndarray, k: int = 5, max_distance: float | None = None
    ) -> list[list[Candidate]]:
        """``search`` for several probes with one pass over the gallery."""
        probes = np.ascontiguousarray(probes, dtype=np.float32)
        with self._lock:
            if self._size == 0:
                return [[] for _ in range(len(probes))]
            scores = self._scores(probes)
            squares = np.einsum("ij,ij->i", probes, probes)
            within: list[np.ndarray | None] = [None] * len(probes)
            if max_distance is not None:
                # every probe's rows within the threshold from one comparison of the whole
                # score matrix (row-major, so each probe's hits are one run)
                hit_probe, hit_row = np.divmod(np.flatnonzero(
                    scores >= (squares - max_distance * max_distance)[:, None]), self._size)
                bounds = np.searchsorted(hit_probe, np.arange(len(probes) + 1)).tolist()
                within = [hit_row[a:b] for a, b in pairwise(bounds)]
            return [self._top(row, qq, k, max_distance, hits)
                    for row, qq, hits in zip(scores, squares.tolist(), within, strict=True)]

    def _top(self, scores: np.ndarray, qq: float, k: int, max_distance: float | None,
             within: np.ndarray | None = None) -> list[Candidate]:
        # more rows than k in case one subject holds several of the nearest templates
        want = min(len(scores), max(4 * k, 16))
        nearest: np.ndarray | None = None
        if max_distance is not None:
            if within is None:
                # d^2 <= t^2  <=>  score >= |q|^2 - t^2
                within = np.flatnonzero(scores >= qq - max_distance * max_distance)
            if len(within) <= 4096:
                nearest = within
        if nearest is None:
            nearest = (np.argpartition(scores, len(scores) - want)[-want:]
                       if want < len(scores) else np.arange(len(scores)))
        out: list[Candidate] = []
        seen: set[str] = set()
        ranked = nearest[np.argsort(-scores[nearest], kind="stable")]
        for i, score in zip(ranked.tolist(), scores[ranked].tolist(), strict=True):
            if score == -np.inf or len(out) >= k:
                break
            subject = self._subject_ids[i].decode()
            if subject in seen:
                continue
            seen.add(subject)
            out.append(Candidate(subject, self._template_ids[i].decode(),
                                 float(np.sqrt(max(qq - score, 0.0)))))
        return out


def _grown(ids: np.ndarray, size: int, capacity: int) -> np.ndarray:
    grown = np.zeros(capacity, dtype=ids.dtype)
    grown[:size] = ids[:size]
    return grown


def _put(ids: np.ndarray, start: int, values: list[str]) -> np.ndarray:
    """``values`` written from row ``start`` on (the array widened first if one is longer
    than its width); returns the array."""
    encoded = np.array([v.encode() for v in values], dtype=bytes)
    if encoded.dtype.itemsize > ids.dtype.itemsize:
        ids = ids.astype(encoded.dtype)
    ids[start:start + len(encoded)] = encoded
    return ids


class GalleryIndex:
    """Partitions by purpose, loaded lazily by the caller."""

    def __init__(self) -> None:
        self._partitions: dict[str, Partition] = {}
        self._lock = threading.Lock()

    def get(self, purpose: str) -> Partition | None:
        return self._partitions.get(purpose)

    def partitions(self) -> list[tuple[str, Partition]]:
        """The loaded partitions, by purpose."""
        with self._lock:
            return list(self._partitions.items())

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
