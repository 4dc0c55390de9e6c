"""Pixels to template: decode, detect, align, judge quality, embed. Nothing is stored here."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from faceguard.engine.imaging import ImageLimits, decode_image
from faceguard.engine.pool import default_pool_size
from faceguard.engine.quality import QualityGate, QualityReport, measure_quality
from faceguard.engine.types import Face, FaceEngine, Template
from faceguard.errors import ImageTooSmall, NoFaceFound, TooManyFaces

#: Below this many pixels on a side an image cannot hold a usable face (the quality gates
#: want faces of 40 px and more): refused before any detector runs.
MIN_IMAGE_SIDE = 32

#: Extractions (decode to embedding) in flight in this process at once; others wait. The
#: engine computes on one core per call, so more would only hold more decoded pictures in
#: memory: decoding holds at most about 2.25 times the limits' ``max_decoded_bytes`` per
#: extraction in flight (the decoded picture and its RGB array; ``bench/bench_decode.py``).
EXTRACTIONS_IN_FLIGHT = default_pool_size()
_slots = threading.BoundedSemaphore(EXTRACTIONS_IN_FLIGHT)


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
) -> Extraction:
    """Turn one image into a template.

    ``single_face=True`` (enrollment) needs exactly one *usable* face: faces narrower than the
    gate's minimum size (people far in the background) are not counted, unless no face is
    big enough, which is a ``size`` quality failure. Otherwise the largest face is used (and
    an engine with ``detect_largest`` may look for it at less cost than for every face).
    ``gate`` (or ``None`` to only measure) judges size, sharpness and pose.
    The image stays in memory and is dropped when this returns. At most
    :data:`EXTRACTIONS_IN_FLIGHT` run at once in a process; callers beyond wait their turn.
    """
    with _slots:
        return _extract(engine, image, single_face=single_face, gate=gate, limits=limits)


def _extract(
    engine: FaceEngine,
    image: bytes | np.ndarray,
    *,
    single_face: bool,
    gate: QualityGate | None,
    limits: ImageLimits | None,
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
    if single_face and gate is not None:
        usable = [f for f in faces if f.width >= gate.min_face_px]
        if len(usable) > 1:
            raise TooManyFaces(
                f"{len(usable)} faces were found; enrollment needs an image with exactly one "
                "face",
                count=len(usable),
            )
        faces = usable or faces
    elif single_face and len(faces) > 1:
        raise TooManyFaces(
            f"{len(faces)} faces were found; enrollment needs an image with exactly one face",
            count=len(faces),
        )
    face = faces[0]
    chip = engine.align(rgb, face)
    quality = measure_quality(face, chip)
    if gate is not None:
        gate.judge(quality)
    vector = engine.embed(chip)
    return Extraction(Template(vector, engine.engine_id), face, quality, len(faces))
