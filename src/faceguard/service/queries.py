"""Read-only views of the store that the pages need and the ``Faceguard`` facade does not
offer yet: the list of people with their consents, the current notices, templates about to
expire, a page of the processing record. Plain data out; nothing here writes but the event
recording that identities were decrypted for display (``identity.displayed``, R11).

(These belong on the facade; until they move there, they read through ``fg.store`` only.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from faceguard import db
from faceguard.api.faceguard import Faceguard
from faceguard.consent import records as consents
from faceguard.errors import NotFound, NoticeError, VaultError
from faceguard.timeutil import iso, utc_now


def current_notice(fg: Faceguard, purpose: str) -> consents.Notice | None:
    """The newest notice of a declared purpose, or ``None`` when none is published."""
    fg.purpose(purpose)
    try:
        with fg.store.records.connect() as conn:
            return consents.current_notice(conn, purpose)
    except NoticeError:
        return None


def notices(fg: Faceguard) -> dict[str, consents.Notice | None]:
    """Each declared purpose's current notice (``None``: not published yet)."""
    return {purpose: current_notice(fg, purpose) for purpose in sorted(fg.deployment.purposes)}


@dataclass(frozen=True)
class ConsentRow:
    purpose: str
    status: str
    method: str
    minor: bool
    granted_at: str
    ended_at: str | None


@dataclass(frozen=True)
class SubjectRow:
    subject_id: str
    external_id: str
    name: str
    created_at: str
    last_seen_at: str | None
    templates: int
    consents: list[ConsentRow]


def subjects(fg: Faceguard, *, actor: str, offset: int = 0, limit: int = 50
             ) -> tuple[list[SubjectRow], int]:
    """A page of the people held (active subjects, newest first) and how many there are.

    Their names and external IDs are decrypted for ``actor`` to see, so the page is an
    event of the processing record (R11, R14): one ``identity.displayed`` per page, with
    the subject IDs shown. It is written before the page is returned: when it cannot be
    written, nobody sees the names."""
    active = db.subjects.c.status == "active"
    with fg.store.records.connect() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(db.subjects).where(active)
                             ).scalar_one()
        rows = conn.execute(sa.select(db.subjects).where(active)
                            .order_by(db.subjects.c.created_at.desc(), db.subjects.c.id)
                            .offset(offset).limit(limit)).fetchall()
        counts = {r.subject_id: int(r.n) for r in conn.execute(
            sa.select(db.templates.c.subject_id, sa.func.count().label("n"))
            .where(db.templates.c.subject_id.in_([r.id for r in rows]))
            .group_by(db.templates.c.subject_id))}
        out = []
        for row in rows:
            try:
                identity = fg.store.vault.identity(conn, row.id)
                external, name = identity.external_id, identity.name
            except (NotFound, VaultError):
                external, name = "(unreadable)", "(unreadable)"
            out.append(SubjectRow(
                row.id, external, name, row.created_at, row.last_seen_at,
                int(counts.get(row.id, 0)),
                [ConsentRow(c.purpose, c.status, c.method, c.minor, c.granted_at, c.ended_at)
                 for c in consents.consents_of(conn, row.id)]))
    if out:
        with fg.store.write_lock, fg.store.records.begin() as conn:
            fg.store.audit.append(
                conn, actor=actor[:128], operation="identity.displayed", outcome="ok",
                rules=["R11", "R14"],
                detail={"count": len(out), "offset": offset,
                        "subjects": [r.subject_id for r in out]})
    return out, int(total)


def external_id_of(fg: Faceguard, subject_id: str) -> str:
    """The external ID of an active subject (``NotFound`` if erased or unknown)."""
    with fg.store.records.connect() as conn:
        return fg.store.vault.identity(conn, subject_id).external_id


def active_purposes(fg: Faceguard, external_id: str) -> list[str]:
    """The purposes a person currently consents to (none if unknown)."""
    with fg.store.records.connect() as conn:
        subject = fg.store.vault.find_subject(conn, external_id)
        return consents.active_purposes(conn, subject) if subject else []


@dataclass(frozen=True)
class ExpiringRow:
    subject_id: str
    purpose: str
    expires_at: str
    templates: int


def expiring(fg: Faceguard, *, within_days: int, limit: int = 50) -> list[ExpiringRow]:
    """Templates whose retention ends within ``within_days`` (R8), soonest first."""
    horizon = iso(utc_now() + timedelta(days=within_days))
    t = db.templates.c
    with fg.store.records.connect() as conn:
        rows = conn.execute(
            sa.select(t.subject_id, t.purpose, sa.func.min(t.expires_at).label("expires_at"),
                      sa.func.count().label("n"))
            .where(t.expires_at <= horizon).group_by(t.subject_id, t.purpose)
            .order_by(sa.func.min(t.expires_at)).limit(limit))
        return [ExpiringRow(r.subject_id, r.purpose, r.expires_at, int(r.n)) for r in rows]


def _event(row: Any) -> dict[str, Any]:
    try:
        rules = [str(r) for r in json.loads(row.rules)]
        detail = json.loads(row.detail)
        if not isinstance(detail, dict):
            raise TypeError
    except (ValueError, TypeError):
        rules, detail = [], {"unreadable": True}
    return {"seq": row.seq, "ts": row.ts, "actor": row.actor, "operation": row.operation,
            "purpose": row.purpose, "subject": row.subject, "outcome": row.outcome,
            "rules": rules, "detail": detail, "prev_hash": row.prev_hash, "hash": row.hash}


def events(fg: Faceguard, *, before: int | None = None, limit: int = 50,
           subject: str | None = None, operations: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Processing-record events, newest first, with ``seq < before``."""
    e = db.audit_events.c
    query = sa.select(db.audit_events).order_by(e.seq.desc()).limit(limit)
    if before is not None:
        query = query.where(e.seq < before)
    if subject is not None:
        query = query.where(e.subject == subject)
    if operations:
        query = query.where(e.operation.in_(operations))
    with fg.store.records.connect() as conn:
        return [_event(r) for r in conn.execute(query)]


#: Events that are alarms whatever their outcome: lockouts and presentation attacks (R25, R26).
ALARM_OPERATIONS = ("access.locked_out", "liveness.attack", "liveness.lockout",
                    "liveness.refused")


def alarms(fg: Faceguard, *, limit: int = 20) -> list[dict[str, Any]]:
    """Security events worth an alarm: lockouts, attempts while locked, attacks. A liveness
    check passed, or a retry, is not one."""
    e = db.audit_events.c
    query = (sa.select(db.audit_events)
             .where(sa.or_(e.operation.in_(ALARM_OPERATIONS),
                           e.outcome.in_(("attack", "locked"))))
             .order_by(e.seq.desc()).limit(limit))
    with fg.store.records.connect() as conn:
        return [_event(r) for r in conn.execute(query)]
