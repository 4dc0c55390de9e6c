"""Generated presentation attacks: a real photo held up to the camera, in memory only.

Used by the tests and the evaluation script to measure how often attacks are rejected. Each
sequence is a photo on a rigid plane in front of a static background, filmed by a pinhole
camera while the plane is turned, tilted, shifted or brought closer (the way an attacker
imitates a head movement), with hand jitter. The camera renders at twice the output size,
blurs (optics) and box-filters down, then adds sensor noise and JPEG recompression.

Two media (PAI species in ISO/IEC 30107 terms):

- ``print``: the photo on paper (lower contrast, a paper-white margin, a specular glare that
  slides over the sheet as it turns);
- ``screen``: the photo on a display: every screen pixel is three coloured sub-pixel stripes
  in a black matrix, with the display's gamma and white point; filmed at this scale the pixel
  grid aliases into moire, as a real screen does.

Nothing is written to disk: photos come in as arrays, frames go out as arrays or JPEG bytes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from faceguard.errors import ImageError
from faceguard.liveness.types import Frame

Medium = Literal["print", "screen"]
Motion = Literal["turn", "tilt", "shift", "closer", "mixed"]
MEDIA: tuple[Medium, ...] = ("print", "screen")
MOTIONS: tuple[Motion, ...] = ("turn", "tilt", "shift", "closer", "mixed")
Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class AttackSequence:
    """One generated attack: RGB frames, capture times, and where the face is in each frame."""

    frames: list[np.ndarray]
    times_ms: list[int]
    face_boxes: list[Box]
    medium: Medium
    motion: Motion
    bent: bool = False

    @property
    def species(self) -> str:
        """The attack type, e.g. ``print-turn``, ``bent-print-turn`` or ``screen-mixed``."""
        return f"{'bent-' if self.bent else ''}{self.medium}-{self.motion}"

    def to_frames(self, quality: int = 90) -> list[Frame]:
        """The sequence as a client would send it: JPEG bytes and capture times."""
        return [Frame(encode_jpeg(f, quality), t)
                for f, t in zip(self.frames, self.times_ms, strict=True)]


def encode_jpeg(rgb: np.ndarray, quality: int = 90) -> bytes:
    """JPEG bytes of an RGB array (in memory)."""
    import cv2

    ok, data = cv2.imencode(".jpg", np.ascontiguousarray(rgb[:, :, ::-1]),
                            [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 array
        raise ImageError("JPEG encoding failed")
    return bytes(data.tobytes())


def _rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    cy, sy = math.cos(yaw), math.sin(yaw)
    cp, sp = math.cos(pitch), math.sin(pitch)
    cr, sr = math.cos(roll), math.sin(roll)
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    return np.asarray(rz @ rx @ ry)


def _plane_homography(
    texture_wh: tuple[int, int], out_wh: tuple[int, int], pose: dict[str, float], focal: float,
) -> np.ndarray:
    """Homography from texture pixels to image pixels for a plane of width 1 (metres-ish)."""
    import cv2

    tw, th = texture_wh
    ow, oh = out_wh
    half_w, half_h = 0.5, 0.5 * th / tw
    corners = np.array([[-half_w, -half_h, 0], [half_w, -half_h, 0],
                        [half_w, half_h, 0], [-half_w, half_h, 0]])
    rot = _rotation(pose["yaw"], pose["pitch"], pose["roll"])
    placed = corners @ rot.T + np.array([pose["tx"], pose["ty"], pose["dist"]])
    image = np.stack([focal * placed[:, 0] / placed[:, 2] + ow / 2,
                      focal * placed[:, 1] / placed[:, 2] + oh / 2], axis=1)
    source = np.array([[0, 0], [tw, 0], [tw, th], [0, th]], np.float32)
    return np.asarray(cv2.getPerspectiveTransform(source, image.astype(np.float32)))


def _bent_sheet(
    texture: np.ndarray, out_wh: tuple[int, int], pose: dict[str, float], focal: float,
    bend: float, strips: int = 24,
) -> tuple[np.ndarray, np.ndarray]:
    """The sheet curved around a vertical axis by ``bend`` radians over its width (a photo
    held bowed, the edges toward the camera for a positive bend), as vertical strips each
    flat: the warped texture and the sheet's mask in the image."""
    import cv2

    th, tw = texture.shape[:2]
    ow, oh = out_wh
    half_h = 0.5 * th / tw
    radius = 1.0 / bend
    rot = _rotation(pose["yaw"], pose["pitch"], pose["roll"])
    offset = np.array([pose["tx"], pose["ty"], pose["dist"]])
    warped = np.zeros((oh, ow, 3), np.float32)
    mask = np.zeros((oh, ow), np.float32)
    edges = np.linspace(0, tw, strips + 1)
    for left, right in zip(edges[:-1], edges[1:], strict=True):
        points = []
        for column, y in ((left, -half_h), (right, -half_h), (right, half_h), (left, half_h)):
            arc = column / tw - 0.5
            local = np.array([radius * math.sin(arc / radius), y,
                              -radius * (1 - math.cos(arc / radius))])
            placed = rot @ local + offset
            points.append([focal * placed[0] / placed[2] + ow / 2,
                           focal * placed[1] / placed[2] + oh / 2])
        source = np.array([[left, 0], [right, 0], [right, th], [left, th]], np.float32)
        homography = cv2.getPerspectiveTransform(source, np.array(points, np.float32))
        strip = np.zeros((oh, ow), np.float32)
        cv2.fillConvexPoly(strip, np.round(np.array(points)).astype(np.int32), 1.0)
        strip *= 1 - mask  # nearer strips first would need a depth order; overlaps are rare
        warped += cv2.warpPerspective(texture, homography, (ow, oh),
                                      flags=cv2.INTER_LINEAR).astype(np.float32) * strip[:, :, None]
        mask += strip
    return warped, mask


def _sign(rng: np.random.Generator) -> float:
    return -1.0 if rng.random() < 0.5 else 1.0


def _background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A static room: a smooth, muted wall with a few flat shapes (furniture, a door)."""
    import cv2

    grey = rng.uniform(70, 190)
    tint = rng.normal(0, 12, 3)
    coarse = rng.normal(0, 18, (4, 5, 1)) + rng.normal(0, 4, (4, 5, 3))
    wall = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC) + grey + tint
    for _ in range(int(rng.integers(2, 6))):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        x1, y1 = x0 + int(rng.integers(20, width // 2)), y0 + int(rng.integers(20, height // 2))
        wall[y0:y1, x0:x1] = rng.uniform(40, 220) + rng.normal(0, 10, 3)
    return np.asarray(wall.clip(0, 255), np.uint8)


def _print_texture(photo: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """The photo on paper: reduced contrast, warm paper white, a white margin."""
    contrast = rng.uniform(0.75, 0.95)
    ink = photo.astype(np.float32) * contrast + 255 * (1 - contrast) * rng.uniform(0.2, 0.6)
    margin = int(photo.shape[1] * rng.uniform(0.0, 0.12))
    paper = np.array([250, 246, 236], np.float32) * rng.uniform(0.9, 1.0)
    height, width = photo.shape[:2]
    sheet = np.empty((height + 2 * margin, width + 2 * margin, 3), np.float32)
    sheet[:] = paper
    sheet[margin:margin + height, margin:margin + width] = ink
    return np.asarray(sheet.clip(0, 255), np.uint8), margin


def _screen_texture(photo: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """The photo as a display shows it: its gamma and white point, in a black bezel."""
    shown = (photo.astype(np.float32) / 255) ** rng.uniform(0.75, 1.35)
    shown *= np.array([rng.uniform(0.85, 1.0), rng.uniform(0.9, 1.0), 1.0], np.float32)
    margin = int(photo.shape[1] * rng.uniform(0.02, 0.1))
    height, width = photo.shape[:2]
    screen = np.full((height + 2 * margin, width + 2 * margin, 3), 12.0, np.float32)
    screen[margin:margin + height, margin:margin + width] = 255 * shown
    return np.asarray(screen.clip(0, 255), np.uint8), margin


class _PixelGrid:
    """A display's sub-pixel grid as the camera samples it.

    Every screen pixel is three vertical colour stripes (R, G, B) over a dark row gap. At each
    image pixel the grid is evaluated at the texture coordinate seen there; its modulation is
    attenuated by the camera's optical transfer at the grid's projected frequency (a Gaussian
    blur of ``blur`` pixels), and what survives aliases into moire.
    """

    def __init__(self, rng: np.random.Generator, pitch: float, blur: float) -> None:
        self.pitch = pitch  # texture pixels per screen pixel
        self.blur = blur
        self.stripes = float(rng.uniform(0.5, 0.9))
        self.rows = float(rng.uniform(0.2, 0.5))

    def modulation(self, inverse: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        import cv2

        height, width = shape
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
        points = np.stack([xx, yy], axis=-1).reshape(-1, 1, 2)
        uv = cv2.perspectiveTransform(points, inverse).reshape(height, width, 2)
        u, v = uv[:, :, 0] / self.pitch, uv[:, :, 1] / self.pitch
        # Cycles of the grid per image pixel, horizontally and vertically.
        fu = np.hypot(np.gradient(u, axis=1), np.gradient(u, axis=0))
        fv = np.hypot(np.gradient(v, axis=1), np.gradient(v, axis=0))
        attenuate_u = np.exp(-2 * (np.pi * self.blur * fu) ** 2)
        attenuate_v = np.exp(-2 * (np.pi * self.blur * fv) ** 2)
        rows = 1 + self.rows * attenuate_v * np.cos(2 * np.pi * v)
        out = np.empty((height, width, 3), np.float32)
        for channel in range(3):
            phase = 2 * np.pi * (u - channel / 3)
            out[:, :, channel] = (1 + self.stripes * attenuate_u * np.cos(phase)) * rows
        return out


def render_attack(
    photo: np.ndarray,
    rng: np.random.Generator,
    *,
    medium: Medium,
    motion: Motion,
    face_box: Box | None = None,
    frames: int = 12,
    size: tuple[int, int] = (480, 360),
    fps: float = 10.0,
    strength: float | None = None,
    bend: float = 0.0,
) -> AttackSequence:
    """Film ``photo`` (RGB uint8) on a moving plane. ``face_box`` is the face in the photo
    (default: its central 60%). ``size`` is the output ``(width, height)``. The movement's
    size is random within its range (turns 12-40 degrees, tilts 12-35, shifts up to a quarter
    of the frame, up to 40% closer) or, with ``strength`` in [0, 1], that fraction of it.

    A screen's pixel grid is drawn with a projected period of 0.6 to 2.5 image pixels (near
    the camera's resolution, where moire appears; finer grids blur away entirely).

    ``bend`` (radians over the sheet's width, e.g. 0.5-2) curves a print around a vertical
    axis: a photo held bowed, no longer one plane (the species becomes ``bent-print-...``).
    """
    import cv2

    if photo.ndim == 2:
        photo = np.repeat(photo[:, :, None], 3, axis=2)
    out_w, out_h = size
    if medium == "print":
        texture, margin = _print_texture(photo, rng)
    else:
        texture, margin = _screen_texture(photo, rng)
    ph, pw = photo.shape[:2]
    fl, ft, fr, fb = face_box or (int(pw * 0.2), int(ph * 0.2), int(pw * 0.8), int(ph * 0.8))
    face_corners = np.array([[fl, ft], [fr, ft], [fr, fb], [fl, fb]], np.float32) + margin
    background = _background(rng, out_w, out_h)
    focal = float(out_w)
    # Sheet width 1, held so the face spans about a third to a half of the frame.
    start = {"yaw": 0.0, "pitch": 0.0, "roll": float(rng.uniform(-0.08, 0.08)),
             "tx": float(rng.uniform(-0.12, 0.12)), "ty": float(rng.uniform(-0.1, 0.05)),
             "dist": float(rng.uniform(1.3, 2.0))}
    end = dict(start)
    def amount(low: float, high: float) -> float:
        fraction = float(rng.uniform(0, 1)) if strength is None else strength
        return low + (high - low) * fraction

    if motion in ("turn", "mixed"):
        end["yaw"] = _sign(rng) * math.radians(amount(12, 40))
    if motion in ("tilt", "mixed"):
        end["pitch"] = _sign(rng) * math.radians(amount(12, 35))
    if motion in ("shift", "mixed"):
        end["tx"] += _sign(rng) * amount(0.02, 0.25)
        end["ty"] += _sign(rng) * amount(0.01, 0.15)
    if motion in ("closer", "mixed"):
        end["dist"] *= 1.0 - amount(0.15, 0.4)
    there_and_back = bool(rng.random() < 0.5)
    blur = float(rng.uniform(0.5, 1.2))
    noise = float(rng.uniform(1.0, 5.0))
    quality = int(rng.integers(50, 96))
    glare_strength = float(rng.uniform(0, 60)) if medium == "print" else float(rng.uniform(0, 25))
    texture_wh = (texture.shape[1], texture.shape[0])
    grid = None
    if medium == "screen":
        first = _plane_homography(texture_wh, (out_w, out_h), start, focal)
        texels_per_px = 1.0 / math.sqrt(abs(np.linalg.det(first[:2, :2] / first[2, 2])))
        period_px = float(rng.uniform(0.6, 2.5))
        grid = _PixelGrid(rng, period_px * texels_per_px, blur)
    jitter = np.zeros(6)
    start_ms = int(rng.integers(0, 10_000))
    yy, xx = np.mgrid[0:out_h, 0:out_w].astype(np.float32)
    sheet_corners = np.array([[[0, 0]], [[texture_wh[0], 0]], [[texture_wh[0], texture_wh[1]]],
                              [[0, texture_wh[1]]]], np.float32)
    out_frames: list[np.ndarray] = []
    boxes: list[Box] = []
    times: list[int] = []
    for index in range(frames):
        u = index / max(frames - 1, 1)
        progress = math.sin(math.pi * u) if there_and_back else u
        jitter = 0.7 * jitter + rng.normal(0, [0.006, 0.006, 0.004, 0.004, 0.004, 0.01])
        pose = {k: start[k] + (end[k] - start[k]) * progress for k in start}
        for k, j in zip(("yaw", "pitch", "roll", "tx", "ty", "dist"), jitter, strict=True):
            pose[k] += float(j)
        homography = _plane_homography(texture_wh, (out_w, out_h), pose, focal)
        if bend:
            warped, sheet = _bent_sheet(texture, (out_w, out_h), pose, focal, bend)
        else:
            sheet = np.zeros((out_h, out_w), np.float32)
            outline = cv2.perspectiveTransform(sheet_corners, homography).reshape(-1, 2)
            cv2.fillConvexPoly(sheet, np.round(outline).astype(np.int32), 1.0)
            warped = cv2.warpPerspective(texture, homography, (out_w, out_h),
                                         flags=cv2.INTER_LINEAR).astype(np.float32)
        if grid is not None:
            warped *= grid.modulation(np.linalg.inv(homography), (out_h, out_w))
        image = np.asarray(cv2.GaussianBlur(
            background.astype(np.float32) * (1 - sheet[:, :, None]) + warped * sheet[:, :, None],
            (0, 0), blur), np.float32)
        if glare_strength > 0:
            # A specular highlight that slides over the sheet as it turns.
            gx = out_w * (0.5 + 1.5 * pose["yaw"]) + pose["tx"] * focal
            gy = out_h * (0.3 + 1.5 * pose["pitch"])
            glow = np.exp(-((xx - gx) ** 2 + (yy - gy) ** 2) / (2 * (0.25 * out_w) ** 2))
            image += (glare_strength * glow * sheet)[:, :, None]
        image += rng.normal(0, noise, image.shape).astype(np.float32)
        rgb = np.asarray(image.clip(0, 255), np.uint8)
        decoded = np.asarray(cv2.imdecode(np.frombuffer(encode_jpeg(rgb, quality), np.uint8),
                                          cv2.IMREAD_COLOR))
        out_frames.append(np.ascontiguousarray(decoded[:, :, ::-1]))
        corners = cv2.perspectiveTransform(face_corners.reshape(-1, 1, 2), homography)
        corners = corners.reshape(-1, 2)
        boxes.append((int(corners[:, 0].min()), int(corners[:, 1].min()),
                      int(corners[:, 0].max()), int(corners[:, 1].max())))
        times.append(start_ms + int(round(index * 1000 / fps + rng.uniform(-8, 8))))
    return AttackSequence(out_frames, times, boxes, medium, motion, bent=bool(bend))
