"""Full-size liveness measurements reported in docs/LIVENESS.md (R26).

Usage:
    python scripts/eval_liveness.py [--attacks 600] [--json results.json] \
        [--sections umist,videos,attacks,faces]

Reads ../shared/data/liveness (UMIST turns, live clips) and ../shared/data/faces (LFW photos,
the labelled live/spoof pictures); override with FACEGUARD_LIVENESS / FACEGUARD_FACES. Every
derived frame stays in memory. Sections:

1. UMIST (real heads turning): every window of 4, 5 and 6 consecutive pictures of each of the
   20 people through the three-dimensional check on the whole crop (the frontal detector misses
   profiles). Acceptance = share judged ``3d``; also on the windows with visible movement.
2. Live clips (17 real recordings): each clip, every 3rd frame, through the detector without a
   challenge (depth over 10-frame windows, identity, passive moire). BPCER = clips called
   attacks; BPNRR = clips without a decision.
3. Generated attacks from real photos (LFW, and UMIST pictures the detector finds a face in):
   print or screen, turned / tilted / shifted / brought closer / all at once, 12 frames at
   480x360, 10 fps. (a) the three-dimensional check alone on the known face region; (b) the
   whole detector answering a fresh challenge (nonce, frames, movements, depth, identity,
   passive). APCER per attack type = share accepted as live.
4. The labelled live/spoof pictures of ../shared/data/faces (passive cues only: single images).
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
from faceguard.liveness import ChallengePolicy, ChallengeStore, PresentationAttackDetector
from faceguard.liveness.attacks import MEDIA, MOTIONS, render_attack
from faceguard.liveness.evaluation import (
    PadOutcome,
    evaluate_pad,
    pad_report,
    read_samples,
    read_video,
)
from faceguard.liveness.parallax import analyse_segment

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
LIVENESS = Path(os.environ.get("FACEGUARD_LIVENESS", SHARED / "liveness"))
FACES = Path(os.environ.get("FACEGUARD_FACES", SHARED / "faces"))
VISIBLE = 0.03  # tracked motion (fraction of the face width) that counts as a visible turn


def _grey(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("L"))


def umist() -> dict[str, Any]:
    people = sorted(p.name for p in (LIVENESS / "umist").iterdir() if p.is_dir())
    out: dict[str, Any] = {}
    for length in (4, 5, 6):
        verdicts: Counter[str] = Counter()
        visible: Counter[str] = Counter()
        failures = []
        for person in people:
            frames = [_grey(p) for p in sorted((LIVENESS / "umist" / person).glob("*.png"))]
            height, width = frames[0].shape
            for start in range(len(frames) - length + 1):
                stats = analyse_segment(frames[start:start + length], (0, 0, width, height))
                verdicts[stats.verdict] += 1
                if stats.motion >= VISIBLE or stats.verdict == "lost":
                    visible[stats.verdict] += 1
                if stats.verdict != "3d":
                    failures.append(f"{person}[{start}:{start + length}] {stats.verdict}")
        total, seen = sum(verdicts.values()), sum(visible.values())
        out[str(length)] = {
            "windows": total, "verdicts": dict(verdicts),
            "acceptance": verdicts["3d"] / total,
            "visible_windows": seen, "visible_verdicts": dict(visible),
            "visible_acceptance": visible["3d"] / seen if seen else None,
            "not_accepted": failures,
        }
    return out


def videos(detector: PresentationAttackDetector) -> dict[str, Any]:
    clips = []
    outcomes = []
    for path in sorted((LIVENESS / "videos").glob("*.mp4"), key=lambda p: int(p.stem[1:])):
        frames, times = read_video(path, stride=3, max_frames=400)
        decision = detector.assess_recording(frames, times)
        checks = {c.name: c.outcome for c in decision.checks}
        windows = {v: int(decision.scores.get(f"depth.segments_{v}", 0))
                   for v in ("3d", "planar", "insufficient", "lost")}
        clips.append({"clip": path.name, "frames": len(frames), "decision": decision.decision,
                      "checks": checks, "reasons": list(decision.codes), "windows": windows,
                      "seconds": round(decision.seconds, 2),
                      "moire": decision.scores.get("passive.moire")})
        outcomes.append(PadOutcome(path.name, "live", decision.decision, decision.codes,
                                   decision.seconds, len(frames)))
    report = pad_report(outcomes)
    depth_attacks = sum(c["checks"].get("depth") == "attack" for c in clips)
    passive_attacks = sum(c["checks"].get("passive") == "attack" for c in clips)
    windows: Counter[str] = Counter()
    for clip in clips:
        windows.update(clip["windows"])
    return {"clips": clips, "bpcer": report.bpcer, "bpnrr": report.bpnrr,
            "windows": dict(windows),
            "depth_attack_clips": depth_attacks, "passive_attack_clips": passive_attacks,
            "decision_seconds": report.decision_seconds}


def _photos(engine: DlibEngine, count: int) -> list[tuple[str, np.ndarray, tuple[int, ...]]]:
    """LFW photos (face box of the 250x250 crop) and UMIST pictures with a findable face."""
    import cv2

    photos: list[tuple[str, np.ndarray, tuple[int, ...]]] = []
    folders = sorted((FACES / "lfw" / "lfw").iterdir())
    for folder in folders[:: max(len(folders) // count, 1)][:count]:
        with Image.open(sorted(folder.glob("*.jpg"))[0]) as image:
            photos.append((f"lfw:{folder.name}", np.asarray(image.convert("RGB")),
                           (70, 70, 180, 190)))
    for path in sorted((LIVENESS / "umist").glob("*/*.png")):
        with Image.open(path) as image:
            rgb = cv2.resize(np.asarray(image.convert("RGB")), (184, 224),
                             interpolation=cv2.INTER_CUBIC)
        faces = engine.detect(rgb)
        if faces:
            photos.append((f"umist:{path.stem}", rgb, faces[0].box))
    return photos


def attacks(engine: DlibEngine, count: int) -> dict[str, Any]:
    photos = _photos(engine, 400)
    lfw = [p for p in photos if p[0].startswith("lfw:")]
    um = [p for p in photos if p[0].startswith("umist:")]
    rng = np.random.default_rng(20261122)
    store = ChallengeStore(ChallengePolicy(max_outstanding=100))
    detector = PresentationAttackDetector(engine, store)
    alone: dict[str, Counter[str]] = defaultdict(Counter)
    full: dict[str, Counter[str]] = defaultdict(Counter)
    reasons: Counter[str] = Counter()
    outcomes = []
    started = time.perf_counter()
    for number in range(count):
        source = um if number % 4 == 3 else lfw
        name, photo, box = source[int(rng.integers(len(source)))]
        medium, motion = MEDIA[number % 2], MOTIONS[(number // 2) % 5]
        sequence = render_attack(photo, rng, medium=medium, motion=motion,
                                 face_box=tuple(box), frames=12, size=(480, 360))  # type: ignore[arg-type]
        stats = analyse_segment(sequence.frames, sequence.face_boxes[0])
        alone[sequence.species][stats.verdict] += 1
        challenge = store.issue("eval-terminal")
        decision = detector.check(challenge.id, sequence.to_frames(quality=90),
                                  terminal="eval-terminal")
        full[sequence.species][decision.decision] += 1
        reasons.update(decision.codes)
        outcomes.append(PadOutcome(name, sequence.species, decision.decision, decision.codes,
                                   decision.seconds, 12))
    report = pad_report(outcomes)
    total_alone = Counter[str]()
    for counts in alone.values():
        total_alone.update(counts)
    rejected = sum(o.decision != "live" for o in outcomes)
    return {
        "sequences": count, "lfw_photos": len(lfw), "umist_photos": len(um),
        "depth_alone": {k: dict(v) for k, v in sorted(alone.items())},
        "depth_alone_total": dict(total_alone),
        "depth_alone_rejected": 1 - total_alone["3d"] / count,
        "detector": {k: dict(v) for k, v in sorted(full.items())},
        "detector_rejected": rejected / count,
        "detector_attack_classified": sum(o.decision == "attack" for o in outcomes) / count,
        "apcer": report.apcer, "apcer_max": report.apcer_max, "apnrr": report.apnrr,
        "reasons": dict(reasons.most_common()),
        "decision_seconds": report.decision_seconds,
        "wall_seconds": time.perf_counter() - started,
    }


def faces_pad() -> dict[str, Any]:
    samples = read_samples(FACES / "labels.csv")
    report = evaluate_pad(samples, PresentationAttackDetector(DlibEngine(cnn_fallback=False)))
    return {"presentations": report.presentations, "bona_fide": report.bona_fide,
            "attacks": report.attacks, "bpcer": report.bpcer, "bpnrr": report.bpnrr,
            "apcer": report.apcer, "apnrr": report.apnrr, "notes": report.notes,
            "outcomes": [{"file": Path(o.file).relative_to(FACES).as_posix(),
                          "label": o.label, "decision": o.decision,
                          "reasons": list(o.reasons)} for o in report.outcomes]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--attacks", type=int, default=600)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--sections", default="umist,videos,attacks,faces",
                        help="comma-separated: umist, videos, attacks, faces")
    args = parser.parse_args()
    sections = set(args.sections.split(","))
    engine = DlibEngine(cnn_fallback=False)
    results: dict[str, Any] = {}
    if "umist" in sections:
        results["umist"] = umist()
        for length, figures in results["umist"].items():
            print(f"UMIST windows of {length}: {figures['verdicts']} acceptance "
                  f"{figures['acceptance']:.3f}; visible turns {figures['visible_windows']}: "
                  f"acceptance {figures['visible_acceptance']:.3f}")
    if "videos" in sections:
        results["videos"] = videos(PresentationAttackDetector(engine))
        v = results["videos"]
        print(f"live clips: BPCER {v['bpcer']:.3f} BPNRR {v['bpnrr']:.3f} (depth attacks "
              f"{v['depth_attack_clips']}, passive attacks {v['passive_attack_clips']}); "
              f"depth windows {v['windows']}")
        for clip in v["clips"]:
            print(f"  {clip['clip']:8s} {clip['frames']:4d} frames {clip['decision']:7s} "
                  f"{clip['checks']} windows {clip['windows']} {clip['reasons']} "
                  f"{clip['seconds']} s")
    if "attacks" in sections:
        results["attacks"] = attacks(engine, args.attacks)
        a = results["attacks"]
        print(f"generated attacks: {a['sequences']}; depth check alone "
              f"{a['depth_alone_total']} (rejected {a['depth_alone_rejected']:.4f}); detector "
              f"rejected {a['detector_rejected']:.4f}, classified attack "
              f"{a['detector_attack_classified']:.4f}; APCER_max {a['apcer_max']:.4f}")
        for species, counts in a["detector"].items():
            print(f"  {species:14s} alone {a['depth_alone'][species]}  detector {counts}")
        print(f"  reasons: {a['reasons']}")
        print(f"  decision seconds: {a['decision_seconds']}")
    if "faces" in sections:
        results["faces"] = faces_pad()
        f = results["faces"]
        print(f"faces PAD pictures: {f['presentations']} (BPCER {f['bpcer']}, APCER "
              f"{f['apcer']}); {f['notes']}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
