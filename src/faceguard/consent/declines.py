"""Consents declined at the kiosk (R4, R6): recorded, and never asked for again.

A person who declines is not a subject: nothing identifying is stored, only the keyed hash
of the external ID they typed (the same HMAC the vault uses to find subjects) and the
purpose, so the kiosk can skip that question next time. The processing record gets a
``consent.declined`` event without a subject.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from faceguard import db
from faceguard.audit.log import AuditLog
from faceguard.audit.operations import Op
from faceguard.timeutil import iso, utc_now


def declined(conn: sa.Connection, lookup: str) -> dict[str, str]:
    """Purposes declined by the person whose external ID hashes to ``lookup``, with when."""
    d = db.consent_declines.c
    rows = conn.execute(sa.select(d.purpose, d.declined_at).where(d.lookup_hash == lookup))
    return {r.purpose: r.declined_at for r in rows}


def record_decline(conn: sa.Connection, audit: AuditLog, lookup: str, purpose: str, *,
                   channel: str, actor: str, alternatives: Sequence[str]) -> None:
    """Record in ``conn``'s transaction that the person declined ``purpose`` (idempotent),
    with its ``consent.declined`` event."""
    d = db.consent_declines.c
    exists = conn.execute(sa.select(d.id).where(d.lookup_hash == lookup,
                                                d.purpose == purpose)).first()
    if exists is not None:
        return
    conn.execute(db.consent_declines.insert().values(
        lookup_hash=lookup, purpose=purpose, declined_at=iso(utc_now()),
        channel=channel[:64].replace("\x00", "\ufffd")))
    audit.append(
        conn, actor=actor, operation=Op.CONSENT_DECLINED, outcome="declined",
        purpose=purpose, rules=["R4", "R6"],
        detail={"channel": channel[:64], "alternatives": list(alternatives)})
