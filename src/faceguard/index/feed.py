"""Keeping this process's index partitions in step with the store.

Enrollments, withdrawals and erasures made by another process (the CLI while the service
runs, another worker) reach the record store but not this process's memory. Triggers write
each of them to ``index_changes`` (see ``db.index_changes``) in the transaction of the change;
before a partition is searched, :func:`catch_up` applies the rows after the last it saw: one
indexed query, empty when nothing changed. Removals are applied first, then the templates of
every subject with an addition are read again from the store (only those still alive under an
active consent), so the order of the rows does not matter and nothing is added twice;
templates the partition already holds (this process's own enrollments) are not read again.

The partition stays a cache: every match it proposes is confirmed against the store before it
is answered, so a lagging partition fails closed.
"""

from __future__ import annotations

import sqlalchemy as sa

from faceguard import db
from faceguard.engine.types import require_same_engine
from faceguard.index.partition import Partition
from faceguard.vault.templates import Vault

_SINCE = db.Prepared(
    sa.select(db.index_changes.c.seq, db.index_changes.c.kind, db.index_changes.c.subject_id,
              db.index_changes.c.template_id)
    .where(db.index_changes.c.purpose == sa.bindparam("purpose"),
           db.index_changes.c.seq > sa.bindparam("after"))
    .order_by(db.index_changes.c.seq)
)
_HEAD = sa.select(sa.func.coalesce(sa.func.max(db.index_changes.c.seq), 0))


def head(conn: sa.Connection) -> int:
    """The newest row of the change feed (0 when empty); read before a partition is loaded,
    so that changes made while it loads are applied after."""
    return int(conn.execute(_HEAD).scalar_one())


def catch_up(records: sa.Engine, vault: Vault, partition: Partition, purpose: str,
             now: str) -> int:
    """Apply the feed's rows for ``purpose`` after ``partition.feed_seq`` (read from the
    record store, templates opened by the vault); returns how many rows were applied."""
    with partition.feed_lock, records.connect() as conn:
        rows = _SINCE.rows(conn, {"purpose": purpose, "after": partition.feed_seq})
        if not rows:
            return 0
        gone = {row[3] for row in rows if row[1] == "remove" and row[3] is not None}
        if gone:
            partition.remove_templates(gone)
        for subject in {row[2] for row in rows if row[1] == "remove" and row[3] is None}:
            partition.remove_subject(subject)
        # Templates this process added itself (its own enrollments) are held already: only
        # the others, and subjects whose consent resumed, are read and opened again.
        added = {row[3]: row[2] for row in rows if row[1] == "add" and row[3] is not None}
        held = partition.held(set(added)) if added else set()
        load = {s for t, s in added.items() if t not in held}
        load |= {row[2] for row in rows if row[1] == "add" and row[3] is None}
        if load:
            subjects, ids, engines, matrix = vault.load_subjects(
                conn, purpose, now, partition.dimension, sorted(load))
            for engine in engines:
                require_same_engine(engine, partition.engine)
            partition.add_missing(subjects, ids, matrix)
        partition.feed_seq = int(rows[-1][0])
        return len(rows)
