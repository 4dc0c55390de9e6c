"""Generated screen replays: a real video played on a phone held up to the camera, in memory.

Used by the tests and the evaluation script: the attack of issue 17, a recording of the person
replayed before the kiosk. Each replay takes consecutive frames of a real video and films them
as a hand-held phone shows them:

- the screen: the video scaled into the display (its aspect kept, letterboxed in black), the
  display's gamma and white point, a dark bezel around it;
- the display's sub-pixel grid (``attacks._PixelGrid``), projected at 0.35 to 2.5 camera
  pixels per screen pixel: coarse grids alias into moire, fine ones blur away as a phone held
  further off does;
- refresh banding: the camera's rolling shutter against the display's refresh and backlight
  PWM, bright and dark horizontal bands that roll from frame to frame;
- glare: a reflection of the room's light on the glass, a soft bright patch that moves as the
  phone moves;
- the hand: the phone turned, tilted and shifted a little, with jitter;
- the camera: optical blur, sensor noise, JPEG recompression (quality 50-95).

What is real: the video (a real head). What is simulated: everything between the phone's
screen and the camera. Nothing is written to disk.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from faceguard.liveness.attacks import (
    AttackSequence,
    _background,
    _PixelGrid,
    _plane_homography,
    encode_jpeg,
)

Box = tuple[int, int, int, int]


def _phone_screen(frame: np.ndarray, screen_wh: tuple[int, int], gamma: float,
                  white: np.ndarray, bezel: int, fill: bool) -> np.ndarray:
    """``frame`` as the display shows it in ``screen_wh``, in a bezel: the whole picture
    (letterboxed), or zoomed to ``fill`` the display (its middle cut out)."""
    import cv2

    sw, sh = screen_wh
    fh, fw = frame.shape[:2]
    if fill:
        keep = min(fw / sw, fh / sh)
        cw, ch = int(sw * keep), int(sh * keep)
        x0, y0 = (fw - cw) // 2, (fh - ch) // 2
        frame = frame[y0:y0 + ch, x0:x0 + cw]
        fh, fw = frame.shape[:2]
    scale = min(sw / fw, sh / fh)
    w, h = max(int(fw * scale), 1), max(int(fh * scale), 1)
    shown = cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    shown = 255 * shown ** gamma * white
    display = np.zeros((sh, sw, 3), np.float32)
    y0, x0 = (sh - h) // 2, (sw - w) // 2
    display[y0:y0 + h, x0:x0 + w] = shown
    out = np.full((sh + 2 * bezel, sw + 2 * bezel, 3), 14.0, np.float32)
    out[bezel:bezel + sh, bezel:bezel + sw] = display
    return out


def render_replay(
    video: Sequence[np.ndarray],
    rng: np.random.Generator,
    *,
    times_ms: Sequence[int] | None = None,
    size: tuple[int, int] = (640, 480),
    pitch_px: float | None = None,
    reflections: Sequence[tuple[float, float, float] | None] | None = None,
    reflectance: float = 0.08,
) -> AttackSequence:
    """Film the RGB frames of ``video`` played on a hand-held phone (see the module
    docstring). ``size`` is the output ``(width, height)``; ``pitch_px`` fixes the projected
    size of one screen pixel in camera pixels (default: random in 0.35-2.5). The capture
    times are the video's own (``times_ms``, default 100 ms apart). ``reflections``: per
    frame, the colour (RGB, 0-1) of the light falling on the phone's glass (a kiosk's screen
    colours), reflected over the whole screen at ``reflectance`` of full white."""
    import cv2

    out_w, out_h = size
    portrait = bool(rng.random() < 0.5)
    screen_wh = (720, 1280) if portrait else (1280, 720)
    bezel = int(rng.uniform(20, 60))
    gamma = float(rng.uniform(0.8, 1.3))
    white = np.array([rng.uniform(0.85, 1.0), rng.uniform(0.9, 1.0), 1.0], np.float32)
    fill = portrait or bool(rng.random() < 0.5)
    textures = [_phone_screen(f, screen_wh, gamma, white, bezel, fill) for f in video]
    texture_wh = (textures[0].shape[1], textures[0].shape[0])
    background = _background(rng, out_w, out_h)
    focal = float(out_w)
    # The phone fills roughly half to nine tenths of the frame's height.
    aspect = texture_wh[1] / texture_wh[0]
    held = float(rng.uniform(0.5, 0.9))
    dist = focal * aspect / (held * out_h)
    start = {"yaw": float(rng.uniform(-0.1, 0.1)), "pitch": float(rng.uniform(-0.1, 0.1)),
             "roll": float(rng.uniform(-0.06, 0.06)), "tx": float(rng.uniform(-0.05, 0.05)),
             "ty": float(rng.uniform(-0.05, 0.05)), "dist": dist}
    drift = {k: float(rng.normal(0, s)) for k, s in
             (("yaw", 0.08), ("pitch", 0.06), ("roll", 0.03), ("tx", 0.03), ("ty", 0.03))}
    blur = float(rng.uniform(0.5, 1.2))
    noise = float(rng.uniform(1.0, 5.0))
    quality = int(rng.integers(50, 96))
    first = _plane_homography(texture_wh, (out_w, out_h), start, focal)
    texels_per_px = 1.0 / math.sqrt(abs(np.linalg.det(first[:2, :2] / first[2, 2])))
    period = float(rng.uniform(0.35, 2.5)) if pitch_px is None else pitch_px
    grid = _PixelGrid(rng, period * texels_per_px, blur)
    band_period = float(rng.uniform(0.08, 0.5)) * out_h
    band_depth = float(rng.uniform(0.03, 0.15))
    band_speed = float(rng.uniform(0.1, 0.45))
    glare_strength = float(rng.uniform(10, 70))
    glare_at = np.array([rng.uniform(0.2, 0.8) * out_w, rng.uniform(0.1, 0.6) * out_h])
    times = list(times_ms) if times_ms is not None else [100 * i for i in range(len(video))]
    yy, xx = np.mgrid[0:out_h, 0:out_w].astype(np.float32)
    corners = np.array([[[0, 0]], [[texture_wh[0], 0]], [[texture_wh[0], texture_wh[1]]],
                        [[0, texture_wh[1]]]], np.float32)
    jitter = np.zeros(5)
    frames: list[np.ndarray] = []
    boxes: list[Box] = []
    for index, texture in enumerate(textures):
        u = index / max(len(textures) - 1, 1)
        jitter = 0.7 * jitter + rng.normal(0, [0.006, 0.006, 0.004, 0.003, 0.003])
        pose = dict(start)
        for j, key in enumerate(("yaw", "pitch", "roll", "tx", "ty")):
            pose[key] += drift[key] * u + float(jitter[j])
        homography = _plane_homography(texture_wh, (out_w, out_h), pose, focal)
        sheet = np.zeros((out_h, out_w), np.float32)
        outline = cv2.perspectiveTransform(corners, homography).reshape(-1, 2)
        cv2.fillConvexPoly(sheet, np.round(outline).astype(np.int32), 1.0)
        warped = np.asarray(cv2.warpPerspective(texture, homography, (out_w, out_h),
                                                flags=cv2.INTER_LINEAR), np.float32)
        warped *= grid.modulation(np.linalg.inv(homography), (out_h, out_w))
        bands = 1 + band_depth * np.cos(2 * np.pi * (yy / band_period + band_speed * index))
        warped *= bands[:, :, None]
        light = reflections[index] if reflections is not None else None
        if light is not None:
            warped += 255 * reflectance * np.asarray(light, np.float32)
        image = np.asarray(cv2.GaussianBlur(
            background.astype(np.float32) * (1 - sheet[:, :, None]) + warped * sheet[:, :, None],
            (0, 0), blur), np.float32)
        gx = glare_at[0] + pose["yaw"] * out_w + pose["tx"] * focal
        gy = glare_at[1] + pose["pitch"] * out_h + pose["ty"] * focal
        glow = np.exp(-((xx - gx) ** 2 + (yy - gy) ** 2) / (2 * (0.18 * out_w) ** 2))
        image += (glare_strength * glow * sheet)[:, :, None]
        image += rng.normal(0, noise, image.shape).astype(np.float32)
        rgb = np.asarray(image.clip(0, 255), np.uint8)
        decoded = cv2.imdecode(np.frombuffer(encode_jpeg(rgb, quality), np.uint8),
                               cv2.IMREAD_COLOR)
        frames.append(np.ascontiguousarray(np.asarray(decoded)[:, :, ::-1]))
        boxes.append((int(outline[:, 0].min()), int(outline[:, 1].min()),
                      int(outline[:, 0].max()), int(outline[:, 1].max())))
    return AttackSequence(frames, times, boxes, "screen", "shift")
