"""The tracker alone: faces stay covered between and after detections, and before the first.

Frames are real images (a textured patch moving over a textured background); detections are
given explicitly, so that a miss of the detector can be placed on a chosen frame.
"""

from __future__ import annotations

import numpy as np
import pytest

from faceguard.redact.detect import Box
from faceguard.redact.track import Planner, TrackSettings

WIDTH, HEIGHT, SIDE = 320, 240, 48


def _scene(seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    background = rng.integers(0, 256, size=(HEIGHT // 8, WIDTH // 8, 3), dtype=np.uint8)
    background = np.kron(background, np.ones((8, 8, 1), dtype=np.uint8))
    patch = rng.integers(0, 256, size=(SIDE // 4, SIDE // 4, 3), dtype=np.uint8)
    return background, np.kron(patch, np.ones((4, 4, 1), dtype=np.uint8))


def _frame(background: np.ndarray, patch: np.ndarray, x: int | None, y: int = 90
           ) -> tuple[np.ndarray, Box | None]:
    frame = background.copy()
    if x is None:
        return frame, None
    frame[y:y + SIDE, x:x + SIDE] = patch
    return frame, (x, y, x + SIDE, y + SIDE)


def _inside(inner: Box, outer: Box, slack: int = 3) -> bool:
    return (outer[0] - slack <= inner[0] and outer[1] - slack <= inner[1]
            and inner[2] <= outer[2] + slack and inner[3] <= outer[3] + slack)


def test_a_face_missed_by_the_detector_stays_covered_and_followed() -> None:
    """Detections only on frames 0 and 12 (the detector 'missed' it on 3, 6, 9): every frame
    in between still covers the moving patch, by optical flow."""
    background, patch = _scene()
    settings = TrackSettings(detect_every=3, hold=12, backfill=6, cnn_every=0)
    planner = Planner(settings, WIDTH, HEIGHT)
    truth = {}
    for index in range(13):
        frame, box = _frame(background, patch, 40 + 6 * index)
        assert box is not None
        truth[index] = box
        detections = [box] if index in (0, 12) else ([] if index % 3 == 0 else None)
        planner.step(index, planner.small_grey(frame), detections)
    for index, box in truth.items():
        regions = planner.regions[index]
        assert any(_inside(box, r.face) for r in regions), (index, box, regions)
    assert [r.source for r in planner.regions[0]] == ["detected"]
    assert {r.source for i in range(1, 12) for r in planner.regions[i]} == {"tracked"}


def test_a_face_is_dropped_after_hold_frames_without_detection() -> None:
    background, patch = _scene()
    planner = Planner(TrackSettings(detect_every=3, hold=6, backfill=0, cnn_every=0),
                      WIDTH, HEIGHT)
    for index in range(12):
        frame, box = _frame(background, patch, 100)
        assert box is not None
        planner.step(index, planner.small_grey(frame), [box] if index == 0 else None)
    assert [len(planner.regions[i]) for i in range(12)] == [1] * 7 + [0] * 5


def test_a_face_that_appears_between_detections_is_backfilled() -> None:
    """The patch appears on frame 4; detection runs on 0, 3 and 6 and finds it on 6: frames
    4 and 5 are covered by tracking it backwards, and frames before it appeared are not
    needed but harmless."""
    background, patch = _scene()
    planner = Planner(TrackSettings(detect_every=3, hold=9, backfill=9, cnn_every=0),
                      WIDTH, HEIGHT)
    truth = {}
    for index in range(8):
        x = 60 + 5 * index if index >= 4 else None
        frame, box = _frame(background, patch, x)
        if box is not None:
            truth[index] = box
        detections = ([box] if box else []) if index % 3 == 0 else None
        planner.step(index, planner.small_grey(frame), detections)
    for index in (4, 5):
        regions = planner.regions[index]
        assert any(r.source == "backfilled" and _inside(truth[index], r.face) for r in regions)
    assert all(any(_inside(box, r.face) for r in planner.regions[i]) for i, box in truth.items())


def test_hold_must_span_a_detection_cycle() -> None:
    with pytest.raises(ValueError, match="hold"):
        TrackSettings(detect_every=3, hold=10, cnn_every=5)
    every = TrackSettings.every(4)
    assert (every.detect_every, every.hold, every.backfill) == (4, 24, 24)
    assert [every.runs_cnn(i) for i in (0, 4, 20, 21, 40)] == [True, False, True, False, True]
