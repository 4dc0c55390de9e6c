"""Make the shipped calibration of the default engine from LFW folds 1-5 embeddings.

Usage:
    python scripts/embed_lfw.py ~/.cache/faceguard/lfw_dlib.npz
    python scripts/calibrate.py ~/.cache/faceguard/lfw_dlib.npz \
        src/faceguard/data/calibration_dlib-resnet-v1.json

Every image of ../shared/data/faces/lfw (the people of folds 1-5 of LFW View 2) with a detected
face is embedded; all same-person pairs are genuine and all different-person pairs impostors.
For each named false-match rate the threshold is the largest distance at which the share of
impostor pairs at or below it does not exceed the target.
"""

from __future__ import annotations

import json
import sys
from datetime import date

import numpy as np

from faceguard.engine.calibration import OPERATING_POINT_NAMES
from faceguard.engine.dlib_engine import DlibEngine


def main() -> None:
    src, out = sys.argv[1], sys.argv[2]
    data = np.load(src)
    files = data["files"]
    vecs = data["vectors"]
    ok = ~np.isnan(vecs[:, 0])
    ids = np.array([f.split("/")[2] for f in files])
    vecs, ids = vecs[ok].astype(np.float64), ids[ok]
    _, labels = np.unique(ids, return_inverse=True)
    n = len(vecs)
    genuine, impostor = [], []
    sq = (vecs**2).sum(1)
    for start in range(0, n, 512):
        block = slice(start, min(start + 512, n))
        d2 = sq[block, None] + sq[None, :] - 2 * vecs[block] @ vecs.T
        d = np.sqrt(np.clip(d2, 0, None))
        rows = np.arange(block.start, block.stop)
        upper = np.arange(n)[None, :] > rows[:, None]
        same = labels[block, None] == labels[None, :]
        genuine.append(d[upper & same])
        impostor.append(d[upper & ~same])
    gen = np.sort(np.concatenate(genuine))
    imp = np.sort(np.concatenate(impostor))
    points = []
    for name, target in OPERATING_POINT_NAMES.items():
        allowed = int(np.floor(target * len(imp)))
        # threshold just below the (allowed+1)-th smallest impostor distance
        thr = float(np.nextafter(imp[allowed], 0)) if allowed < len(imp) else float(imp[-1])
        fmr = float(np.searchsorted(imp, thr, side="right") / len(imp))
        fnmr = float(1 - np.searchsorted(gen, thr, side="right") / len(gen))
        points.append({"name": name, "fmr_target": target, "threshold": round(thr, 6),
                       "fmr_measured": fmr, "fnmr_measured": round(fnmr, 6)})
        print(f"{name:15s} FMR<={target:g}: threshold {thr:.4f}  FMR {fmr:.2e}  FNMR {fnmr:.4f}")
    result = {
        "engine": DlibEngine().engine_id,
        "metric": "euclidean distance between 128-d templates; match when distance <= threshold",
        "operating_points": points,
        "provenance": {
            "data": "LFW, people of folds 1-5 of View 2 (../shared/data/faces/lfw)",
            "images_embedded": int(n),
            "images_without_face": int((~ok).sum()),
            "people": int(labels.max() + 1),
            "genuine_pairs": int(len(gen)),
            "impostor_pairs": int(len(imp)),
            "pipeline": "DlibEngine defaults: HOG (CNN fallback), 5-point alignment, 150px chip, "
                        "no jitter, largest face, no quality gate",
            "made_on": date.today().isoformat(),
            "command": "python scripts/embed_lfw.py LFW.npz && "
                       "python scripts/calibrate.py LFW.npz OUT.json",
        },
    }
    with open(out, "w") as fh:
        json.dump(result, fh, indent=2)
        fh.write("\n")


if __name__ == "__main__":
    main()
