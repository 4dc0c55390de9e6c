"""The three-dimensional check on real head turns (UMIST) and generated photo/screen attacks.

A subset keeps CI quick; ``scripts/eval_liveness.py`` runs the full-size measurements that
docs/LIVENESS.md reports.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from faceguard.liveness.attacks import MEDIA, MOTIONS, render_attack
from faceguard.liveness.parallax import SegmentStats, analyse_segment, classify, judge
from test_liveness_support import require_liveness


def _umist(root: Path, person: str) -> list[np.ndarray]:
    from PIL import Image

    folder = root / "umist" / person
    frames = []
    for path in sorted(folder.glob("*.png")):
        with Image.open(path) as image:
            frames.append(np.asarray(image.convert("L")))
    return frames


def test_real_head_turns_are_three_dimensional() -> None:
    root = require_liveness()
    verdicts = []
    for person in ("s01", "s06", "s10", "s14", "s18"):
        frames = _umist(root, person)
        height, width = frames[0].shape
        for start in (0, 4, 8, 12):
            stats = analyse_segment(frames[start:start + 5], (0, 0, width, height))
            verdicts.append(stats.verdict)
    counts = Counter(verdicts)
    assert counts["planar"] == 0 and counts["bent"] == 0, counts
    assert counts["3d"] >= 19, counts  # 20 five-frame windows of real turns


def _photos(faces: Path) -> list[np.ndarray]:
    from PIL import Image

    folders = sorted((faces / "lfw" / "lfw").iterdir())[::97][:25]
    photos = []
    for folder in folders:
        with Image.open(sorted(folder.glob("*.jpg"))[0]) as image:
            photos.append(np.asarray(image.convert("RGB")))
    return photos


def test_generated_photo_and_screen_attacks_are_not_three_dimensional(faces: Path) -> None:
    photos = _photos(faces)
    rng = np.random.default_rng(2024)
    verdicts: Counter[str] = Counter()
    by_species: dict[str, Counter[str]] = {}
    for number in range(50):
        medium, motion = MEDIA[number % 2], MOTIONS[(number // 2) % 5]
        sequence = render_attack(photos[number % len(photos)], rng, medium=medium,
                                 motion=motion, face_box=(70, 70, 180, 190), frames=8,
                                 size=(480, 360))
        stats = analyse_segment(sequence.frames, sequence.face_boxes[0])
        verdicts[stats.verdict] += 1
        by_species.setdefault(sequence.species, Counter())[stats.verdict] += 1
    assert verdicts["3d"] == 0, by_species
    # Turned and tilted planes are recognised as planes, not only "not enough motion".
    turned = sum(by_species[f"{m}-{k}"]["planar"] for m in MEDIA for k in ("turn", "mixed"))
    assert turned >= 10, by_species  # of 20


def test_bent_prints_are_not_three_dimensional(faces: Path) -> None:
    """A photo bowed about an axis is not a plane, but its depth varies across the axis
    only: the sheet model explains its parallax, where it does not explain a head's."""
    photos = _photos(faces)
    rng = np.random.default_rng(2025)
    verdicts: Counter[str] = Counter()
    for number in range(12):
        motion = ("turn", "tilt", "mixed")[number % 3]
        bend = float(rng.uniform(1.0, 2.0)) * (1 if number % 2 else -1)
        sequence = render_attack(photos[number % len(photos)], rng, medium="print",
                                 motion=motion, face_box=(70, 70, 180, 190), frames=8,
                                 size=(480, 360), bend=bend)
        assert sequence.species == f"bent-print-{motion}"
        stats = analyse_segment(sequence.frames, sequence.face_boxes[0])
        verdicts[stats.verdict] += 1
    assert verdicts["3d"] <= 1, verdicts
    assert verdicts["bent"] >= 6, verdicts


def test_points_lost_are_not_depth() -> None:
    lost_points = SegmentStats("insufficient", 200, 0.3, 0.0, 0.0, 0.05, 0.0, 0.2, 0.0)
    assert classify(lost_points) == "insufficient"
    sheet = SegmentStats("insufficient", 200, 0.98, 3.0, 0.02, 0.03, 0.3, 0.05, 0.0, 0.9, 0.4)
    assert classify(sheet) == "bent"
    head = replace(sheet, sheet_explained=0.6, sheet_rms_px=1.6)
    assert classify(head) == "3d"


def _stats(verdict: str, parallax: float = 0.5, distortion: float = 0.03) -> SegmentStats:
    return SegmentStats(verdict, 200, 0.99, parallax, 0.05, distortion, 0.0, 0.1, 0.0)  # type: ignore[arg-type]


@pytest.mark.parametrize(("verdicts", "outcome", "code"), [
    (["3d", "insufficient"], "pass", None),
    (["3d", "planar"], "attack", "depth.planar"),
    (["bent", "insufficient"], "retry", "depth.curved"),
    (["bent", "bent", "insufficient"], "attack", "depth.bent"),
    (["bent", "bent", "3d"], "attack", "depth.bent"),
    (["3d", "bent"], "pass", None),
    (["3d", "insufficient", "insufficient"], "retry", "depth.insufficient"),
    (["insufficient", "lost"], "retry", "depth.insufficient"),
    (["lost"], "retry", "depth.lost"),
    ([], "retry", "depth.no_segment"),
])
def test_segments_combine_into_the_depth_check(
    verdicts: list[str], outcome: str, code: str | None,
) -> None:
    check = judge([_stats(v) for v in verdicts])
    assert check.outcome == outcome
    assert (check.reasons[0].code if check.reasons else None) == code
