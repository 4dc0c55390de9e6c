"""Lockout after repeated failed liveness attempts (R26: limit repeated failures).

Failures are counted per subject and per terminal in a sliding window; ``max_failures``
within ``window`` locks that subject (everywhere) or that terminal (for everyone) for
``lock_for``. A challenge that expires unanswered is a failure too (the facade counts it), and
issuing costs something: at most ``max_issued_subject`` challenges per person and
``max_issued_terminal`` per terminal within ``window`` (:meth:`Lockout.charge_issue`), so a
challenge cannot be re-rolled until it asks what a recording happens to show. A pass clears
the subject's counts (not the terminal's: one person passing must not reset an attacker's
tries at that terminal). ``Lockout`` keeps its state in memory, for one process;
``liveness.shared.SharedLockout`` (the default of the facade) keeps it in the record store,
so that every worker counts toward one limit.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from faceguard.timeutil import utc_now


@dataclass(frozen=True)
class LockoutPolicy:
    """``max_failures`` failed attempts within ``window`` lock for ``lock_for``."""

    max_failures: int = 5
    window: timedelta = timedelta(minutes=15)
    lock_for: timedelta = timedelta(minutes=15)
    #: Challenges issued within ``window`` at most, per person and per terminal.
    max_issued_subject: int = 10
    max_issued_terminal: int = 120


@dataclass(frozen=True)
class Lock:
    """An active lock: what is locked (``subject`` or ``terminal``), which one, until when."""

    kind: str
    key: str
    until: datetime
    failures: int


class Lockouts(Protocol):
    """What the liveness operations need from a lockout (this in-memory one, or the one in
    the database that every worker shares, ``liveness.shared.SharedLockout``)."""

    policy: LockoutPolicy

    def active(self, *, subject: str | None, terminal: str | None) -> Lock | None: ...

    def record_failure(self, *, subject: str | None, terminal: str | None) -> list[Lock]: ...

    def charge_issue(self, *, subject: str | None, terminal: str | None) -> Lock | None: ...

    def record_success(self, *, subject: str | None) -> None: ...


class Lockout:
    """Counts failures and answers whether a subject or terminal is locked (thread-safe)."""

    def __init__(
        self, policy: LockoutPolicy | None = None, *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.policy = policy or LockoutPolicy()
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: dict[tuple[str, str], deque[datetime]] = {}
        self._locked: dict[tuple[str, str], datetime] = {}
        self._issued: dict[tuple[str, str], deque[datetime]] = {}

    def active(self, *, subject: str | None, terminal: str | None) -> Lock | None:
        """The lock in force for this subject or terminal, if any (the later-ending one)."""
        now = self._clock()
        found: Lock | None = None
        with self._lock:
            for key in self._keys(subject, terminal):
                until = self._locked.get(key)
                if until is None:
                    continue
                if until <= now:
                    del self._locked[key]
                    self._failures.pop(key, None)
                    continue
                if found is None or until > found.until:
                    found = Lock(key[0], key[1], until, len(self._failures.get(key, ())))
        return found

    def record_failure(self, *, subject: str | None, terminal: str | None) -> list[Lock]:
        """Count one failed attempt; returns the locks this failure newly set."""
        now = self._clock()
        horizon = now - self.policy.window
        new: list[Lock] = []
        with self._lock:
            for key in self._keys(subject, terminal):
                times = self._failures.setdefault(key, deque())
                times.append(now)
                while times and times[0] < horizon:
                    times.popleft()
                locked = self._locked.get(key)
                if len(times) >= self.policy.max_failures and (locked is None or locked <= now):
                    until = now + self.policy.lock_for
                    self._locked[key] = until
                    new.append(Lock(key[0], key[1], until, len(times)))
        return new

    def charge_issue(self, *, subject: str | None, terminal: str | None) -> Lock | None:
        """Count one challenge issued; returns the budget it would exceed (the challenge is
        then refused and not counted), else ``None``."""
        now = self._clock()
        horizon = now - self.policy.window
        limits = {"subject": self.policy.max_issued_subject,
                  "terminal": self.policy.max_issued_terminal}
        with self._lock:
            keys = self._keys(subject, terminal)
            for key in keys:
                times = self._issued.setdefault(key, deque())
                while times and times[0] < horizon:
                    times.popleft()
                if len(times) >= limits[key[0]]:
                    return Lock(key[0], key[1], times[0] + self.policy.window, len(times))
            for key in keys:
                self._issued[key].append(now)
        return None

    def record_success(self, *, subject: str | None) -> None:
        """A pass clears the subject's failures and challenges issued."""
        if subject is None:
            return
        with self._lock:
            self._failures.pop(("subject", subject), None)
            self._issued.pop(("subject", subject), None)

    @staticmethod
    def _keys(subject: str | None, terminal: str | None) -> list[tuple[str, str]]:
        keys = []
        if subject is not None:
            keys.append(("subject", subject))
        if terminal is not None:
            keys.append(("terminal", terminal))
        return keys
