"""Simulated screen light on a face: what a kiosk's colour sequence does to the frames.

Used by the tests and the evaluation to compose answers to colour challenges from real
recordings (which were filmed without a kiosk): a face close to the screen reflects its light
in proportion to the skin's own colour, strongest at the middle of the face and falling off
toward the edges; the background, far away, reflects almost nothing. Nothing here judges:
:mod:`.colour` does that.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from faceguard.liveness.colour import PALETTE


def colour_at(colours: Sequence[str], colour_ms: int, start_ms: int, t_ms: float) -> str | None:
    """The colour the screen shows ``t_ms`` after the first frame (``None``: neutral)."""
    slot = int((t_ms - start_ms) // colour_ms) if colour_ms > 0 else -1
    return colours[slot] if 0 <= slot < len(colours) else None


def lit(rgb: np.ndarray, colour: str | None, *, strength: float = 0.25,
        centre: tuple[float, float] = (0.5, 0.5), spread: float = 0.28) -> np.ndarray:
    """``rgb`` with the light of screen ``colour`` reflected, strongest at ``centre``
    (fractions of width and height) and fading over ``spread`` of the picture's size."""
    if colour is None:
        return rgb
    height, width = rgb.shape[:2]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    distance = ((xs / width - centre[0]) ** 2 + (ys / height - centre[1]) ** 2) / spread ** 2
    weight = np.exp(-distance)[:, :, None] * strength
    screen = np.asarray(PALETTE[colour], np.float32) / 255.0
    base = rgb.astype(np.float32)
    if base.ndim == 2:
        base = np.repeat(base[:, :, None], 3, axis=2)
    # reflected light: the skin's albedo (its own colour, brightness kept) times the screen's
    albedo = base.mean(axis=2, keepdims=True)
    out = base * (1 - 0.5 * weight) + albedo * weight * screen * 1.5
    return np.asarray(np.clip(out, 0, 255), np.uint8)
