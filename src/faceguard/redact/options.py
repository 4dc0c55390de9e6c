"""How to redact: covering style and margin, detection and tracking settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from faceguard.engine.imaging import ImageLimits
from faceguard.redact.cover import STYLES, Style
from faceguard.redact.detect import FAST, THOROUGH, FinderSettings
from faceguard.redact.track import TrackSettings

#: Measured on the annotated group photos: face boxes grown by 0.15 on each side already
#: cover every annotated face entirely; below that, chins, hairlines and ears show.
MIN_MARGIN = 0.15


@dataclass(frozen=True)
class RedactOptions:
    """``style``: ``fill`` (default: one constant grey) or ``pixelate`` (coarse blocks plus
    random noise). ``margin``: each face box is grown by this fraction of its width and
    height on every side before covering. ``image_finder``/``video_finder``: detection
    settings for still images (thorough) and video frames (fast, tracked in between).
    ``overwrite``: replace existing outputs. ``max_video_side``: larger frames are refused.
    """

    style: Style = "fill"
    margin: float = 0.3
    image_finder: FinderSettings = THOROUGH
    video_finder: FinderSettings = FAST
    tracking: TrackSettings = field(default_factory=TrackSettings)
    overwrite: bool = False
    image_limits: ImageLimits = field(default_factory=ImageLimits)
    max_video_side: int = 8192

    def __post_init__(self) -> None:
        if self.style not in STYLES:
            raise ValueError(f"style must be one of {', '.join(STYLES)}, not {self.style!r}")
        if not MIN_MARGIN <= self.margin <= 2.0:
            raise ValueError(
                f"margin must be between {MIN_MARGIN} and 2.0 (a smaller margin leaves the "
                "edges of faces uncovered)"
            )

    def describe(self) -> dict[str, Any]:
        """Plain settings for reports and the audit record."""
        t = self.tracking
        return {
            "style": self.style,
            "margin": self.margin,
            "image_detection": self.image_finder.describe(),
            "video_detection": self.video_finder.describe(),
            "tracking": {"detect_every": t.detect_every, "hold": t.hold,
                         "backfill": t.backfill, "cnn_every": t.cnn_every},
        }
