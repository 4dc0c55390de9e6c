"""Irreversible covering of face regions, in place.

Two styles, both destroying the pixels rather than transforming them (a blur is a linear
filter that deconvolution can partly undo, so it is not offered):

- ``fill``: every pixel of the region becomes one constant grey. Nothing of the face is
  left: not its shape, not its colour (a mean colour would leak skin tone, R27).
- ``pixelate``: the region is cut into at most ``PIXEL_BLOCKS`` blocks on its longer
  side, each block set to its mean colour, then noise from the operating system's random
  source is added (per block and per pixel), so that neither the block means nor the
  original can be recovered exactly. Block means of a coarse grid keep a little of the
  face (skin tone, hair colour); ``fill`` is the default for that reason.

Regions are boxes ``(left, top, right, bottom)`` grown by ``margin`` (a fraction of the
face's width and height on each side) and clipped to the image.
"""

from __future__ import annotations

import math
import secrets
from typing import Literal

import numpy as np

from faceguard.redact.detect import Box

Style = Literal["fill", "pixelate"]
STYLES: tuple[Style, ...] = ("fill", "pixelate")

FILL_GREY = 128
#: Blocks on the longer side of a pixelated region (the face itself spans about 3 of them
#: with the default margin).
PIXEL_BLOCKS = 5
_BLOCK_NOISE = 24.0
_PIXEL_NOISE = 16.0


def expand(box: Box, margin: float, width: int, height: int) -> Box:
    """``box`` grown by ``margin`` x its size on each side, clipped to the image."""
    left, top, right, bottom = box
    dx = (right - left) * margin
    dy = (bottom - top) * margin
    return (
        max(int(math.floor(left - dx)), 0),
        max(int(math.floor(top - dy)), 0),
        min(int(math.ceil(right + dx)), width),
        min(int(math.ceil(bottom + dy)), height),
    )


def new_rng() -> np.random.Generator:
    """A generator seeded from the operating system (never a fixed or guessable seed)."""
    return np.random.default_rng(secrets.randbits(128))


def cover(image: np.ndarray, regions: list[Box], style: Style,
          rng: np.random.Generator | None = None) -> None:
    """Cover each region of ``image`` (H, W, C uint8, any channel order) in place."""
    if style not in STYLES:
        raise ValueError(f"unknown covering style {style!r}")
    for left, top, right, bottom in regions:
        if right <= left or bottom <= top:
            continue
        patch = image[top:bottom, left:right]
        if style == "fill":
            patch[...] = FILL_GREY
        else:
            _pixelate(patch, rng or new_rng())


def _pixelate(patch: np.ndarray, rng: np.random.Generator) -> None:
    height, width = patch.shape[:2]
    block = max(int(math.ceil(max(height, width) / PIXEL_BLOCKS)), 1)
    rows, cols = int(math.ceil(height / block)), int(math.ceil(width / block))
    work = np.empty(patch.shape, dtype=np.float32)
    for r in range(rows):
        for c in range(cols):
            cell = patch[r * block:(r + 1) * block, c * block:(c + 1) * block]
            mean = cell.reshape(-1, cell.shape[-1]).mean(axis=0)
            jitter = rng.normal(0.0, _BLOCK_NOISE, size=mean.shape)
            work[r * block:(r + 1) * block, c * block:(c + 1) * block] = mean + jitter
    work += rng.normal(0.0, _PIXEL_NOISE, size=work.shape).astype(np.float32)
    patch[...] = np.clip(np.rint(work), 0, 255).astype(np.uint8)
