"""Time of one liveness decision, with and without the trained model, in one process.

Two kinds of decision, each judged by the detector with the moire scorer only (the baseline)
and with faceplugin's ``fr_liveness.onnx`` added as an operator would configure it, the two
alternating, several rounds, on one thread:

- a 12-frame window (every 3rd frame) of each of four real live clips, judged without a
  challenge (depth, identity, passive), as ``eval-pad`` judges a recording;
- a 36-frame answer to a fresh challenge (the same clips, about 3.6 s, every 3rd frame, lit by
  the challenge's colours as ``screenlight`` simulates a kiosk's light, sent as JPEG), judged
  as the kiosk's answer is: nonce, frames, clock, near-duplicates, colours, movements, depth,
  identity, passive. The clips were not filmed answering movements, so the decision is a
  retry; every check runs all the same.

A third detector searches every frame in full (``PadConfig(follow_size=None)``, as before the
face's size was followed from frame to frame), the baseline of the detection's cost.

Prints the median and 95th percentile of each, the ratio with the model / without, and the
ratio following the face's size / every frame in full. Needs ../shared (or FACEGUARD_*).

    OMP_NUM_THREADS=1 taskset -c 0 python bench/bench_pad.py
"""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

import numpy as np

from faceguard.engine.dlib_engine import DlibEngine
from faceguard.liveness import (
    ChallengePolicy,
    ChallengeStore,
    Frame,
    MoireScorer,
    OnnxPadScorer,
    PadConfig,
    PresentationAttackDetector,
    SeenFrames,
)
from faceguard.liveness.attacks import encode_jpeg
from faceguard.liveness.evaluation import SteppingClock, read_video
from faceguard.liveness.screenlight import colour_at, lit

SHARED = Path(__file__).resolve().parents[2] / "shared"
LIVENESS = Path(os.environ.get("FACEGUARD_LIVENESS", SHARED / "data" / "liveness"))
MODELS = Path(os.environ.get("FACEGUARD_MODELS", SHARED / "models"))
CLIPS = ("d0.mp4", "d3.mp4", "d11.mp4", "d14.mp4")


def main(rounds: int = 3) -> None:
    engine = DlibEngine(cnn_fallback=False)
    model = OnnxPadScorer(MODELS / "faceplugin" / "fr_liveness.onnx", bgr=True, pixels="raw",
                          crop_scale=2.7, crop="shift", live_index=0)
    store = ChallengeStore(ChallengePolicy(max_outstanding=1000),
                           clock=SteppingClock(timedelta(seconds=5)))
    detectors = {"moire only": PresentationAttackDetector(engine, store,
                                                          scorers=[MoireScorer()]),
                 "moire + model": PresentationAttackDetector(
                     engine, store, scorers=[MoireScorer(), model]),
                 "moire + model, every frame searched in full": PresentationAttackDetector(
                     engine, store, scorers=[MoireScorer(), model],
                     config=PadConfig(follow_size=None))}
    windows, answers = [], []
    for clip in CLIPS:
        frames, times = read_video(LIVENESS / "videos" / clip, stride=3, max_frames=36)
        windows.append((frames[:12], times[:12]))
        answers.append((frames, [t - times[0] for t in times]))

    def answer(detector: PresentationAttackDetector, frames: list[np.ndarray],
               stamps: list[int]) -> float:
        challenge = store.issue("bench")
        shown = [lit(f, colour_at(challenge.colours, challenge.colour_ms,
                                  challenge.colour_start_ms, t))
                 for f, t in zip(frames, stamps, strict=True)]
        sent = [Frame(encode_jpeg(f, 85), 1000 + t) for f, t in zip(shown, stamps, strict=True)]
        detector.seen_frames = SeenFrames()  # the same clips each round: not replays here
        started = time.perf_counter()
        detector.check(challenge.id, sent, terminal="bench")
        return time.perf_counter() - started

    for detector in detectors.values():  # warm up: models loaded, caches filled
        detector.assess_recording(*windows[0])
        answer(detector, *answers[0])
    seconds: dict[str, list[float]] = {f"{kind}, {name}": [] for kind in ("window", "answer")
                                       for name in detectors}
    for _ in range(rounds):
        for (frames, times), (long_frames, stamps) in zip(windows, answers, strict=True):
            for name, detector in detectors.items():
                started = time.perf_counter()
                detector.assess_recording(frames, times)
                seconds[f"window, {name}"].append(time.perf_counter() - started)
                seconds[f"answer, {name}"].append(answer(detector, long_frames, stamps))
    for name, values in seconds.items():
        print(f"{name}: median {np.median(values):.3f} s, p95 "
              f"{np.quantile(values, 0.95):.3f} s over {len(values)} decisions")
    for kind in ("window", "answer"):
        ratio = (np.median(seconds[f"{kind}, moire + model"])
                 / np.median(seconds[f"{kind}, moire only"]))
        print(f"{kind}: with the model / without: {ratio:.2f}x (medians)")
        ratio = (np.median(seconds[f"{kind}, moire + model"]) / np.median(
            seconds[f"{kind}, moire + model, every frame searched in full"]))
        print(f"{kind}: following the face's size / every frame in full: {ratio:.2f}x "
              "(medians)")


if __name__ == "__main__":
    main()
