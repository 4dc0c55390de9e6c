"""The colour challenge: the screen's light, reflected by a live face, in the issued order.

A challenge carries a random sequence of screen colours (:func:`random_colours`), fresh for
each challenge and unknown before it is issued. The kiosk fills its screen with each colour in
turn for ``colour_ms``, starting ``colour_start_ms`` after its first frame, while the person
faces the camera. A face a few tens of centimetres from a bright screen reflects its light: the
skin's colour shifts toward each colour in time. The room behind the person is too far to
reflect much, so the camera's own corrections (auto white balance and exposure, which act on
the whole picture) are removed by comparing the face with the background around it.

What a recording cannot do: a video replayed on a phone shows the colours of the moment it was
recorded (or none), not this challenge's; a phone screen emits its own light and reflects the
kiosk's on its glass evenly over the face and the background around it, which cancels out.

Judging (:func:`check_colours`): per frame, the mean of the face's inner region (cheeks, nose,
forehead) and of the picture's border outside the face, as ``log(face) - log(background)`` per
channel (so per-channel camera gains cancel). Frames are put into the colour slots by their
capture times (the frames near a slot's edges are left out: the screen and the camera need a
moment); the slot means, minus their average, are compared with the issued colours, minus
theirs (a cosine over all slots and channels). The start is searched within ``start_slack_ms``
of the announced one (display and camera latency). ``colour.mismatch`` (an attack) when the
reflected colours follow another sequence; ``colour.none`` (a retry) when too little light is
reflected to tell (the face too far from the screen, a bright room).

Light on a face, or light on glass (:func:`check_colours`, ``colour.on_glass``): a phone held
close enough fills the picture's surroundings with the room, so the glass's reflection of the
kiosk lies on the shown face and not around it, as on a real face. What still tells them apart
is how the light adds up. Skin *reflects* the screen's light: each part of the face brightens in
proportion to its own brightness (its albedo), pale forehead more than dark brows. A sheet of
glass *adds* the same light everywhere, over dark and bright parts of the shown face alike. The
face's inner region is cut into a grid of cells; each cell's swing with the issued colours
(per channel, relative to the background so camera gains cancel) is set against the cell's
own brightness, once a smooth fall-off of the light over the face is taken out of both. On a
face they rise together (a positive partial correlation); on glass they do not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from random import Random

import numpy as np

from faceguard.liveness.types import CheckResult

Box = tuple[int, int, int, int]

#: The screen colours a challenge can show (sRGB, full intensity), by name.
PALETTE: dict[str, tuple[int, int, int]] = {
    "red": (255, 0, 0),
    "green": (0, 255, 0),
    "blue": (0, 0, 255),
    "yellow": (255, 255, 0),
    "cyan": (0, 255, 255),
    "magenta": (255, 0, 255),
}


@dataclass(frozen=True)
class ColourPolicy:
    """How colour sequences are made and judged."""

    #: Colours per challenge (0: no colour sequence).
    count: int = 8
    colour_ms: int = 300
    #: When the first colour is shown, after the first frame (the neutral pose is read first).
    start_ms: int = 600
    #: The start is searched this far after the announced one (screen and camera latency).
    start_slack_ms: int = 200
    #: Share of each slot left out at each edge.
    edge: float = 0.2
    #: Cosine between reflected and issued colours needed to pass. Measured on simulated
    #: light: another random sequence of 8 reached at most 0.66 (300 trials), the issued one
    #: at least 0.93 (docs/LIVENESS.md).
    min_agreement: float = 0.75
    #: Below it, clearly reflected colours contradict the sequence (an attack).
    max_contradiction: float = 0.5
    #: Least root-mean-square reflected signal (log units) to judge at all.
    min_signal: float = 0.006
    #: Cells per side of the grid laid over the face's inner region (light reflected or
    #: added, module docstring).
    grid: int = 6
    #: Partial correlation between each cell's swing with the colours and its own brightness
    #: (the light's fall-off over the face taken out): at or below ``max_added`` the light
    #: was added evenly, as on glass (an attack); below ``min_reflected`` a retry. Measured
    #: on simulated light (docs/LIVENESS.md): 95 answers of real clips lit as a face reflects,
    #: 0.11 to 0.91, 4 below 0.2; 83 of the same clips replayed on a phone whose glass
    #: reflects the colours, -0.34 to 0.41, 73 at or below 0.1, 2 at or above 0.2.
    min_reflected: float = 0.2
    max_added: float = 0.1


def random_colours(rng: Random, count: int) -> tuple[str, ...]:
    """``count`` colours from :data:`PALETTE`, never the same twice in a row, at least three
    different ones when ``count >= 3`` (two alternating colours say little)."""
    names = list(PALETTE)
    while True:
        chosen: list[str] = []
        for _ in range(count):
            chosen.append(rng.choice([n for n in names if not chosen or n != chosen[-1]]))
        if count < 3 or len(set(chosen)) >= 3:
            return tuple(chosen)


def _mean_rgb(region: np.ndarray) -> np.ndarray:
    if region.size == 0:
        return np.full(3, np.nan)
    if region.ndim == 2:
        value = float(region.mean())
        return np.array([value, value, value])
    return np.asarray(region.reshape(-1, region.shape[2])[:, :3].mean(axis=0), np.float64)


def _background(rgb: np.ndarray, box: Box) -> np.ndarray:
    """The mean colour of the picture's border outside the face box grown by half."""
    left, top, right, bottom = box
    width, height = right - left, bottom - top
    rows, cols = rgb.shape[:2]
    mask = np.zeros((rows, cols), bool)
    band_y, band_x = max(rows // 8, 1), max(cols // 8, 1)
    mask[:band_y, :] = mask[-band_y:, :] = True
    mask[:, :band_x] = mask[:, -band_x:] = True
    grown_l, grown_r = int(left - 0.25 * width), int(right + 0.25 * width)
    grown_t, grown_b = int(top - 0.25 * height), int(bottom + 0.5 * height)
    mask[max(grown_t, 0):max(grown_b, 0), max(grown_l, 0):max(grown_r, 0)] = False
    background = rgb[mask] if mask.any() else rgb.reshape(-1, rgb.shape[2] if rgb.ndim == 3
                                                           else 1)
    return _mean_rgb(background if background.ndim == 2 else background[:, None])


def reflection(rgb: np.ndarray, box: Box, grid: int = ColourPolicy.grid) -> np.ndarray:
    """What one frame shows of the screen's light (``box`` in its pixels), shape
    ``(1 + grid * grid, 3)``.

    Row 0: ``log(face) - log(background)`` per channel, the face being the inner part of the
    box (skin, away from hair and the box's edges) and the background the picture's border
    outside the face box grown by half. Rows 1 on: the mean of each cell of a ``grid`` x
    ``grid`` grid over the face's inner region divided by the background's (linear: how the
    light adds up, module docstring)."""
    left, top, right, bottom = box
    width, height = right - left, bottom - top
    inner = rgb[max(top + int(0.25 * height), 0):max(top + int(0.8 * height), 0),
                max(left + int(0.2 * width), 0):max(left + int(0.8 * width), 0)]
    back = _background(rgb, box)
    out = np.full((1 + grid * grid, 3), np.nan)
    out[0] = np.log(_mean_rgb(inner) + 1.0) - np.log(back + 1.0)
    x0, x1 = left + 0.15 * width, left + 0.85 * width
    y0, y1 = top + 0.2 * height, top + 0.9 * height
    xs = [max(int(x0 + (x1 - x0) * k / grid), 0) for k in range(grid + 1)]
    ys = [max(int(y0 + (y1 - y0) * k / grid), 0) for k in range(grid + 1)]
    for row in range(grid):
        for col in range(grid):
            cell = rgb[ys[row]:ys[row + 1], xs[col]:xs[col + 1]]
            out[1 + row * grid + col] = _mean_rgb(cell) / (back + 1.0)
    return out


def _added_or_reflected(slots: np.ndarray, issued: np.ndarray) -> float | None:
    """Partial correlation of each cell's swing with the issued colours and the cell's own
    brightness, over the cells and channels: near 1 for light reflected by skin, near 0 for
    light added evenly by glass. ``slots``: (slots, cells, 3), the cells of a square grid.

    The light falls off over the face (the screen is nearer some parts than others), so both
    are first freed, per channel, of a smooth trend over the face (a quadratic in the cell's
    position): what is left says whether brighter cells swing more. Cells not seen in every
    slot (outside the picture) are left out; without half of them nothing is judged."""
    cells = slots.shape[1]
    side = int(round(np.sqrt(cells)))
    whole = np.all(np.isfinite(slots), axis=(0, 2))
    power = (issued ** 2).sum(axis=0)
    used = power > 1e-9  # a channel the sequence never changes (red, yellow, magenta) says nothing
    if side * side != cells or whole.sum() < max(cells // 2, 8) or not used.any():
        return None
    rows, cols = np.divmod(np.arange(cells), side)
    ys, xs = rows[whole] / side - 0.5, cols[whole] / side - 0.5
    trend = np.stack([np.ones_like(xs), xs, ys, xs * xs, ys * ys, xs * ys], axis=1)
    slots, issued, power = slots[:, whole][:, :, used], issued[:, used], power[used]
    base = slots.mean(axis=0)
    swing = ((slots - base) * issued[:, None, :]).sum(axis=0) / power

    def detrended(values: np.ndarray) -> np.ndarray:
        return np.concatenate([
            values[:, c] - trend @ np.linalg.lstsq(trend, values[:, c], rcond=None)[0]
            for c in range(values.shape[1])])

    left_swing, left_base = detrended(swing), detrended(base)
    norm = float(np.sqrt((left_swing ** 2).sum() * (left_base ** 2).sum()))
    return float((left_swing * left_base).sum() / norm) if norm > 0 else None


def _slot_means(
    times: Sequence[float], signals: np.ndarray, start: float, policy: ColourPolicy, count: int,
) -> np.ndarray | None:
    slots = np.full((count, *signals.shape[1:]), np.nan)
    for slot in range(count):
        low = start + (slot + policy.edge) * policy.colour_ms
        high = start + (slot + 1 - policy.edge) * policy.colour_ms
        inside = [i for i, t in enumerate(times) if low <= t <= high
                  and np.all(np.isfinite(signals[i][0]))]
        if not inside:
            return None
        slots[slot] = signals[inside].mean(axis=0)
    return slots


def check_colours(
    colours: Sequence[str], times_ms: Sequence[int], signals: Sequence[np.ndarray | None],
    policy: ColourPolicy | None = None,
) -> CheckResult:
    """The ``colour`` check: did the face reflect the issued colours, in order and in time,
    as skin reflects light rather than as glass adds it?

    ``times_ms`` are the frames' capture times; ``signals`` each frame's :func:`reflection`
    (``None`` without a face). A signal of row 0 alone (three values) carries no cells: the
    light's kind is then not judged."""
    policy = policy or ColourPolicy()
    if not colours:
        return CheckResult.passed("colour")
    count = len(colours)
    arrays = [None if s is None else np.atleast_2d(np.asarray(s, np.float64)) for s in signals]
    shape = next((a.shape for a in arrays if a is not None), (1, 3))
    values = np.array([a if a is not None and a.shape == shape else np.full(shape, np.nan)
                       for a in arrays], np.float64)
    issued = np.array([PALETTE[c] for c in colours], np.float64) / 255.0
    issued -= issued.mean(axis=0)
    first = float(times_ms[0])
    # agreement, signal, lag, the slots' cells
    best: tuple[float, float, float, np.ndarray] | None = None
    for step in range(0, policy.start_slack_ms + 1, 25):
        start = first + policy.start_ms + float(step)
        slots = _slot_means(times_ms, values, start, policy, count)
        if slots is None:
            continue
        seen = slots[:, 0] - slots[:, 0].mean(axis=0)
        signal = float(np.sqrt(np.mean(seen ** 2)))
        norm = float(np.linalg.norm(seen) * np.linalg.norm(issued))
        agreement = float(np.sum(seen * issued) / norm) if norm > 0 else 0.0
        if best is None or agreement > best[0]:
            best = (agreement, signal, float(step), slots[:, 1:])
    if best is None:
        return CheckResult.failed(
            "colour", "retry", "colour.not_seen",
            "the face was not seen during every colour of the sequence; face the screen while "
            "it changes colour")
    agreement, signal, lag, cells = best
    scores = {"agreement": agreement, "signal": signal, "lag_ms": lag}
    if signal < policy.min_signal:
        return CheckResult.failed(
            "colour", "retry", "colour.none",
            f"the face reflected too little of the screen's light ({signal:.4f}); come closer "
            "to the screen", **scores)
    if agreement <= policy.max_contradiction:
        return CheckResult.failed(
            "colour", "attack", "colour.mismatch",
            f"the light on the face does not follow the colours shown (agreement "
            f"{agreement:.2f}): a recording or a screen, not a face before this screen",
            **scores)
    # Light that follows the sequence at all is judged for its kind: on glass, an attack.
    reflected = _added_or_reflected(cells, issued)
    if reflected is not None:
        scores["reflected"] = reflected
        if reflected <= policy.max_added:
            return CheckResult.failed(
                "colour", "attack", "colour.on_glass",
                f"the colours lie evenly over dark and bright parts of the face (correlation "
                f"{reflected:.2f}), as light on a screen's glass does, not as skin reflects "
                "it", **scores)
    if agreement < policy.min_agreement:
        return CheckResult.failed(
            "colour", "retry", "colour.unclear",
            f"the light on the face follows the colours shown only in part (agreement "
            f"{agreement:.2f} < {policy.min_agreement:.2f})", **scores)
    if reflected is None:
        return CheckResult("colour", "pass", (), scores)
    if reflected < policy.min_reflected:
        return CheckResult.failed(
            "colour", "retry", "colour.flat",
            f"the colours on the face follow its brightness only weakly (correlation "
            f"{reflected:.2f} < {policy.min_reflected:.2f}); face the screen, closer",
            **scores)
    return CheckResult("colour", "pass", (), scores)
