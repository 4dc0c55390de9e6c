"""1:N evaluation on a folder per person (``faceguard eval-identify``).

Protocol: people folders are read in name order, each one's pictures in name order. Each
person with more than ``K`` pictures is enrolled with the first ``K`` (the enrollment path:
exactly one usable face, the enrollment quality gate), the rest are their mated probes;
each person with a single picture is a stranger (``--distractors N``: N of them, drawn at
random, are enrolled instead, with no probe, so that the gallery reaches a real size).
Probes take the probe path (largest face, the probe gate). Templates come from
``engine.pipeline.extract``, a person is scored by their fused template (``index.people``)
and answered by the product's rule (``index.decision``) at the thresholds the engine's
calibration gives for this gallery: the same code identification runs, without the consent
and audit machinery around it.

A person none of whose gallery pictures enrolls is not in the gallery; their mated probes
still count, as misses. A probe without a usable face is a miss (mated) or a rejection
(stranger), and is counted apart.

Extraction is the slow part; ``cache`` names a file of templates reused across runs (by
path, path of extraction and engine).
"""

from __future__ import annotations

import multiprocessing
import random
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

import numpy as np

from faceguard.engine.calibration import Calibration, make_calibration
from faceguard.engine.evaluation import use_engine
from faceguard.engine.types import FaceEngine
from faceguard.errors import ConfigError
from faceguard.index.decision import (
    IdentificationRule,
    decide,
    gallery_thresholds,
    identification_rule,
)
from faceguard.index.partition import Partition
from faceguard.index.people import people_of
from faceguard.policy.deployment import PurposeSection

_IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}
#: The draw of ``--distractors`` (fixed, so that runs compare).
DISTRACTOR_SEED = 20261207


@dataclass(frozen=True)
class Split:
    """Gallery pictures by person, mated probes (person, picture) and strangers' pictures."""

    gallery: dict[str, list[Path]]
    mated: list[tuple[str, Path]]
    strangers: list[Path]


def split_folder(root: Path, gallery_images: int, distractors: int = 0) -> Split:
    """The protocol's split of ``root`` (one folder per person). ``distractors`` people with
    a single picture are enrolled too, with no probe of their own, to bring the gallery to
    a real size; they are drawn at random (fixed seed) and are no longer strangers."""
    if gallery_images < 1:
        raise ConfigError("--gallery-images must be at least 1")
    if distractors < 0:
        raise ConfigError("--distractors must not be negative")
    if not root.is_dir():
        raise ConfigError(f"{root} is not a folder")
    gallery: dict[str, list[Path]] = {}
    mated: list[tuple[str, Path]] = []
    strangers: list[Path] = []
    for person in sorted(p for p in root.iterdir() if p.is_dir()):
        pictures = sorted(p for p in person.iterdir()
                          if p.is_file() and p.suffix.lower() in _IMAGE_SUFFIXES)
        if len(pictures) > gallery_images:
            gallery[person.name] = pictures[:gallery_images]
            mated.extend((person.name, p) for p in pictures[gallery_images:])
        elif len(pictures) == 1:
            strangers.append(pictures[0])
    if not gallery:
        raise ConfigError(f"{root}: nobody has more than {gallery_images} pictures")
    if distractors >= len(strangers):
        raise ConfigError(f"--distractors {distractors}: {root} has only {len(strangers)} "
                          f"people with a single picture, and some must stay strangers")
    drawn = set(random.Random(DISTRACTOR_SEED).sample(range(len(strangers)), distractors))
    for n in sorted(drawn):
        gallery[strangers[n].parent.name] = [strangers[n]]
    return Split(gallery, mated, [p for n, p in enumerate(strangers) if n not in drawn])


def labelled_pictures(root: Path) -> list[tuple[str, Path]]:
    """(person, picture) for every picture of a folder per person, in name order."""
    if not root.is_dir():
        raise ConfigError(f"{root} is not a folder")
    return [(person.name, picture)
            for person in sorted(p for p in root.iterdir() if p.is_dir())
            for picture in sorted(person.iterdir())
            if picture.is_file() and picture.suffix.lower() in _IMAGE_SUFFIXES]


#: How a picture is extracted: the probe path, the enrollment path (exactly one usable
#: face), or the enrollment path taking the face nearest the centre (``--face centre``).
Mode = Literal["probe", "enroll", "enroll:centre"]
Job = tuple[str, Mode]


def identification_jobs(split: Split, enroll: Mode = "enroll") -> list[Job]:
    """Every extraction the split needs: (picture, mode)."""
    return ([(str(p), enroll) for pictures in split.gallery.values() for p in pictures]
            + [(str(p), "probe") for _, p in split.mated]
            + [(str(p), "probe") for p in split.strangers])


def _extract_one(job: Job) -> tuple[np.ndarray | None, str]:
    """(template, "") or (None, the refusal's type) for one picture, in a worker."""
    from faceguard.engine.evaluation import worker_engine
    from faceguard.engine.pipeline import extract
    from faceguard.engine.quality import ENROLL_GATE, PROBE_GATE
    from faceguard.errors import FaceguardError

    path, mode = job
    enroll = mode != "probe"
    try:
        ex = extract(worker_engine(), Path(path).read_bytes(), single_face=enroll,
                     gate=ENROLL_GATE if enroll else PROBE_GATE,
                     choose="centre" if mode == "enroll:centre" else None)
    except (FaceguardError, OSError) as exc:
        return None, type(exc).__name__
    return ex.template.vector, ""


def extract_all(jobs: Sequence[Job], engine: FaceEngine, *, workers: int,
                cache: Path | None, progress: Callable[[int], None] | None
                ) -> dict[Job, tuple[np.ndarray | None, str]]:
    """Templates of every (path, mode) job made by ``engine`` in ``workers``
    processes, from ``cache`` where it has them (made by the same engine)."""
    engine_id = engine.engine_id
    done: dict[Job, tuple[np.ndarray | None, str]] = {}
    if cache is not None and cache.exists():
        with np.load(cache, allow_pickle=False) as data:
            if str(data["engine"]) == engine_id:
                for path, mode, vector, error in zip(
                        data["paths"].tolist(), data["modes"].tolist(), data["vectors"],
                        data["errors"].tolist(), strict=True):
                    done[(path, mode)] = (None if error else vector, error)
    todo = [job for job in jobs if job not in done]
    if progress is not None and len(jobs) > len(todo):
        progress(len(jobs) - len(todo))
    if todo:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max(workers, 1), mp_context=context, initializer=use_engine,
                                 initargs=(engine,)) as pool:
            for job, result in zip(todo, pool.map(_extract_one, todo, chunksize=8),
                                   strict=True):
                done[job] = result
                if progress is not None:
                    progress(1)
        if cache is not None:
            _save(cache, engine_id, done)
    return done


def _save(cache: Path, engine_id: str,
          done: dict[Job, tuple[np.ndarray | None, str]]) -> None:
    keys = list(done)
    dim = next((len(v) for v, _ in done.values() if v is not None), 0)
    vectors = np.zeros((len(keys), dim), dtype=np.float32)
    for i, key in enumerate(keys):
        vector = done[key][0]
        if vector is not None:
            vectors[i] = vector
    with cache.open("wb") as handle:
        np.savez(handle, engine=np.array(engine_id), paths=np.array([k[0] for k in keys]),
                 modes=np.array([k[1] for k in keys]), vectors=vectors,
                 errors=np.array([done[k][1] for k in keys]))


@dataclass
class IdentifyReport:
    """Figures of one 1:N evaluation (rates are fractions)."""

    gallery: int
    mated: int
    strangers: int
    fpir: float
    fnir: float
    rank1: float
    needs_review: float
    fnir_at_fpir: dict[str, float | None]
    needs_review_mated: float
    needs_review_strangers: float
    wrong_person: int
    gallery_images: int
    gallery_failures: int
    probe_failures: int
    threshold_automatic: float | None
    threshold_doubtful: float | None
    expected_fpir: float
    expected_fnir: float
    rule: dict[str, Any]
    engine: str
    det: list[tuple[float, float]] = field(default_factory=list)


def evaluate_identification(split: Split, calibration: Calibration, rule: IdentificationRule,
                            templates: dict[Job, tuple[np.ndarray | None, str]],
                            dimension: int, enroll: Mode = "enroll") -> IdentifyReport:
    """Enroll the gallery, search every probe, and measure."""
    partition = Partition(dimension, calibration.engine)
    failures = 0
    for person, pictures in split.gallery.items():
        for n, picture in enumerate(pictures):
            vector = templates[(str(picture), enroll)][0]
            if vector is None:
                failures += 1
            else:
                partition.add(person, f"{person}/{n}", vector)
    people = people_of(partition)
    limits = gallery_thresholds(calibration.tables, people.composition(), rule)
    probes: list[tuple[str | None, str]] = [(person, str(p)) for person, p in split.mated] + [
        (None, str(p)) for p in split.strangers]
    top_distance = np.full(len(probes), np.inf)
    top_right = np.zeros(len(probes), dtype=bool)
    outcomes = []
    probe_failures = 0
    for i, (owner, path) in enumerate(probes):
        vector = templates[(path, "probe")][0]
        if vector is None:
            probe_failures += 1
            outcomes.append(("unknown", False))
            continue
        hits = people.search(vector, k=3)
        if hits:
            top_distance[i] = hits[0].distance
            top_right[i] = hits[0].subject_id == owner
        window = [h for h in hits if limits.doubtful is not None and h.distance
                  <= limits.doubtful]
        outcome = decide(window, limits)
        outcomes.append((outcome, bool(window) and window[0].subject_id == owner))
    mated = np.array([p is not None for p, _ in probes])
    decided = np.array([o for o, _ in outcomes])
    right = np.array([r for _, r in outcomes])
    is_match = decided == "match"
    doubtful = decided == "doubtful"
    stranger_tops = np.sort(top_distance[~mated])  # inf: no face, or an empty gallery
    det = _det(top_distance[mated], top_right[mated], stranger_tops)
    return IdentifyReport(
        gallery=len(people), mated=int(mated.sum()), strangers=int((~mated).sum()),
        fpir=_share(is_match[~mated]),
        fnir=1.0 - _share(is_match[mated] & right[mated]),
        rank1=_share(top_right[mated]),
        needs_review=_share(doubtful),
        fnir_at_fpir={key: _fnir_at(float(key), top_distance[mated], top_right[mated],
                                    stranger_tops) for key in ("0.01", "0.001")},
        needs_review_mated=_share(doubtful[mated]),
        needs_review_strangers=_share(doubtful[~mated]),
        wrong_person=int((is_match[mated] & ~right[mated]).sum()),
        gallery_images=sum(len(p) for p in split.gallery.values()),
        gallery_failures=failures, probe_failures=probe_failures,
        threshold_automatic=limits.automatic, threshold_doubtful=limits.doubtful,
        expected_fpir=limits.expected_fpir, expected_fnir=limits.expected_fnir,
        rule={"fpir": rule.fpir, "doubt_fpir": rule.doubt_fpir, "on_doubt": rule.on_doubt},
        engine=calibration.engine, det=det,
    )


def _share(mask: np.ndarray) -> float:
    return float(mask.mean()) if len(mask) else 0.0


def _fnir_at(fpir: float, mated_top: np.ndarray, mated_right: np.ndarray,
             stranger_tops: np.ndarray) -> float | None:
    """FNIR at the threshold where a share ``fpir`` of strangers is named (from the score
    distributions); ``None`` when there are too few strangers to measure that rate."""
    allowed = int(np.floor(fpir * len(stranger_tops)))
    if len(stranger_tops) == 0 or fpir * len(stranger_tops) < 1:
        return None
    threshold = np.nextafter(stranger_tops[allowed], 0) if allowed < len(stranger_tops) \
        else np.inf
    return 1.0 - _share(mated_right & (mated_top <= threshold))


def _det(mated_top: np.ndarray, mated_right: np.ndarray, stranger_tops: np.ndarray
         ) -> list[tuple[float, float]]:
    """(FPIR, FNIR) points over thresholds, for the DET curve."""
    if len(stranger_tops) == 0:
        return []
    points = []
    finite = stranger_tops[np.isfinite(stranger_tops)]
    if len(finite) == 0:
        return []
    for t in np.unique(np.quantile(finite, np.geomspace(1 / len(stranger_tops), 1, 60))):
        fpir = _share(stranger_tops <= t)
        points.append((fpir, 1.0 - _share(mated_right & (mated_top <= t))))
    return points



def evaluate_split(split: Split, engine: FaceEngine, calibration: Calibration,
                   section: PurposeSection, *, workers: int, cache: Path | None,
                   progress: Callable[[int], None] | None,
                   centre: bool = False) -> IdentifyReport:
    """Extract what ``split`` needs with ``engine`` and evaluate it under ``section``'s rule
    (``centre``: enroll the face nearest the centre of pictures holding several)."""
    enroll: Mode = "enroll:centre" if centre else "enroll"
    templates = extract_all(identification_jobs(split, enroll), engine, workers=workers,
                            cache=cache, progress=progress)
    return evaluate_identification(split, calibration, identification_rule(section),
                                   templates, engine.dimension, enroll)


def calibrate_pictures(pictures: Sequence[tuple[str, Path]], engine: FaceEngine, *,
                       workers: int, cache: Path | None,
                       progress: Callable[[int], None] | None) -> dict[str, Any]:
    """A calibration file's content for ``engine`` from labelled pictures, each through
    the probe path."""
    jobs: list[Job] = [(str(path), "probe") for _, path in pictures]
    templates = extract_all(jobs, engine, workers=workers, cache=cache, progress=progress)
    kept = [(person, vector) for (person, _), job in zip(pictures, jobs, strict=True)
            if (vector := templates[job][0]) is not None]
    if not kept:
        raise ConfigError("no face was found in any of the pictures")
    return make_calibration(engine.engine_id, np.stack([v for _, v in kept]),
                            np.array([person for person, _ in kept]), {
        "pictures": len(pictures), "pictures_without_face": len(pictures) - len(kept),
        "pipeline": "the probe path: largest face, probe quality gate",
        "made_on": date.today().isoformat(), "command": "faceguard calibrate ROOT",
    })
