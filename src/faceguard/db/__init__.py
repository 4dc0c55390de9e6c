"""Schema (SQLAlchemy Core) and connections for the two stores.

The *record store* (``faceguard.db``) holds subjects, notices, consents, encrypted
templates, deletion certificates and the processing record. The *key store*
(``keys.db``) holds only the per-subject data keys, wrapped by the master key. They are
separate files so that a copy or backup of the record store holds ciphertext alone:
destroying a subject's data key in the key store makes every copy of its templates
unreadable (crypto-shredding). Both use ``PRAGMA secure_delete`` so deleted rows are
overwritten on disk. Schemas are created and upgraded by Alembic (``migrations/``).

The record store runs in write-ahead-log mode with ``synchronous=FULL``: a commit is one
append to ``faceguard.db-wal`` and one ``fsync``, durable before the call returns (the
processing record's one-by-one rate depends on it). Operations that delete personal data
call :func:`checkpoint` afterwards, so the overwritten pages reach the main file and the log
is truncated. The key store stays in rollback-journal mode: it is written rarely, and a
destroyed key must not linger in a log.

On PostgreSQL (psycopg 3; ``store.core.database_url``) the same tables and migrations serve
both stores, the key store in its own schema (``KEY_SCHEMA``) or database; every session
commits with ``synchronous_commit=on``. PostgreSQL frees deleted rows at its next vacuum,
not at once: there, erasure rests on the destroyed data key (crypto-shredding) alone.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.sql.compiler import SQLCompiler

record_metadata = sa.MetaData()
key_metadata = sa.MetaData()

settings = sa.Table(
    "settings",
    record_metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

subjects = sa.Table(
    "subjects",
    record_metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("lookup_hash", sa.String(64), unique=True, nullable=True),
    sa.Column("identity_ct", sa.LargeBinary, nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Column("erased_at", sa.String(32), nullable=True),
    sa.Column("last_seen_at", sa.String(32), nullable=True),
)

notices = sa.Table(
    "notices",
    record_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("purpose", sa.String(64), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.UniqueConstraint("purpose", "version", name="uq_notice_version"),
)

consents = sa.Table(
    "consents",
    record_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("subject_id", sa.String(40), sa.ForeignKey("subjects.id"), nullable=False),
    sa.Column("purpose", sa.String(64), nullable=False),
    sa.Column("notice_id", sa.Integer, sa.ForeignKey("notices.id"), nullable=False),
    sa.Column("notice_sha256", sa.String(64), nullable=False),
    sa.Column("method", sa.String(16), nullable=False),
    sa.Column("evidence_ref", sa.String(256), nullable=False),
    sa.Column("minor", sa.Boolean, nullable=False),
    sa.Column("guardian_ct", sa.LargeBinary, nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("granted_at", sa.String(32), nullable=False),
    sa.Column("ended_at", sa.String(32), nullable=True),
    # Text on PostgreSQL, which enforces widths (an erasure's reason is the operator's words);
    # SQLite never enforced the 32 its first schema declared (migration r0006).
    sa.Column("end_reason", sa.String(32).with_variant(sa.Text(), "postgresql"), nullable=True),
    # the language of the notice the person read (``zh-CN``, ``en``); NULL before r0008
    sa.Column("language", sa.String(8), nullable=True),
    sa.Index(
        "uq_active_consent",
        "subject_id",
        "purpose",
        unique=True,
        sqlite_where=sa.text("status = 'active'"),
        postgresql_where=sa.text("status = 'active'"),
    ),
)

templates = sa.Table(
    "templates",
    record_metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("subject_id", sa.String(40), sa.ForeignKey("subjects.id"), nullable=False),
    sa.Column("purpose", sa.String(64), nullable=False),
    sa.Column("engine", sa.String(64), nullable=False),
    sa.Column("ciphertext", sa.LargeBinary, nullable=False),
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Column("expires_at", sa.String(32), nullable=False),
    sa.Index("ix_templates_purpose", "purpose"),
    sa.Index("ix_templates_subject", "subject_id"),
    sa.Index("ix_templates_expires", "expires_at"),
)

certificates = sa.Table(
    "deletion_certificates",
    record_metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("subject_id", sa.String(40), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("signature", sa.String(128), nullable=False),
    sa.Column("issued_at", sa.String(32), nullable=False),
)

reviews = sa.Table(
    "review_requests",
    record_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("decision_seq", sa.Integer, nullable=False),
    sa.Column("subject_id", sa.String(40), nullable=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("requested_at", sa.String(32), nullable=False),
    sa.Column("answer", sa.Text, nullable=True),
    sa.Column("answered_by", sa.String(128), nullable=True),
    sa.Column("answered_at", sa.String(32), nullable=True),
)

audit_events = sa.Table(
    "audit_events",
    record_metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("ts", sa.String(32), nullable=False),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("operation", sa.String(64), nullable=False),
    sa.Column("purpose", sa.String(64), nullable=True),
    sa.Column("subject", sa.String(40), nullable=True),
    sa.Column("outcome", sa.String(32), nullable=False),
    sa.Column("rules", sa.Text, nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)

audit_checkpoints = sa.Table(
    "audit_checkpoints",
    record_metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("signed_at", sa.String(32), nullable=False),
    sa.Column("signature", sa.String(128), nullable=False),
)

#: API keys of the service (faceguard.service.keys_store): the key itself is never stored,
#: only its SHA-256; an admin key's TOTP secret (R25) is AES-256-GCM under a key derived
#: from the master key.
api_keys = sa.Table(
    "api_keys",
    record_metadata,
    sa.Column("id", sa.String(16), primary_key=True),
    sa.Column("holder", sa.String(128), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("purposes", sa.Text, nullable=False),
    sa.Column("key_hash", sa.String(64), unique=True, nullable=False),
    sa.Column("totp_ct", sa.LargeBinary, nullable=True),
    sa.Column("totp_last_step", sa.Integer, nullable=True),
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Column("created_by", sa.String(128), nullable=False),
    sa.Column("last_used_at", sa.String(32), nullable=True),
    sa.Column("revoked_at", sa.String(32), nullable=True),
)

#: Consents a person declined at a kiosk (R4, R6): the keyed hash of their external ID, so
#: that they are never asked again for that purpose; no identity is stored.
consent_declines = sa.Table(
    "consent_declines",
    record_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("lookup_hash", sa.String(64), nullable=False),
    sa.Column("purpose", sa.String(64), nullable=False),
    sa.Column("declined_at", sa.String(32), nullable=False),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.UniqueConstraint("lookup_hash", "purpose", name="uq_consent_decline"),
)

#: The index's change feed, written by triggers (migration r0004) in the transaction of
#: the change itself: every template added or deleted, every consent ended or resumed. A
#: process holding an index partition applies the rows after the last it saw before it
#: identifies anyone, so enrollments, withdrawals and erasures made by other processes
#: (the CLI while the service runs, other workers) reach it.
index_changes = sa.Table(
    "index_changes",
    record_metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("purpose", sa.String(64), nullable=False),
    sa.Column("subject_id", sa.String(40), nullable=False),
    sa.Column("template_id", sa.String(40), nullable=True),
    sa.Column("kind", sa.String(8), nullable=False),
    sa.Index("ix_index_changes_purpose_seq", "purpose", "seq"),
    sqlite_autoincrement=True,
)

#: Browser sessions of the service (``access.sessions``): the token's SHA-256 only.
service_sessions = sa.Table(
    "service_sessions",
    record_metadata,
    sa.Column("digest", sa.String(64), primary_key=True),
    sa.Column("key_id", sa.String(16), nullable=False),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("last_seen", sa.Float, nullable=False),
    sa.Column("second_factor", sa.Boolean, nullable=False),
    sa.Column("kiosk_only", sa.Boolean, nullable=False),
    sa.Index("ix_service_sessions_key", "key_id"),
)

#: Failed authentications per bucket (an address, a key ID) and the buckets locked for them
#: (``access.sessions.Throttle``): shared by every worker.
auth_failures = sa.Table(
    "auth_failures",
    record_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("bucket", sa.String(200), nullable=False),
    sa.Column("at", sa.Float, nullable=False),
    sa.Index("ix_auth_failures_bucket", "bucket"),
)
auth_locks = sa.Table(
    "auth_locks",
    record_metadata,
    sa.Column("bucket", sa.String(200), primary_key=True),
    sa.Column("until", sa.Float, nullable=False),
)

#: Liveness state every worker shares (``liveness.shared``, R26): issued challenges (each
#: answerable once), hashes of frames received, the lockout's counts and locks, and answers
#: that passed (by fingerprint and frame number: never the frame itself, R9).
liveness_challenges = sa.Table(
    "liveness_challenges",
    record_metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("terminal", sa.String(200), nullable=False),
    sa.Column("expires_at", sa.String(32), nullable=False),
    sa.Column("state", sa.String(8), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Index("ix_liveness_challenges_state", "state", "expires_at"),
)
liveness_frames = sa.Table(
    "liveness_frames",
    record_metadata,
    sa.Column("digest", sa.String(64), primary_key=True),
    sa.Column("seen_at", sa.String(32), nullable=False),
    sa.Index("ix_liveness_frames_seen", "seen_at"),
)
liveness_counts = sa.Table(
    "liveness_counts",
    record_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(8), nullable=False),
    sa.Column("scope", sa.String(8), nullable=False),
    sa.Column("key", sa.String(200), nullable=False),
    sa.Column("at", sa.String(32), nullable=False),
    sa.Index("ix_liveness_counts_key", "scope", "key"),
)
liveness_locks = sa.Table(
    "liveness_locks",
    record_metadata,
    sa.Column("scope", sa.String(8), primary_key=True),
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("until", sa.String(32), nullable=False),
    sa.Column("failures", sa.Integer, nullable=False),
)
liveness_passed = sa.Table(
    "liveness_passed",
    record_metadata,
    sa.Column("challenge_id", sa.String(32), primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("best_frame", sa.Integer, nullable=False),
    sa.Column("until", sa.String(32), nullable=False),
    sa.Column("purposes", sa.Text, nullable=False),
)

subject_keys = sa.Table(
    "subject_keys",
    key_metadata,
    sa.Column("subject_id", sa.String(40), primary_key=True),
    sa.Column("wrapped_key", sa.LargeBinary, nullable=False),
    sa.Column("created_at", sa.String(32), nullable=False),
)


#: The master keys a rotation knew (``store.rotation``): each one's fingerprint, the
#: deployment's root key sealed under it, and its state (current, next while a rotation
#: runs, retired). Empty until the first rotation. The keys themselves are never stored.
master_keys = sa.Table(
    "master_keys",
    key_metadata,
    sa.Column("fingerprint", sa.String(16), primary_key=True),
    sa.Column("sealed_root", sa.LargeBinary, nullable=False),
    sa.Column("state", sa.String(8), nullable=False),
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Column("retired_at", sa.String(32), nullable=True),
)

#: The erasure ledger when the stores live in PostgreSQL (``store.ledger.TableLedger``): one
#: JSON entry per row, in the key store, which a restore of the record store never touches.
erasure_ledger = sa.Table(
    "erasure_ledger",
    key_metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("entry", sa.Text, nullable=False),
)


def _pragmas(journal: str) -> Any:
    def apply(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA secure_delete=ON")
        cur.execute(f"PRAGMA journal_mode={journal}")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    return apply


#: The PostgreSQL schema of the key store when it shares the record store's database:
#: a dump of the record schema alone holds ciphertext only, and the key schema's wrapped
#: keys are useless without the master key (which never enters the database).
KEY_SCHEMA = "faceguard_keys"


def is_url(value: str | Path) -> bool:
    return "://" in str(value)


def connect(url_or_path: str | Path, *, wal: bool = False, schema: str | None = None) -> Engine:
    """An engine for a SQLite file path or a database URL, with the safety settings set.

    ``wal`` selects write-ahead logging (a SQLite record store) instead of a rollback
    journal. On PostgreSQL (``postgresql://``, driven by psycopg 3) ``schema``, if given, is
    created when missing and put first on the connection's search path, so that a store
    can live in its own schema of a shared database.
    """
    url = str(url_or_path)
    if not is_url(url):
        url = f"sqlite:///{Path(url).resolve()}"
    if url.startswith(("postgresql://", "postgres://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith("postgresql"):
        # Named by process, so that a restore can tell its own connections from others'.
        args: dict[str, Any] = {"application_name": f"faceguard-{os.getpid()}"}
        # A commit is durable before the call returns, whatever the server's default (as
        # SQLite's synchronous=FULL): group commit answers only after it.
        options = "-c synchronous_commit=on"
        if schema is not None:
            options += f" -c search_path={schema}"
        args["options"] = options
        engine = sa.create_engine(url, future=True, connect_args=args, pool_pre_ping=True,
                                  pool_size=8, max_overflow=16)
        if schema is not None:
            try:
                with engine.begin() as conn:
                    conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            except sa.exc.IntegrityError:
                pass  # another process created it at the same moment
        return engine
    engine = sa.create_engine(url, future=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _pragmas("WAL" if wal else "DELETE"))
    return engine


def driver_cursor(conn: sa.Connection) -> Any:
    """A cursor of the database driver on ``conn``'s connection and transaction, for hot
    loops where SQLAlchemy's per-statement and per-row work would dominate."""
    return conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]


class Prepared:
    """A statement compiled once (per dialect) and run through the driver's cursor.

    For the per-operation hot paths (verification's look-ups, the audit append): SQLAlchemy's
    own execution costs tens of microseconds a statement in Python; this costs a few. The
    statement keeps its SQLAlchemy Core definition, so it still follows the schema and the
    dialect; it runs on the caller's connection and transaction.
    """

    __slots__ = ("_compiled", "statement")

    def __init__(self, statement: sa.ClauseElement) -> None:
        self.statement = statement
        self._compiled: dict[str, tuple[str, tuple[str, ...] | None, dict[str, Any]]] = {}

    def _entry(self, dialect: sa.Dialect) -> tuple[str, tuple[str, ...] | None, dict[str, Any]]:
        entry = self._compiled.get(dialect.name)
        if entry is None:
            compiled = cast(SQLCompiler, self.statement.compile(dialect=dialect))
            names = tuple(compiled.positiontup or ()) if compiled.positional else None
            entry = self._compiled[dialect.name] = (compiled.string, names,
                                                    dict(compiled.params))
        return entry

    def _cursor(self, conn: sa.Connection, params: dict[str, Any] | None = None, *,
                each: list[dict[str, Any]] | None = None) -> Any:
        """Execute with ``params``, or once for each of ``each``; returns the cursor."""
        sql, names, defaults = self._entry(conn.dialect)

        def bind(values: dict[str, Any]) -> Any:
            if defaults.keys() - values.keys():
                values = {**defaults, **values}
            return values if names is None else tuple([values[n] for n in names])

        cursor = driver_cursor(conn)
        driver_error = conn.dialect.loaded_dbapi.Error
        try:
            if each is None:
                cursor.execute(sql, bind(params or {}))
            else:
                cursor.executemany(sql, [bind(p) for p in each])
        except driver_error as exc:  # the same error SQLAlchemy's own execution raises
            raise sa.exc.DBAPIError.instance(sql, None, exc, driver_error) from exc
        return cursor

    def rows(self, conn: sa.Connection, params: dict[str, Any] | None = None) -> list[Any]:
        """Every row, as the driver's plain tuples."""
        return list(self._cursor(conn, params).fetchall())

    def first(self, conn: sa.Connection, params: dict[str, Any] | None = None) -> Any:
        """The first row as a plain tuple, or ``None``."""
        return self._cursor(conn, params).fetchone()

    def run(self, conn: sa.Connection, params: dict[str, Any] | None = None) -> int:
        """Execute a write; returns the number of rows it changed."""
        return int(self._cursor(conn, params).rowcount)

    def many(self, conn: sa.Connection, rows: list[dict[str, Any]]) -> None:
        """Execute a write once for each of ``rows`` (one multi-row insert)."""
        self._cursor(conn, each=rows)


def checkpoint(engine: Engine) -> None:
    """Copy a SQLite write-ahead log into the main file and truncate it (no-op elsewhere).

    Called after personal data is deleted: ``secure_delete`` has overwritten the freed
    pages, and this moves the overwrite into the main file and empties the log.
    """
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def upgrade(engine: Engine, store: str) -> None:
    """Bring ``store`` ("records" or "keys") to the newest schema with Alembic."""
    from alembic import command
    from alembic.config import Config

    folder = Path(__file__).parent / "migrations" / store
    cfg = Config()
    cfg.set_main_option("script_location", str(folder))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
