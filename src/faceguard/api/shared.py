"""State the service's workers share through the record store (issue 14): browser sessions,
the failed-authentication throttle, and master-key rotation. Every worker, on every machine,
reads and writes the same rows, so a request may land on any of them."""

from __future__ import annotations

from faceguard.access.sessions import Sessions, Throttle
from faceguard.api.core import Core
from faceguard.results import MasterRotation
from faceguard.store import rotation


class Shared:
    """Sessions, throttle and key rotation of one ``Faceguard``, over its store."""

    def __init__(self, core: Core) -> None:
        self._core = core

    def sessions(self, idle_seconds: int, max_seconds: int) -> Sessions:
        """Browser sessions, kept in the record store (R25)."""
        return Sessions(self._core.store.records, idle_seconds, max_seconds)

    def throttle(self, failures: int, window_seconds: int, lockout_seconds: int) -> Throttle:
        """The failed-authentication throttle, kept in the record store (R25)."""
        return Throttle(self._core.store.records, failures, window_seconds, lockout_seconds)

    def rotate_master_key(self, *, actor: str) -> MasterRotation:
        """Re-wrap every data key under a new master key while serving (``store.rotation``,
        R14); the old key is retired and its file replaced."""
        return rotation.rotate_master(self._core.store, actor=actor)
