"""Time of one liveness decision with and without the trained model, in one process.

A 12-frame window (every 3rd frame) of each of four real live clips is judged without a
challenge (depth, identity, passive) by the detector with the moire scorer only (the
baseline) and with faceplugin's ``fr_liveness.onnx`` added as an operator would configure it;
the two alternate, several rounds, on one thread. Prints the median and 95th percentile of
each and their ratio: what the model adds to a decision. Needs ../shared (or FACEGUARD_*).

    OMP_NUM_THREADS=1 taskset -c 0 python bench/bench_pad.py
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from faceguard.engine.dlib_engine import DlibEngine
from faceguard.liveness import MoireScorer, OnnxPadScorer, PresentationAttackDetector
from faceguard.liveness.evaluation import read_video

SHARED = Path(__file__).resolve().parents[2] / "shared"
LIVENESS = Path(os.environ.get("FACEGUARD_LIVENESS", SHARED / "data" / "liveness"))
MODELS = Path(os.environ.get("FACEGUARD_MODELS", SHARED / "models"))


def main(rounds: int = 3) -> None:
    engine = DlibEngine(cnn_fallback=False)
    model = OnnxPadScorer(MODELS / "faceplugin" / "fr_liveness.onnx", bgr=True, pixels="raw",
                          crop_scale=2.7, crop="shift", live_index=0)
    detectors = {"moire only": PresentationAttackDetector(engine, scorers=[MoireScorer()]),
                 "moire + model": PresentationAttackDetector(
                     engine, scorers=[MoireScorer(), model])}
    windows = []
    for clip in ("d0.mp4", "d3.mp4", "d11.mp4", "d14.mp4"):
        frames, times = read_video(LIVENESS / "videos" / clip, stride=3, max_frames=12)
        windows.append((frames, times))
    for detector in detectors.values():  # warm up: models loaded, caches filled
        detector.assess_recording(*windows[0])
    seconds: dict[str, list[float]] = {name: [] for name in detectors}
    for _ in range(rounds):
        for frames, times in windows:
            for name, detector in detectors.items():
                started = time.perf_counter()
                detector.assess_recording(frames, times)
                seconds[name].append(time.perf_counter() - started)
    for name, values in seconds.items():
        print(f"{name}: median {np.median(values):.3f} s, p95 "
              f"{np.quantile(values, 0.95):.3f} s over {len(values)} decisions")
    ratio = np.median(seconds["moire + model"]) / np.median(seconds["moire only"])
    print(f"with the model / without: {ratio:.2f}x (medians)")


if __name__ == "__main__":
    main()
