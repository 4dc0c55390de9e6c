"""Backup and restore of a data directory, with no resurrection (R18, R25 "backup").

``backup`` copies, while the service runs, each store with SQLite's online backup API (a
consistent snapshot of each; the service keeps reading and writing)::

    DEST/
    ├── records/            the record store copy: keep it apart from keys/
    │   ├── faceguard.db
    │   └── backup.json     manifest: backup ID, time, part, SHA-256 of the file
    └── keys/               the key store copy, mode 0700
        ├── keys.db
        ├── erasures.jsonl  the erasure ledger as it stood (copied last)
        └── backup.json

The record store is copied first, the key store after it, the ledger last: a person created
in between has a key in the copy (keys are made before records), and one erased in between is
in the copied ledger. The master key is never copied: whoever holds both copies and the key
reads everything, so the key is kept by the operator in a third place (or in
``FACEGUARD_MASTER_KEY``); without it neither copy opens.

``restore`` runs only while no process has the data directory open (it takes the directory's
lock exclusively, ``store.lock_data_dir``, and refuses otherwise). It checks each copy
(manifest checksum, SQLite integrity, the record's signatures and the key store's wrapping
under this deployment's master key), puts it in place, merges the backup's ledger into the
current one (the ledger itself is never replaced), writes a signed ``restore`` receipt when
the processing record went back (``audit_receipts.record_restore``), then opens the store,
which re-applies every erasure of the ledger (``faceguard.recovery``), and records
``store.restored``.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from faceguard import db
from faceguard.audit.log import GENESIS, AuditLog
from faceguard.audit.operations import Op
from faceguard.audit.receipts import record_restore
from faceguard.db import copy
from faceguard.errors import ConfigError, VaultError
from faceguard.files import fsync_path, sha256_file
from faceguard.results import BackupResult, RestoreResult
from faceguard.rights.recovery import open_store
from faceguard.store.core import (
    KEYS_DIR,
    KEYS_FILE,
    RECORDS_FILE,
    Store,
    database_url,
    key_engine,
    lock_data_dir,
)
from faceguard.store.ledger import LEDGER_FILE, ErasureLedger, TableLedger, parse
from faceguard.timeutil import iso, utc_now
from faceguard.vault import masters
from faceguard.vault.keys import Keyring
from faceguard.vault.templates import new_id

MANIFEST = "backup.json"
FORMAT = "faceguard-backup/1"
PARTS = ("records", "keys")
_FILES = {"records": RECORDS_FILE, "keys": KEYS_FILE}
_STAGED = ".restoring"
#: What a restore of the key part replaces (never the erasure ledger: it is merged).
_KEY_TABLES = ("subject_keys",)


def backup(store: Store, dest: Path, *, actor: str) -> BackupResult:
    """Copy ``store`` into ``dest`` (absent or empty) as two folders; see the docstring."""
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise ConfigError(f"{dest} exists and is not an empty folder; choose a new one")
    backup_id, created = new_id("b"), iso(utc_now())
    folders = {part: dest / part for part in PARTS}
    folders["records"].mkdir(parents=True, exist_ok=True)
    folders["keys"].mkdir(mode=0o700, exist_ok=True)
    sources = {"records": store.data_dir / RECORDS_FILE,
               "keys": store.data_dir / KEYS_DIR / KEYS_FILE}
    engines = {"records": store.records, "keys": store.keys}
    for part in PARTS:  # records first, then keys, then the ledger
        if store.url is None:
            _copy_database(sources[part], folders[part] / _FILES[part])
        else:  # PostgreSQL: a snapshot of each store, written in the same SQLite format
            copy.to_sqlite(engines[part], folders[part] / _FILES[part], part,
                           only=_KEY_TABLES if part == "keys" else None)
            (folders[part] / _FILES[part]).chmod(0o600)
            fsync_path(folders[part] / _FILES[part])
    erasures = store.ledger.copy_to(folders["keys"] / LEDGER_FILE)
    with closing(sqlite3.connect(folders["records"] / RECORDS_FILE)) as conn:
        audit_seq = int(conn.execute("SELECT coalesce(max(seq), 0) FROM audit_events")
                        .fetchone()[0])
    for part in PARTS:
        _write_manifest(folders[part], {
            "format": FORMAT, "backup_id": backup_id, "created_at": created, "part": part,
            "file": _FILES[part], "sha256": sha256_file(folders[part] / _FILES[part]),
            "audit_seq": audit_seq, "erasures": erasures,
        })
        fsync_path(folders[part])
    with store.write() as conn:
        seq = store.audit.append(
            conn, actor=actor, operation=Op.STORE_BACKED_UP, outcome="ok", rules=["R25"],
            detail={"backup": backup_id, "audit_seq": audit_seq, "erasures": erasures},
        )
    return BackupResult(backup_id, created, str(folders["records"]), str(folders["keys"]),
                        audit_seq, erasures, seq)


def restore(data_dir: Path, src: Path, master_key: bytes, *, parts: tuple[str, ...] = PARTS,
            actor: str) -> RestoreResult:
    """Put the ``parts`` of the backup in ``src`` back into ``data_dir`` and re-apply every
    erasure of the ledger; ``ConfigError`` if the directory is in use or a copy is unfit."""
    if not parts or set(parts) - set(PARTS):
        raise ConfigError(f"parts must be among {', '.join(PARTS)}")
    manifests = {part: _manifest(src, part) for part in parts}
    ids = {m.backup_id for m in manifests.values()}
    if len(ids) > 1:
        raise ConfigError(f"the parts in {src} come from different backups ({', '.join(ids)})")
    (data_dir / KEYS_DIR).mkdir(parents=True, exist_ok=True, mode=0o700)
    keyring = _keyring(data_dir, master_key)
    lock = lock_data_dir(data_dir, exclusive=True)
    targets = {"records": data_dir / RECORDS_FILE, "keys": data_dir / KEYS_DIR / KEYS_FILE}
    url = database_url(data_dir)
    try:
        if url is not None:
            merged = _restore_database(data_dir, src, url, keyring, manifests, parts)
            fcntl.flock(lock, fcntl.LOCK_SH)
            return _reopened(data_dir, master_key, manifests, parts, merged, actor, url)
        with _staged(targets, parts) as staged:
            _stage_checked(manifests, staged, keyring)
            # The current ledger stays; erasures only the backup's copy knew join it.
            merged = ErasureLedger(data_dir / KEYS_DIR / LEDGER_FILE).merge(_ledger_copy(src))
            head = _last_event(staged["records"]) if "records" in parts else None
            for part in parts:
                _put_in_place(staged[part], targets[part], wal=part == "records")
            if head is not None:  # the chain went back: say so where receipts are kept
                record_restore(data_dir, keyring.signing_key, *head,
                               f"backup {manifests['records'].backup_id} of "
                               f"{manifests['records'].created_at}")
        fcntl.flock(lock, fcntl.LOCK_SH)  # the store opens beside this lock
        return _reopened(data_dir, master_key, manifests, parts, merged, actor)
    finally:
        os.close(lock)


def _reopened(data_dir: Path, master_key: bytes, manifests: dict[str, _Manifest],
              parts: tuple[str, ...], merged: int, actor: str,
              url: str | None = None) -> RestoreResult:
    """Open the restored store (which re-applies every erasure of the ledger) and record
    the restore."""
    store = open_store(data_dir, master_key, actor=actor, url=url)
    try:
        recovery = store.recovered
        unreadable, orphans = _mismatched(store)
        manifest = next(iter(manifests.values()))
        with store.write() as conn:
            seq = store.audit.append(
                conn, actor=actor, operation=Op.STORE_RESTORED, outcome="ok",
                rules=["R18", "R25"],
                detail={"backup": manifest.backup_id,
                        "backup_created_at": manifest.created_at,
                        "parts": list(parts), "ledger_entries_merged": merged,
                        "erasures_reapplied": recovery.reapplied,
                        "erasures_completed": recovery.completed,
                        "withdrawals_reapplied": recovery.withdrawals_reapplied,
                        "unreadable_people": unreadable, "orphan_keys": orphans},
            )
    finally:
        store.close()
    return RestoreResult(manifest.backup_id, manifest.created_at, tuple(parts), merged,
                         recovery, unreadable, orphans, seq)


def _restore_database(data_dir: Path, src: Path, url: str, keyring: Keyring,
                      manifests: dict[str, _Manifest], parts: tuple[str, ...]) -> int:
    """``restore`` into PostgreSQL: the copies are checked as files, then their rows
    replace the database's in one transaction per store, while no other worker is
    connected; the ledger (in the key store) is merged, never replaced. Returns the
    number of ledger entries merged."""
    with Store.opened_bare(data_dir, url) as (records, keys):
        others = _other_sessions(records)
        if others:
            raise ConfigError(f"{others} other connections use the database (running "
                              "workers?); stop every faceguard process before restoring")
        staged = {part: data_dir / f"{part}.db{_STAGED}" for part in parts}
        try:
            _stage_checked(manifests, staged, keyring)
            merged = TableLedger(keys).merge(_ledger_copy(src))
            head = _last_event(staged["records"]) if "records" in parts else None
            engines = {"records": records, "keys": keys}
            for part in parts:
                copy.replace_from_sqlite(staged[part], engines[part], part,
                                         only=_KEY_TABLES if part == "keys" else None)
            if head is not None:
                record_restore(data_dir, keyring.signing_key, *head,
                               f"backup {manifests['records'].backup_id} of "
                               f"{manifests['records'].created_at}")
        finally:
            for path in staged.values():
                path.unlink(missing_ok=True)
    return merged


def _keyring(data_dir: Path, master_key: bytes) -> Keyring:
    """The deployment's keyring (its root survives master-key rotations), read from the
    current key store; a fresh directory has none yet: the master key alone."""
    url = database_url(data_dir)
    path = data_dir / KEYS_DIR / KEYS_FILE
    if url is None and not path.exists():
        return Keyring(master_key)
    keys = key_engine(url) if url else db.connect(path)
    try:
        db.upgrade(keys, "keys")
        return masters.open_keyring(keys, master_key)
    finally:
        keys.dispose()


def _stage_checked(manifests: dict[str, _Manifest], staged: dict[str, Path],
                   keyring: Keyring) -> None:
    """Copy each part of the backup to its staging file and check it there: the record's
    signatures and the keys' wrapping under this deployment's keys."""
    for part, path in staged.items():
        _copy_database(manifests[part].path, path)
    if "records" in staged:
        _check_records(staged["records"], keyring)
    if "keys" in staged:
        _check_keys(staged["keys"], keyring)


def _other_sessions(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND backend_type = 'client backend' AND application_name <> :mine"),
            {"mine": f"faceguard-{os.getpid()}"}).scalar_one())


# ---- copying ------------------------------------------------------------------------------

def _copy_database(source: Path, dest: Path) -> None:
    """A consistent snapshot of the SQLite file ``source`` as ``dest`` (a plain,
    rollback-journal file), fsynced."""
    if not source.is_file():
        raise ConfigError(f"{source} does not exist")
    dest.unlink(missing_ok=True)
    with closing(sqlite3.connect(source, timeout=30)) as src, \
            closing(sqlite3.connect(dest)) as out:
        src.backup(out)
        out.execute("PRAGMA journal_mode=DELETE")
    dest.chmod(0o600)
    fsync_path(dest)


def _put_in_place(staged: Path, target: Path, *, wal: bool) -> None:
    """Replace ``target`` by ``staged``: the live log folded in first (a crash in between
    loses nothing of the live store), then removed, so that no old log meets the new file."""
    if wal and target.exists():
        with closing(sqlite3.connect(target, timeout=30)) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for suffix in ("-wal", "-shm", "-journal"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    os.replace(staged, target)
    fsync_path(target.parent)


@contextmanager
def _staged(targets: dict[str, Path], parts: tuple[str, ...]) -> Iterator[dict[str, Path]]:
    """Temporary files beside each target (same file system), removed if left over."""
    staged = {part: Path(f"{targets[part]}{_STAGED}") for part in parts}
    try:
        yield staged
    finally:
        for path in staged.values():
            for suffix in ("", "-journal", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)


# ---- checking -----------------------------------------------------------------------------

@dataclass(frozen=True)
class _Manifest:
    backup_id: str
    created_at: str
    path: Path  # the database file, checked against the manifest's checksum


def _manifest(src: Path, part: str) -> _Manifest:
    """The manifest of ``part`` in ``src`` (a backup folder, or that part's folder itself)."""
    for folder in (src / part, src):
        path = folder / MANIFEST
        if path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise ConfigError(f"{path} is not a backup manifest: {exc}") from exc
            if isinstance(data, dict) and data.get("part") == part:
                break
    else:
        raise ConfigError(f"no {part} copy in {src} (expected {src / part / MANIFEST})")
    if data.get("format") != FORMAT or data.get("file") != _FILES[part]:
        raise ConfigError(f"{path} is not a {FORMAT} manifest of the {part} copy")
    database = folder / _FILES[part]
    if not database.is_file() or sha256_file(database) != data.get("sha256"):
        raise ConfigError(f"{database} is missing or does not match its manifest (damaged)")
    return _Manifest(str(data.get("backup_id")), str(data.get("created_at")), database)


def _check_records(path: Path, keyring: Keyring) -> None:
    _integrity(path)
    engine = sa.create_engine(f"sqlite:///{path.resolve()}")
    try:
        report = AuditLog(engine, keyring.signing_key).verify()
    except Exception as exc:  # an unreadable record is a copy not to restore
        raise ConfigError(f"the record store copy cannot be read: {exc}") from exc
    finally:
        engine.dispose()
    if not report.ok:
        raise ConfigError(
            f"the record store copy does not verify under this deployment's key "
            f"(event {report.first_bad_seq}: {report.problem}); not restoring it", rule="R11")


def _check_keys(path: Path, keyring: Keyring) -> None:
    _integrity(path)
    with closing(sqlite3.connect(path)) as conn:
        try:
            rows = conn.execute("SELECT subject_id, wrapped_key FROM subject_keys").fetchall()
        except sqlite3.Error as exc:
            raise ConfigError(f"the key store copy cannot be read: {exc}") from exc
    try:
        keyring.unwrap_many((str(s), bytes(w)) for s, w in rows)
    except VaultError as exc:
        raise ConfigError("the key store copy was made under another master key; "
                          "not restoring it") from exc


def _last_event(path: Path) -> tuple[int, str]:
    with closing(sqlite3.connect(path)) as conn:
        row = conn.execute("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1"
                           ).fetchone()
    return (0, GENESIS) if row is None else (int(row[0]), str(row[1]))


def _integrity(path: Path) -> None:
    try:
        with closing(sqlite3.connect(path)) as conn:
            result = conn.execute("PRAGMA integrity_check").fetchone()[0]
    except sqlite3.Error as exc:
        raise ConfigError(f"{path.name}: not a readable SQLite database ({exc})") from exc
    if result != "ok":
        raise ConfigError(f"{path.name} is damaged: {result}")


def _ledger_copy(src: Path) -> list[dict[str, object]]:
    for path in (src / "keys" / LEDGER_FILE, src / LEDGER_FILE):
        if path.is_file():
            return parse(path.read_text(encoding="utf-8", errors="replace"))
    return []


def _mismatched(store: Store) -> tuple[int, int]:
    """(active people without a data key, data keys without an active person)."""
    with store.records.connect() as conn:
        active = {r.id for r in conn.execute(
            sa.select(db.subjects.c.id).where(db.subjects.c.status == "active"))}
    with store.keys.connect() as kconn:
        keyed = {r.subject_id for r in kconn.execute(sa.select(db.subject_keys.c.subject_id))}
    return len(active - keyed), len(keyed - active)


# ---- files --------------------------------------------------------------------------------

def _write_manifest(folder: Path, data: dict[str, object]) -> None:
    path = folder / MANIFEST
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    fsync_path(path)


