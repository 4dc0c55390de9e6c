"""End-to-end verification: faceguard against the ``face_recognition`` library's own pipeline.

Usage: python bench/bench_e2e.py [--images 200] [--workers 2] [--rounds 3] [--share-only]
[--json]

The same LFW images (``$FACEGUARD_FACES`` or ``../shared/data/faces``): for each of N people
with two or more pictures, the first picture enrols them (not timed) and the second is the
probe. Timed, in ``--workers`` worker processes each (both cores by default), models loaded
and warmed before the clock starts:

- ``face_recognition``: ``load_image_file`` + ``face_locations`` + ``face_encodings`` and
  ``face_distance`` against the claimed person's encoding (threshold 0.6), its documented use;
- ``faceguard (dlib)``: ``Faceguard.verify`` with dlib's own embedder;
- ``faceguard (fast)``: ``Faceguard.verify`` with the default engine (the same network on
  ONNX Runtime).

Every faceguard verification is the full operation: decode, detect, align, quality, embed,
the go-live gate, the consent check, template decryption, the match and the audit event
committed durably (group commit across the worker threads' operations; across the worker
processes SQLite serialises the commits). Rounds alternate the three pipelines; ratios are
medians of per-round ratios against ``face_recognition`` in the same round.

Then the compliance share: the default engine, one process, one verification at a time:
the time inside the go-live gate, the one query for the person, their consent and their
templates with the decryption, and the consent re-check with the durable audit commit (the
very functions ``verify`` calls, wrapped with a stopwatch), over the time of ``verify``; the
database commit (WAL write and ``fsync``) is also shown alone. Then the stage times (one
process): ``face_recognition``'s calls and dlib's ResNet alone, which bound the ratio any
pipeline running dlib's ResNet can reach.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the test deployment

from faceguard import Faceguard
from faceguard.errors import FaceError, FaceguardError
from setup_data import go_live

PURPOSE = "access-control"
_WORKER: dict[str, Any] = {}


def lfw_root() -> Path:
    faces = Path(os.environ.get("FACEGUARD_FACES", Path(__file__).resolve().parents[2]
                                / "shared" / "data" / "faces"))
    root = faces / "lfw" / "lfw"
    if not root.is_dir():
        sys.exit(f"LFW not found under {faces}: set FACEGUARD_FACES")
    return root


def pick_people(count: int) -> list[tuple[str, Path, Path]]:
    """``(name, enrolment image, probe image)`` for ``count`` people spread over LFW."""
    people = []
    for folder in sorted(p for p in lfw_root().iterdir() if p.is_dir()):
        pictures = sorted(folder.glob("*.jpg"))
        if len(pictures) >= 2:
            people.append((folder.name, pictures[0], pictures[1]))
    step = max(len(people) // count, 1)
    return people[::step][:count]


def make_engine(kind: str) -> Any:
    if kind == "dlib":
        from faceguard.engine.dlib_engine import DlibEngine

        return DlibEngine()
    from faceguard.engine.fast_resnet import FastDlibEngine

    return FastDlibEngine()


def prepare(folder: Path, people: list[tuple[str, Path, Path]]
            ) -> list[tuple[str, Path, Path]]:
    """A live data directory with everyone enrolled (consent, notice, approved assessment);
    returns the people whose enrolment picture was accepted."""
    Faceguard.init(folder)
    engine = make_engine("fast")
    go_live(folder, engine=engine, by="Benchmark DPO")
    with Faceguard.open(folder, engine=engine) as fg:
        fg.consent.publish_notice(PURPOSE)
        enrolled = []
        for person in people:
            name, enrol, _probe = person
            fg.consent.grant(name, PURPOSE, name=name.replace("_", " "), method="click",
                             evidence="bench")
            try:
                fg.enroll(name, [enrol.read_bytes()], PURPOSE)
            except FaceError:  # e.g. two people in the picture: enrolment refuses it
                fg.consent.withdraw(name, PURPOSE)
                continue
            enrolled.append(person)
    return enrolled


# ---- worker processes -------------------------------------------------------------------


def _init_face_recognition(known: dict[str, list[float]]) -> None:
    import face_recognition
    import numpy as np

    _WORKER["fr"] = face_recognition
    _WORKER["known"] = {k: np.asarray(v) for k, v in known.items()}


def _fr_verify(item: tuple[str, str]) -> str:
    fr = _WORKER["fr"]
    name, path = item
    image = fr.load_image_file(path)
    encodings = fr.face_encodings(image, fr.face_locations(image))
    if not encodings:
        return "no-face"
    distance = fr.face_distance([_WORKER["known"][name]], encodings[0])[0]
    return "match" if distance <= 0.6 else "no-match"


def _init_faceguard(folder: str, kind: str) -> None:
    _WORKER["fg"] = Faceguard.open(Path(folder), engine=make_engine(kind))


def _fg_verify(item: tuple[str, str]) -> str:
    name, path = item
    with open(path, "rb") as handle:  # reading the file is part of both pipelines
        data = handle.read()
    try:
        return str(_WORKER["fg"].verify(name, data, PURPOSE, actor="bench").decision)
    except FaceguardError as exc:  # e.g. the probe gate: a face too small or too blurred
        return f"rejected ({type(exc).__name__})"


def _warm(fn: Any, item: tuple[str, str], workers: int, pool: ProcessPoolExecutor) -> None:
    list(pool.map(fn, [item] * (2 * workers)))


def timed(pool: ProcessPoolExecutor, fn: Any, items: list[tuple[str, str]]
          ) -> tuple[float, list[str]]:
    start = time.perf_counter()
    decisions = list(pool.map(fn, items, chunksize=4))
    return time.perf_counter() - start, decisions


# ---- the compliance share ---------------------------------------------------------------


class _Stopwatch:
    """Wraps callables so the time spent inside them adds up under one label."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def wrap(self, label: str, fn: Any) -> Any:
        def timed_call(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[label] = (self.seconds.get(label, 0.0)
                                       + time.perf_counter() - start)

        return timed_call


def compliance_share(folder: Path, items: list[tuple[str, str]]) -> dict[str, Any]:
    """Time inside the compliance steps of ``verify`` over its whole time, one process, one
    verification at a time, measured by wrapping the very functions ``verify`` calls."""

    watch = _Stopwatch()
    with Faceguard.open(folder, engine=make_engine("fast")) as fg:
        datas = [(name, Path(path).read_bytes()) for name, path in items]
        for name, data in datas[:3]:  # warm
            with contextlib.suppress(FaceguardError):
                fg.verify(name, data, PURPOSE)
        fg.governance.require_live = watch.wrap("go-live gate", fg.governance.require_live)  # type: ignore[method-assign]
        fg._store.vault.consented_templates = watch.wrap(  # type: ignore[method-assign]
            "subject, consent and template decryption", fg._store.vault.consented_templates)
        fg._store.commit = watch.wrap(  # type: ignore[method-assign]
            "consent re-check and durable audit commit", fg._store.commit)
        dialect = fg._store.records.dialect
        dialect.do_commit = watch.wrap(  # type: ignore[method-assign]
            "of which the database commit (WAL write and fsync)", dialect.do_commit)
        start = time.perf_counter()
        for name, data in datas:
            with contextlib.suppress(FaceguardError):  # rejected probes count too
                fg.verify(name, data, PURPOSE)
        total = time.perf_counter() - start
    parts = watch.seconds
    inner = parts.get("of which the database commit (WAL write and fsync)", 0.0)
    return {"verifications": len(datas), "ms_per_verification": 1000 * total / len(datas),
            "compliance_share": (sum(parts.values()) - inner) / total,
            "database_commit_share": inner / total,
            "parts_ms": {k: round(1000 * v / len(datas), 3) for k, v in parts.items()}}


def stage_times(items: list[tuple[str, str]]) -> dict[str, float]:
    """Median ms per probe of each stage, one process: ``face_recognition``'s two calls and
    dlib's ResNet alone (the call both dlib pipelines make), which bounds the dlib ratio:
    no pipeline that runs that network can beat ``face_recognition`` by more than its whole
    time over the network's."""
    import face_recognition

    from faceguard.engine.dlib_engine import DlibEngine
    from faceguard.engine.imaging import decode_image

    engine = DlibEngine()
    times: dict[str, list[float]] = {"fr_load": [], "fr_locations": [], "fr_encodings": [],
                                     "dlib_resnet": []}

    def clock(label: str, fn: Any, *args: Any) -> Any:
        start = time.perf_counter()
        out = fn(*args)
        times[label].append(1000 * (time.perf_counter() - start))
        return out

    for _name, path in items:
        image = clock("fr_load", face_recognition.load_image_file, path)
        boxes = clock("fr_locations", face_recognition.face_locations, image)
        clock("fr_encodings", face_recognition.face_encodings, image, boxes)
        rgb = decode_image(Path(path).read_bytes())
        faces = engine.detect_largest(rgb)
        if faces:
            clock("dlib_resnet", engine.embed, engine.align(rgb, faces[0]))
    out = {label: statistics.median(values) for label, values in times.items()}
    fr_total = out["fr_load"] + out["fr_locations"] + out["fr_encodings"]
    out["dlib_ratio_bound"] = fr_total / out["dlib_resnet"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--share-only", action="store_true",
                    help="only the compliance share, over every probe")
    args = ap.parse_args()
    candidates = pick_people(args.images + args.images // 5)
    context = get_context("spawn")  # never fork a process that ran dlib

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "data"
        people = prepare(folder, candidates)[: args.images]
        items = [(name, str(probe)) for name, _enrol, probe in people]
        if args.share_only:
            only = compliance_share(folder, items)
            print(json.dumps(only, indent=2) if args.json else _share_line(only))
            return
        import face_recognition

        known = {}
        for name, enrol, _probe in people:
            image = face_recognition.load_image_file(str(enrol))
            encodings = face_recognition.face_encodings(image)
            if encodings:
                known[name] = encodings[0].tolist()
        fr_items = [item for item in items if item[0] in known]

        pools = {
            "face_recognition": ProcessPoolExecutor(args.workers, mp_context=context,
                                                    initializer=_init_face_recognition,
                                                    initargs=(known,)),
            "faceguard (dlib)": ProcessPoolExecutor(args.workers, mp_context=context,
                                                    initializer=_init_faceguard,
                                                    initargs=(str(folder), "dlib")),
            "faceguard (fast)": ProcessPoolExecutor(args.workers, mp_context=context,
                                                    initializer=_init_faceguard,
                                                    initargs=(str(folder), "fast")),
        }
        functions = {"face_recognition": _fr_verify, "faceguard (dlib)": _fg_verify,
                     "faceguard (fast)": _fg_verify}
        work = {"face_recognition": fr_items, "faceguard (dlib)": items,
                "faceguard (fast)": items}
        try:
            for name, pool in pools.items():
                _warm(functions[name], work[name][0], args.workers, pool)
            seconds: dict[str, list[float]] = {name: [] for name in pools}
            outcomes: dict[str, dict[str, int]] = {}
            for _round in range(args.rounds):
                for name, pool in pools.items():
                    took, decisions = timed(pool, functions[name], work[name])
                    seconds[name].append(took)
                    outcomes[name] = {d: decisions.count(d) for d in sorted(set(decisions))}
        finally:
            for pool in pools.values():
                pool.shutdown()
        share = compliance_share(folder, items[:60])
        stages = stage_times(items[:60])

    base = seconds["face_recognition"]
    result: dict[str, Any] = {"images": len(items), "workers": args.workers,
                              "rounds": args.rounds, "pipelines": {}}
    for name, runs in seconds.items():
        count = len(work[name])
        ratios = [b / len(fr_items) / (r / count) for b, r in zip(base, runs, strict=True)]
        result["pipelines"][name] = {
            "images_per_s": statistics.median(count / r for r in runs),
            "vs_face_recognition": statistics.median(ratios),
            "decisions": outcomes[name],
        }
    result["compliance"] = share
    result["stages_ms"] = stages
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{len(items)} LFW probe images, {args.workers} worker processes, "
          f"{args.rounds} rounds (median)")
    for name, row in result["pipelines"].items():
        print(f"  {name:18s} {row['images_per_s']:6.1f} images/s  "
              f"{row['vs_face_recognition']:4.2f}x face_recognition  {row['decisions']}")
    print(_share_line(share))
    print(f"stages (ms, one process): face_recognition load {stages['fr_load']:.1f}, "
          f"face_locations {stages['fr_locations']:.1f}, face_encodings "
          f"{stages['fr_encodings']:.1f}; dlib's ResNet alone {stages['dlib_resnet']:.1f}: "
          f"no pipeline running dlib's ResNet can exceed "
          f"{stages['dlib_ratio_bound']:.2f}x face_recognition")


def _share_line(share: dict[str, Any]) -> str:
    return (f"compliance share of a verification: {100 * share['compliance_share']:.2f}% of "
            f"{share['ms_per_verification']:.1f} ms (the database commit alone "
            f"{100 * share['database_commit_share']:.2f}%) {share['parts_ms']}")


if __name__ == "__main__":
    main()
