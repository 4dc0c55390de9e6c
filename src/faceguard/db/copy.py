"""Copying a store's tables between databases: PostgreSQL to a SQLite file (a backup) and
back (a restore), so that a backup has one format whatever the store runs on.

The read side runs in one ``REPEATABLE READ`` transaction on PostgreSQL: every table is read
from the same snapshot while the service goes on writing. The feed table ``index_changes``
is written by triggers when templates are inserted, so it is copied last, after the rows
those triggers wrote were cleared: the copy holds exactly the source's feed.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from faceguard import db

CHUNK = 2000
_FEED = "index_changes"


def _tables(metadata: sa.MetaData, only: Iterable[str] | None) -> list[sa.Table]:
    wanted = set(only) if only is not None else None
    tables = [t for t in metadata.sorted_tables if wanted is None or t.name in wanted]
    return [t for t in tables if t.name != _FEED] + [t for t in tables if t.name == _FEED]


def _copy(source: sa.Connection, dest: sa.Connection, tables: list[sa.Table]) -> int:
    copied = 0
    for table in tables:
        if table.name == _FEED:
            dest.execute(table.delete())
        result = source.execution_options(yield_per=CHUNK).execute(sa.select(table))
        for chunk in result.mappings().partitions(CHUNK):
            dest.execute(table.insert(), [dict(row) for row in chunk])
            copied += len(chunk)
    return copied


def to_sqlite(source: Engine, dest: Path, store: str, *,
              only: Iterable[str] | None = None) -> int:
    """Write the tables of ``store`` ("records" or "keys"; ``only`` those named) from
    ``source`` into the new SQLite file ``dest`` (schema by the same migrations); returns the
    rows copied."""
    metadata = db.record_metadata if store == "records" else db.key_metadata
    out = db.connect(dest)
    try:
        db.upgrade(out, store)
        with source.connect() as src, out.begin() as dst:
            if source.dialect.name == "postgresql":
                src.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            return _copy(src, dst, _tables(metadata, only))
    finally:
        out.dispose()


def replace_from_sqlite(source: Path, dest: Engine, store: str, *,
                        only: Iterable[str] | None = None) -> int:
    """Replace the contents of ``store``'s tables (``only`` those named) in ``dest`` by
    those of the SQLite file ``source``, in one transaction; sequences continue after the
    restored rows. Returns the rows copied."""
    metadata = db.record_metadata if store == "records" else db.key_metadata
    tables = _tables(metadata, only)
    src_engine = db.connect(source)
    try:
        with src_engine.connect() as src, dest.begin() as dst:
            for table in reversed(tables):
                dst.execute(table.delete())
            copied = _copy(src, dst, tables)
            if dest.dialect.name == "postgresql":
                for table in tables:
                    for column in table.primary_key.columns:
                        if column.autoincrement is True or (
                                column.autoincrement == "auto"
                                and isinstance(column.type, sa.Integer)
                                and len(table.primary_key.columns) == 1):
                            dst.execute(sa.text(
                                "SELECT setval(pg_get_serial_sequence(:t, :c), "
                                f"coalesce((SELECT max({column.name}) FROM {table.name}), 0) + 1,"
                                " false)"), {"t": table.name, "c": column.name})
        if dest.dialect.name == "postgresql":  # statistics for the planner, at once
            with dest.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("ANALYZE " + ", ".join(t.name for t in tables))
        return copied
    finally:
        src_engine.dispose()
