"""Challenges: single-use nonces asking for random screen colours and head movements.

The server issues a :class:`Challenge` to a terminal; the terminal shows the movements, films
the person and sends the frames back with the challenge ID before it expires. The
:class:`ChallengeStore` hands each challenge out once: the first answer consumes it, and a
second answer with the same ID is refused as a replay (code ``challenge.replayed``), whatever
its frames. Frames are remembered by hash for a while too (:class:`SeenFrames`), so frames
captured for one challenge cannot be sent again for another.

Movements are named from the person's point of view: ``turn-left`` is the person turning the
head to *their* left (their nose moves toward the right side of an unmirrored camera image).
Each challenge also carries a random sequence of screen colours (:mod:`.colour`): the kiosk
shows them while the person faces the camera, and their reflection on the face is judged.

:class:`Challenges` is what the detector and the facade need from a store: issue, consume,
and hand back the challenges that expired unanswered (each counts as a failed attempt).
:class:`ChallengeStore` keeps them in memory: with several worker processes, route a
terminal's challenge and its answer to the same worker (or give every worker a shared store).
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from random import Random
from typing import Any, Protocol

import numpy as np

from faceguard.errors import ConfigError
from faceguard.liveness.colour import PALETTE, ColourPolicy, random_colours
from faceguard.liveness.types import RULE, CheckResult
from faceguard.timeutil import iso, utc_now

#: The head movements a challenge can ask for.
MOVEMENTS: tuple[str, ...] = ("turn-left", "turn-right", "look-up", "look-down")

#: Plain-language instructions for the kiosk, per movement (in English; the kiosk shows
#: them in its page's language from the message catalogue).
INSTRUCTIONS: dict[str, str] = {
    "turn-left": "Turn your head to your left, then back to the camera.",
    "turn-right": "Turn your head to your right, then back to the camera.",
    "look-up": "Look up, then back to the camera.",
    "look-down": "Look down, then back to the camera.",
}


@dataclass(frozen=True)
class Challenge:
    """One issued challenge. ``id`` is the nonce (URL-safe, 128 random bits).

    ``max_capture_ms`` bounds the span of the frames' capture times (first to last);
    ``expires_at`` bounds when the answer must reach the server.
    """

    id: str
    terminal: str
    movements: tuple[str, ...]
    issued_at: datetime
    expires_at: datetime
    max_capture_ms: int
    min_frames: int
    max_frames: int
    subject: str | None = None
    #: Screen colours to show (names of ``colour.PALETTE``), each for ``colour_ms``, the
    #: first ``colour_start_ms`` after the first frame.
    colours: tuple[str, ...] = ()
    colour_ms: int = 0
    colour_start_ms: int = 0

    def to_wire(self) -> dict[str, Any]:
        """What the terminal receives (JSON-ready)."""
        return {
            "challenge_id": self.id,
            "movements": list(self.movements),
            "instructions": [INSTRUCTIONS[m] for m in self.movements],
            "issued_at": iso(self.issued_at),
            "expires_at": iso(self.expires_at),
            "expires_in_ms": int((self.expires_at - self.issued_at).total_seconds() * 1000),
            "max_capture_ms": self.max_capture_ms,
            "min_frames": self.min_frames,
            "max_frames": self.max_frames,
            "frame_format": "image/jpeg",
            "colours": [{"name": c, "rgb": "#" + bytes(PALETTE[c]).hex()} for c in self.colours],
            "colour_ms": self.colour_ms,
            "colour_start_ms": self.colour_start_ms,
            "rule": RULE,
        }


@dataclass(frozen=True)
class ChallengePolicy:
    """How challenges are made. Defaults suit a kiosk filming at 10 to 15 frames per second."""

    min_movements: int = 2
    #: The movements challenges ask for (e.g. turns only where nods are read poorly).
    movements: tuple[str, ...] = MOVEMENTS
    max_movements: int = 3
    ttl: timedelta = timedelta(seconds=15)
    max_capture_ms: int = 11000
    min_frames: int = 8
    max_frames: int = 60
    #: How long consumed nonces and seen frame hashes are remembered.
    memory: timedelta = timedelta(hours=1)
    #: Outstanding challenges kept at most (the oldest are dropped first).
    max_outstanding: int = 10_000
    colour: ColourPolicy = field(default_factory=ColourPolicy)


def random_movements(rng: Random, count: int,
                     allowed: tuple[str, ...] = MOVEMENTS) -> tuple[str, ...]:
    """``count`` movements of ``allowed``, never the same one twice in a row."""
    chosen: list[str] = []
    for _ in range(count):
        options = [m for m in allowed if not chosen or m != chosen[-1]]
        chosen.append(rng.choice(options))
    return tuple(chosen)


def make_challenge(policy: ChallengePolicy, rng: Random, now: datetime, terminal: str, *,
                   subject: str | None = None, movements: tuple[str, ...] | None = None,
                   colours: tuple[str, ...] | None = None) -> Challenge:
    """A new challenge for ``terminal`` issued at ``now`` (optionally bound to ``subject``);
    every challenge store makes its challenges here. ``movements`` and ``colours`` fix the
    sequences (tests, demonstrations); by default they are random."""
    if movements is None:
        count = rng.randint(policy.min_movements, policy.max_movements)
        movements = random_movements(rng, count, policy.movements)
    unknown = [m for m in movements if m not in MOVEMENTS]
    if unknown or not movements:
        raise ConfigError(f"unknown movements {unknown}; choose from {list(MOVEMENTS)}")
    if colours is None:
        colours = random_colours(rng, policy.colour.count)
    if any(c not in PALETTE for c in colours):
        raise ConfigError(f"unknown colours {list(colours)}; choose from {list(PALETTE)}")
    return Challenge(
        id=secrets.token_urlsafe(16), terminal=terminal, movements=tuple(movements),
        issued_at=now, expires_at=now + policy.ttl, max_capture_ms=policy.max_capture_ms,
        min_frames=policy.min_frames, max_frames=policy.max_frames, subject=subject,
        colours=tuple(colours), colour_ms=policy.colour.colour_ms if colours else 0,
        colour_start_ms=policy.colour.start_ms if colours else 0,
    )


def refuse_settled(state: str | None) -> CheckResult:
    """The ``challenge`` check of an answer to a challenge no longer open: ``used`` (a
    replayed nonce: an attack), ``expired`` (too slow), or unknown (``None``)."""
    if state == "used":
        return CheckResult.failed("challenge", "attack", "challenge.replayed",
                                  "this challenge was already answered; a nonce is valid once")
    if state == "expired":
        return CheckResult.failed("challenge", "retry", "challenge.expired",
                                  "the challenge expired before it was answered (too slow)")
    return CheckResult.failed("challenge", "retry", "challenge.unknown",
                              "unknown or long-expired challenge; ask for a new one")


def judge_answer(challenge: Challenge, now: datetime, *, terminal: str | None,
                 subject: str | None) -> tuple[Challenge, CheckResult]:
    """The ``challenge`` check of an answer to ``challenge``, consumed at ``now``: an attack
    for another terminal or person, a retry when it came after the expiry."""
    if terminal is not None and terminal != challenge.terminal:
        return challenge, CheckResult.failed(
            "challenge", "attack", "challenge.wrong_terminal",
            "the challenge was issued to another terminal")
    if challenge.subject is not None and subject != challenge.subject:
        return challenge, CheckResult.failed(
            "challenge", "attack", "challenge.wrong_subject",
            "the challenge was issued for another person")
    late_ms = (now - challenge.expires_at).total_seconds() * 1000
    if late_ms > 0:
        return challenge, CheckResult.failed(
            "challenge", "retry", "challenge.expired",
            f"the answer arrived {late_ms:.0f} ms after the challenge expired (too slow)",
            late_ms=late_ms)
    return challenge, CheckResult.passed("challenge")


class Challenges(Protocol):
    """What the detector and the facade need from a challenge store (in memory here; in the
    database when several workers share it)."""

    policy: ChallengePolicy

    def now(self) -> datetime: ...

    def issue(
        self, terminal: str, *, subject: str | None = None,
        movements: tuple[str, ...] | None = None, colours: tuple[str, ...] | None = None,
    ) -> Challenge: ...

    def consume(
        self, challenge_id: str, *, terminal: str | None = None, subject: str | None = None,
    ) -> tuple[Challenge | None, CheckResult]: ...

    def take_expired(self) -> list[Challenge]:
        """The challenges that expired unanswered since the last call, each handed out once."""
        ...


class ChallengeStore:
    """Issues challenges and consumes each at most once (thread-safe, in memory).

    ``clock`` returns the current aware UTC time (injectable for tests); ``rng`` defaults to
    the operating system's random source.
    """

    def __init__(
        self,
        policy: ChallengePolicy | None = None,
        *,
        clock: Callable[[], datetime] = utc_now,
        rng: Random | None = None,
    ) -> None:
        self.policy = policy or ChallengePolicy()
        self._clock = clock
        self._rng = rng or secrets.SystemRandom()
        self._lock = threading.Lock()
        self._open: OrderedDict[str, Challenge] = OrderedDict()
        self._used: OrderedDict[str, datetime] = OrderedDict()
        self._expired: OrderedDict[str, datetime] = OrderedDict()

    def now(self) -> datetime:
        return self._clock()

    def issue(
        self, terminal: str, *, subject: str | None = None,
        movements: tuple[str, ...] | None = None, colours: tuple[str, ...] | None = None,
    ) -> Challenge:
        """A new challenge for ``terminal`` (optionally bound to ``subject``).

        ``movements`` and ``colours`` fix the sequences (tests, demonstrations); by default
        they are random.
        """
        now = self._clock()
        challenge = make_challenge(self.policy, self._rng, now, terminal, subject=subject,
                                   movements=movements, colours=colours)
        policy = self.policy
        with self._lock:
            self._forget(now)
            self._open[challenge.id] = challenge
            while len(self._open) > policy.max_outstanding:
                self._open.popitem(last=False)
        return challenge

    def consume(
        self, challenge_id: str, *, terminal: str | None = None, subject: str | None = None,
    ) -> tuple[Challenge | None, CheckResult]:
        """Take the challenge out of the store, and judge the answer's timeliness.

        Returns the challenge (``None`` if unknown) and the ``challenge`` check: an attack for a
        replayed nonce or a challenge of another terminal or subject, a retry for an unknown or
        expired one. The challenge is consumed whatever the outcome.
        """
        now = self._clock()
        with self._lock:
            self._forget(now)
            challenge = self._open.pop(challenge_id, None)
            if challenge is None:
                state = ("used" if challenge_id in self._used
                         else "expired" if challenge_id in self._expired else None)
                return None, refuse_settled(state)
            self._used[challenge_id] = now
        return judge_answer(challenge, now, terminal=terminal, subject=subject)

    def take_expired(self) -> list[Challenge]:
        """The challenges that expired unanswered, taken out of the store (each once); a late
        answer to one is then ``challenge.unknown``."""
        now = self._clock()
        with self._lock:
            expired = [c for c in self._open.values() if c.expires_at < now]
            for challenge in expired:
                del self._open[challenge.id]
                self._expired[challenge.id] = now
            return expired

    def _forget(self, now: datetime) -> None:
        """Drop consumed and expired nonces older than the memory."""
        horizon = now - self.policy.memory
        for remembered in (self._used, self._expired):
            while remembered and next(iter(remembered.values())) < horizon:
                remembered.popitem(last=False)


def hamming(hashes: np.ndarray, other: np.ndarray) -> np.ndarray:
    """Bits differing between each of ``hashes`` (rows) and each of ``other`` (columns)."""
    counts: np.ndarray = np.bitwise_count(hashes[:, None] ^ other[None, :]).astype(np.int64)
    return counts


class FrameMemory(Protocol):
    """What the detector needs to catch frames sent again (in memory here; in the database
    when several workers share it, ``liveness.shared``)."""

    def check_and_add(self, digests: list[str]) -> list[int]:
        """Indexes of ``digests`` seen in an earlier presentation; all are then remembered."""
        ...

    def check_and_add_similar(self, hashes: list[int], max_distance: int) -> list[int]:
        """Indexes of the perceptual ``hashes`` within ``max_distance`` bits of a frame of an
        earlier presentation; all are then remembered."""
        ...


class SeenFrames:
    """Hashes of frames already received, remembered for ``memory`` (thread-safe)."""

    def __init__(
        self, memory: timedelta = timedelta(hours=1), *, clock: Callable[[], datetime] = utc_now,
        max_items: int = 200_000,
    ) -> None:
        self._memory = memory
        self._clock = clock
        self._max = max_items
        self._lock = threading.Lock()
        self._seen: OrderedDict[str, datetime] = OrderedDict()
        self._similar: deque[tuple[datetime, np.ndarray]] = deque()

    def check_and_add(self, digests: list[str]) -> list[int]:
        """Indexes of ``digests`` seen in an earlier presentation; all are then remembered."""
        now = self._clock()
        with self._lock:
            horizon = now - self._memory
            while self._seen and next(iter(self._seen.values())) < horizon:
                self._seen.popitem(last=False)
            repeated = [i for i, d in enumerate(digests) if d in self._seen]
            for digest in digests:
                self._seen[digest] = now
                self._seen.move_to_end(digest)
            while len(self._seen) > self._max:
                self._seen.popitem(last=False)
        return repeated

    def check_and_add_similar(self, hashes: list[int], max_distance: int) -> list[int]:
        """Indexes of the perceptual ``hashes`` within ``max_distance`` bits of a frame of an
        earlier presentation; all are then remembered."""
        if not hashes:
            return []
        now = self._clock()
        mine = np.array(hashes, np.uint64)
        with self._lock:
            horizon = now - self._memory
            while self._similar and self._similar[0][0] < horizon:
                self._similar.popleft()
            earlier = [h for _, h in self._similar]
            self._similar.append((now, mine))
            while sum(len(h) for _, h in self._similar) > self._max:
                self._similar.popleft()
        if not earlier:
            return []
        close = hamming(mine, np.concatenate(earlier)).min(axis=1) <= max_distance
        return [int(i) for i in np.flatnonzero(close)]
