"""The DET curve of ``faceguard eval-identify --plot``: FNIR against FPIR, both on log
axes, the operating point of the decision rule marked. Drawn with Pillow (no plotting
library is a dependency)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw

_SIZE = (640, 480)
_MARGIN = (70, 30, 30, 60)  # left, top, right, bottom
_DECADES = (-4, 0)  # 1e-4 .. 1 on both axes


def _position(rate: float, axis: int) -> float:
    low, high = _DECADES
    value = (math.log10(max(rate, 10.0 ** low)) - low) / (high - low)
    left, top, right, bottom = _MARGIN
    if axis == 0:
        return left + value * (_SIZE[0] - left - right)
    return _SIZE[1] - bottom - value * (_SIZE[1] - top - bottom)


def draw_det(points: Sequence[tuple[float, float]], operating: tuple[float, float],
             path: Path) -> None:
    """Write the PNG: ``points`` are (FPIR, FNIR); ``operating`` the rule's point."""
    image = Image.new("RGB", _SIZE, "white")
    draw = ImageDraw.Draw(image)
    left, top, right, bottom = _MARGIN
    for decade in range(_DECADES[0], _DECADES[1] + 1):
        x, y = _position(10.0 ** decade, 0), _position(10.0 ** decade, 1)
        draw.line([(x, top), (x, _SIZE[1] - bottom)], fill="#dddddd")
        draw.line([(left, y), (_SIZE[0] - right, y)], fill="#dddddd")
        draw.text((x - 12, _SIZE[1] - bottom + 6), f"1e{decade}", fill="black")
        draw.text((8, y - 6), f"1e{decade}", fill="black")
    draw.rectangle([left, top, _SIZE[0] - right, _SIZE[1] - bottom], outline="black")
    draw.text((_SIZE[0] // 2 - 90, _SIZE[1] - 25), "FPIR (strangers named)", fill="black")
    draw.text((8, 8), "FNIR (enrolled people missed)", fill="black")
    line = [(_position(f, 0), _position(n, 1)) for f, n in sorted(points) if f > 0]
    if len(line) > 1:
        draw.line(line, fill="#1f5fbf", width=2)
    x, y = _position(operating[0], 0), _position(operating[1], 1)
    draw.ellipse([x - 5, y - 5, x + 5, y + 5], outline="#c02020", width=2)
    draw.text((x + 8, y - 6), f"rule: FPIR {operating[0]:.2%}, FNIR {operating[1]:.1%}",
              fill="#c02020")
    image.save(path, format="PNG")
