"""Errors of redaction, grafted onto faceguard's one exception tree (errors.py).

::

    FaceguardError
    ├── ImageError
    │   └── ImageDecodeError
    │       ├── UnsupportedMedia        not an image or video that can be redacted:
    │       │                           unknown container, codec without a decoder
    │       └── VideoDecodeError        empty, unreadable, truncated or changing video
    └── OutputError                     the output cannot be written (exists, no encoder,
                                        not writable, failed verification)

Input problems are ``ImageError`` subclasses so the CLI exits 4 and the facade records them
as ``rejected``, as it does for a bad image. A refused ``keep`` is a ``PolicyError`` citing
R9 (see :func:`faceguard.api.redaction.Redaction.redact`).
"""

from __future__ import annotations

from faceguard.errors import FaceguardError, ImageDecodeError


class UnsupportedMedia(ImageDecodeError):
    """The file is not an image or video faceguard can redact (container or codec)."""


class VideoDecodeError(ImageDecodeError):
    """The video is empty, unreadable or truncated, or changed while it was read."""


class OutputError(FaceguardError):
    """The redacted output could not be written; nothing was left at the destination."""
