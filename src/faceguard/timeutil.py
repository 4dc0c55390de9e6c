"""UTC timestamps as ISO 8601 text (the form every store and record uses)."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """``2026-11-22T19:40:01.123456+00:00``: sortable as text, microsecond precision."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def parse_iso(text: str) -> datetime:
    """Inverse of ``iso``."""
    return datetime.fromisoformat(text)
