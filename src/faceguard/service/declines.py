"""Consents declined at the kiosk (R4, R6): recorded, and never asked for again.

A person who declines is not a subject: nothing identifying is stored, only the keyed hash
of the external ID they typed (the same HMAC the vault uses to find subjects) and the
purpose, so the kiosk can skip that question next time. The processing record gets a
``consent.declined`` event without a subject.
"""

from __future__ import annotations

import sqlalchemy as sa

from faceguard import db
from faceguard.api.faceguard import Faceguard
from faceguard.timeutil import iso, utc_now


def declined(fg: Faceguard, external_id: str) -> dict[str, str]:
    """Purposes this person declined, with when."""
    lookup = fg.store.keyring.lookup_hash(external_id)
    d = db.consent_declines.c
    with fg.store.records.connect() as conn:
        rows = conn.execute(sa.select(d.purpose, d.declined_at).where(d.lookup_hash == lookup))
        return {r.purpose: r.declined_at for r in rows}


def record_decline(fg: Faceguard, external_id: str, purpose: str, *, channel: str,
                   actor: str) -> None:
    """Record that the person declined ``purpose`` (idempotent)."""
    fg.purpose(purpose)
    lookup = fg.store.keyring.lookup_hash(external_id)
    d = db.consent_declines.c
    with fg.store.write_lock, fg.store.records.begin() as conn:
        exists = conn.execute(sa.select(d.id).where(d.lookup_hash == lookup,
                                                    d.purpose == purpose)).first()
        if exists is not None:
            return
        conn.execute(db.consent_declines.insert().values(
            lookup_hash=lookup, purpose=purpose, declined_at=iso(utc_now()),
            channel=channel[:64]))
        fg.store.audit.append(
            conn, actor=actor, operation="consent.declined", outcome="declined",
            purpose=purpose, rules=["R4", "R6"],
            detail={"channel": channel[:64],
                    "alternatives": list(fg.deployment.deployment.alternatives)})

