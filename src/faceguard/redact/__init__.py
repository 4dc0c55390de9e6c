"""Anonymising faces in images and video an operator keeps (R9, R20; PIPL 73).

Every face found, with a margin, is covered irreversibly in every frame; the output is
re-encoded from pixels (no metadata) and written all or nothing; a report says what was
covered where. Usable without a data directory::

    from faceguard.redact import redact_media
    report = redact_media(Path("camera.mp4"), Path("camera-redacted.mp4"), workers=2)

``Faceguard.redaction.redact`` does the same and records each file in the processing record.
"""

from faceguard.redact.batch import redact_media, work_units
from faceguard.redact.cover import STYLES, Style
from faceguard.redact.detect import FAST, THOROUGH, FinderSettings
from faceguard.redact.errors import OutputError, UnsupportedMedia, VideoDecodeError
from faceguard.redact.options import RedactOptions
from faceguard.redact.report import (
    CoveredRegion,
    FileFailure,
    FileReport,
    FrameCover,
    RedactionReport,
)
from faceguard.redact.track import TrackSettings

__all__ = [
    "FAST",
    "STYLES",
    "THOROUGH",
    "CoveredRegion",
    "FileFailure",
    "FileReport",
    "FinderSettings",
    "FrameCover",
    "OutputError",
    "RedactOptions",
    "RedactionReport",
    "Style",
    "TrackSettings",
    "UnsupportedMedia",
    "VideoDecodeError",
    "redact_media",
    "work_units",
]
