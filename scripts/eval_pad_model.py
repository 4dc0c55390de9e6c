"""The trained PAD model fused with the detector, on real and simulated presentations (R26).

Usage:
    taskset -c 0 python scripts/eval_pad_model.py --json pad-model.json \
        [--sections images,clips,prints] [--windows 7] [--prints 100]

Reads ../shared/data (or FACEGUARD_FACES, FACEGUARD_LIVENESS, FACEGUARD_MODELS). The model is
faceplugin's ``fr_liveness.onnx`` run as an operator would name it in faceguard.toml:

    [pad_model]
    path = ".../faceplugin/fr_liveness.onnx"
    channels = "bgr"; pixels = "raw"; crop_scale = 2.7; crop = "shift"; live_class = 0

Sections (every derived frame stays in memory):

1. ``images``: the 15 labelled live/spoof pictures of ../faces (real), judged as single
   pictures (passive scorers: moire and the model).
2. ``clips``: the 17 real live clips, cut into windows of 12 frames (every 3rd frame), at most
   ``--windows`` per clip spread over it; each window judged without a challenge (depth,
   identity, passive). BPCER on real live faces. Each window is also replayed on a simulated
   phone (``liveness.replay``: a real video, a simulated screen and camera) and judged:
   APCER of screen replays. The model's own score is kept for both, and for the live window
   lit by a simulated kiosk colour (``screenlight.lit``), to see whether the kiosk's light
   moves it.
3. ``prints``: LFW photos printed flat or bent (simulated sheet and camera), turned, tilted or
   both: APCER per type.
4. ``challenge``: the colour challenge on the clips (3.6 s windows, every 3rd frame). The
   live window lit by the issued colours (simulated kiosk light on a real face); the same
   window lit by another challenge's colours (a recorded real answer) replayed on the
   simulated phone, the issued colours reflected on its glass; and the unlit window (a video
   from elsewhere) replayed the same way. The clips were not filmed answering movements, so
   besides the decision the share "accepted but for the movements" (only ``motion.*``
   reasons) is reported: what the colours, depth, identity and the model let through.
   ``--starts`` answers are cut from each clip; each is judged by a kiosk that has seen no
   other (a fresh frame memory), so that the near-duplicate rule, measured on its own, does
   not stop a replay before the checks under test.
5. ``printed-answers``: ``--prints`` LFW photos printed flat and bent, held through a whole
   challenge while the paper reflects the issued colours as skin does; accepted but for the
   movements, and which checks refused them. ``--shard i/n`` takes every n-th photo from
   the i-th (one process per core).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from faceguard.engine.dlib_engine import DlibEngine
from faceguard.liveness import (
    PALETTE,
    ChallengePolicy,
    ChallengeStore,
    Frame,
    MoireScorer,
    OnnxPadScorer,
    PadDecision,
    PresentationAttackDetector,
    SeenFrames,
)
from faceguard.liveness.attacks import encode_jpeg, render_attack
from faceguard.liveness.evaluation import (
    PadOutcome,
    SteppingClock,
    evaluate_pad,
    pad_report,
    read_samples,
    read_video,
)
from faceguard.liveness.replay import render_replay
from faceguard.liveness.screenlight import colour_at, lit

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
FACES = Path(os.environ.get("FACEGUARD_FACES", SHARED / "data" / "faces"))
LIVENESS = Path(os.environ.get("FACEGUARD_LIVENESS", SHARED / "data" / "liveness"))
MODELS = Path(os.environ.get("FACEGUARD_MODELS", SHARED / "models"))
WINDOW, STRIDE = 12, 3


def model() -> OnnxPadScorer:
    return OnnxPadScorer(MODELS / "faceplugin" / "fr_liveness.onnx", bgr=True, pixels="raw",
                         crop_scale=2.7, crop="shift", live_index=0)


def _summary(outcomes: list[PadOutcome]) -> dict[str, Any]:
    report = pad_report(outcomes)
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    reasons: dict[str, Counter[str]] = defaultdict(Counter)
    for o in outcomes:
        counts[o.label][o.decision] += 1
        reasons[o.label].update(o.reasons)
    return {"decisions": {k: dict(v) for k, v in counts.items()},
            "reasons": {k: dict(v.most_common()) for k, v in reasons.items()},
            "bpcer": report.bpcer, "bpnrr": report.bpnrr, "apcer": report.apcer,
            "apnrr": report.apnrr, "decision_seconds": report.decision_seconds}


def _score(detector: PresentationAttackDetector, scorer: OnnxPadScorer,
           frames: list[np.ndarray]) -> float | None:
    """The model's median score over 3 frames of a window (as the detector takes it)."""
    values = []
    for rgb in (frames[0], frames[len(frames) // 2], frames[-1]):
        scale = min(1.0, 320 / max(rgb.shape[:2]))
        import cv2

        small = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        faces = detector.engine.detect(small)
        if faces:
            box = tuple(int(round(v / scale)) for v in faces[0].box)
            values.append(scorer.score(rgb, box))  # type: ignore[arg-type]
    return float(np.median(values)) if values else None


def images(detector: PresentationAttackDetector) -> dict[str, Any]:
    report = evaluate_pad(read_samples(FACES / "labels.csv"), detector)
    return {"summary": _summary(report.outcomes), "unreadable": report.unreadable,
            "outcomes": [{"file": Path(o.file).relative_to(FACES).as_posix(), "label": o.label,
                          "decision": o.decision, "reasons": list(o.reasons)}
                         for o in report.outcomes]}


def clips(detector: PresentationAttackDetector, windows: int) -> dict[str, Any]:
    scorer = next(s for s in detector.scorers if isinstance(s, OnnxPadScorer))
    rng = np.random.default_rng(20261207)
    colours = ["red", "green", "blue", "yellow", "cyan", "magenta"]
    outcomes: list[PadOutcome] = []
    scores: dict[str, list[float | None]] = {"live": [], "live_lit": [], "replay": []}
    per_clip: dict[str, dict[str, int]] = {}
    for path in sorted((LIVENESS / "videos").glob("*.mp4")):
        frames, times = read_video(path, stride=STRIDE, max_frames=400)
        starts = sorted({int(s) for s in np.linspace(0, max(len(frames) - WINDOW, 0),
                                                     windows)})
        tally: Counter[str] = Counter()
        for start in starts:
            window = frames[start:start + WINDOW]
            stamps = [t - times[start] for t in times[start:start + WINDOW]]
            name = f"{path.name}[{start}]"
            decision = detector.assess_recording(window, stamps)
            outcomes.append(PadOutcome(name, "live", decision.decision, decision.codes,
                                       decision.seconds, len(window)))
            tally[f"live:{decision.decision}"] += 1
            scores["live"].append(_score(detector, scorer, window))
            tint = colours[int(rng.integers(len(colours)))]
            scores["live_lit"].append(_score(detector, scorer, [lit(f, tint) for f in window]))
            replay = render_replay(window, rng, times_ms=stamps)
            decision = detector.assess_recording(replay.frames, stamps)
            outcomes.append(PadOutcome(name, "screen-replay", decision.decision,
                                       decision.codes, decision.seconds, len(window)))
            tally[f"replay:{decision.decision}"] += 1
            scores["replay"].append(_score(detector, scorer, replay.frames))
        per_clip[path.name] = dict(tally)
        print(path.name, dict(tally), flush=True)
    quantiles = {}
    for kind, values in scores.items():
        found = np.array([v for v in values if v is not None])
        quantiles[kind] = {"n": len(values), "no_face": len(values) - len(found),
                           "p5_p25_p50_p75_p95": np.percentile(found, [5, 25, 50, 75, 95])
                           .round(3).tolist() if len(found) else [],
                           "at_or_above_0.5": float((found >= 0.5).mean()) if len(found)
                           else None}
    return {"windows": len(outcomes) // 2, "summary": _summary(outcomes),
            "model_scores": quantiles, "per_clip": per_clip,
            "raw_scores": {k: [None if v is None else round(v, 4) for v in vs]
                           for k, vs in scores.items()}}


def _lfw_folders(count: int) -> list[Path]:
    """``count`` LFW people spread over the alphabet (one photo of each is printed)."""
    folders = sorted((FACES / "lfw" / "lfw").iterdir())
    return folders[:: max(len(folders) // count, 1)][:count]


def _first_photo(folder: Path) -> np.ndarray:
    with Image.open(sorted(folder.glob("*.jpg"))[0]) as image:
        return np.asarray(image.convert("RGB"))


def _but_for_the_movements(decision: PadDecision) -> bool:
    """Accepted, or refused for the head movements alone (``motion.*``)."""
    return bool(decision.decision == "live" or (decision.codes and all(
        c.startswith("motion.") for c in decision.codes)))


def prints(detector: PresentationAttackDetector, count: int) -> dict[str, Any]:
    rng = np.random.default_rng(20261208)
    photos = [(folder.name, _first_photo(folder)) for folder in _lfw_folders(count)]
    outcomes = []
    for number, (name, photo) in enumerate(photos):
        motion = ("turn", "tilt", "mixed")[number % 3]
        for bend in (0.0, float(rng.uniform(0.8, 2.0)) * (1 if rng.random() < 0.5 else -1)):
            sequence = render_attack(photo, rng, medium="print", motion=motion,  # type: ignore[arg-type]
                                     face_box=(70, 70, 180, 190), frames=WINDOW,
                                     size=(640, 480), bend=bend)
            decision = detector.assess_recording(sequence.frames, sequence.times_ms)
            label = "bent-print" if bend else "flat-print"
            outcomes.append(PadOutcome(name, label, decision.decision, decision.codes,
                                       decision.seconds, WINDOW))
        if number % 20 == 19:
            print(f"prints {number + 1}/{len(photos)}", flush=True)
    return {"photos": len(photos), "summary": _summary(outcomes)}


def printed_answers(detector: PresentationAttackDetector, count: int,
                    shard: tuple[int, int] = (0, 1)) -> dict[str, Any]:
    """LFW photos printed flat or bent, held before the kiosk through a whole challenge
    (36 frames at 10 fps, turned, tilted or both) while the paper reflects the issued
    colours as skin does (``screenlight.lit`` centred on the printed face: the worst case for
    the colour check, which a print passes), each judged by ``check`` with a fresh frame
    memory. The movements of a sheet are not the asked ones, so, as for the replays, the
    share accepted but for the movements is what counts."""
    rng = np.random.default_rng(20261210 + shard[0])
    store = ChallengeStore(ChallengePolicy(max_outstanding=100_000), clock=SteppingClock())
    judge = PresentationAttackDetector(detector.engine, store, scorers=detector.scorers)
    outcomes: list[PadOutcome] = []
    but_motion: Counter[str] = Counter()
    refused_by: dict[str, Counter[str]] = defaultdict(Counter)
    for number, folder in enumerate(_lfw_folders(count)[shard[0]::shard[1]]):
        photo = _first_photo(folder)
        motion = ("turn", "tilt", "mixed")[number % 3]
        for bend in (0.0, float(rng.uniform(0.8, 2.0)) * (1 if rng.random() < 0.5 else -1)):
            sequence = render_attack(photo, rng, medium="print", motion=motion,  # type: ignore[arg-type]
                                     face_box=(70, 70, 180, 190), frames=36,
                                     size=(640, 480), bend=bend)
            ch = store.issue("eval")
            stamps = [t - sequence.times_ms[0] for t in sequence.times_ms]
            shown = []
            for rgb, box, t in zip(sequence.frames, sequence.face_boxes, stamps, strict=True):
                height, width = rgb.shape[:2]
                centre = ((box[0] + box[2]) / 2 / width, (box[1] + box[3]) / 2 / height)
                shown.append(lit(rgb, colour_at(ch.colours, ch.colour_ms, ch.colour_start_ms, t),
                                 centre=centre))
            judge.seen_frames = SeenFrames()
            decision = judge.check(ch.id, [Frame(encode_jpeg(f, 85), 1000 + t)
                                           for f, t in zip(shown, stamps, strict=True)],
                                   terminal="eval")
            label = "bent-print" if bend else "flat-print"
            outcomes.append(PadOutcome(folder.name, label, decision.decision, decision.codes,
                                       decision.seconds, len(shown)))
            if _but_for_the_movements(decision):
                but_motion[label] += 1
            refused_by[label].update({c.name for c in decision.checks
                                      if c.outcome != "pass" and c.name != "motion"})
        if number % 20 == 19:
            print(f"printed answers {number + 1}", dict(but_motion), flush=True)
    return {"summary": _summary(outcomes), "accepted_but_for_the_movements": dict(but_motion),
            "refused_by": {k: dict(v) for k, v in refused_by.items()}}


def light(names: list[str | None]) -> list[tuple[float, float, float] | None]:
    """The screen colours named, as RGB in 0-1 (``None``: the screen is neutral)."""
    return [None if n is None else (PALETTE[n][0] / 255, PALETTE[n][1] / 255,
                                    PALETTE[n][2] / 255) for n in names]


def challenge(detector: PresentationAttackDetector, starts: int,
              only: set[str] | None = None) -> dict[str, Any]:
    store = ChallengeStore(ChallengePolicy(max_outstanding=1000), clock=SteppingClock())
    judge = PresentationAttackDetector(detector.engine, store, scorers=detector.scorers)
    rng = np.random.default_rng(20261209)
    outcomes: list[PadOutcome] = []
    but_motion: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    colour_scores: dict[str, list[float]] = defaultdict(list)
    answers: list[dict[str, Any]] = []
    for path in sorted((LIVENESS / "videos").glob("*.mp4")):
        if only and path.stem not in only:
            continue
        frames, times = read_video(path, stride=STRIDE, max_frames=400)
        length = 36
        if len(frames) < length:
            continue
        for start in sorted({int(s) for s in np.linspace(0, len(frames) - length, starts)}):
            window = frames[start:start + length]
            stamps = [t - times[start] for t in times[start:start + length]]
            asked = store.issue("eval")
            other = store.issue("eval")

            def colours(ch: Any, stamps: list[int] = stamps) -> list[str | None]:
                return [colour_at(ch.colours, ch.colour_ms, ch.colour_start_ms, t)
                        for t in stamps]

            recorded = [lit(f, c) for f, c in zip(window, colours(other), strict=True)]
            for label in ("live", "replay-recorded-answer", "replay-other-video"):
                ch = asked if label == "live" else store.issue("eval")
                glass = light(colours(ch))
                if label == "live":
                    shown = [lit(f, c) for f, c in zip(window, colours(ch), strict=True)]
                elif label == "replay-recorded-answer":
                    shown = render_replay(recorded, rng, times_ms=stamps,
                                          reflections=glass).frames
                else:
                    shown = render_replay(window, rng, times_ms=stamps,
                                          reflections=glass).frames
                answer = [Frame(encode_jpeg(f, 85), 1000 + t)
                          for f, t in zip(shown, stamps, strict=True)]
                # Every answer is judged by a kiosk that has not seen the others: stretches
                # of one clip look alike (the same person, in the same place), and each
                # replay shows the clip's own frames. The near-duplicate rule is measured on
                # its own (docs/LIVENESS.md); here it would stop replays before the checks
                # under test.
                judge.seen_frames = SeenFrames()
                decision = judge.check(ch.id, answer, terminal="eval")
                colour_scores[label].append(round(decision.scores.get(
                    "colour.reflected", float("nan")), 3))
                name = f"{path.name}[{start}]"
                outcomes.append(PadOutcome(name, label, decision.decision, decision.codes,
                                           decision.seconds, len(answer)))
                # each check's outcome and scores: other operating points (the model's
                # threshold, the colour thresholds) can be worked out from them afterwards
                answers.append({"name": name, "label": label, "decision": decision.decision,
                                "checks": {c.name: {"outcome": c.outcome,
                                                    "codes": [r.code for r in c.reasons],
                                                    **{k: round(float(v), 4)
                                                       for k, v in c.scores.items()}}
                                           for c in decision.checks}})
                totals[label] += 1
                if _but_for_the_movements(decision):
                    but_motion[label] += 1
        print(path.name, dict(totals), dict(but_motion), flush=True)
    return {"summary": _summary(outcomes), "presentations": dict(totals),
            "accepted_but_for_the_movements": dict(but_motion),
            "colour_reflected": dict(colour_scores), "answers": answers}


def umist() -> dict[str, Any]:
    """Every window of 5 consecutive UMIST pictures (real heads turning) through the depth
    check on the whole crop (as scripts/eval_liveness.py): how many a real head passes."""
    from faceguard.liveness.parallax import analyse_segment

    verdicts: Counter[str] = Counter()
    refused = []
    for person in sorted(p.name for p in (LIVENESS / "umist").iterdir() if p.is_dir()):
        frames = []
        for picture in sorted((LIVENESS / "umist" / person).glob("*.png")):
            with Image.open(picture) as image:
                frames.append(np.asarray(image.convert("L")))
        height, width = frames[0].shape
        for start in range(len(frames) - 5 + 1):
            stats = analyse_segment(frames[start:start + 5], (0, 0, width, height))
            verdicts[stats.verdict] += 1
            if stats.verdict in ("planar", "bent"):
                refused.append(f"{person}[{start}:{start + 5}] {stats.verdict}")
    total = sum(verdicts.values())
    return {"windows": total, "verdicts": dict(verdicts),
            "acceptance": verdicts["3d"] / total,
            "called_attacks": (verdicts["planar"] + verdicts["bent"]) / total,
            "attacks": refused}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", type=Path)
    parser.add_argument("--sections", default="images,clips,prints")
    parser.add_argument("--windows", type=int, default=7)
    parser.add_argument("--prints", type=int, default=100)
    parser.add_argument("--starts", type=int, default=2,
                        help="challenge: answers cut from each clip, spread over it")
    parser.add_argument("--shard", default="0/1",
                        help="printed-answers: this share of the photos (i/n: every n-th "
                             "from the i-th), to run on several cores")
    parser.add_argument("--clips", default="",
                        help="challenge: only these clips (names without .mp4, commas)")
    args = parser.parse_args()
    detector = PresentationAttackDetector(DlibEngine(cnn_fallback=False),
                                          scorers=[MoireScorer(), model()])
    results: dict[str, Any] = {}
    if args.json and args.json.exists():
        results = json.loads(args.json.read_text())
    for section in args.sections.split(","):
        started = time.perf_counter()
        if section == "images":
            results[section] = images(detector)
        elif section == "clips":
            results[section] = clips(detector, args.windows)
        elif section == "prints":
            results[section] = prints(detector, args.prints)
        elif section == "printed-answers":
            index, of = (int(v) for v in args.shard.split("/"))
            results[section] = printed_answers(detector, args.prints, (index, of))
        elif section == "umist":
            results[section] = umist()
        elif section == "challenge":
            results[section] = challenge(detector, args.starts,
                                         set(args.clips.split(",")) if args.clips else None)
        else:
            raise SystemExit(f"unknown section {section}")
        results[section]["wall_seconds"] = round(time.perf_counter() - started, 1)
        print(section, json.dumps(results[section].get("summary", results[section]),
                                  indent=1), flush=True)
        if args.json:
            args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
