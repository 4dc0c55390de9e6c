"""Encrypted templates and identities, keyed per subject, erased by crypto-shredding (R9, R14, R18).

Templates refer only to a pseudonymous subject ID. Identity data (name, external ID) sits in
its own column as ciphertext plus a keyed hash for look-up. Every ciphertext is AES-256-GCM
under the subject's data key, bound to the subject and record IDs. The data keys live in the
separate key store; ``shred`` destroys one, after which no copy of the record store can be
read for that subject.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import sqlalchemy as sa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.engine import Connection, Engine

from faceguard import db
from faceguard.engine.types import Template
from faceguard.errors import EngineMismatch, NotFound, VaultError
from faceguard.timeutil import iso, utc_now
from faceguard.vault import masters
from faceguard.vault.keys import NONCE_BYTES, Keyring, open_sealed, opening, record_aad, seal


@dataclass(frozen=True)
class Identity:
    """Who a pseudonymous subject is (decrypted on demand)."""

    subject_id: str
    external_id: str
    name: str


@dataclass(frozen=True)
class StoredTemplate:
    """A decrypted template with the IDs it is stored under."""

    template_id: str
    subject_id: str
    purpose: str
    template: Template
    expires_at: str


def new_id(prefix: str) -> str:
    """A random pseudonymous ID such as ``s_3f9c...`` (128 bits)."""
    return f"{prefix}_{secrets.token_hex(16)}"


class Vault:
    """Subjects, identities and templates in the record store; data keys in the key store."""

    def __init__(self, records: Engine, keys: Engine, keyring: Keyring) -> None:
        self._records = records
        self._keys = keys
        self._keyring = keyring
        self._key_lock = threading.Lock()
        self._engine_checked: str | None = None

    # ---- subjects and identities -------------------------------------------------------

    def create_subject(self, conn: Connection, external_id: str, name: str) -> str:
        """Create a subject with a fresh data key; returns its pseudonymous ID.

        The data key is committed to the key store first; if the caller's transaction then
        rolls back, the caller shreds it (and ``discard_orphan_keys`` in every sweep removes
        any key left behind by a crash).
        """
        subject_id = new_id("s")
        with self._key_lock, self._keys.begin() as kconn:
            masters.use_wrapping_key(kconn, self._keyring)  # a rotation may have moved on
            key, wrapped = self._keyring.new_data_key(subject_id)
            kconn.execute(
                db.subject_keys.insert().values(
                    subject_id=subject_id, wrapped_key=wrapped, created_at=iso(utc_now())
                )
            )
        identity = json.dumps({"external_id": external_id, "name": name}).encode("utf-8")
        conn.execute(
            db.subjects.insert().values(
                id=subject_id,
                lookup_hash=self._keyring.lookup_hash(external_id),
                identity_ct=seal(AESGCM(key), identity, record_aad(b"identity", subject_id)),
                status="active",
                created_at=iso(utc_now()),
            )
        )
        return subject_id

    def find_subject(self, conn: Connection, external_id: str) -> str | None:
        """The active subject ID for ``external_id``, or ``None``."""
        row = conn.execute(_FIND_SUBJECT,
                           {"lookup_hash": self._keyring.lookup_hash(external_id)}).first()
        return None if row is None else str(row.id)

    def identity(self, conn: Connection, subject_id: str) -> Identity:
        """Decrypt a subject's identity; ``NotFound`` if erased or unknown."""
        row = conn.execute(
            sa.select(db.subjects.c.identity_ct).where(
                db.subjects.c.id == subject_id, db.subjects.c.status == "active"
            )
        ).first()
        if row is None or row.identity_ct is None:
            raise NotFound(f"no active subject {subject_id}")
        data = json.loads(
            self.open(subject_id, row.identity_ct, record_aad(b"identity", subject_id))
        )
        return Identity(subject_id, data["external_id"], data["name"])

    # ---- generic sealing under a subject key --------------------------------------------

    def seal(self, subject_id: str, plaintext: bytes, aad: bytes) -> bytes:
        return seal(AESGCM(self._data_key(subject_id)), plaintext, aad)

    def open(self, subject_id: str, blob: bytes, aad: bytes) -> bytes:
        return open_sealed(AESGCM(self._data_key(subject_id)), blob, aad)

    def _data_key(self, subject_id: str) -> bytes:
        key = self._data_key_or_none(subject_id)
        if key is None:
            raise VaultError(
                f"subject {subject_id} has no data key (erased: its data can no longer be read)"
            )
        return key

    def _data_key_or_none(self, subject_id: str) -> bytes | None:
        with self._keys.connect() as kconn:
            row = _KEY.first(kconn, {"subject_id": subject_id})
        return None if row is None else self._keyring.unwrap(subject_id, row[0])

    def _wrapped_keys(self) -> list[tuple[str, bytes]]:
        """Every wrapped key of the key store, in one scan."""
        with self._keys.connect() as kconn:
            cursor = db.driver_cursor(kconn)
            cursor.execute("SELECT subject_id, wrapped_key FROM subject_keys")
            return [(s, bytes(w)) for s, w in cursor.fetchall()]

    def _all_data_keys(self) -> dict[str, bytes]:
        """Every data key of the key store, unwrapped."""
        return self._keyring.unwrap_many(self._wrapped_keys())

    def data_keys(self, subject_ids: list[str]) -> dict[str, bytes]:
        """Unwrapped data keys of several subjects (missing ones left out)."""
        wanted = set(subject_ids)
        if len(wanted) > 2000:  # most of the store: one scan beats thousands of look-ups
            return self._keyring.unwrap_many(
                (s, w) for s, w in self._wrapped_keys() if s in wanted)
        pairs: list[tuple[str, bytes]] = []
        with self._keys.connect() as kconn:
            for start in range(0, len(subject_ids), 500):
                chunk = subject_ids[start : start + 500]
                pairs += [(s, w) for s, w in kconn.execute(_KEYS, {"ids": chunk})]
        return self._keyring.unwrap_many(pairs)

    # ---- templates ----------------------------------------------------------------------

    def add_template(
        self, conn: Connection, subject_id: str, purpose: str, template: Template, expires_at: str
    ) -> str:
        """Encrypt and store one template; returns its ID. ``EngineMismatch`` if the store
        holds templates of another engine (a deployment never mixes engines)."""
        self._require_engine(conn, template.engine)
        template_id = new_id("t")
        vector = np.ascontiguousarray(template.vector, dtype="<f4").tobytes()
        aad = _template_aad(subject_id, template_id, template.engine)
        blob = self.seal(subject_id, vector, aad)
        conn.execute(
            db.templates.insert().values(
                id=template_id,
                subject_id=subject_id,
                purpose=purpose,
                engine=template.engine,
                ciphertext=blob,
                created_at=iso(utc_now()),
                expires_at=expires_at,
            )
        )
        return template_id

    def _require_engine(self, conn: Connection, engine: str) -> None:
        """Checked once per engine and vault (other processes check their own)."""
        if self._engine_checked == engine:
            return
        other = conn.execute(sa.select(db.templates.c.engine)
                             .where(db.templates.c.engine != engine).limit(1)).scalar()
        if other is not None:
            raise EngineMismatch(f"the store holds templates of engine {other!r}; templates "
                                 f"of {engine!r} cannot be added (re-enroll everyone to "
                                 "change engines)")
        self._engine_checked = engine

    def templates(
        self, conn: Connection, *, purpose: str, subject_id: str | None = None
    ) -> list[StoredTemplate]:
        """Decrypt the templates of a purpose (optionally of one subject only)."""
        if subject_id is None:
            rows = conn.execute(_PURPOSE_TEMPLATES, {"purpose": purpose}).fetchall()
        else:
            rows = conn.execute(_SUBJECT_TEMPLATES,
                                {"purpose": purpose, "subject_id": subject_id}).fetchall()
        return self._open_stored(rows)

    def consented_templates(self, conn: Connection, external_id: str, purpose: str, now: str
                            ) -> tuple[str, bool, list[StoredTemplate]] | None:
        """One person's side of a verification, in one query: ``None`` if ``external_id`` is
        no active subject; else ``(subject_id, consented, templates)``, where ``consented``
        says whether the subject holds an active consent for ``purpose`` and ``templates``
        are their live templates for it, decrypted only when it does (none otherwise)."""
        rows = _VERIFY_SIDE.rows(conn, {"lookup_hash": self._keyring.lookup_hash(external_id),
                                        "purpose": purpose, "now": now})
        if not rows:
            return None
        subject_id, consented = str(rows[0][0]), bool(rows[0][1])
        # the template rows in ``_TEMPLATE_COLUMNS`` order
        found = [(r[2], subject_id, r[3], r[4], purpose, r[5]) for r in rows if r[2] is not None]
        if not consented or not found:
            return subject_id, consented, []
        key = self._data_key_or_none(subject_id)
        return subject_id, True, self._open_stored(found, {} if key is None else
                                                   {subject_id: key})

    def _open_stored(self, rows: Sequence[Any], keys: dict[str, bytes] | None = None
                     ) -> list[StoredTemplate]:
        """Decrypt template rows (columns in ``_TEMPLATE_COLUMNS`` order), unwrapping each
        subject's key once; rows of shredded subjects are left out (unreadable by design)."""
        kept, plains = self._decrypt_rows(rows, keys)
        return [
            StoredTemplate(row[0], row[1], row[4],
                           Template(np.frombuffer(raw, dtype="<f4").astype(np.float32), row[2]),
                           row[5])
            for row, raw in zip(kept, plains, strict=True)
        ]

    def _decrypt_rows(self, rows: Sequence[Any], keys: dict[str, bytes] | None = None
                      ) -> tuple[list[Any], list[bytes]]:
        """The rows that open and their plaintexts, in one tight loop (index start-up opens
        every template of a purpose). ``keys``: the data keys, if already unwrapped."""
        if keys is None:
            keys = self.data_keys(sorted({row[1] for row in rows}))
        ciphers: dict[str, Any] = {}
        prefix = record_aad(b"template")  # ends with the separator
        kept: list[Any] = []
        plains: list[bytes] = []
        keep, plain = kept.append, plains.append
        with opening():
            for row in rows:
                template_id, subject_id, engine, blob = row[0], row[1], row[2], row[3]
                decrypt = ciphers.get(subject_id)
                if decrypt is None:
                    key = keys.get(subject_id)
                    if key is None:
                        continue
                    decrypt = ciphers[subject_id] = AESGCM(key).decrypt
                plain(decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:],
                              prefix + f"{subject_id}\0{template_id}\0{engine}".encode()))
                keep(row)
        return kept, plains

    def load_partition(
        self, conn: Connection, purpose: str, now: str, dimension: int
    ) -> tuple[list[str], list[str], set[str], np.ndarray]:
        """Every live template of ``purpose`` whose subject holds an active consent for it,
        decrypted in one batch: ``(subject_ids, template_ids, engines, (n, d) matrix)``."""
        # With many people, a second thread reads and unwraps the whole key store while
        # this one reads the templates (SQLite lets go of the GIL while it reads).
        if conn.dialect.name == "postgresql":
            # A whole-purpose read: a nested loop never wins, and without statistics (just
            # after a bulk load or a restore) the planner picks one that is quadratic.
            conn.exec_driver_sql("SET LOCAL enable_nestloop = off")
        with ThreadPoolExecutor(1) as pool:
            big = conn.execute(_SUBJECT_COUNT).scalar_one() > 2000
            scan = pool.submit(self._all_data_keys) if big else None
            rows = _PARTITION.rows(conn, {"purpose": purpose, "now": now})
            kept, plains = self._decrypt_rows(rows, scan.result() if scan else None)
        return _as_partition(kept, plains, dimension)

    def load_subjects(
        self, conn: Connection, purpose: str, now: str, dimension: int, subject_ids: list[str]
    ) -> tuple[list[str], list[str], set[str], np.ndarray]:
        """As ``load_partition``, for some subjects only (the index's change feed)."""
        rows = conn.execute(_SOME_SUBJECTS, {"purpose": purpose, "now": now,
                                             "subjects": subject_ids}).all()
        kept, plains = self._decrypt_rows(rows)
        return _as_partition(kept, plains, dimension)

    def delete_templates(
        self, conn: Connection, subject_id: str, purpose: str | None = None
    ) -> list[str]:
        """Delete a subject's templates (of one purpose, or all); returns the deleted IDs."""
        where = db.templates.c.subject_id == subject_id
        if purpose is not None:
            where = where & (db.templates.c.purpose == purpose)
        ids = [r.id for r in conn.execute(sa.select(db.templates.c.id).where(where))]
        conn.execute(db.templates.delete().where(where))
        return ids

    def tombstone(self, conn: Connection, subject_id: str, when: str) -> None:
        """Drop a subject's identity and look-up hash, keeping only the pseudonymous ID."""
        conn.execute(
            db.subjects.update()
            .where(db.subjects.c.id == subject_id)
            .values(status="erased", lookup_hash=None, identity_ct=None, erased_at=when)
        )

    def shred(self, subject_id: str) -> bool:
        """Destroy the subject's data key (secure_delete overwrites it on disk)."""
        with self._key_lock, self._keys.begin() as kconn:
            result = kconn.execute(
                db.subject_keys.delete().where(db.subject_keys.c.subject_id == subject_id)
            )
        return bool(result.rowcount)

    def discard_orphan_keys(self) -> int:
        """Destroy data keys whose subject is not active in the record store."""
        with self.records_connection() as conn:
            active = {
                r.id
                for r in conn.execute(
                    sa.select(db.subjects.c.id).where(db.subjects.c.status == "active")
                )
            }
        with self._keys.connect() as kconn:
            held = [r.subject_id for r in kconn.execute(sa.select(db.subject_keys.c.subject_id))]
        orphans = [s for s in held if s not in active]
        for subject_id in orphans:
            self.shred(subject_id)
        return len(orphans)

    def records_connection(self) -> Connection:
        return self._records.connect()

    def any_keys(self) -> bool:
        with self._keys.connect() as kconn:
            row = kconn.execute(sa.select(db.subject_keys.c.subject_id).limit(1)).first()
        return row is not None

    def has_key(self, subject_id: str) -> bool:
        with self._keys.connect() as kconn:
            row = kconn.execute(
                sa.select(db.subject_keys.c.subject_id).where(
                    db.subject_keys.c.subject_id == subject_id
                )
            ).first()
        return row is not None


# Statements run on every verification, built once (SQLAlchemy reuses their compiled form).
_FIND_SUBJECT = sa.select(db.subjects.c.id).where(
    db.subjects.c.lookup_hash == sa.bindparam("lookup_hash"), db.subjects.c.status == "active")
_TEMPLATE_COLUMNS = (db.templates.c.id, db.templates.c.subject_id, db.templates.c.engine,
                     db.templates.c.ciphertext, db.templates.c.purpose,
                     db.templates.c.expires_at)
_PURPOSE_TEMPLATES = (sa.select(*_TEMPLATE_COLUMNS)
                      .where(db.templates.c.purpose == sa.bindparam("purpose"))
                      .order_by(db.templates.c.id))
_SUBJECT_TEMPLATES = (sa.select(*_TEMPLATE_COLUMNS)
                      .where(db.templates.c.purpose == sa.bindparam("purpose"),
                             db.templates.c.subject_id == sa.bindparam("subject_id"))
                      .order_by(db.templates.c.id))


def _as_partition(kept: list[Any], plains: list[bytes], dimension: int
                  ) -> tuple[list[str], list[str], set[str], np.ndarray]:
    engines = {row[2] for row in kept}
    if any(len(plain) != 4 * dimension for plain in plains):
        raise EngineMismatch(f"stored templates of engine(s) {', '.join(sorted(engines))} are "
                             f"not {dimension}-d: they cannot be searched with this engine")
    matrix = np.frombuffer(b"".join(plains), dtype="<f4").reshape(-1, dimension)
    return ([row[1] for row in kept], [row[0] for row in kept], {row[2] for row in kept},
            matrix.astype(np.float32))


_PARTITION_SELECT = (sa.select(
    db.templates.c.id, db.templates.c.subject_id, db.templates.c.engine,
    db.templates.c.ciphertext,
).where(
    db.templates.c.purpose == sa.bindparam("purpose"),
    db.templates.c.expires_at > sa.bindparam("now"),
    db.templates.c.subject_id.in_(
        sa.select(db.consents.c.subject_id).where(
            db.consents.c.purpose == sa.bindparam("purpose"), db.consents.c.status == "active")),
))
_PARTITION = db.Prepared(_PARTITION_SELECT)
_SOME_SUBJECTS = _PARTITION_SELECT.where(
    db.templates.c.subject_id.in_(sa.bindparam("subjects", expanding=True)))
_SUBJECT_COUNT = sa.select(sa.func.count()).select_from(db.subjects)
_KEY = db.Prepared(sa.select(db.subject_keys.c.wrapped_key)
                   .where(db.subject_keys.c.subject_id == sa.bindparam("subject_id")))
_VERIFY_SIDE = db.Prepared(
    sa.select(
        db.subjects.c.id,
        sa.exists().where(db.consents.c.subject_id == db.subjects.c.id,
                          db.consents.c.purpose == sa.bindparam("purpose"),
                          db.consents.c.status == "active").label("consented"),
        db.templates.c.id, db.templates.c.engine, db.templates.c.ciphertext,
        db.templates.c.expires_at,
    )
    .select_from(db.subjects.outerjoin(db.templates, sa.and_(
        db.templates.c.subject_id == db.subjects.c.id,
        db.templates.c.purpose == sa.bindparam("purpose"),
        db.templates.c.expires_at > sa.bindparam("now"))))
    .where(db.subjects.c.lookup_hash == sa.bindparam("lookup_hash"),
           db.subjects.c.status == "active")
    .order_by(db.templates.c.id)
)
_KEYS = sa.select(db.subject_keys.c.subject_id, db.subject_keys.c.wrapped_key).where(
    db.subject_keys.c.subject_id.in_(sa.bindparam("ids", expanding=True)))


def _template_aad(subject_id: str, template_id: str, engine: str) -> bytes:
    return record_aad(b"template", subject_id, template_id, engine)
