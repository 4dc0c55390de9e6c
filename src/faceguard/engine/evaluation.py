"""Accuracy of the recognition pipeline on a pairs file (``faceguard eval``).

The pairs file has columns ``file_a``, ``file_b``, ``label`` (genuine | impostor) and optionally
``fold`` and ``subset``. Each distinct image is embedded once (largest face, no quality gate,
as a probe would be). An image that yields no template is a failure to enrol, and every pair
using it counts as a non-match. With folds, each fold's threshold is the one that maximises
accuracy on the other folds (the LFW protocol); the shipped operating points are reported too.
"""

from __future__ import annotations

import csv
import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from faceguard.engine.calibration import Calibration
from faceguard.errors import ConfigError, FaceguardError

_WORKER_ENGINE: Any = None
_WORKER_CHOOSE: str | None = None


@dataclass(frozen=True)
class Pair:
    file_a: str
    file_b: str
    genuine: bool
    fold: int | None


@dataclass
class EvalReport:
    """Figures of one evaluation run (all rates are fractions)."""

    pairs: int
    genuine: int
    impostor: int
    images: int
    failures_to_enrol: int
    accuracy: float
    accuracy_method: str
    fold_accuracies: list[float]
    operating_points: list[dict[str, Any]]
    images_per_second: float
    seconds: float
    engine: str
    failed_images: list[str] = field(default_factory=list)


def read_pairs(path: Path, subset: str | None = None) -> list[Pair]:
    """Read a pairs CSV, optionally only rows whose ``subset`` column equals ``subset``."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = {"file_a", "file_b", "label"} - set(reader.fieldnames or [])
            if missing:
                raise ConfigError(f"{path}: missing columns {', '.join(sorted(missing))}")
            pairs = []
            for line, row in enumerate(reader, start=2):
                if subset and row.get("subset") != subset:
                    continue
                if row["label"] not in ("genuine", "impostor"):
                    raise ConfigError(f"{path}:{line}: label must be genuine or impostor")
                fold = row.get("fold") or None
                pairs.append(
                    Pair(row["file_a"], row["file_b"], row["label"] == "genuine",
                         int(fold) if fold else None)
                )
    except FileNotFoundError as exc:
        raise ConfigError(f"pairs file {path} not found") from exc
    if not pairs:
        raise ConfigError(f"{path}: no pairs" + (f" in subset {subset!r}" if subset else ""))
    return pairs


def use_engine(engine: Any, choose: str | None = None) -> None:
    """Worker initialiser: the engine this process extracts with (default: the default
    engine, made on first use), and for ``embed_files`` which face ("centre": the one
    nearest the centre; default: the largest)."""
    global _WORKER_ENGINE, _WORKER_CHOOSE
    _WORKER_ENGINE = engine
    _WORKER_CHOOSE = choose


def worker_engine() -> Any:
    """This process's engine (``use_engine``), the default engine if none was given."""
    global _WORKER_ENGINE
    if _WORKER_ENGINE is None:
        from faceguard.engine.fast_resnet import FastDlibEngine

        _WORKER_ENGINE = FastDlibEngine()
    return _WORKER_ENGINE


def _embed_one(path: str) -> np.ndarray | None:
    from faceguard.engine.pipeline import extract

    try:
        data = Path(path).read_bytes()
        return extract(worker_engine(), data, single_face=_WORKER_CHOOSE is not None, gate=None,
                       choose=_WORKER_CHOOSE).template.vector
    except (FaceguardError, OSError):
        return None


def embed_files(
    paths: list[str], workers: int, progress: Callable[[int], None] | None = None,
    engine: Any = None, choose: str | None = None,
) -> list[np.ndarray | None]:
    """Templates of each file with ``engine`` (default: the default engine), ``workers``
    processes."""
    use_engine(engine, choose)
    if workers <= 1:
        out = []
        for path in paths:
            out.append(_embed_one(path))
            if progress:
                progress(1)
        return out
    results: list[np.ndarray | None] = []
    # spawn, not fork: a forked copy of a process that already ran dlib can deadlock
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=use_engine, initargs=(engine, choose)) as pool:
        for vector in pool.map(_embed_one, paths, chunksize=8):
            results.append(vector)
            if progress:
                progress(1)
    return results


def _best_threshold(dist: np.ndarray, genuine: np.ndarray) -> float:
    candidates = np.unique(dist[np.isfinite(dist)])
    if len(candidates) == 0:
        return 0.0
    order = np.argsort(dist)
    sorted_d, sorted_g = dist[order], genuine[order]
    # accuracy when threshold = sorted_d[i]: genuine at or below + impostors above
    gen_below = np.cumsum(sorted_g)
    imp_above = (~genuine).sum() - np.cumsum(~sorted_g)
    acc = gen_below + imp_above
    last_of_value = np.r_[sorted_d[1:] != sorted_d[:-1], True] & np.isfinite(sorted_d)
    best = int(np.argmax(np.where(last_of_value, acc, -1)))
    return float(sorted_d[best])


def evaluate(
    pairs: list[Pair],
    root: Path,
    calibration: Calibration | None,
    *,
    workers: int = 2,
    progress: Callable[[int], None] | None = None,
    engine: Any = None,
    choose: str | None = None,
) -> EvalReport:
    """Embed every image of ``pairs`` under ``root`` with ``engine`` (default: the default
    engine) and measure the decisions (at the calibration's operating points, if given)."""
    files = sorted({p.file_a for p in pairs} | {p.file_b for p in pairs})
    start = time.perf_counter()
    vectors = embed_files([str(root / f) for f in files], workers, progress, engine, choose)
    seconds = time.perf_counter() - start
    by_file = dict(zip(files, vectors, strict=True))
    dist = np.array(
        [
            float(np.linalg.norm(a - b))
            if (a := by_file[p.file_a]) is not None and (b := by_file[p.file_b]) is not None
            else np.inf
            for p in pairs
        ]
    )
    genuine = np.array([p.genuine for p in pairs])
    folds = np.array([p.fold if p.fold is not None else -1 for p in pairs])
    fold_acc: list[float] = []
    if (folds >= 0).all() and len(set(folds.tolist())) > 1:
        for fold in sorted(set(folds.tolist())):
            test = folds == fold
            thr = _best_threshold(dist[~test], genuine[~test])
            fold_acc.append(float(((dist[test] <= thr) == genuine[test]).mean()))
        accuracy, method = float(np.mean(fold_acc)), "threshold chosen on the other folds"
    else:
        thr = _best_threshold(dist, genuine)
        accuracy = float(((dist <= thr) == genuine).mean())
        method = "best single threshold on these pairs (optimistic: no folds given)"
    points = []
    for point in calibration.points.values() if calibration is not None else ():
        match = dist <= point.threshold
        points.append(
            {
                "name": point.name,
                "fmr_target": point.fmr_target,
                "threshold": point.threshold,
                "fmr": float(match[~genuine].mean()) if (~genuine).any() else None,
                "fnmr": float((~match[genuine]).mean()) if genuine.any() else None,
                "accuracy": float((match == genuine).mean()),
            }
        )
    failed = [f for f, v in by_file.items() if v is None]
    return EvalReport(
        pairs=len(pairs),
        genuine=int(genuine.sum()),
        impostor=int((~genuine).sum()),
        images=len(files),
        failures_to_enrol=len(failed),
        accuracy=accuracy,
        accuracy_method=method,
        fold_accuracies=fold_acc,
        operating_points=points,
        images_per_second=len(files) / seconds if seconds > 0 else 0.0,
        seconds=seconds,
        engine=calibration.engine if calibration is not None else str(
            getattr(engine, "engine_id", "")),
        failed_images=failed,
    )
