"""The Alembic migrations build exactly the schema the code declares, for both stores."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from faceguard import db


@pytest.mark.parametrize(("store", "metadata"), [("records", db.record_metadata),
                                                  ("keys", db.key_metadata)])
def test_migrations_match_the_declared_schema(tmp_path: Path, store: str, metadata: object
                                              ) -> None:
    engine = db.connect(tmp_path / f"{store}.db")
    db.upgrade(engine, store)
    db.upgrade(engine, store)  # idempotent
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []  # type: ignore[arg-type]
        assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
