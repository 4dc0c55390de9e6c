"""dlib's embedder against the fast one (same ResNet on ONNX Runtime), on the same chips.

Usage: python bench/bench_embedder.py [--chips 64] [--rounds 5] [--batch 32] [--json]

Chips are aligned (dlib's detection and alignment) from the first image of people spread
over LFW (``$FACEGUARD_FACES`` or ``../shared/data/faces``). Measured in this process,
pinned to one core (BLAS/OpenMP limited to one thread, ONNX Runtime intra-op threads = 1):
faces per second of dlib one chip at a time and as a list (dlib batches internally), and of
the fast embedder one chip at a time and in batches; rounds are interleaved (dlib, fast,
dlib, fast, ...) and the ratio is the median of the per-round ratios. Then on two cores:
the fast embedder with two intra-op threads (this process), and dlib and the fast embedder
in two worker processes each (dlib holds the GIL while it embeds, so threads do not help it).
The agreement (worst cosine, largest difference) on the same chips is printed too.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from faceguard.engine.dlib_engine import DlibEngine  # noqa: E402
from faceguard.engine.fast_resnet import FastEmbedder  # noqa: E402
from faceguard.engine.imaging import decode_image  # noqa: E402

_WORKER: dict[str, Any] = {}


def load_chips(count: int) -> list[np.ndarray]:
    root = Path(os.environ.get("FACEGUARD_FACES", Path(__file__).resolve().parents[2]
                               / "shared" / "data" / "faces")) / "lfw" / "lfw"
    people = sorted(p for p in root.iterdir() if p.is_dir())
    engine = DlibEngine()
    chips: list[np.ndarray] = []
    for person in people[:: max(len(people) // (count + 10), 1)]:
        rgb = decode_image(sorted(person.glob("*.jpg"))[0].read_bytes())
        faces = engine.detect(rgb)
        if faces:
            chips.append(engine.align(rgb, faces[0]))
        if len(chips) == count:
            break
    return chips


def rate(run: Callable[[], object], faces: int) -> float:
    """Faces per second of wall-clock time."""
    start = time.perf_counter()
    run()
    return faces / (time.perf_counter() - start)


def cpu_rate(run: Callable[[], object], faces: int) -> tuple[float, float]:
    """Faces per second of wall-clock time and of this process's CPU time (the CPU figure
    is less disturbed by other work sharing the core)."""
    start, cpu = time.perf_counter(), time.process_time()
    run()
    return (faces / (time.perf_counter() - start), faces / (time.process_time() - cpu))


def summary(rates: list[float]) -> dict[str, float]:
    return {"median_faces_per_s": round(statistics.median(rates), 2),
            "best_faces_per_s": round(max(rates), 2),
            "median_ms_per_face": round(1000 / statistics.median(rates), 2)}


def _init_worker(kind: str, chips: list[np.ndarray], batch: int) -> None:
    # The affinity (the two cores) is inherited from the parent; the OS spreads the workers.
    if kind == "dlib":
        engine = DlibEngine()
        _WORKER["embed"] = lambda c: engine.embed_batch(c)
    else:
        fast = FastEmbedder(threads=1, batch_size=batch)
        _WORKER["embed"] = fast.embed_batch
    _WORKER["chips"] = chips
    _WORKER["embed"](chips[:2])  # load and warm up


def _worker_embed(part: int) -> int:
    chips = _WORKER["chips"][part::2]
    _WORKER["embed"](chips)
    return len(chips)


def two_processes(kind: str, chips: list[np.ndarray], rounds: int, batch: int) -> list[float]:
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    with context.Pool(2, initializer=_init_worker, initargs=(kind, chips, batch)) as pool:
        pool.map(_worker_embed, [0, 1])  # both workers loaded
        return [rate(lambda: pool.map(_worker_embed, [0, 1]), len(chips))
                for _ in range(rounds)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chips", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    cores = sorted(os.sched_getaffinity(0))
    chips = load_chips(args.chips)
    n = len(chips)
    dlib_engine = DlibEngine()
    fast1 = FastEmbedder(threads=1, batch_size=args.batch)
    fast2 = FastEmbedder(threads=2, batch_size=args.batch)

    theirs = np.stack([dlib_engine.embed(c) for c in chips])
    ours = fast1.embed_batch(chips)
    cosines = (ours * theirs).sum(1) / (np.linalg.norm(ours, axis=1)
                                        * np.linalg.norm(theirs, axis=1))
    distances = np.linalg.norm(theirs[:, None] - theirs[None], axis=-1)
    ours_d = np.linalg.norm(ours[:, None] - ours[None], axis=-1)

    load_before = os.getloadavg()
    os.sched_setaffinity(0, {cores[0]})
    fast2.load()
    runs: dict[str, Callable[[], object]] = {
        "dlib_single": lambda: [dlib_engine.embed(c) for c in chips],
        "dlib_list": lambda: dlib_engine.embed_batch(chips),
        "fast_single": lambda: [fast1.embed(c) for c in chips],
        "fast_batch": lambda: fast1.embed_batch(chips),
    }
    for run in runs.values():
        run()  # warm-up
    one: dict[str, list[float]] = {name: [] for name in runs}
    one_cpu: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.rounds):
        for name, run in runs.items():
            wall, cpu = cpu_rate(run, n)
            one[name].append(wall)
            one_cpu[name].append(cpu)

    def ratio(fast: list[float], base: list[float]) -> float:
        return round(statistics.median(f / b for f, b in zip(fast, base, strict=True)), 2)

    two: dict[str, list[float]] = {}
    if len(cores) >= 2:
        os.sched_setaffinity(0, set(cores[:2]))
        two["fast_single_2threads"] = [rate(lambda: [fast2.embed(c) for c in chips], n)
                                       for _ in range(args.rounds)]
        two["fast_batch_2threads"] = [rate(lambda: fast2.embed_batch(chips), n)
                                      for _ in range(args.rounds)]
        two["dlib_2processes"] = two_processes("dlib", chips, args.rounds, args.batch)
        two["fast_2processes"] = two_processes("fast", chips, args.rounds, args.batch)

    report: dict[str, Any] = {
        "chips": n,
        "rounds": args.rounds,
        "batch": args.batch,
        "cpu_count": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "agreement": {
            "min_cosine": float(cosines.min()),
            "max_abs_difference": float(np.abs(ours - theirs).max()),
            "max_pair_distance_change": float(np.abs(ours_d - distances).max()),
        },
        "one_core": {name: summary(rates) for name, rates in one.items()},
        "one_core_cpu_time": {name: summary(rates) for name, rates in one_cpu.items()},
        "one_core_ratios": {
            "fast_single_vs_dlib_single": ratio(one["fast_single"], one["dlib_single"]),
            "fast_batch_vs_dlib_list": ratio(one["fast_batch"], one["dlib_list"]),
            "fast_batch_vs_dlib_single": ratio(one["fast_batch"], one["dlib_single"]),
        },
        "one_core_cpu_time_ratios": {
            "fast_single_vs_dlib_single": ratio(one_cpu["fast_single"],
                                                one_cpu["dlib_single"]),
            "fast_batch_vs_dlib_list": ratio(one_cpu["fast_batch"], one_cpu["dlib_list"]),
        },
        "two_cores": {name: summary(rates) for name, rates in two.items()},
    }
    if two:
        best_dlib = statistics.median(two["dlib_2processes"])
        report["two_core_ratios"] = {
            name: round(statistics.median(rates) / best_dlib, 2)
            for name, rates in two.items() if not name.startswith("dlib")
        }
        report["two_core_ratios"]["dlib_2processes_vs_1core"] = round(
            best_dlib / statistics.median(one["dlib_list"]), 2)

    if args.json:
        print(json.dumps(report, indent=2))
        return
    agreement = report["agreement"]
    print(f"{n} LFW chips; worst cosine {agreement['min_cosine']:.8f}, largest difference "
          f"{agreement['max_abs_difference']:.2e}, largest pair-distance change "
          f"{agreement['max_pair_distance_change']:.2e}")
    print(f"one core (cpu {cores[0]}), median of {args.rounds} interleaved rounds:")
    for name, figures in report["one_core"].items():
        cpu = report["one_core_cpu_time"][name]
        print(f"  {name:<24} {figures['median_faces_per_s']:8.1f} faces/s "
              f"({figures['median_ms_per_face']:.2f} ms/face; "
              f"{cpu['median_ms_per_face']:.2f} ms of CPU time)")
    for name, value in report["one_core_ratios"].items():
        print(f"  ratio {name:<32} {value:6.2f}x")
    for name, value in report["one_core_cpu_time_ratios"].items():
        print(f"  ratio by CPU time {name:<20} {value:6.2f}x")
    if two:
        print("two cores:")
        for name, figures in report["two_cores"].items():
            print(f"  {name:<24} {figures['median_faces_per_s']:8.1f} faces/s")
        for name, value in report["two_core_ratios"].items():
            print(f"  ratio {name:<32} {value:6.2f}x")
    print(f"load average before/after: {report['load_average_before']} / "
          f"{report['load_average_after']}")


if __name__ == "__main__":
    main()
