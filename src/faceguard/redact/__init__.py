"""Anonymising faces in images and video an operator keeps (R9, R20; PIPL 73).

Every face found, with a margin, is covered irreversibly in every frame; the output is
re-encoded from pixels (no metadata) and written all or nothing; a report says what was
covered where. Usable without a data directory::

    from faceguard.redact import redact_media
    report = redact_media(Path("camera.mp4"), Path("camera-redacted.mp4"), workers=2)

``Faceguard.redaction.redact`` does the same and records each file in the processing record.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from faceguard import lazy

if TYPE_CHECKING:
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

#: Where each name lives; imported on first use (PEP 562), so importing one module of the
#: package loads nothing heavy that another module needs.
_EXPORTS: dict[str, str] = {
    "redact_media": "faceguard.redact.batch",
    "work_units": "faceguard.redact.batch",
    "STYLES": "faceguard.redact.cover",
    "Style": "faceguard.redact.cover",
    "FAST": "faceguard.redact.detect",
    "THOROUGH": "faceguard.redact.detect",
    "FinderSettings": "faceguard.redact.detect",
    "OutputError": "faceguard.redact.errors",
    "UnsupportedMedia": "faceguard.redact.errors",
    "VideoDecodeError": "faceguard.redact.errors",
    "RedactOptions": "faceguard.redact.options",
    "CoveredRegion": "faceguard.redact.report",
    "FileFailure": "faceguard.redact.report",
    "FileReport": "faceguard.redact.report",
    "FrameCover": "faceguard.redact.report",
    "RedactionReport": "faceguard.redact.report",
    "TrackSettings": "faceguard.redact.track",
}


__getattr__, __dir__ = lazy.exports(__name__, _EXPORTS, globals())


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
