"""Score distributions of an engine and what they predict for 1:N search (FPIR, FNIR).

1:N search scores a probe against each *person*, not each picture: a person's templates are
fused into one (``fuse``: the mean of the L2-normalised templates, normalised again; measured
against the nearest single template in docs/PERFORMANCE.md) and compared by the Euclidean
distance between unit vectors (``unit_distance``, 0 to 2; ``sqrt(2 - 2 cos)``).

A ``ScoreTable`` holds, for people enrolled with ``pictures`` fused pictures, measured on a
labelled folder (``faceguard calibrate``; docs/CALIBRATION.md):

- for each probe (every picture) and each distance ``t`` of a grid, the probe's own
  false-match rate: the share of the *other* enrolled people within ``t`` of it, kept as a
  histogram of probes over log-spaced rate bins per grid distance. Impostor scores are not
  independent (some faces are near many others), so a stranger's chance of being named in a
  gallery of ``n`` people is averaged over probes: ``mean_p 1 - (1 - FMR_p(t)) ** n``. This
  matched the measured FPIR of LFW strangers to within 0.004 in distance, where assuming
  independent comparisons gave thresholds 0.02 too strict (docs/PERFORMANCE.md);
- the genuine distances at false-non-match rates.

From them:

- ``fpir_at(tables, composition, t)``: the predicted FPIR of a gallery of ``n_k`` people with
  ``k`` pictures: ``1 - prod_k (1 - FPIR_k(t, n_k))``;
- ``threshold_for_fpir``: the largest ``t`` whose predicted FPIR is at most the target, or
  ``None`` when the calibration cannot vouch for it: a target below one probe in the sample,
  or a gallery more than ``EXTRAPOLATION`` times the people the table was measured with;
- ``fnir_at``: the share of enrolled people whose own search would miss them at ``t``.

Pure arithmetic on arrays: no pixels, no storage.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Pictures fused per person that tables are made for; more pictures use the last table.
TABLE_PICTURES = (1, 2, 3)


def unit(vectors: np.ndarray) -> np.ndarray:
    """Rows (or one vector) scaled to length 1."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    scaled: np.ndarray = vectors / np.maximum(norms, 1e-12)
    return scaled


def fuse(vectors: np.ndarray) -> np.ndarray:
    """One person's templates ``(n, d)`` as one unit template: the mean of the L2-normalised
    templates, normalised again."""
    return unit(unit(vectors).mean(axis=0))


def unit_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distance between unit vectors (rows of ``a`` against ``b``)."""
    cos = np.clip(np.asarray(a) @ np.asarray(b), -1.0, 1.0)
    distance: np.ndarray = np.sqrt(np.maximum(2.0 - 2.0 * cos, 0.0))
    return distance


def table_for(pictures: int) -> int:
    """The table that describes a person with ``pictures`` fused pictures."""
    return min(max(pictures, 1), TABLE_PICTURES[-1])


#: Distances the per-probe rates are measured at: the whole range of unit distances.
GRID = tuple(round(0.005 * i, 4) for i in range(401))
#: Rate bins: bin 0 holds probes with no impostor within the distance; bin ``b`` >= 1 the
#: rates in ``[10 ** (LOG_LOW + (b - 1) / 10), 10 ** (LOG_LOW + b / 10))`` (rates below the
#: lowest edge go to bin 1, a rate of 1 to the last).
LOG_LOW = -5
BINS = 1 + 10 * -LOG_LOW
#: A table vouches for galleries of at most this many times the people it was measured on.
EXTRAPOLATION = 10
_CENTRES = np.r_[0.0, 10 ** (LOG_LOW + (np.arange(1, BINS) - 0.5) / 10)]


@dataclass(frozen=True)
class ScoreTable:
    """Distance distributions for people scored by ``pictures`` fused pictures.

    ``histogram[j][b]``: how many of the ``probes`` have a false-match rate in bin ``b``
    (``BINS``) at distance ``GRID[j]``, among ``enrolled`` people; ``genuine_distance[i]``
    the distance above which a share ``genuine_fnmr[i]`` of genuine comparisons fall."""

    pictures: int
    enrolled: int
    probes: int
    histogram: tuple[tuple[int, ...], ...]
    genuine_fnmr: tuple[float, ...]
    genuine_distance: tuple[float, ...]
    genuine_comparisons: int

    def fpir_grid(self, people: int) -> np.ndarray:
        """Predicted FPIR at each ``GRID`` distance for a gallery of ``people``."""
        counts = np.asarray(self.histogram, dtype=np.float64)
        named = 1.0 - np.power(1.0 - _CENTRES, people)
        result: np.ndarray = counts @ named / max(self.probes, 1)
        return result

    def fnmr(self, threshold: float) -> float:
        """Predicted share of genuine comparisons farther than ``threshold``."""
        dist = np.asarray(self.genuine_distance)
        return float(np.interp(threshold, dist, np.asarray(self.genuine_fnmr),
                               left=1.0, right=0.0))

    def to_json(self) -> dict[str, Any]:
        return {
            "pictures": self.pictures, "enrolled": self.enrolled, "probes": self.probes,
            "grid": [GRID[0], GRID[-1], len(GRID)], "bins": [LOG_LOW, BINS],
            "histogram": [" ".join(map(str, row)) for row in self.histogram],
            "genuine_fnmr": list(self.genuine_fnmr),
            "genuine_distance": list(self.genuine_distance),
            "genuine_comparisons": self.genuine_comparisons,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ScoreTable:
        if list(data["grid"]) != [GRID[0], GRID[-1], len(GRID)] or list(data["bins"]) != [
                LOG_LOW, BINS]:
            raise ValueError("made with another grid or other bins")
        histogram = tuple(tuple(int(v) for v in str(row).split()) for row in data["histogram"])
        table = cls(int(data["pictures"]), int(data["enrolled"]), int(data["probes"]),
                    histogram, tuple(float(x) for x in data["genuine_fnmr"]),
                    tuple(float(x) for x in data["genuine_distance"]),
                    int(data["genuine_comparisons"]))
        if len(histogram) != len(GRID) or any(len(r) != BINS or sum(r) != table.probes
                                              for r in histogram):
            raise ValueError(f"table for {table.pictures} pictures: malformed histogram")
        if len(table.genuine_fnmr) != len(table.genuine_distance) or not table.genuine_fnmr \
                or np.any(np.diff(table.genuine_distance) < 0):
            raise ValueError(f"table for {table.pictures} pictures: malformed genuine rates")
        return table


#: FNMR levels tabled: 0.1% to 99.9%.
FNMR_LEVELS = tuple(float(x) for x in np.r_[np.linspace(0.001, 0.01, 10)[:-1],
                                            np.linspace(0.01, 0.99, 99), 0.995, 0.999])


def make_table(pictures: int, impostor: np.ndarray, genuine: np.ndarray) -> ScoreTable:
    """A table from an impostor distance matrix (probes x enrolled people; ``inf`` where
    the probe is the person's own) and the genuine distances."""
    impostor = np.asarray(impostor, dtype=np.float32)
    genuine = np.asarray(genuine, dtype=np.float64)
    if impostor.size == 0 or len(genuine) == 0:
        raise ValueError(f"no impostor or genuine comparisons for {pictures} pictures")
    probes, enrolled = impostor.shape
    others = np.isfinite(impostor).sum(axis=1)
    ordered = np.sort(impostor, axis=1)
    grid = np.asarray(GRID, dtype=np.float32)
    within = np.stack([np.searchsorted(row, grid, side="right") for row in ordered])
    rates = within / np.maximum(others, 1)[:, None]
    bins = np.where(rates > 0, np.clip(
        np.floor((np.log10(np.maximum(rates, 1e-300)) - LOG_LOW) * 10).astype(int) + 1,
        1, BINS - 1), 0)
    histogram = tuple(tuple(int(c) for c in np.bincount(bins[:, j], minlength=BINS))
                      for j in range(len(GRID)))
    gen = [float(np.quantile(genuine, 1 - f)) for f in FNMR_LEVELS]
    order = np.argsort(gen, kind="stable")
    return ScoreTable(pictures, enrolled, probes, histogram,
                      tuple(FNMR_LEVELS[i] for i in order), tuple(gen[i] for i in order),
                      len(genuine))


def _fpir_grid(tables: Mapping[int, ScoreTable], composition: Mapping[int, int]) -> np.ndarray:
    missed = np.ones(len(GRID))
    for pictures, people in composition.items():
        if people > 0:
            missed *= 1.0 - tables[table_for(pictures)].fpir_grid(people)
    result: np.ndarray = 1.0 - missed
    return result


def fpir_at(tables: Mapping[int, ScoreTable], composition: Mapping[int, int],
            threshold: float) -> float:
    """Predicted FPIR at ``threshold`` of a gallery with ``composition[k]`` people of ``k``
    pictures."""
    return float(np.interp(threshold, GRID, _fpir_grid(tables, composition)))


def fnir_at(tables: Mapping[int, ScoreTable], composition: Mapping[int, int],
            threshold: float) -> float:
    """Predicted share of the gallery's people a search of their own face misses."""
    total = sum(composition.values())
    if total == 0:
        return 0.0
    return sum(n * tables[table_for(k)].fnmr(threshold) for k, n in composition.items()) / total


def threshold_for_fpir(tables: Mapping[int, ScoreTable], composition: Mapping[int, int],
                       fpir: float) -> float | None:
    """The largest distance whose predicted FPIR is at most ``fpir`` for this gallery;
    ``None`` when the calibration cannot vouch for ``fpir`` at this size."""
    used = {table_for(k): n for k, n in composition.items() if n > 0}
    for pictures, people in used.items():
        table = tables[pictures]
        if fpir * table.probes < 1 or people > EXTRAPOLATION * table.enrolled:
            return None
    curve = _fpir_grid(tables, composition or {1: 1})
    below = np.flatnonzero(curve <= fpir)
    if len(below) == 0:
        return None
    j = int(below[-1])
    if j + 1 >= len(GRID) or curve[j + 1] <= curve[j]:
        return GRID[j]
    step = (fpir - curve[j]) / (curve[j + 1] - curve[j])
    return float(GRID[j] + step * (GRID[j + 1] - GRID[j]))


def measure_tables(vectors: np.ndarray, labels: np.ndarray) -> dict[int, ScoreTable]:
    """Score tables from labelled templates (``labels[i]`` is the person of ``vectors[i]``),
    one per ``TABLE_PICTURES``: each person with more than ``k`` pictures is enrolled by
    fusing their first ``k`` (in the given order) and searched with each of the others
    (genuine); every picture is an impostor probe of everyone else's enrollment."""
    probes = unit(np.asarray(vectors, dtype=np.float32))
    labels = np.asarray(labels)
    people: dict[object, list[int]] = {}
    for i, label in enumerate(labels.tolist()):
        people.setdefault(label, []).append(i)
    tables = {}
    for k in TABLE_PICTURES:
        enrolled = [rows for rows in people.values() if len(rows) > k]
        if not enrolled:
            raise ValueError(f"nobody has more than {k} pictures: no table for {k}")
        fused = np.stack([fuse(probes[rows[:k]]) for rows in enrolled])
        genuine = [unit_distance(probes[rows[k:]], fused[n]) for n, rows in enumerate(enrolled)]
        impostor = unit_distance(probes, fused.T).astype(np.float32)
        for n, rows in enumerate(enrolled):
            impostor[rows, n] = np.inf  # a person's own pictures are not impostors
        tables[k] = make_table(k, impostor, np.concatenate(genuine))
    return tables
