"""Browser sessions and the throttling of failed authentication (R25), kept in the record
store so that every worker process, on every machine, shares them.

A session is what the web pages use instead of sending the API key each time: the key is
entered once on ``/-/login`` and a random session token is set as an HttpOnly, SameSite=Strict
cookie. Only the token's SHA-256 is stored (``service_sessions``), so a copy of the database
does not yield a usable cookie. A session ends after ``idle_seconds`` without a request,
``max_seconds`` after login, on logout, and when its key is revoked. A restart ends none: a
request may land on any worker.

``Throttle`` counts failed authentications per bucket (a string: an address, a key ID) in
``auth_failures``: after ``failures`` within ``window_seconds`` the bucket is locked for
``lockout_seconds`` (``auth_locks``). Which failures go into which bucket, and what a locked
bucket refuses, is decided by the service (a valid key is never refused for failures other
than its own). Times are wall-clock seconds, comparable between machines.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from faceguard import db

_S = db.service_sessions.c
_F = db.auth_failures.c
_L = db.auth_locks.c


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

    def __init__(self, engine: sa.Engine, idle_seconds: int, max_seconds: int,
                 clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self._idle = idle_seconds
        self._max = max_seconds
        self._clock = clock

    def create(self, key_id: str, *, second_factor: bool, kiosk_only: bool = False) -> str:
        token = secrets.token_urlsafe(32)
        now = self._clock()
        with self._engine.begin() as conn:
            # Ended and expired sessions go as new ones come: the table stays small.
            conn.execute(db.service_sessions.delete().where(
                sa.or_(_S.last_seen < now - self._idle, _S.created < now - self._max)))
            conn.execute(db.service_sessions.insert().values(
                digest=_digest(token), key_id=key_id, created=now, last_seen=now,
                second_factor=second_factor, kiosk_only=kiosk_only))
        return token

    def get(self, token: str) -> Session | None:
        """The live session of ``token`` (its idle timer restarts), or ``None``."""
        if not token or len(token) > 100:
            return None
        now = self._clock()
        digest = _digest(token)
        with self._engine.begin() as conn:
            row = conn.execute(sa.select(db.service_sessions)
                               .where(_S.digest == digest)).first()
            if row is None:
                return None
            if now - row.last_seen > self._idle or now - row.created > self._max:
                conn.execute(db.service_sessions.delete().where(_S.digest == digest))
                return None
            if now - row.last_seen >= 1:  # the idle timer needs no finer grain
                conn.execute(db.service_sessions.update().where(_S.digest == digest)
                             .values(last_seen=now))
            return Session(row.key_id, row.created, now, bool(row.second_factor),
                           bool(row.kiosk_only))

    def end(self, token: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(db.service_sessions.delete().where(_S.digest == _digest(token)))

    def end_key(self, key_id: str) -> None:
        """End every session of a (revoked) key."""
        with self._engine.begin() as conn:
            conn.execute(db.service_sessions.delete().where(_S.key_id == key_id))


class Throttle:
    """Failed authentications per bucket; lockout after too many."""

    def __init__(self, engine: sa.Engine, failures: int, window_seconds: int,
                 lockout_seconds: int, clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self._failures = failures
        self._window = window_seconds
        self._lockout = lockout_seconds
        self._clock = clock

    def retry_after(self, bucket: str) -> int | None:
        """Seconds until ``bucket`` is open again, or ``None`` when it is not locked."""
        now = self._clock()
        with self._engine.connect() as conn:
            until = conn.execute(sa.select(_L.until).where(_L.bucket == bucket)).scalar()
        if until is None or now >= until:
            return None
        return max(1, int(until - now + 0.999))

    def fail(self, bucket: str) -> bool:
        """Count a failure; ``True`` when it locks the bucket (record it)."""
        now = self._clock()
        with self._engine.begin() as conn:
            conn.execute(db.auth_failures.delete().where(_F.at <= now - self._window))
            conn.execute(db.auth_failures.insert().values(bucket=bucket, at=now))
            recent = conn.execute(sa.select(sa.func.count()).select_from(db.auth_failures)
                                  .where(_F.bucket == bucket)).scalar_one()
            if recent < self._failures:
                return False
            conn.execute(db.auth_failures.delete().where(_F.bucket == bucket))
            conn.execute(db.auth_locks.delete().where(
                sa.or_(_L.bucket == bucket, _L.until <= now)))
            conn.execute(db.auth_locks.insert().values(bucket=bucket,
                                                       until=now + self._lockout))
            return True

    def succeed(self, bucket: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(db.auth_failures.delete().where(_F.bucket == bucket))

    @property
    def locked_clients(self) -> int:
        now = self._clock()
        with self._engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(db.auth_locks)
                                    .where(_L.until > now)).scalar_one())
