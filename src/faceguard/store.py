"""The data directory and the stores opened on it.

::

    DATA_DIR/
    ├── faceguard.toml      the deployment file (starter written by `faceguard init`)
    ├── faceguard.db        record store: subjects, consents, encrypted templates, audit
    └── keys/               mode 0700; never back it up together with faceguard.db
        ├── master.key      mode 0600 (unless FACEGUARD_MASTER_KEY is set)
        └── keys.db         wrapped per-subject data keys
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from . import db
from .audit import AuditLog
from .audit_receipts import RECEIPTS_FILE
from .group_commit import GroupCommit
from .index import GalleryIndex
from .keys import Keyring
from .vault import Vault

RECORDS_FILE = "faceguard.db"
KEYS_DIR = "keys"
KEYS_FILE = "keys.db"
MASTER_KEY_FILE = "master.key"
CONFIG_FILE = "faceguard.toml"
T = TypeVar("T")


def master_key_path(data_dir: Path) -> Path:
    return data_dir / KEYS_DIR / MASTER_KEY_FILE


@dataclass
class Store:
    """Everything persistent, opened once per process and passed down."""

    data_dir: Path
    records: Engine
    keys: Engine
    keyring: Keyring
    vault: Vault
    audit: AuditLog
    index: GalleryIndex = field(default_factory=GalleryIndex)
    write_lock: threading.RLock = field(default_factory=threading.RLock)
    group: GroupCommit = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.group = GroupCommit(self.records, self.audit, self.write_lock)

    @classmethod
    def open(cls, data_dir: Path, master_key: bytes) -> Store:
        """Open (creating or migrating) both stores in ``data_dir``."""
        (data_dir / KEYS_DIR).mkdir(parents=True, exist_ok=True)
        (data_dir / KEYS_DIR).chmod(0o700)
        records = db.connect(data_dir / RECORDS_FILE, wal=True)
        keys = db.connect(data_dir / KEYS_DIR / KEYS_FILE)
        db.upgrade(records, "records")
        db.upgrade(keys, "keys")
        keyring = Keyring(master_key)
        store = cls(
            data_dir=data_dir,
            records=records,
            keys=keys,
            keyring=keyring,
            vault=Vault(records, keys, keyring),
            audit=AuditLog(records, keyring.signing_key),
        )
        store.audit.attach_receipts(data_dir / RECEIPTS_FILE)
        return store

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
        self.audit.close()
        self.settle()
        self.records.dispose()
        self.keys.dispose()
