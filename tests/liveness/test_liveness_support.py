"""Shared helpers of the liveness tests (no tests here): real recordings, composed answers.

Real data comes from ``../shared/data/liveness`` (or ``$FACEGUARD_LIVENESS``): UMIST turns
and live video clips. Derived frames are made in memory and never written to the repository.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import REPO
from faceguard.liveness import Challenge, ChallengeStore, Frame
from faceguard.liveness.attacks import encode_jpeg
from faceguard.liveness.evaluation import SteppingClock
from faceguard.liveness.screenlight import colour_at, lit


class AnsweringClock(SteppingClock):
    """A test clock for challenge stores: each reading advances it by ``step``, the time a
    person takes to answer (the server checks that frames are not longer than that)."""

    def __init__(self, step: timedelta = timedelta(seconds=6),
                 start: datetime | None = None) -> None:
        super().__init__(step, start or datetime(2026, 5, 1, 9, 0, tzinfo=UTC))


class AnswerableStore(ChallengeStore):
    """A challenge store for the service's tests: its challenges ask ``turn-left,
    turn-right`` (composed from UMIST, the other order was once judged planar in 10 trials;
    the colours stay random), on a clock from now that advances ``step`` at each reading
    (issuing and answering read it five times: a person taking about 9 s to answer)."""

    def __init__(self, step: timedelta = timedelta(seconds=3)) -> None:
        super().__init__(clock=AnsweringClock(step, datetime.now(UTC)))

    def issue(self, terminal: str, *, subject: str | None = None,
              movements: tuple[str, ...] | None = None,
              colours: tuple[str, ...] | None = None) -> Challenge:
        return super().issue(terminal, subject=subject,
                             movements=movements or ("turn-left", "turn-right"),
                             colours=colours)


def answerable_store() -> ChallengeStore:
    return AnswerableStore()


def from_wire(wire: dict[str, Any]) -> Challenge:
    """The challenge a terminal received (what ``umist_answer`` needs of it)."""
    now = datetime.now(UTC)
    return Challenge(wire["challenge_id"], "", tuple(wire["movements"]), now, now,
                     wire["max_capture_ms"], wire["min_frames"], wire["max_frames"],
                     colours=tuple(c["name"] for c in wire["colours"]),
                     colour_ms=wire["colour_ms"], colour_start_ms=wire["colour_start_ms"])


def liveness_dir() -> Path | None:
    env = os.environ.get("FACEGUARD_LIVENESS")
    path = Path(env) if env else REPO.parent / "shared" / "data" / "liveness"
    return path if (path / "umist").is_dir() and (path / "videos").is_dir() else None


def require_liveness() -> Path:
    path = liveness_dir()
    if path is None:
        pytest.skip("real liveness recordings not found: set FACEGUARD_LIVENESS or place them "
                    "in ../shared/data/liveness (tests on real head motion skipped)")
    return path


def umist_frame(root: Path, person: str, index: int, *, mirror: bool = False,
                upscale: int = 3, seed: int | None = None) -> np.ndarray:
    """One UMIST picture as RGB, upscaled (they are 92x112 grey); optional sensor noise."""
    import cv2
    from PIL import Image

    path = root / "umist" / person / f"umist_{person}_{index:02d}.png"
    with Image.open(path) as image:
        rgb = np.asarray(image.convert("RGB"))
    rgb = cv2.resize(rgb, (92 * upscale, 112 * upscale), interpolation=cv2.INTER_CUBIC)
    if mirror:
        rgb = np.ascontiguousarray(rgb[:, ::-1])
    if seed is not None:
        noise = np.random.default_rng(seed).normal(0, 1.5, rgb.shape)
        rgb = np.clip(rgb + noise, 0, 255).astype(np.uint8)
    return np.asarray(rgb, np.uint8)


def placement(place: int) -> tuple[float, float]:
    """Where an answer stands: ``place`` steps of 2% of the picture sideways (UMIST's crops
    are tight: larger shifts take in the face's surroundings, which the colour check
    compares it with)."""
    return 0.02 * place, 0.0


def shifted(rgb: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """``rgb`` moved by ``dx``, ``dy`` (fractions of its size), edges repeated."""
    import cv2

    height, width = rgb.shape[:2]
    matrix = np.float32([[1, 0, dx * width], [0, 1, dy * height]])
    return np.asarray(cv2.warpAffine(rgb, matrix, (width, height),
                                     borderMode=cv2.BORDER_REPLICATE), np.uint8)


#: UMIST s18 from near-frontal (7) to profile (3): the frontal detector finds 7 to 4.
TURN = (6, 5, 4, 3, 4, 5, 6, 7)


def umist_answer(root: Path, asked: Challenge | tuple[str, ...], *, person: str = "s18",
                 seed: int = 0, start_ms: int = 1000, step_ms: int = 300,
                 lit_by: Challenge | None = None, place: int = 0,
                 neutral: int = 7) -> list[Frame]:
    """Frames answering a challenge of ``turn-left``/``turn-right`` with a real head turn.

    UMIST's series turn the head toward one profile (``turn-left`` in camera terms); the
    mirrored series is the same real turn to the other side (``turn-right``). Neutral frames
    start the answer: 3, or, for a challenge with colours, one every 130 ms while they are
    shown, each lit by the colour of its moment (simulated reflection, ``screenlight``);
    ``lit_by`` lights them by another challenge's colours instead (a recorded answer).
    Every frame carries its own sensor noise (distinct bytes). ``place`` moves the person
    sideways (``placement``): answers made of the very same pictures look the same
    (perceptual hash) and are replays, so a second honest answer in one store stands
    elsewhere.
    """
    dx, dy = placement(place)
    order = asked.movements if isinstance(asked, Challenge) else asked
    light = lit_by if lit_by is not None else (asked if isinstance(asked, Challenge) else None)
    plan: list[tuple[int, bool, int]] = []
    if light is not None and light.colours:
        end = light.colour_start_ms + light.colour_ms * len(light.colours) + 200
        plan += [(neutral, False, t) for t in range(0, end, 130)]
    else:
        plan += [(neutral, False, t) for t in range(0, 3 * step_ms, step_ms)]
    for movement in order:
        if movement not in ("turn-left", "turn-right"):
            raise ValueError(movement)
        for index in TURN:
            plan.append((index, movement == "turn-right", plan[-1][2] + step_ms))
    frames = []
    for number, (index, mirror, t) in enumerate(plan):
        rgb = umist_frame(root, person, index, mirror=mirror, seed=seed * 1000 + number)
        rgb = shifted(rgb, dx, dy)
        if light is not None:  # the light falls on the face where it stands
            rgb = lit(rgb, colour_at(light.colours, light.colour_ms, light.colour_start_ms, t),
                      centre=(0.5 + dx, 0.55 + dy))
        frames.append(Frame(encode_jpeg(rgb, 92), start_ms + t))
    return frames


def video_frames(path: Path, *, stride: int, limit: int) -> tuple[list[np.ndarray], list[int]]:
    from faceguard.liveness.evaluation import read_video

    return read_video(path, stride=stride, max_frames=limit)
