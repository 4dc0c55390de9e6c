"""Embed every LFW image of ../shared/data/faces with the default engine (for calibration).

Usage: python scripts/embed_lfw.py OUT.npz [--root DIR] [--workers 2]
Writes file names, 128-d vectors (NaN where no face), and quality measurements.
"""

from __future__ import annotations

import argparse
import csv
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

_ENGINE = None


def _one(path: str) -> tuple[str, list[float] | None, list[float] | None, int, str]:
    global _ENGINE
    from faceguard.engine.fast_resnet import FastDlibEngine
    from faceguard.engine.pipeline import extract
    from faceguard.errors import FaceguardError

    if _ENGINE is None:
        _ENGINE = FastDlibEngine()
    try:
        ex = extract(_ENGINE, Path(path).read_bytes(), single_face=False, gate=None)
    except FaceguardError as exc:
        return path, None, None, 0, type(exc).__name__
    q = ex.quality
    return (path, ex.template.vector.tolist(),
            [q.face_px, q.sharpness, q.yaw, q.roll, q.pitch, ex.face.detector_score],
            ex.faces_found, "")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--root", default=os.environ.get("FACEGUARD_FACES", "../shared/data/faces"))
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    root = Path(args.root)
    with open(root / "labels.csv", newline="") as handle:
        files = sorted({r["file"] for r in csv.DictReader(handle)
                        if r["file"].startswith("lfw/")})
    with ProcessPoolExecutor(args.workers) as pool:
        results = list(pool.map(_one, [str(root / f) for f in files], chunksize=16))
    vecs = np.full((len(files), 128), np.nan, dtype=np.float32)
    qual = np.full((len(files), 6), np.nan)
    nfaces = np.zeros(len(files), dtype=np.int32)
    errors = []
    for i, (_, v, q, n, err) in enumerate(results):
        if v is not None:
            vecs[i] = v
            qual[i] = q
        nfaces[i] = n
        errors.append(err)
    np.savez(args.out, files=np.array(files), vectors=vecs, quality=qual, nfaces=nfaces,
             errors=np.array(errors))
    print(f"{len(files)} images, {sum(1 for e in errors if e)} without a face")


if __name__ == "__main__":
    main()
