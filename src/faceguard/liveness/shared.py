"""Liveness state every worker shares, kept in the record store (issue 14): issued
challenges (each answerable once, on any worker), the hashes of frames already received,
the failure counts, budgets and locks of the lockout (R26), and the answers that passed
(so that the same answer may enroll a person's other purposes on another worker: kept by
fingerprint and frame number, never the frame itself, R9).

The in-memory stores (``challenge.ChallengeStore``, ``challenge.SeenFrames``,
``lockout.Lockout``) give each process its own; these give one deployment one, so a
challenge issued by worker A is answered on worker B, and a replay of that answer on either
is refused. A challenge is consumed by one conditional update (``state`` from ``open`` to
``used``): of two workers racing on one answer, exactly one wins. Times are stored as ISO
8601 UTC text, which sorts as time does.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime, timedelta
from random import Random

import numpy as np
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from faceguard import db
from faceguard.errors import require_text
from faceguard.liveness.challenge import (
    Challenge,
    ChallengePolicy,
    hamming,
    judge_answer,
    make_challenge,
    refuse_settled,
)
from faceguard.liveness.lockout import Lock, LockoutPolicy
from faceguard.liveness.types import CheckResult
from faceguard.timeutil import iso, parse_iso, utc_now

#: The longest terminal or person key the tables hold; a longer one is stored by its hash.
KEY_MAX = 200

_C = db.liveness_challenges.c
_F = db.liveness_frames.c
_E = db.liveness_counts.c
_L = db.liveness_locks.c
_P = db.liveness_passed.c
#: Prefix of the perceptual hashes kept beside the frames' SHA-256 digests.
_PHASH = "p:"


def _to_row(challenge: Challenge) -> str:
    body = asdict(challenge)
    body["issued_at"], body["expires_at"] = iso(challenge.issued_at), iso(challenge.expires_at)
    return json.dumps(body, sort_keys=True)


def _from_row(text: str) -> Challenge:
    body = json.loads(text)
    body["issued_at"], body["expires_at"] = (parse_iso(body["issued_at"]),
                                             parse_iso(body["expires_at"]))
    for name, value in body.items():
        if isinstance(value, list):
            body[name] = tuple(value)
    return Challenge(**body)


class SharedChallenges:
    """Issued challenges in the record store (the ``challenge.Challenges`` protocol)."""

    def __init__(self, engine: sa.Engine, policy: ChallengePolicy | None = None, *,
                 clock: Callable[[], datetime] = utc_now, rng: Random | None = None) -> None:
        self._engine = engine
        self.policy = policy or ChallengePolicy()
        self._clock = clock
        self._rng = rng or secrets.SystemRandom()

    def now(self) -> datetime:
        return self._clock()

    def issue(self, terminal: str, *, subject: str | None = None,
              movements: tuple[str, ...] | None = None,
              colours: tuple[str, ...] | None = None) -> Challenge:
        require_text(terminal, "the terminal's name", limit=KEY_MAX)
        now = self._clock()
        challenge = make_challenge(self.policy, self._rng, now, terminal, subject=subject,
                                   movements=movements, colours=colours)
        with self._engine.begin() as conn:
            conn.execute(db.liveness_challenges.delete().where(
                _C.expires_at < iso(now - self.policy.memory)))
            conn.execute(db.liveness_challenges.insert().values(
                id=challenge.id, terminal=terminal, expires_at=iso(challenge.expires_at),
                state="open", body=_to_row(challenge)))
        return challenge

    def consume(self, challenge_id: str, *, terminal: str | None = None,
                subject: str | None = None) -> tuple[Challenge | None, CheckResult]:
        now = self._clock()
        with self._engine.begin() as conn:
            won = conn.execute(db.liveness_challenges.update()
                               .where(_C.id == challenge_id, _C.state == "open")
                               .values(state="used")).rowcount
            row = conn.execute(sa.select(_C.state, _C.body)
                               .where(_C.id == challenge_id)).first()
        if not won or row is None:
            return None, refuse_settled(None if row is None else str(row.state))
        return judge_answer(_from_row(row.body), now, terminal=terminal, subject=subject)

    def take_expired(self) -> list[Challenge]:
        now = iso(self._clock())
        taken: list[Challenge] = []
        with self._engine.begin() as conn:
            rows = conn.execute(sa.select(_C.id, _C.body)
                                .where(_C.state == "open", _C.expires_at < now)).all()
            for row in rows:  # each handed out once, whichever worker asks
                if conn.execute(db.liveness_challenges.update()
                                .where(_C.id == row.id, _C.state == "open")
                                .values(state="expired")).rowcount:
                    taken.append(_from_row(row.body))
        return taken


class SharedFrames:
    """Hashes of frames already received, in the record store (``challenge.SeenFrames``)."""

    def __init__(self, engine: sa.Engine, memory: timedelta = timedelta(hours=1), *,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self._engine = engine
        self._memory = memory
        self._clock = clock

    def check_and_add(self, digests: list[str]) -> list[int]:
        """Indexes of ``digests`` seen in an earlier presentation; all are then remembered."""
        if not digests:
            return []
        now = self._clock()
        horizon = iso(now - self._memory)
        with self._engine.begin() as conn:
            conn.execute(db.liveness_frames.delete().where(_F.seen_at < horizon))
            seen = set(conn.execute(sa.select(_F.digest)
                                    .where(_F.digest.in_(sorted(set(digests))))).scalars())
            insert = (postgresql.insert if conn.dialect.name == "postgresql"
                      else sqlite.insert)(db.liveness_frames)
            conn.execute(insert.on_conflict_do_update(
                index_elements=["digest"], set_={"seen_at": insert.excluded.seen_at}),
                [{"digest": d, "seen_at": iso(now)} for d in sorted(set(digests))])
        return [i for i, d in enumerate(digests) if d in seen]

    def check_and_add_similar(self, hashes: list[int], max_distance: int) -> list[int]:
        """Indexes of the perceptual ``hashes`` within ``max_distance`` bits of a frame of an
        earlier presentation; all are then remembered. They share the table of digests,
        as ``p:`` and 16 hex digits (a SHA-256 digest is 64 hex digits: never confused)."""
        if not hashes:
            return []
        now = self._clock()
        horizon = iso(now - self._memory)
        keys = sorted({f"{_PHASH}{h:016x}" for h in hashes})
        with self._engine.begin() as conn:
            conn.execute(db.liveness_frames.delete().where(_F.seen_at < horizon))
            earlier = [int(d[len(_PHASH):], 16) for d in conn.execute(
                sa.select(_F.digest).where(_F.digest.like(f"{_PHASH}%"))).scalars()]
            insert = (postgresql.insert if conn.dialect.name == "postgresql"
                      else sqlite.insert)(db.liveness_frames)
            conn.execute(insert.on_conflict_do_update(
                index_elements=["digest"], set_={"seen_at": insert.excluded.seen_at}),
                [{"digest": d, "seen_at": iso(now)} for d in keys])
        if not earlier:
            return []
        close = hamming(np.array(hashes, np.uint64),
                        np.array(earlier, np.uint64)).min(axis=1) <= max_distance
        return [int(i) for i in np.flatnonzero(close)]


class SharedLockout:
    """The lockout's counts and locks in the record store (``lockout.Lockout``)."""

    def __init__(self, engine: sa.Engine, policy: LockoutPolicy | None = None, *,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self._engine = engine
        self.policy = policy or LockoutPolicy()
        self._clock = clock

    def active(self, *, subject: str | None, terminal: str | None) -> Lock | None:
        now = iso(self._clock())
        keys = _keys(subject, terminal)
        if not keys:
            return None
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(_L.scope, _L.key, _L.until, _L.failures).where(
                sa.or_(*(sa.and_(_L.scope == s, _L.key == k) for s, k in keys)),
                _L.until > now)).all()
        if not rows:
            return None
        row = max(rows, key=lambda r: r.until)
        return Lock(row.scope, row.key, parse_iso(row.until), row.failures)

    def record_failure(self, *, subject: str | None, terminal: str | None) -> list[Lock]:
        now = self._clock()
        new: list[Lock] = []
        with self._counting(now) as conn:
            for scope, key in _keys(subject, terminal):
                failures = self._count(conn, "failure", scope, key, now, add=True)
                locked = conn.execute(sa.select(_L.until).where(
                    _L.scope == scope, _L.key == key, _L.until > iso(now))).scalar()
                if failures >= self.policy.max_failures and locked is None:
                    until = now + self.policy.lock_for
                    conn.execute(db.liveness_locks.delete().where(_L.scope == scope,
                                                                  _L.key == key))
                    conn.execute(db.liveness_locks.insert().values(
                        scope=scope, key=key, until=iso(until), failures=failures))
                    conn.execute(db.liveness_counts.delete().where(
                        _E.kind == "failure", _E.scope == scope, _E.key == key))
                    new.append(Lock(scope, key, until, failures))
        return new

    def charge_issue(self, *, subject: str | None, terminal: str | None) -> Lock | None:
        now = self._clock()
        limits = {"subject": self.policy.max_issued_subject,
                  "terminal": self.policy.max_issued_terminal}
        with self._counting(now) as conn:
            keys = _keys(subject, terminal)
            for scope, key in keys:
                issued = self._count(conn, "issued", scope, key, now, add=False)
                if issued >= limits[scope]:
                    first = conn.execute(sa.select(sa.func.min(_E.at)).where(
                        _E.kind == "issued", _E.scope == scope, _E.key == key)).scalar_one()
                    return Lock(scope, key, parse_iso(str(first)) + self.policy.window, issued)
            for scope, key in keys:
                self._count(conn, "issued", scope, key, now, add=True)
        return None

    def record_success(self, *, subject: str | None) -> None:
        if subject is None:
            return
        with self._engine.begin() as conn:
            conn.execute(db.liveness_counts.delete().where(_E.scope == "subject",
                                                           _E.key == _key(subject)))

    @contextmanager
    def _counting(self, now: datetime) -> Iterator[sa.Connection]:
        """A transaction on the counts, those older than the window dropped first."""
        with self._engine.begin() as conn:
            conn.execute(db.liveness_counts.delete().where(
                _E.at < iso(now - self.policy.window)))
            yield conn

    @staticmethod
    def _count(conn: sa.Connection, kind: str, scope: str, key: str, now: datetime,
               *, add: bool) -> int:
        """Events of ``kind`` for (scope, key) within the window (one more when ``add``)."""
        if add:
            conn.execute(db.liveness_counts.insert().values(kind=kind, scope=scope, key=key,
                                                            at=iso(now)))
        return int(conn.execute(sa.select(sa.func.count()).select_from(db.liveness_counts)
                                .where(_E.kind == kind, _E.scope == scope, _E.key == key))
                   .scalar_one())


class SharedPassed:
    """Answers that passed, for the purposes they enrolled, in the record store: the same
    answer may enroll a person's other purposes, once each, within ``window``, whichever
    worker it reaches. Only the answer's fingerprint and its best frame's number are kept."""

    def __init__(self, engine: sa.Engine, window: timedelta, *,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self._engine = engine
        self._window = window
        self._clock = clock

    def remember(self, challenge_id: str, fingerprint: str, best_frame: int,
                 purpose: str) -> None:
        now = self._clock()
        with self._engine.begin() as conn:
            conn.execute(db.liveness_passed.delete().where(
                sa.or_(_P.until <= iso(now), _P.challenge_id == challenge_id)))
            conn.execute(db.liveness_passed.insert().values(
                challenge_id=challenge_id, fingerprint=fingerprint, best_frame=best_frame,
                until=iso(now + self._window), purposes=json.dumps([purpose])))

    def reuse(self, challenge_id: str, fingerprint: str, purpose: str) -> int | None:
        """The best frame's number of a passed answer identical to this one, for a purpose
        it has not enrolled yet (that purpose is then taken); ``None`` otherwise."""
        now = iso(self._clock())
        with self._engine.begin() as conn:
            row = conn.execute(sa.select(_P.best_frame, _P.purposes).where(
                _P.challenge_id == challenge_id, _P.fingerprint == fingerprint,
                _P.until > now)).first()
            if row is None or purpose in json.loads(row.purposes):
                return None
            taken = conn.execute(db.liveness_passed.update().where(
                _P.challenge_id == challenge_id, _P.purposes == row.purposes).values(
                purposes=json.dumps([*json.loads(row.purposes), purpose]))).rowcount
        return int(row.best_frame) if taken else None


def _key(value: str) -> str:
    """``value``, or its hash when a column cannot hold it (too long, or a NUL)."""
    return value if len(value) <= KEY_MAX and "\x00" not in value else "sha256:" + \
        hashlib.sha256(value.encode()).hexdigest()


def _keys(subject: str | None, terminal: str | None) -> list[tuple[str, str]]:
    return ([("subject", _key(subject))] if subject is not None else []) + \
        ([("terminal", _key(terminal))] if terminal is not None else [])
