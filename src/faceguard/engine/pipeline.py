"""Pixels to template: decode, detect, align, judge quality, embed. Nothing is stored here."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from faceguard.engine.imaging import ImageLimits, decode_image
from faceguard.engine.pool import default_pool_size
from faceguard.engine.quality import QualityGate, QualityReport, measure_quality
from faceguard.engine.types import Face, FaceEngine, Template
from faceguard.errors import ConfigError, ImageTooSmall, NoFaceFound, TooManyFaces

#: Below this many pixels on a side an image cannot hold a usable face (the quality gates
#: want faces of 40 px and more): refused before any detector runs.
MIN_IMAGE_SIDE = 32

#: Extractions (decode to embedding) in flight in this process at once; others wait. The
#: engine computes on one core per call, so more would only hold more decoded pictures in
#: memory: decoding holds at most about 2.25 times the limits' ``max_decoded_bytes`` per
#: extraction in flight (the decoded picture and its RGB array; ``bench/bench_decode.py``).
EXTRACTIONS_IN_FLIGHT = default_pool_size()
_slots = threading.BoundedSemaphore(EXTRACTIONS_IN_FLIGHT)

#: Which face of a picture holding several to enroll: a box ``(left, top, right, bottom)``
#: in pixels of the decoded picture (the detected face overlapping it most), the same as
#: text ``"left,top,right,bottom"`` (what the shells pass on), or "centre" (the face
#: nearest the picture's centre).
FaceChoice = tuple[int, int, int, int] | str
#: A detected face must cover at least this share of a given box's union with it (IoU).
MIN_BOX_OVERLAP = 0.3


@dataclass(frozen=True)
class Extraction:
    """The result of one image: the template, the face it came from and its quality."""

    template: Template
    face: Face
    quality: QualityReport
    faces_found: int


def extract(
    engine: FaceEngine,
    image: bytes | np.ndarray,
    *,
    single_face: bool,
    gate: QualityGate | None,
    limits: ImageLimits | None = None,
    choose: FaceChoice | None = None,
) -> Extraction:
    """Turn one image into a template.

    ``single_face=True`` (enrollment) needs exactly one *usable* face: faces narrower than the
    gate's minimum size (people far in the background) are not counted, unless no face is
    big enough, which is a ``size`` quality failure. Otherwise the largest face is used (and
    an engine with ``detect_largest`` may look for it at less cost than for every face).
    ``gate`` (or ``None`` to only measure) judges size, sharpness and pose. ``choose``
    (enrollment) picks one face of several instead (``FaceChoice``); the others are ignored.
    The image stays in memory and is dropped when this returns. At most
    :data:`EXTRACTIONS_IN_FLIGHT` run at once in a process; callers beyond wait their turn.
    """
    with _slots:
        return _extract(engine, image, single_face=single_face, gate=gate, limits=limits,
                        choose=choose)


def _extract(
    engine: FaceEngine,
    image: bytes | np.ndarray,
    *,
    single_face: bool,
    gate: QualityGate | None,
    limits: ImageLimits | None,
    choose: FaceChoice | None = None,
) -> Extraction:
    rgb = image if isinstance(image, np.ndarray) else decode_image(image, limits)
    height, width = rgb.shape[:2]
    if min(height, width) < MIN_IMAGE_SIDE:
        raise ImageTooSmall(
            f"the image is {width}x{height} pixels; a face needs at least {MIN_IMAGE_SIDE} "
            "on each side"
        )
    largest = None if single_face else getattr(engine, "detect_largest", None)
    faces = largest(rgb) if largest is not None else engine.detect(rgb)
    if not faces:
        raise NoFaceFound("no face was found in the image (0 faces detected)")
    found = len(faces)
    if single_face and choose is not None:
        faces = [chosen_face(faces, choose, width, height)]
    elif single_face and gate is not None:
        usable = [f for f in faces if f.width >= gate.min_face_px]
        if len(usable) > 1:
            raise TooManyFaces(
                f"{len(usable)} faces were found; enrollment needs an image with exactly one "
                "face, or the box of the face to enroll, or the face nearest the centre",
                count=len(usable),
            )
        faces = usable or faces
    elif single_face and len(faces) > 1:
        raise TooManyFaces(
            f"{len(faces)} faces were found; enrollment needs an image with exactly one face, "
            "or the box of the face to enroll, or the face nearest the centre",
            count=len(faces),
        )
    face = faces[0]
    chip = engine.align(rgb, face)
    quality = measure_quality(face, chip)
    if gate is not None:
        gate.judge(quality)
    vector = engine.embed(chip)
    return Extraction(Template(vector, engine.engine_id), face, quality,
                      found if choose is not None else len(faces))


@dataclass(frozen=True)
class FacesFound:
    """The faces of a picture, for a person to choose one: the size of the decoded
    (EXIF-oriented) picture and each face's box ``(left, top, right, bottom)`` in its
    pixels, largest first, with whether it is big enough to enroll."""

    width: int
    height: int
    boxes: tuple[tuple[int, int, int, int], ...]
    usable: tuple[bool, ...]


def find_faces(engine: FaceEngine, image: bytes, *, limits: ImageLimits | None,
               min_face_px: int) -> FacesFound:
    """Detect the faces of ``image`` (nothing aligned, embedded or kept)."""
    with _slots:
        rgb = decode_image(image, limits)
        height, width = rgb.shape[:2]
        if min(height, width) < MIN_IMAGE_SIDE:
            raise ImageTooSmall(
                f"the image is {width}x{height} pixels; a face needs at least "
                f"{MIN_IMAGE_SIDE} on each side")
        faces = sorted(engine.detect(rgb), key=lambda f: -f.width)
    boxes = tuple((int(f.box[0]), int(f.box[1]), int(f.box[2]), int(f.box[3])) for f in faces)
    return FacesFound(width, height, boxes, tuple(f.width >= min_face_px for f in faces))


def chosen_face(faces: list[Face], choose: FaceChoice, width: int, height: int) -> Face:
    """The face ``choose`` designates among ``faces`` (``NoFaceFound`` saying how many were
    found when a box overlaps none of them enough)."""
    if isinstance(choose, str) and choose != "centre":
        choose = parse_box(choose)
    if choose == "centre":
        def off_centre(face: Face) -> float:
            left, top, right, bottom = face.box
            return ((left + right) / 2 - width / 2) ** 2 + ((top + bottom) / 2 - height / 2) ** 2
        return min(faces, key=off_centre)
    assert not isinstance(choose, str)
    left, top, right, bottom = choose
    if right <= left or bottom <= top:
        raise ConfigError(f"the face box {choose} is empty: give (left, top, right, bottom)")

    def overlap(face: Face) -> float:
        fl, ft, fr, fb = face.box
        inter = max(0, min(fr, right) - max(fl, left)) * max(0, min(fb, bottom) - max(ft, top))
        union = (fr - fl) * (fb - ft) + (right - left) * (bottom - top) - inter
        return inter / union if union > 0 else 0.0

    best = max(faces, key=overlap)
    if overlap(best) < MIN_BOX_OVERLAP:
        raise NoFaceFound(f"no face in the given box {choose} ({len(faces)} faces were found "
                          "elsewhere)")
    return best


def parse_box(text: str) -> tuple[int, int, int, int]:
    """``"left,top,right,bottom"`` in pixels; ``ConfigError`` naming the expected form."""
    parts = text.split(",")
    try:
        left, top, right, bottom = (int(p.strip()) for p in parts)
    except ValueError as exc:
        raise ConfigError(f"face {text!r}: give 'centre' or a box 'left,top,right,bottom' "
                          "in pixels") from exc
    return left, top, right, bottom


def quality_record(extraction: Extraction) -> dict[str, float]:
    """What is kept of a picture's quality with its enrollment (size, sharpness, pose)."""
    q = extraction.quality
    return {"face_px": q.face_px, "sharpness": round(q.sharpness, 1), "yaw": round(q.yaw, 3),
            "roll": round(q.roll, 1), "pitch": round(q.pitch, 3), "faces_found":
            extraction.faces_found}
