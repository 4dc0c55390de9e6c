"""What a redaction did, as plain frozen dataclasses and JSON.

A report holds boxes, counts and hashes: never pixels, never anything a face could be
recognised from. ``covered`` lists, per frame that had any, the face boxes found (or
tracked) and the larger boxes actually covered; frames not listed had nothing to cover.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from faceguard.redact.detect import Box
from faceguard.redact.track import Source

REPORT_VERSION = 1


@dataclass(frozen=True)
class CoveredRegion:
    """One covered region of a frame: the face box, the box covered (face + margin), and
    whether the face was detected in this frame, tracked into it, or back-filled."""

    face: Box
    covered: Box
    source: Source


@dataclass(frozen=True)
class FrameCover:
    """The regions covered in one frame (0-based index; an image is frame 0)."""

    frame: int
    regions: tuple[CoveredRegion, ...]


@dataclass(frozen=True)
class FileReport:
    """One redacted file.

    ``faces``: distinct faces (an image: boxes after merging; a video: tracks started, so a
    face lost and found again counts twice). ``frames``: frames written, equal to the
    frames decoded from the input. ``metadata`` says what was left out of the output and
    how that was checked. ``warnings``: e.g. a frame too large to look for small faces.
    """

    source: str
    output: str
    kind: Literal["image", "video"]
    input_format: str
    output_format: str
    width: int
    height: int
    frames: int
    fps: float | None
    faces: int
    frames_with_faces: int
    regions_covered: int
    output_sha256: str
    output_bytes: int
    metadata: str
    seconds: float
    warnings: tuple[str, ...] = ()
    covered: tuple[FrameCover, ...] = ()


@dataclass(frozen=True)
class FileFailure:
    """A file of a batch that could not be redacted; no output was written for it."""

    source: str
    error: str
    message: str
    rule: str | None = None


@dataclass(frozen=True)
class RedactionReport:
    """Everything one call redacted: the files written, those that failed, those skipped
    (not images or videos), and the settings used."""

    files: tuple[FileReport, ...]
    failed: tuple[FileFailure, ...] = ()
    skipped: tuple[str, ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)
    audit_seqs: tuple[int, ...] = ()

    @property
    def ok(self) -> bool:
        """True when no file failed."""
        return not self.failed

    def summary(self) -> dict[str, int]:
        """Totals over the files written."""
        return {
            "files": len(self.files),
            "failed": len(self.failed),
            "skipped": len(self.skipped),
            "frames": sum(f.frames for f in self.files),
            "faces": sum(f.faces for f in self.files),
            "frames_with_faces": sum(f.frames_with_faces for f in self.files),
            "regions_covered": sum(f.regions_covered for f in self.files),
        }

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (tuples become lists), with the summary first."""
        body = dataclasses.asdict(self)
        return {"version": REPORT_VERSION, "summary": self.summary(), **body}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    def with_audit(self, seqs: list[int]) -> RedactionReport:
        return dataclasses.replace(self, audit_seqs=tuple(seqs))
