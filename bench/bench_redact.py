"""Redaction speed and coverage, against baselines measured in the same run.

Usage: python bench/bench_redact.py [--frames 600] [--workers 2] [--video FILE]
                                    [--skip-images] [--json]

Video: a 640x480 MPEG-4 clip is made from still LFW faces (three people moving and growing
over a real photo; or ``--video FILE``). The baseline is decoding and re-encoding the same
frames with OpenCV (what any re-encoding tool pays), measured again just before each run;
redaction is timed with 1 and with ``--workers`` processes, with the defaults (HOG every 3rd
frame, the CNN every 5th detection) and with HOG only (``cnn_every=0``). Ratios: redaction
fps / baseline fps (wall clock), and CPU time per frame / the baseline's (steadier when
other work shares the machine; it includes the worker processes).

Images: the 9 annotated group photos of detection_gt.csv: the share of annotated faces
entirely inside the covered regions (covering recall), and seconds per photo against a
baseline of decoding and re-encoding it. Also the UMIST profile heads (index 00, turned
90 degrees), found by HOG alone and by the thorough finder with the CNN.

Faces come from ``$FACEGUARD_FACES`` or ``../shared/data/faces`` beside the checkout.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from faceguard.engine.imaging import decode_image
from faceguard.redact import THOROUGH, RedactOptions, TrackSettings, redact_media
from faceguard.redact.detect import FaceFinder

REPO = Path(__file__).resolve().parents[1]


def faces_dir() -> Path:
    env = os.environ.get("FACEGUARD_FACES")
    path = Path(env) if env else REPO.parent / "shared" / "data" / "faces"
    if not (path / "lfw" / "lfw").is_dir():
        raise SystemExit(f"faces not found in {path}; set FACEGUARD_FACES")
    return path


def make_video(path: Path, faces: Path, frames: int) -> None:
    """Three LFW heads crossing a real photo at 640x480, 25 fps, MPEG-4."""
    lfw = faces / "lfw" / "lfw"
    people = ["Colin_Powell", "Tony_Blair", "Jiang_Zemin"]
    sprites = [decode_image((lfw / p / f"{p}_0001.jpg").read_bytes())[30:220, 50:200, ::-1]
               for p in people]
    background = decode_image((faces / "dlib/examples/faces/dogs.jpg").read_bytes())[:, :, ::-1]
    background = cv2.resize(background, (640, 480), interpolation=cv2.INTER_AREA)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 25, (640, 480))
    for index in range(frames):
        frame = background.copy()
        t = index / max(frames - 1, 1)
        for number, sprite in enumerate(sprites):
            scale = 0.6 + 0.5 * ((t + number / 3) % 1.0)
            resized = cv2.resize(np.ascontiguousarray(sprite), None, fx=scale, fy=scale,
                                 interpolation=cv2.INTER_AREA)
            h, w = resized.shape[:2]
            x = int((30 + 420 * ((t + number / 3) % 1.0)) % max(640 - w, 1))
            y = min(10 + 150 * number, 480 - h)
            frame[y:y + h, x:x + w] = resized
        writer.write(frame)
    writer.release()


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished worker processes."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def baseline_fps(src: Path, dst: Path) -> tuple[float, int, float]:
    """Decode every frame and encode it again (mp4v): frames per second, frames, and
    CPU milliseconds per frame."""
    started = time.perf_counter()
    cpu_before = _cpu_seconds()
    capture = cv2.VideoCapture(str(src))
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    writer = None
    count = 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        if writer is None:
            h, w = frame.shape[:2]
            writer = cv2.VideoWriter(str(dst), cv2.VideoWriter.fourcc(*"mp4v"), fps, (w, h))
        writer.write(frame)
        count += 1
    capture.release()
    if writer is not None:
        writer.release()
    cpu = _cpu_seconds() - cpu_before
    return count / (time.perf_counter() - started), count, 1000 * cpu / max(count, 1)


def bench_video(src: Path, folder: Path, workers: int) -> dict[str, Any]:
    capture = cv2.VideoCapture(str(src))
    width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
    size = f"{width}x{int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))}"
    capture.release()
    runs: list[dict[str, Any]] = []
    for label, tracking in (("default (HOG every 3rd frame, CNN every 15th)", TrackSettings()),
                            ("HOG only (cnn_every=0)", TrackSettings.every(3, cnn_every=0))):
        for count in sorted({1, workers}):
            # the baseline is measured again just before each run: the load may change
            base, frames, base_cpu = baseline_fps(src, folder / f"baseline-{len(runs)}.mp4")
            out = folder / f"out-{len(runs)}.mp4"
            cpu_before = _cpu_seconds()
            started = time.perf_counter()
            report = redact_media(src, out, RedactOptions(tracking=tracking), workers=count)
            seconds = time.perf_counter() - started
            cpu = 1000 * (_cpu_seconds() - cpu_before) / frames
            file = report.files[0]
            runs.append({
                "settings": label, "workers": count, "fps": round(frames / seconds, 2),
                "baseline_fps": round(base, 1),
                "ratio_to_baseline": round(frames / seconds / base, 4),
                "cpu_ms_per_frame": round(cpu, 1),
                "baseline_cpu_ms_per_frame": round(base_cpu, 2),
                "cpu_ratio_to_baseline": round(cpu / base_cpu, 1),
                "frames": file.frames, "frames_with_faces": file.frames_with_faces,
                "faces": file.faces,
            })
    return {"video": str(src), "size": size, "frames": runs[0]["frames"], "runs": runs}


def bench_images(faces: Path) -> dict[str, Any]:
    truth: dict[str, list[tuple[int, int, int, int]]] = {}
    with (faces / "detection_gt.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            left, top = int(row["left"]), int(row["top"])
            truth.setdefault(row["file"], []).append(
                (left, top, left + int(row["width"]), top + int(row["height"])))
    finder = FaceFinder(THOROUGH)
    margin = RedactOptions().margin
    covered_faces = boxes = 0
    detect_seconds = base_seconds = 0.0
    for name, annotated in sorted(truth.items()):
        data = (faces / name).read_bytes()
        started = time.perf_counter()
        rgb = decode_image(data)
        cv2.imencode(".jpg", rgb)
        base_seconds += time.perf_counter() - started
        started = time.perf_counter()
        found = finder.find(rgb)
        detect_seconds += time.perf_counter() - started
        boxes += len(found)
        h, w = rgb.shape[:2]
        mask = np.zeros((h, w), dtype=bool)
        for left, top, right, bottom in found:
            dx, dy = (right - left) * margin, (bottom - top) * margin
            mask[max(int(top - dy), 0):int(np.ceil(bottom + dy)),
                 max(int(left - dx), 0):int(np.ceil(right + dx))] = True
        covered_faces += sum(bool(mask[t:b, lft:r].all()) for lft, t, r, b in annotated)
    total = sum(len(b) for b in truth.values())
    umist = faces.parent / "liveness" / "umist"
    profiles = {"hog": 0, "hog+cnn": 0, "heads": 0}
    if umist.is_dir():
        hog_only = FaceFinder(replace(THOROUGH, cnn_max_pixels=0))
        for folder in sorted(umist.iterdir()):
            path = folder / f"umist_{folder.name}_00.png"
            if not path.exists():
                continue
            head = decode_image(path.read_bytes())
            canvas = np.full((300, 300, 3), 200, dtype=np.uint8)
            canvas[94:94 + head.shape[0], 104:104 + head.shape[1]] = head
            profiles["heads"] += 1
            profiles["hog"] += bool(hog_only.find(canvas))
            profiles["hog+cnn"] += bool(finder.find(canvas))
    return {
        "photos": len(truth), "annotated_faces": total, "covered_entirely": covered_faces,
        "covering_recall": round(covered_faces / total, 4), "boxes_found": boxes,
        "seconds_per_photo": round(detect_seconds / len(truth), 3),
        "baseline_seconds_per_photo": round(base_seconds / len(truth), 4),
        "ratio_to_baseline": round(detect_seconds / max(base_seconds, 1e-9), 1),
        "umist_profiles_found": profiles,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=600)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--video", type=Path, default=None)
    parser.add_argument("--skip-images", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    faces = faces_dir()
    result: dict[str, Any] = {"cpus": os.cpu_count(), "load_average": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        src = args.video
        if src is None:
            src = folder / "walk.mp4"
            make_video(src, faces, args.frames)
        result["video"] = bench_video(src, folder, args.workers)
    if not args.skip_images:
        result["images"] = bench_images(faces)
    result["load_average_after"] = os.getloadavg()[0]
    if args.json:
        print(json.dumps(result, indent=2))
        return
    video = result["video"]
    print(f"video {video['size']}, {video['frames']} frames")
    for run in video["runs"]:
        print(f"  {run['settings']}, {run['workers']} worker(s): {run['fps']} fps = "
              f"{run['ratio_to_baseline']:.4f} x decode+encode ({run['baseline_fps']} fps); "
              f"CPU {run['cpu_ms_per_frame']} ms per frame = {run['cpu_ratio_to_baseline']} x "
              f"({run['baseline_cpu_ms_per_frame']} ms)")
    if "images" in result:
        img = result["images"]
        print(f"group photos: {img['covered_entirely']}/{img['annotated_faces']} annotated faces "
              f"covered entirely (recall {img['covering_recall']}); {img['seconds_per_photo']} s "
              f"per photo = {img['ratio_to_baseline']} x decode+encode")
        p = img["umist_profiles_found"]
        print(f"UMIST profile heads found: HOG {p['hog']}/{p['heads']}, with the CNN "
              f"{p['hog+cnn']}/{p['heads']}")
    print(f"load average {result['load_average']:.1f} -> {result['load_average_after']:.1f} "
          f"on {result['cpus']} CPUs")


if __name__ == "__main__":
    main()
