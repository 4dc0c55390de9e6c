"""Redacting one still image: decode (limits, orientation), find every face, cover, encode
from pixels, check that no metadata survived, write all or nothing."""

from __future__ import annotations

import time
from pathlib import Path

from faceguard.engine.imaging import decode_image
from faceguard.errors import FaceguardError, ImageTooLarge
from faceguard.files import sha256_file
from faceguard.redact.container import MediaType
from faceguard.redact.cover import cover, expand, new_rng
from faceguard.redact.detect import FaceFinder, finder_for
from faceguard.redact.metadata import METADATA_NOTE, image_format_for, verify_clean, write_image
from faceguard.redact.options import RedactOptions
from faceguard.redact.output import atomic_output, check_destination
from faceguard.redact.report import CoveredRegion, FileReport, FrameCover


def small_face_warning(finder: FaceFinder, height: int, width: int) -> tuple[str, ...]:
    """A warning when the image is too large to look for faces as small as asked."""
    smallest = finder.smallest_face(height, width)
    if smallest <= finder.settings.min_face_px:
        return ()
    return (f"{width}x{height} is too large to enlarge within the detection budget: faces "
            f"narrower than about {smallest} px may be missed",)


def redact_image(src: Path, dst: Path, media: MediaType, options: RedactOptions) -> FileReport:
    """Cover every face found in the image ``src`` and write it to ``dst`` (format by
    ``dst``'s suffix: .jpg, .png or .webp)."""
    started = time.perf_counter()
    fmt = image_format_for(dst)
    check_destination(dst, overwrite=options.overwrite)
    limits = options.image_limits
    try:
        size = src.stat().st_size
        if size > limits.max_bytes:
            raise ImageTooLarge(f"the image is {size} bytes; the limit is {limits.max_bytes}")
        rgb = decode_image(src.read_bytes(), limits)
    except FaceguardError as exc:
        exc.add_context(src.name)
        raise
    if not rgb.flags.writeable:
        rgb = rgb.copy()
    height, width = rgb.shape[:2]
    finder = finder_for(options.image_finder)
    faces = finder.find(rgb)
    warnings = small_face_warning(finder, height, width)
    covered = [expand(box, options.margin, width, height) for box in faces]
    cover(rgb, covered, options.style, new_rng())
    with atomic_output(dst, overwrite=options.overwrite) as temporary:
        write_image(rgb, temporary, fmt)
        verify_clean(temporary, "image")
        digest, written = sha256_file(temporary), temporary.stat().st_size
    regions = tuple(CoveredRegion(face, box, "detected")
                    for face, box in zip(faces, covered, strict=True))
    return FileReport(
        source=str(src),
        output=str(dst),
        kind="image",
        input_format=media.container,
        output_format=fmt,
        width=width,
        height=height,
        frames=1,
        fps=None,
        faces=len(faces),
        frames_with_faces=1 if faces else 0,
        regions_covered=len(faces),
        output_sha256=digest,
        output_bytes=written,
        metadata=METADATA_NOTE,
        seconds=round(time.perf_counter() - started, 3),
        warnings=warnings,
        covered=(FrameCover(0, regions),) if regions else (),
    )
