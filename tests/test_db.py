"""The Alembic migrations build exactly the schema the code declares, for both stores."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from faceguard import db


@pytest.mark.parametrize(("store", "metadata"), [("records", db.record_metadata),
                                                  ("keys", db.key_metadata)])
def test_migrations_match_the_declared_schema(tmp_path: Path, store: str, metadata: object
                                              ) -> None:
    url = os.environ.get("FACEGUARD_DATABASE_URL")  # the PostgreSQL run's database
    engine = (db.connect(url, schema=db.KEY_SCHEMA if store == "keys" else None) if url
              else db.connect(tmp_path / f"{store}.db"))
    db.upgrade(engine, store)
    db.upgrade(engine, store)  # idempotent
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []  # type: ignore[arg-type]
        if not url:
            assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
    engine.dispose()


def test_the_record_store_commits_durably_through_a_write_ahead_log(tmp_path: Path) -> None:
    records = db.connect(tmp_path / "faceguard.db", wal=True)
    keys = db.connect(tmp_path / "keys.db")
    try:
        with records.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        with keys.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "delete"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2
        db.upgrade(records, "records")
        assert (tmp_path / "faceguard.db-wal").stat().st_size > 0
        db.checkpoint(records)
        assert (tmp_path / "faceguard.db-wal").stat().st_size == 0
    finally:
        records.dispose()
        keys.dispose()


def test_prepared_statements_bind_constants_join_the_transaction_and_raise_sqlalchemy_errors(
    tmp_path: Path,
) -> None:
    engine = db.connect(tmp_path / "faceguard.db", wal=True)
    db.upgrade(engine, "records")
    insert = db.Prepared(db.settings.insert())
    pick = db.Prepared(sa.select(db.settings.c.key)
                       .where(db.settings.c.value == "on", db.settings.c.key.like("x.%"))
                       .order_by(db.settings.c.key))
    try:
        with engine.begin() as conn:
            insert.many(conn, [{"key": "x.a", "value": "on"}, {"key": "x.b", "value": "off"},
                               {"key": "y.c", "value": "on"}])
            assert pick.rows(conn) == [("x.a",)]  # the constants "on" and "x.%" were bound
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
            insert.run(conn, {"key": "x.z", "value": "on"})
            insert.run(conn, {"key": "x.a", "value": "again"})  # duplicate key
        with engine.connect() as conn:  # the failed transaction left nothing behind
            assert pick.rows(conn) == [("x.a",)] and pick.first(conn) == ("x.a",)
    finally:
        engine.dispose()
