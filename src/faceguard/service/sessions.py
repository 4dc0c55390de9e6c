"""Browser sessions and the throttling of failed authentication (R25).

A session is what the web pages use instead of sending the API key each time: the key is
entered once on ``/-/login`` and a random session token is set as an HttpOnly, SameSite=Strict
cookie. Only the token's SHA-256 is held, in memory: a restart ends every session, and with
several worker processes each has its own (log in again, or use the API key header). A
session ends after ``session_idle_seconds`` without a request, ``session_max_seconds`` after
login, on logout, and when its key is revoked.

``Throttle`` counts failed authentications per bucket (a string: an address, a key ID):
after ``auth_failures`` within ``auth_window_seconds`` the bucket is locked for
``lockout_seconds``. Which failures go into which bucket, and what a locked bucket refuses,
is decided in ``auth`` (a valid key is never refused for failures other than its own).
Counts are per process and bounded in memory.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

MAX_TRACKED = 10_000


@dataclass
class Session:
    key_id: str
    created: float
    last_seen: float
    second_factor: bool
    #: A kiosk session ("/kiosk") may use only the kiosk's pages: the person in front of
    #: the screen must not reach the list of people or the record with the operator's key.
    kiosk_only: bool = False


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Sessions:
    """Session tokens (hashed) to the key that logged in."""

    def __init__(self, idle_seconds: int, max_seconds: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._idle = idle_seconds
        self._max = max_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._items: OrderedDict[str, Session] = OrderedDict()

    def create(self, key_id: str, *, second_factor: bool, kiosk_only: bool = False) -> str:
        token = secrets.token_urlsafe(32)
        now = self._clock()
        with self._lock:
            self._items[_digest(token)] = Session(key_id, now, now, second_factor, kiosk_only)
            while len(self._items) > MAX_TRACKED:
                self._items.popitem(last=False)
        return token

    def get(self, token: str) -> Session | None:
        """The live session of ``token`` (its idle timer restarts), or ``None``."""
        if not token or len(token) > 100:
            return None
        now = self._clock()
        digest = _digest(token)
        with self._lock:
            session = self._items.get(digest)
            if session is None:
                return None
            if now - session.last_seen > self._idle or now - session.created > self._max:
                del self._items[digest]
                return None
            session.last_seen = now
            self._items.move_to_end(digest)
            return session

    def end(self, token: str) -> None:
        with self._lock:
            self._items.pop(_digest(token), None)

    def end_key(self, key_id: str) -> None:
        """End every session of a (revoked) key."""
        with self._lock:
            for digest in [d for d, s in self._items.items() if s.key_id == key_id]:
                del self._items[digest]


class Throttle:
    """Failed authentications per bucket; lockout after too many."""

    def __init__(self, failures: int, window_seconds: int, lockout_seconds: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._failures = failures
        self._window = window_seconds
        self._lockout = lockout_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._fails: OrderedDict[str, list[float]] = OrderedDict()
        self._locked: dict[str, float] = {}

    def retry_after(self, bucket: str) -> int | None:
        """Seconds until ``bucket`` is open again, or ``None`` when it is not locked."""
        now = self._clock()
        with self._lock:
            until = self._locked.get(bucket)
            if until is None:
                return None
            if now >= until:
                del self._locked[bucket]
                return None
            return max(1, int(until - now + 0.999))

    def fail(self, bucket: str) -> bool:
        """Count a failure; ``True`` when it locks the bucket (record it)."""
        now = self._clock()
        with self._lock:
            recent = [t for t in self._fails.pop(bucket, []) if now - t < self._window]
            recent.append(now)
            if len(recent) >= self._failures:
                self._locked[bucket] = now + self._lockout
                while len(self._locked) > MAX_TRACKED:
                    del self._locked[next(iter(self._locked))]  # the oldest lock
                return True
            self._fails[bucket] = recent
            while len(self._fails) > MAX_TRACKED:
                self._fails.popitem(last=False)
            return False

    def succeed(self, bucket: str) -> None:
        with self._lock:
            self._fails.pop(bucket, None)

    @property
    def locked_clients(self) -> int:
        now = self._clock()
        with self._lock:
            return sum(1 for until in self._locked.values() if until > now)
