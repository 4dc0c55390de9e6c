"""The three-dimensional check on real head turns (UMIST) and generated photo/screen attacks.

A subset keeps CI quick; ``scripts/eval_liveness.py`` runs the full-size measurements that
docs/LIVENESS.md reports.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from faceguard.liveness.attacks import MEDIA, MOTIONS, render_attack
from faceguard.liveness.parallax import SegmentStats, analyse_segment, judge
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
    assert counts["planar"] == 0, counts
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


def _stats(verdict: str, parallax: float = 0.5, distortion: float = 0.03) -> SegmentStats:
    return SegmentStats(verdict, 200, 0.99, parallax, 0.05, distortion, 0.0, 0.1, 0.0)  # type: ignore[arg-type]


@pytest.mark.parametrize(("verdicts", "outcome", "code"), [
    (["3d", "insufficient"], "pass", None),
    (["3d", "planar"], "attack", "depth.planar"),
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
