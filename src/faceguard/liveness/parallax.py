"""The three-dimensional check: is the face's motion explained by one plane?

A photo or a screen, however it is turned, tilted, shifted or brought closer, is a plane: the
motion of every point on it between two frames is one homography. A real head turning is not:
the nose, cheeks, ears and hair lie at different depths and move with parallax. The 5-point
landmarks cannot decide this (the four eye corners are nearly collinear, so a homography fitted
to them is degenerate); many points on the face's texture can.

For one *segment* (a run of consecutive frames and the face region in its first frame):

1. the frames are scaled so the face is ``face_px`` wide (box-filtered when shrinking, which
   also softens screen moire), blurred slightly and contrast-normalised locally (a glare that
   slides over a glossy print would otherwise drag the tracker); Shi-Tomasi corners are taken
   on the face region;
2. the corners are tracked frame to frame with pyramidal Lucas-Kanade, keeping only tracks that
   survive a forward-backward check;
3. for every frame, a RANSAC homography maps the first frame's points to that frame's; the
   frame where the homography departs most from a similarity (``distortion``: a plane turned or
   tilted foreshortens, a plane shifted or brought closer barely does) is the one compared,
   among frames within ``max_zoom`` of the first frame's scale;
4. *plane + parallax*: that frame is warped back by its homography and the points are tracked
   again from the first frame into the warped one. On a plane they now stand still (up to
   tracking noise); on a head, points off the dominant plane still move (``parallax_px``, a
   high percentile of the residual motion) or cannot be found again at all (``kept``, the
   share found again).

Verdicts (:func:`classify`): ``3d`` when the parallax stands well above the tracking noise or
most points cannot be found again; ``planar`` when the motion is a clean plane (little
parallax, nearly every point found again) although the face moved out of plane (distortion,
or a landmark yaw change measured by the caller); ``insufficient`` otherwise (too little
out-of-plane motion to tell a plane from a head); ``lost`` when too few points could be
tracked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from faceguard.liveness.types import CheckResult

Box = tuple[int, int, int, int]
Verdict = Literal["3d", "planar", "bent", "insufficient", "lost"]


@dataclass(frozen=True)
class ParallaxConfig:
    """Parameters of the check; pixel values are at the normalised face width ``face_px``.

    Defaults were set on UMIST turns and generated attacks from LFW photos (docs/LIVENESS.md).
    """

    face_px: int = 150
    max_corners: int = 250
    min_tracks: int = 25
    fb_max_px: float = 0.8
    ransac_px: float = 2.0
    #: Parallax (``quantile`` of the residual motion, px) that counts as depth.
    min_parallax_px: float = 1.6
    #: ... and it must exceed this multiple of the tracking noise.
    noise_factor: float = 3.0
    #: Share of points that cannot be found again once the plane is undone: at most this
    #: share kept (with at least ``min_tracks_kept`` tracks) counts as depth.
    max_kept: float = 0.7
    min_tracks_kept: int = 25
    #: A *planar* verdict needs a clean plane: little parallax, nearly every point kept...
    max_planar_parallax_px: float = 1.2
    min_planar_kept: float = 0.9
    #: ... and a distortion (fraction of the face width) showing out-of-plane motion.
    min_distortion: float = 0.015
    #: Pose change (landmark yaw, inter-ocular units) from which a head that shows no
    #: parallax is judged flat.
    min_pose_change: float = 0.12
    #: Pyramid levels of the frame-to-frame tracking.
    levels: int = 4
    #: Gaussian blur (px) before tracking: softens screen moire and sensor noise.
    blur: float = 1.2
    #: Frames whose face is more than this factor larger or smaller than in the first frame
    #: are not compared (resampling across a large change of scale mimics parallax).
    max_zoom: float = 1.2
    #: Percentile (as a fraction) of the residual motion reported as ``parallax_px``.
    quantile: float = 0.85
    #: A parallax that a sheet bent about one axis explains (at least this share of its
    #: variance, leaving at most ``bent_rms_px``) is a bent photo, not a head.
    bent_explained: float = 0.75
    bent_rms_px: float = 1.0


@dataclass(frozen=True)
class SegmentStats:
    """Measurements of one segment (pixels at the normalised face width).

    ``tracks``: points tracked through the segment; ``kept``: share found again after undoing
    the plane; ``parallax_px`` and ``noise_px``: residual motion and tracking noise;
    ``distortion``: departure of the plane's motion from a similarity (fraction of the face
    width); ``parallax_share``: share of points moving more than ``min_parallax_px``;
    ``motion``: median point displacement (fraction of the face width); ``pose_change``: the
    landmark yaw change the caller saw.
    """

    verdict: Verdict
    tracks: int
    kept: float
    parallax_px: float
    noise_px: float
    distortion: float
    parallax_share: float
    motion: float
    pose_change: float
    #: The best sheet bent about one axis (:func:`sheet_fit`): the share of the parallax's
    #: variance it explains, and what it leaves unexplained (RMS, px); 0 when not measured.
    sheet_explained: float = 0.0
    sheet_rms_px: float = 0.0

    def as_scores(self) -> dict[str, float]:
        return {
            "tracks": float(self.tracks), "kept": self.kept,
            "parallax_share": self.parallax_share,
            "parallax_px": self.parallax_px, "noise_px": self.noise_px,
            "distortion": self.distortion, "motion": self.motion,
            "pose_change": self.pose_change, "sheet_explained": self.sheet_explained,
            "sheet_rms_px": self.sheet_rms_px,
        }


def _normalised(frame: np.ndarray, scale: float, blur: float) -> np.ndarray:
    """Grey, scaled, and with local contrast normalised (robust to glare and shading)."""
    import cv2

    grey = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    size = (max(int(round(grey.shape[1] * scale)), 8), max(int(round(grey.shape[0] * scale)), 8))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    small = np.asarray(cv2.GaussianBlur(
        cv2.resize(grey, size, interpolation=interp).astype(np.float32), (0, 0), blur),
        np.float32)
    local = small - cv2.GaussianBlur(small, (0, 0), 6)
    spread = np.sqrt(cv2.GaussianBlur(local * local, (0, 0), 6)) + 4.0
    return np.asarray(np.clip(128 + 48 * local / spread, 0, 255), np.uint8)


def _lk_params(levels: int) -> dict[str, object]:
    import cv2

    return {
        "winSize": (15, 15),
        "maxLevel": levels,
        "criteria": (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 40, 0.01),
    }


def _track(
    a: np.ndarray, b: np.ndarray, points: np.ndarray, levels: int, fb_max: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Track ``points`` from ``a`` to ``b``; returns new points, a keep mask, and FB errors."""
    import cv2

    params = _lk_params(levels)
    forward, status, _ = cv2.calcOpticalFlowPyrLK(  # type: ignore[call-overload]
        a, b, points, None, **params)
    back, status_back, _ = cv2.calcOpticalFlowPyrLK(  # type: ignore[call-overload]
        b, a, forward, None, **params)
    errors = np.linalg.norm(back - points, axis=1)
    keep = (status.ravel() == 1) & (status_back.ravel() == 1) & (errors < fb_max)
    return np.asarray(forward), keep, errors


def _similarity_gap(src: np.ndarray, dst: np.ndarray) -> float:
    """RMS distance between ``dst`` and the least-squares similarity image of ``src``."""
    s = src - src.mean(axis=0)
    d = dst - dst.mean(axis=0)
    zs = s[:, 0] + 1j * s[:, 1]
    zd = d[:, 0] + 1j * d[:, 1]
    denom = float(np.vdot(zs, zs).real) or 1.0
    fitted = (np.vdot(zs, zd) / denom) * zs
    return float(np.sqrt(np.mean(np.abs(zd - fitted) ** 2)))


def _similarity_scale(src: np.ndarray, dst: np.ndarray) -> float:
    """Scale of the least-squares similarity mapping ``src`` to ``dst``."""
    spread_src = float(np.sqrt(((src - src.mean(axis=0)) ** 2).sum(axis=1).mean()))
    spread_dst = float(np.sqrt(((dst - dst.mean(axis=0)) ** 2).sum(axis=1).mean()))
    return spread_dst / spread_src if spread_src > 0 else 1.0


def _face_mask(shape: tuple[int, ...], box: Box, scale: float, inset: float) -> np.ndarray:
    height, width = shape[:2]
    left, top, right, bottom = box
    mask = np.zeros((height, width), np.uint8)
    x0, y0 = int(max(left * scale + inset, 0)), int(max(top * scale + inset, 0))
    x1 = int(min(right * scale - inset, width))
    y1 = int(min(bottom * scale - inset, height))
    if x1 - x0 >= 8 and y1 - y0 >= 8:
        mask[y0:y1, x0:x1] = 1
    return mask


def analyse_segment(
    frames: Sequence[np.ndarray],
    box: Box,
    *,
    pose_change: float = 0.0,
    config: ParallaxConfig | None = None,
) -> SegmentStats:
    """Measure one segment: ``frames`` (RGB or grey, same size) and the face ``box``
    ``(left, top, right, bottom)`` in the first frame. ``pose_change`` is the largest change
    of landmark yaw the caller saw over the segment (0 if unknown).

    The pair measured is the first frame and the frame where the face is most out of plane
    (largest distortion), so a movement that goes out and comes back is seen at its peak.
    """
    import cv2

    cfg = config or ParallaxConfig()
    scale = cfg.face_px / max(box[2] - box[0], 1)
    greys = [_normalised(f, scale, cfg.blur) for f in frames]
    mask = _face_mask(greys[0].shape, box, scale, 0.06 * cfg.face_px)

    def lost(tracks: int) -> SegmentStats:
        return SegmentStats("lost", tracks, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, pose_change)

    if len(greys) < 2 or not mask.any():
        return lost(0)
    corners = cv2.goodFeaturesToTrack(greys[0], cfg.max_corners, 0.01, 4, mask=mask)
    if corners is None or len(corners) < cfg.min_tracks:
        return lost(0 if corners is None else len(corners))
    start = corners.reshape(-1, 2).astype(np.float32)
    current, alive = start.copy(), np.ones(len(start), bool)
    candidates: list[tuple[float, int, np.ndarray, np.ndarray, np.ndarray]] = []
    for index in range(1, len(greys)):
        current, keep, _ = _track(greys[index - 1], greys[index], current, cfg.levels,
                                  cfg.fb_max_px)
        alive &= keep
        if alive.sum() < cfg.min_tracks:
            break
        p0, p1 = start[alive], current[alive]
        homography, _ = cv2.findHomography(p0, p1, cv2.RANSAC, cfg.ransac_px)
        if homography is None:
            continue
        projected = cv2.perspectiveTransform(p0.reshape(-1, 1, 2), homography).reshape(-1, 2)
        zoom = _similarity_scale(p0, projected)
        if not 1 / cfg.max_zoom <= zoom <= cfg.max_zoom:
            continue  # a change of scale too large to compare fine texture across
        distortion = _similarity_gap(p0, projected) / cfg.face_px
        candidates.append((distortion, index, p0, p1, homography))
    if not candidates:
        return lost(int(alive.sum()))
    # The frame most out of plane first; when most points cannot be found again there (a
    # head turned far), the most distorted frames before it (at most 2 more): points lost
    # are not depth, but a parallax measured on an earlier frame is. Only a 3-D verdict
    # there counts: a smaller movement's pose change is not known (it cannot show a plane)
    # and its little parallax is weak evidence of a bent sheet.
    peak = max(candidates, key=lambda c: c[0])
    first = _plane_and_parallax(greys, peak, pose_change, cfg)
    peak_index = peak[1]
    for _ in range(2):
        if first.kept > cfg.max_kept:
            break
        earlier = [c for c in candidates if c[1] < peak_index]
        if not earlier:
            break
        peak = max(earlier, key=lambda c: c[0])
        peak_index = peak[1]
        retried = _plane_and_parallax(greys, peak, 0.0, cfg)
        if retried.verdict == "3d":
            return replace(retried, pose_change=pose_change)
    return first


def _plane_and_parallax(
    greys: list[np.ndarray], peak: tuple[float, int, np.ndarray, np.ndarray, np.ndarray],
    pose_change: float, cfg: ParallaxConfig,
) -> SegmentStats:
    """Undo the plane's motion from the first frame to frame ``peak``, measure what still
    moves."""
    import cv2

    distortion, index, p0, p1, homography = peak
    motion = float(np.median(np.linalg.norm(p1 - p0, axis=1))) / cfg.face_px
    height, width = greys[0].shape
    warped = cv2.warpPerspective(
        greys[index], homography, (width, height),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
    residual, keep, fb = _track(greys[0], np.asarray(warped), p0.copy(), 2, cfg.fb_max_px)
    kept = float(keep.mean())
    if int(keep.sum()) < cfg.min_tracks:
        # Most points cannot be found again once the plane's motion is undone: parts of the
        # face moved differently (depth or occlusion), or the tracker lost them: no verdict.
        few = SegmentStats("insufficient", len(p0), kept, 0.0, 0.0, distortion, 0.0, motion,
                           pose_change)
        return replace(few, verdict=classify(few, cfg))
    q0, q1 = p0[keep], residual[keep]
    refit, _ = cv2.findHomography(q0, q1, cv2.RANSAC, cfg.ransac_px / 2)
    if refit is not None:
        q0 = cv2.perspectiveTransform(q0.reshape(-1, 1, 2), refit).reshape(-1, 2)
    magnitude = np.linalg.norm(q1 - q0, axis=1)
    parallax = float(np.quantile(magnitude, cfg.quantile))
    noise = float(np.median(fb[keep])) / 2.0
    share = float(np.mean(magnitude > cfg.min_parallax_px))
    explained, unexplained = sheet_fit(p0[keep], q1 - q0)
    stats = SegmentStats("insufficient", len(p0), kept, parallax, noise, distortion, share,
                         motion, pose_change, explained, unexplained)
    return replace(stats, verdict=classify(stats, cfg))


def _design(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Columns of a bent sheet's residual motion: its depth a cubic of ``u`` (across the
    axis), the factor of the parallax field varying linearly along ``v``."""
    columns = [u ** k for k in range(4)] + [v * u ** k for k in range(3)]
    return np.stack(columns, axis=1)


def sheet_fit(points: np.ndarray, residual: np.ndarray, angles: int = 12,
              ) -> tuple[float, float]:
    """Is the parallax left after undoing the plane that of a sheet bent about one axis?

    A sheet curved about an axis (a bowed photo) has a depth that varies across the axis
    only, so its plane-plus-parallax residual is a function of the coordinate ``u`` across
    the axis (times a factor varying smoothly along it). A head's depth curves along every
    direction (nose, brows, chin, cheeks). Both components of ``residual`` are fitted by
    least squares with the sheet's model for each axis direction (every 180/``angles``
    degrees); returned for the best: the share of the residual's variance explained, and
    the RMS left unexplained (px). Measured (docs/LIVENESS.md): simulated bent prints 0.78 to
    0.99 explained, at most 0.95 px left; UMIST heads 0.35 to 0.97, at least 0.65 px left.
    """
    count = len(points)
    if count < 30:
        return 0.0, 0.0
    centred = points - points.mean(axis=0)
    centred = centred / (float(np.abs(centred).max()) or 1.0)
    best: float | None = None
    for step in range(angles):
        angle = np.pi * step / angles
        u = centred[:, 0] * np.cos(angle) + centred[:, 1] * np.sin(angle)
        v = -centred[:, 0] * np.sin(angle) + centred[:, 1] * np.cos(angle)
        design = _design(u, v)
        fitted = design @ np.linalg.lstsq(design, residual, rcond=None)[0]
        error = float(((residual - fitted) ** 2).sum())
        if best is None or error < best:
            best = error
    assert best is not None
    total = float(((residual - residual.mean(axis=0)) ** 2).sum())
    return 1.0 - best / total if total > 0 else 1.0, float(np.sqrt(best / count))


def classify(stats: SegmentStats, config: ParallaxConfig | None = None) -> Verdict:
    """The verdict of measured ``stats`` (see the module docstring)."""
    cfg = config or ParallaxConfig()
    if stats.verdict == "lost":
        return "lost"
    depth = stats.parallax_px >= cfg.min_parallax_px and (
        stats.parallax_px >= cfg.noise_factor * stats.noise_px)
    if depth:
        sheet = (stats.sheet_explained >= cfg.bent_explained
                 and stats.sheet_rms_px <= cfg.bent_rms_px)
        return "bent" if sheet else "3d"
    if stats.kept <= cfg.max_kept and stats.tracks >= cfg.min_tracks_kept:
        return "insufficient"  # points lost once the plane is undone: not depth by itself
    flat = stats.parallax_px <= cfg.max_planar_parallax_px and stats.kept >= cfg.min_planar_kept
    moved = stats.distortion >= cfg.min_distortion or stats.pose_change >= cfg.min_pose_change
    if flat and moved:
        return "planar"
    return "insufficient"


def judge(segments: Sequence[SegmentStats]) -> CheckResult:
    """The ``depth`` check on the whole answer (all its segments).

    Any planar segment is an attack (a head cannot move out of plane without parallax); so
    are more segments whose parallax a sheet bent about one axis explains than 3-D ones, two
    at least (the sheet model sometimes explains one segment of a real head: one such
    segment alone is a retry, ``depth.curved``); otherwise the answer passes when at least
    half of its segments (and one at least) are three-dimensional; otherwise retry.
    """
    if not segments:
        return CheckResult.failed("depth", "retry", "depth.no_segment",
                                  "no stretch of frames with a trackable face")
    best = max(segments, key=lambda s: (s.parallax_px, s.distortion))
    counts = {f"segments_{v}": float(sum(s.verdict == v for s in segments))
              for v in ("3d", "planar", "bent", "insufficient", "lost")}
    scores = {**best.as_scores(), "segments": float(len(segments)), **counts}
    planar = [s for s in segments if s.verdict == "planar"]
    if planar:
        worst = max(planar, key=lambda s: max(s.distortion, s.pose_change))
        scores = {**worst.as_scores(), "segments": float(len(segments)), **counts}
        return CheckResult.failed(
            "depth", "attack", "depth.planar",
            "the face moved out of plane but its motion is explained by a single plane "
            f"(parallax {worst.parallax_px:.2f} px): a photo or a screen", **scores)
    bent = [s for s in segments if s.verdict == "bent"]
    solid = sum(s.verdict == "3d" for s in segments)
    if len(bent) > solid:
        worst = max(bent, key=lambda s: s.sheet_explained)
        scores = {**worst.as_scores(), "segments": float(len(segments)), **counts}
        if len(bent) >= 2:
            return CheckResult.failed(
                "depth", "attack", "depth.bent",
                "the face's depth is that of a sheet bent about one axis (it explains "
                f"{worst.sheet_explained:.0%} of the parallax): a curved photo", **scores)
        return CheckResult.failed(
            "depth", "retry", "depth.curved",
            "in the one stretch judged, the face's depth looked like that of a bent sheet "
            f"(it explains {worst.sheet_explained:.0%} of the parallax); turn the head again",
            **scores)
    if solid and 2 * solid >= len(segments):
        return CheckResult("depth", "pass", (), scores)
    if all(s.verdict == "lost" for s in segments):
        return CheckResult.failed("depth", "retry", "depth.lost",
                                  "the face could not be tracked between frames", **scores)
    return CheckResult.failed("depth", "retry", "depth.insufficient",
                              "too little head rotation to see depth; turn the head more",
                              **scores)
