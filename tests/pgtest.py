"""A PostgreSQL server for the tests: one migrated template database per session, and a fresh
database copied from it for each test that runs on PostgreSQL (see conftest.py)."""

from __future__ import annotations

import itertools
import os
import sqlite3
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa
from psycopg.rows import dict_row, tuple_row

from faceguard import db

SERVER = os.environ.get("FACEGUARD_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
_NAMES = itertools.count(1)


class Server:
    """The test server, reached through its ``postgres`` maintenance database."""

    def __init__(self, admin: sa.Engine) -> None:
        self._admin = admin
        self.prefix = f"fgtest_{os.getpid()}"
        self.template = f"{self.prefix}_template"

    @classmethod
    def reach(cls) -> Server | None:
        """The server, or ``None`` when it does not answer."""
        admin = sa.create_engine(_url("postgres"), isolation_level="AUTOCOMMIT",
                                 poolclass=sa.pool.NullPool)
        try:
            with admin.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        except sa.exc.OperationalError:
            return None
        return cls(admin)

    def _run(self, sql: str) -> None:
        with self._admin.connect() as conn:
            conn.exec_driver_sql(sql)

    def make_template(self) -> None:
        """Create the template database with both stores' schemas at their newest."""
        self._run(f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)')
        self._run(f'CREATE DATABASE "{self.template}"')
        url = _url(self.template)
        for engine, store in ((db.connect(url), "records"),
                              (db.connect(url, schema=db.KEY_SCHEMA), "keys")):
            db.upgrade(engine, store)
            engine.dispose()

    def fresh_database(self) -> str:
        """The URL of a new database copied from the template."""
        name = f"{self.prefix}_{next(_NAMES)}"
        self._run(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        return _url(name)

    def drop(self, url: str) -> None:
        """Drop a database made by ``fresh_database`` (its connections are ended)."""
        self._run(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')

    def drop_template(self) -> None:
        self._run(f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)')
        self._admin.dispose()


def _url(database: str) -> str:
    return "postgresql+psycopg://" + SERVER.split("://", 1)[1].rstrip("/") + "/" + database


class _Raw:
    """A driver connection on a store, for tests that read or tamper with rows directly:
    ``execute(sql, params)`` takes SQLite's ``?`` placeholders on both databases."""

    def __init__(self, conn: Any, postgres: bool) -> None:
        self.conn = conn
        self.postgres = postgres

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        if self.postgres:
            return self.conn.execute(sql.replace("?", "%s"), tuple(params))
        return self.conn.execute(sql, tuple(params))

    @property
    def integrity_error(self) -> type[Exception]:
        return psycopg.IntegrityError if self.postgres else sqlite3.IntegrityError


@contextmanager
def raw(data_dir: Path, store: str = "records", *, dicts: bool = False) -> Iterator[_Raw]:
    """A connection to ``data_dir``'s record (or key) store, wherever it lives (the test's
    ``FACEGUARD_DATABASE_URL`` or the data directory's files); committed on a clean exit."""
    url = os.environ.get("FACEGUARD_DATABASE_URL")
    if url:
        plain = "postgresql://" + url.split("://", 1)[1]
        options = f"-c search_path={db.KEY_SCHEMA}" if store == "keys" else None
        pconn = psycopg.connect(plain, options=options or "",
                                row_factory=dict_row if dicts else tuple_row)
        with pconn:  # commits on a clean exit, rolls back on an exception
            yield _Raw(pconn, True)
        return
    path = data_dir / "faceguard.db" if store == "records" else data_dir / "keys" / "keys.db"
    with closing(sqlite3.connect(path)) as sconn:
        if dicts:
            sconn.row_factory = sqlite3.Row
        with sconn:
            yield _Raw(sconn, False)


def stored_bytes(data_dir: Path) -> bytes:
    """Everything the record store holds, as bytes to search: the SQLite file and its log,
    or a plain dump of the test's PostgreSQL database (every schema, binary as hex)."""
    url = os.environ.get("FACEGUARD_DATABASE_URL")
    if not url:
        return b"".join(p.read_bytes() for p in sorted(data_dir.glob("faceguard.db*")))
    plain = "postgresql://" + url.split("://", 1)[1]
    return subprocess.run(["pg_dump", "--data-only", "--inserts", plain], check=True,
                          capture_output=True).stdout
