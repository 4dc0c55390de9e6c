"""The data directory and the stores opened on it.

::

    DATA_DIR/
    ├── faceguard.toml      the deployment file (starter written by `faceguard init`)
    ├── faceguard.db        record store: subjects, consents, encrypted templates, audit
    ├── faceguard.lock      every open store holds a shared flock on it; a restore, an
    │                       exclusive one (so it never runs under a live service)
    └── keys/               mode 0700; never back it up together with faceguard.db
        ├── master.key      mode 0600 (unless FACEGUARD_MASTER_KEY is set)
        ├── keys.db         wrapped per-subject data keys
        └── erasures.jsonl  the erasure ledger (faceguard.ledger): never replaced by a restore

With ``FACEGUARD_DATABASE_URL`` set (or ``[storage] url`` in faceguard.toml; the environment
wins) the record store is that PostgreSQL database instead of ``faceguard.db``, and the key
store its schema ``faceguard_keys`` (or ``FACEGUARD_KEYS_DATABASE_URL``, a database of its own
with its own credentials): every worker on every machine then shares both, while the master
key, the lock and the receipts stay in each machine's data directory.

Opening a store completes every erasure the ledger holds that the stores do not show as
done (``faceguard.recovery``): an interrupted one, or one a restored copy brought back.
"""

from __future__ import annotations

import fcntl
import os
import threading
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from faceguard import db
from faceguard.audit.log import AuditLog
from faceguard.audit.receipts import RECEIPTS_FILE
from faceguard.errors import ConfigError
from faceguard.index.partition import GalleryIndex
from faceguard.results import ErasureRecovery
from faceguard.store.group_commit import GroupCommit
from faceguard.store.ledger import LEDGER_FILE, ErasureLedger, TableLedger
from faceguard.vault import masters
from faceguard.vault.keys import ENV_KEY_FILE, Keyring, read_key_file
from faceguard.vault.templates import Vault

RECORDS_FILE = "faceguard.db"
KEYS_DIR = "keys"
KEYS_FILE = "keys.db"
MASTER_KEY_FILE = "master.key"
CONFIG_FILE = "faceguard.toml"
LOCK_FILE = "faceguard.lock"
NEXT_SUFFIX = ".next"  #: a rotation's new master key, beside the current key file
URL_VARIABLE = "FACEGUARD_DATABASE_URL"
KEYS_URL_VARIABLE = "FACEGUARD_KEYS_DATABASE_URL"
T = TypeVar("T")


def master_key_path(data_dir: Path) -> Path:
    return data_dir / KEYS_DIR / MASTER_KEY_FILE


def key_file(data_dir: Path) -> Path:
    """The master key file in use (``FACEGUARD_MASTER_KEY_FILE`` or the data directory's)."""
    return Path(os.environ.get(ENV_KEY_FILE) or master_key_path(data_dir))


def key_candidates(data_dir: Path) -> list[bytes]:
    """Every master key the files hold now (the current file and a rotation's next one):
    what a process reloads when it meets a data key it cannot open (``store.rotation``)."""
    path = key_file(data_dir)
    found = []
    for candidate in (path, path.with_name(path.name + NEXT_SUFFIX)):
        try:
            found.append(read_key_file(candidate))
        except (ConfigError, OSError):
            continue
    return found


def database_url(data_dir: Path, configured: str | None = None) -> str | None:
    """The record store's database URL, ``None`` for the embedded SQLite file: the
    environment's ``FACEGUARD_DATABASE_URL``, else ``configured`` (the deployment's
    ``[storage] url``), else the ``[storage] url`` of ``data_dir``'s faceguard.toml."""
    found = os.environ.get(URL_VARIABLE) or configured
    if not found:
        try:
            with open(data_dir / CONFIG_FILE, "rb") as handle:
                storage = tomllib.load(handle).get("storage", {})
        except (OSError, tomllib.TOMLDecodeError):
            storage = {}  # an unreadable file is reported by whoever loads the deployment
        url = storage.get("url") if isinstance(storage, dict) else None
        found = url if isinstance(url, str) else None
    return found or None


def key_engine(url: str) -> Engine:
    """The key store beside the PostgreSQL record store ``url``: its own database when
    ``FACEGUARD_KEYS_DATABASE_URL`` names one (own credentials), else schema
    ``faceguard_keys`` of the same database."""
    keys_url = os.environ.get(KEYS_URL_VARIABLE)
    return db.connect(keys_url) if keys_url else db.connect(url, schema=db.KEY_SCHEMA)


def lock_data_dir(data_dir: Path, *, exclusive: bool) -> int:
    """Take the data directory's lock (shared: the store is open; exclusive: a restore);
    returns the descriptor, whose closing releases it. Never waits: ``ConfigError`` when the
    lock is held the other way."""
    fd = os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        os.close(fd)
        if exclusive:
            raise ConfigError(
                f"{data_dir} is in use (a running service or command has it open); stop it "
                "before restoring") from exc
        raise ConfigError(f"{data_dir} is being restored; open it when the restore is done"
                          ) from exc
    return fd


@dataclass
class Store:
    """Everything persistent, opened once per process and passed down."""

    data_dir: Path
    #: The record store's database URL (``None``: ``faceguard.db`` in the data directory).
    url: str | None
    records: Engine
    keys: Engine
    keyring: Keyring
    vault: Vault
    audit: AuditLog
    index: GalleryIndex = field(default_factory=GalleryIndex)
    write_lock: threading.RLock = field(default_factory=threading.RLock)
    #: The data directory's shared lock (``lock_data_dir``), released by ``close``.
    lock_fd: int | None = field(default=None, repr=False)
    group: GroupCommit = field(init=False, repr=False)
    ledger: ErasureLedger = field(init=False, repr=False)
    #: What opening completed or re-applied from the erasure ledger.
    recovered: ErasureRecovery = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.group = GroupCommit(self.records, self.audit, self.write_lock)
        self.ledger = (ErasureLedger(self.data_dir / KEYS_DIR / LEDGER_FILE) if self.url is None
                       else TableLedger(self.keys))
        self.recovered = ErasureRecovery()

    @classmethod
    def open(cls, data_dir: Path, master_key: bytes, *, url: str | None = None) -> Store:
        """Open (creating or migrating) both stores of ``data_dir`` (``url``: the record
        store's database, see ``database_url``, which gives the default). Use
        ``rights.recovery.open_store``, which also completes every erasure of the ledger that
        is not done: this alone does not (the store knows nothing of erasure)."""
        (data_dir / KEYS_DIR).mkdir(parents=True, exist_ok=True)
        (data_dir / KEYS_DIR).chmod(0o700)
        lock = lock_data_dir(data_dir, exclusive=False)
        opened: list[Engine] = []
        try:
            url = url or database_url(data_dir)
            if url is None:
                records = db.connect(data_dir / RECORDS_FILE, wal=True)
                keys = db.connect(data_dir / KEYS_DIR / KEYS_FILE)
                opened += [records, keys]
            else:
                records, keys = db.connect(url), key_engine(url)
            opened += [records, keys]
            db.upgrade(records, "records")
            db.upgrade(keys, "keys")
            keyring = masters.open_keyring(keys, master_key,
                                           reload=lambda: key_candidates(data_dir))
        except BaseException:
            for engine in opened:
                engine.dispose()
            os.close(lock)
            raise
        store = cls(
            data_dir=data_dir,
            url=url,
            records=records,
            keys=keys,
            keyring=keyring,
            vault=Vault(records, keys, keyring),
            audit=AuditLog(records, keyring.signing_key),
            lock_fd=lock,
        )
        try:
            store.audit.attach_receipts(store.data_dir / RECEIPTS_FILE)
        except BaseException:
            store.close()
            raise
        return store

    @staticmethod
    @contextmanager
    def opened_bare(data_dir: Path, url: str) -> Iterator[tuple[Engine, Engine]]:
        """The record and key databases of a PostgreSQL store, migrated, with nothing else
        of a store (no lock, ledger, recovery): for a restore, which puts rows in them."""
        records, keys = db.connect(url), key_engine(url)
        try:
            db.upgrade(records, "records")
            db.upgrade(keys, "keys")
            yield records, keys
        finally:
            records.dispose()
            keys.dispose()

    @contextmanager
    def write(self) -> Iterator[sa.Connection]:
        """A write transaction of the record store, under this process's write lock (which
        ``commit`` also respects: a group commit called inside one runs on its own)."""
        with self.write_lock, self.records.begin() as conn:
            yield conn

    def commit(self, work: Callable[[sa.Connection], T]) -> T:
        """Run a small write (an operation's audit event and bookkeeping) with group commit:
        durable when this returns, sharing its transaction with concurrent ones. ``work``
        may run twice (a group with a failing job is run again), so it must only write
        through the connection it is given."""
        return self.group.run(work)

    def settle(self) -> None:
        """After personal data was deleted: fold the record store's log into its file."""
        db.checkpoint(self.records)

    def close(self) -> None:
        try:
            self.audit.close()
            self.settle()
            self.records.dispose()
            self.keys.dispose()
        finally:
            if self.lock_fd is not None:
                os.close(self.lock_fd)
                self.lock_fd = None
