"""The gallery identification searches: a purpose's index partition, loaded on first use
and kept up to date, and the store's confirmation of each hit it proposes (R3, R8, R18)."""

from __future__ import annotations

import sqlalchemy as sa

from faceguard import db
from faceguard.api.core import Core
from faceguard.consent import records as consents
from faceguard.engine.types import require_same_engine
from faceguard.index import feed as index_feed
from faceguard.index.partition import Partition
from faceguard.timeutil import iso, utc_now


def partition(core: Core, purpose: str) -> Partition:
    """The purpose's index partition, loaded on first use and brought up to date with
    the changes other processes made since (``index_feed``)."""
    existing = core.store.index.get(purpose)
    if existing is not None:
        index_feed.catch_up(core.store.records, core.store.vault, existing, purpose,
                            iso(utc_now()))
        return existing
    partition = Partition(core.engine.dimension, core.engine.engine_id)
    with core.store.records.connect() as conn:
        partition.feed_seq = index_feed.head(conn)
        subjects, ids, engines, matrix = core.store.vault.load_partition(
            conn, purpose, iso(utc_now()), core.engine.dimension
        )
    for engine in engines:
        require_same_engine(engine, core.engine.engine_id)
    partition.add_many(subjects, ids, matrix)
    return core.store.index.install(purpose, partition)


def catch_up_all(core: Core) -> None:
    """Apply the change feed to every loaded partition (the background follower's work)."""
    now = iso(utc_now())
    for purpose, held in core.store.index.partitions():
        index_feed.catch_up(core.store.records, core.store.vault, held, purpose, now)


def still_valid(conn: sa.Connection, subject: str, purpose: str, now: str) -> bool:
    """The store's answer, not the index's: consent active and a template of the person
    for ``purpose`` alive."""
    if consents.active_consent_id(conn, subject, purpose) is None:
        return False
    row = conn.execute(
        sa.select(db.templates.c.id).where(
            db.templates.c.subject_id == subject, db.templates.c.purpose == purpose,
            db.templates.c.expires_at > now).limit(1)
    ).first()
    return row is not None
