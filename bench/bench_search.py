"""Exact 1:N search against the plain NumPy float32 scan, measured in one process.

Usage: python bench/bench_search.py [--sizes 10000 100000 1000000] [--probes 50] [--json]

The gallery is drawn from a Gaussian with the mean and covariance of real dlib embeddings
(LFW images embedded at start, or --embeddings FILE.npz made by scripts/embed_lfw.py); each
probe is a gallery template moved by a random offset of the median genuine-pair distance.
Printed for each size: ms per probe for the baseline scan (``sqrt(((X - q)**2).sum(1))``),
for ``Partition.search`` and for ``Partition.search_many`` in batches of 16, the ratios,
the memory-bandwidth floor for the bytes read (the faster of one core and both cores reading
the same array once, measured in the same run), and rank-1 agreement with the baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from faceguard.index.partition import Partition

#: The access-control operating point's distance threshold (identify searches within it).
THRESHOLD = 0.552


def real_embeddings(path: str | None, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Real dlib templates and their identities (from a scripts/embed_lfw.py file, or by
    embedding ``count`` LFW images of people with several photos)."""
    if path:
        data = np.load(path)
        ok = ~np.isnan(data["vectors"][:, 0])
        ids = np.array([f.split("/")[2] for f in data["files"]])
        return np.asarray(data["vectors"][ok], dtype=np.float64), ids[ok]
    from faceguard.engine.dlib_engine import DlibEngine
    from faceguard.engine.pipeline import extract

    root = Path(os.environ.get("FACEGUARD_FACES", "../shared/data/faces")) / "lfw" / "lfw"
    people = [p for p in sorted(root.iterdir()) if len(list(p.glob("*.jpg"))) >= 3]
    engine = DlibEngine()
    vectors, ids = [], []
    for person in people[: count // 3]:
        for f in sorted(person.glob("*.jpg"))[:3]:
            ex = extract(engine, f.read_bytes(), single_face=False, gate=None)
            vectors.append(ex.template.vector)
            ids.append(person.name)
    return np.asarray(vectors, dtype=np.float64), np.array(ids)


def genuine_distance(vectors: np.ndarray, ids: np.ndarray) -> float:
    """Median distance between two photos of the same person."""
    dists = []
    for name in np.unique(ids)[:500]:
        rows = vectors[ids == name]
        for i in range(len(rows)):
            for j in range(i + 1, len(rows)):
                dists.append(float(np.linalg.norm(rows[i] - rows[j])))
    return float(np.median(dists))


def best_of(fn, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def run(size: int, mean: np.ndarray, cov: np.ndarray, genuine: float, n_probes: int,
        rng: np.random.Generator, agreement_probes: int) -> dict[str, float]:
    gallery = rng.multivariate_normal(mean, cov, size=size, method="cholesky").astype(np.float32)
    picks = rng.integers(0, size, n_probes)
    offsets = rng.normal(size=(n_probes, gallery.shape[1])).astype(np.float32)
    offsets *= genuine / np.linalg.norm(offsets, axis=1, keepdims=True)
    probes = gallery[picks] + offsets
    part = Partition(gallery.shape[1], "bench")
    part.add_many([f"s{i}" for i in range(size)], [f"t{i}" for i in range(size)], gallery)

    def baseline() -> list[int]:
        return [int(np.argmin(np.sqrt(((gallery - q) ** 2).sum(1)))) for q in probes]

    def ours() -> list[str]:
        return [part.search(q, k=1, max_distance=THRESHOLD)[0].template_id for q in probes]

    def batched() -> list[str]:
        out = []
        for start in range(0, n_probes, 16):
            batch = part.search_many(probes[start:start + 16], k=1, max_distance=THRESHOLD)
            out += [r[0].template_id for r in batch]
        return out

    def binary() -> list[str]:
        return [part.search_binary(q, k=1, max_distance=THRESHOLD)[0].template_id
                for q in probes]

    def read_only() -> None:  # one core reading the gallery
        gallery.max()

    halves = np.array_split(gallery, 2)

    def read_two() -> None:  # both cores, one half each (NumPy lets go of the GIL)
        list(readers.map(np.max, halves))

    t_base = best_of(baseline) / n_probes
    t_ours = best_of(ours) / n_probes
    t_batch = best_of(batched) / n_probes
    t_binary = best_of(binary) / n_probes
    # the floor: the faster of one core and both cores reading every byte once
    with ThreadPoolExecutor(2) as readers:
        t_read = min(best_of(read_only, repeat=5), best_of(read_two, repeat=5))
    exact = baseline()
    agree = float(np.mean([f"t{b}" == o for b, o in zip(exact, ours(), strict=True)]))
    # binary vs exact on many more probes (the exact search stands in for the slow baseline)
    more = gallery[rng.integers(0, size, agreement_probes)]
    extra = rng.normal(size=more.shape).astype(np.float32)
    more = more + extra * (genuine / np.linalg.norm(extra, axis=1, keepdims=True))
    exact_many = [r[0].template_id if r else None
                  for r in part.search_many(more, k=1, max_distance=THRESHOLD)]
    binary_many = [(r[0].template_id if r else None) for r in
                   (part.search_binary(q, k=1, max_distance=THRESHOLD) for q in more)]
    agree_binary = float(np.mean([a == b for a, b in zip(exact_many, binary_many,
                                                         strict=True)]))
    return {
        "templates": size,
        "baseline_ms": t_base * 1e3,
        "search_ms": t_ours * 1e3,
        "batched_ms_per_probe": t_batch * 1e3,
        "bandwidth_floor_ms": t_read * 1e3,
        "speedup_vs_baseline": t_base / t_ours,
        "search_over_floor": t_ours / t_read,
        "batch_speedup_vs_single": t_ours / t_batch,
        "rank1_agreement": agree,
        "binary_ms": t_binary * 1e3,
        "binary_speedup_vs_baseline": t_base / t_binary,
        "binary_speedup_vs_search": t_ours / t_binary,
        "binary_rank1_agreement": agree_binary,
        "agreement_probes": agreement_probes,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--probes", type=int, default=20, help="probes timed")
    ap.add_argument("--agreement-probes", type=int, default=2000,
                    help="probes for the binary stage's rank-1 agreement")
    ap.add_argument("--embeddings", default=None)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    real, ids = real_embeddings(args.embeddings, 300)
    mean, cov = real.mean(0), np.cov(real, rowvar=False)
    genuine = genuine_distance(real, ids)
    rng = np.random.default_rng(7)
    results = [run(s, mean, cov, genuine, args.probes, rng, args.agreement_probes)
               for s in args.sizes]
    if args.json:
        print(json.dumps({"probe_offset": genuine, "results": results}, indent=2))
        return
    print(f"probe offset (genuine-pair distance) {genuine:.3f}")
    for r in results:
        print(f"{r['templates']:>9,} templates: baseline {r['baseline_ms']:7.2f} ms, "
              f"search {r['search_ms']:7.2f} ms ({r['speedup_vs_baseline']:.2f}x), "
              f"floor {r['bandwidth_floor_ms']:6.2f} ms (search/floor "
              f"{r['search_over_floor']:.2f}), batched {r['batched_ms_per_probe']:6.2f} ms/probe "
              f"({r['batch_speedup_vs_single']:.2f}x), rank-1 agreement "
              f"{r['rank1_agreement']:.4f}; binary first stage {r['binary_ms']:6.2f} ms "
              f"({r['binary_speedup_vs_baseline']:.2f}x baseline, "
              f"{r['binary_speedup_vs_search']:.2f}x exact search), rank-1 agreement "
              f"{r['binary_rank1_agreement']:.4f} on {r['agreement_probes']} probes")


if __name__ == "__main__":
    main()
