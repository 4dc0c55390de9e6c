"""The erasure ledger (R18): every erasure promised, kept beside the keys.

``DATA_DIR/keys/erasures.jsonl``, mode 0600, one JSON object per line, append-only::

    {"kind": "intention", "subject_id": "s_...", "certificate_id": "c_...", "reason": "...",
     "scope": "all", "actor": "...", "time": "...", "templates": ["t_...", ...]}
    {"kind": "completion", "subject_id": "s_...", "certificate_id": "c_...", "time": "..."}
    {"kind": "withdrawal", "subject_id": "s_...", "purpose": "...", "actor": "...",
     "time": "..."}

An *intention* is written before anything of the subject is destroyed (its data key first of
all) and names in advance the certificate that will prove the erasure; ``templates`` lists the
templates a withdrawal deleted just before. A *completion* is written once the erase
transaction has committed. Each line goes to disk in one ``write`` followed by ``fsync``
before the caller goes on, under an exclusive ``flock`` (several processes may share a data
directory). An intention is never taken back: once written, the erasure happens, at once or
when an interrupted one is completed (``faceguard.recovery``).

A *withdrawal* records the end of one purpose's consent for a person who keeps another
purpose (the last purpose's withdrawal is an erasure, above); it is written in the transaction
that ends the consent, before it commits, so that a restored older record store cannot bring
the consent back either.

The ledger lives apart from the record store (``faceguard.db``) so that restoring an older
record store or key store cannot take an erasure back: start-up, ``sweep`` and ``restore``
re-apply every erasure it holds. A restore never replaces it; entries of the backup's copy
are merged in. A last line torn by a crash (its ``fsync`` never returned, so nothing it
announced was done) is ignored, and the next append starts on a fresh line.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from faceguard import db
from faceguard.files import fsync_path
from faceguard.timeutil import iso, utc_now
from faceguard.vault.templates import new_id

LEDGER_FILE = "erasures.jsonl"
_INTENTION_FIELDS = ("subject_id", "certificate_id", "reason", "scope", "actor", "time")
_COMPLETION_FIELDS = ("subject_id", "certificate_id", "time")
_WITHDRAWAL_FIELDS = ("subject_id", "purpose", "actor", "time")


@dataclass(frozen=True)
class Intention:
    """An erasure promised: who, why, by whom, when, and the certificate that will prove it."""

    subject_id: str
    certificate_id: str
    reason: str
    scope: str
    actor: str
    time: str
    templates: tuple[str, ...] = ()


@dataclass(frozen=True)
class Withdrawal:
    """One purpose's consent ended at ``time`` (the person keeps another purpose)."""

    subject_id: str
    purpose: str
    actor: str
    time: str


@dataclass(frozen=True)
class LedgerState:
    """The ledger read back: each subject's first intention and its completion, if any."""

    intentions: dict[str, Intention] = field(default_factory=dict)
    #: subject ID -> the certificate ID its completion names
    completed: dict[str, str] = field(default_factory=dict)
    #: every purpose withdrawal, in the order written
    withdrawals: list[Withdrawal] = field(default_factory=list)

    def pending(self) -> list[Intention]:
        """Intentions without a completion, oldest first."""
        return [i for s, i in self.intentions.items() if s not in self.completed]


def _valid(entry: Any) -> bool:
    if not isinstance(entry, dict):
        return False
    names = {"intention": _INTENTION_FIELDS, "completion": _COMPLETION_FIELDS,
             "withdrawal": _WITHDRAWAL_FIELDS}.get(
        entry.get("kind"))  # type: ignore[arg-type]
    if names is None or not all(isinstance(entry.get(n), str) and entry[n] for n in names):
        return False
    templates = entry.get("templates", [])
    return isinstance(templates, list) and all(isinstance(t, str) for t in templates)


def parse(text: str) -> list[dict[str, Any]]:
    """The well-formed entries of a ledger's text (torn or foreign lines left out)."""
    entries = []
    for line in text.split("\n"):
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if _valid(entry):
            entries.append(entry)
    return entries


def state_of(entries: Iterable[dict[str, Any]]) -> LedgerState:
    state = LedgerState()
    for entry in entries:
        subject = entry["subject_id"]
        if entry["kind"] == "withdrawal":
            state.withdrawals.append(Withdrawal(subject, entry["purpose"], entry["actor"],
                                                entry["time"]))
        elif entry["kind"] == "intention":
            state.intentions.setdefault(subject, Intention(
                subject, entry["certificate_id"], entry["reason"], entry["scope"],
                entry["actor"], entry["time"], tuple(entry.get("templates", ()))))
        else:
            state.completed.setdefault(subject, entry["certificate_id"])
    return state


class ErasureLedger:
    """Appends to and reads the ledger file (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def intend(self, subject_id: str, *, reason: str, scope: str, actor: str,
               templates: Iterable[str] = ()) -> Intention:
        """Record (durably) that ``subject_id`` is about to be erased."""
        intention = Intention(subject_id, new_id("c"), reason, scope, actor, iso(utc_now()),
                              tuple(templates))
        entry = {"kind": "intention", "subject_id": subject_id,
                 "certificate_id": intention.certificate_id, "reason": reason, "scope": scope,
                 "actor": actor, "time": intention.time, "templates": list(intention.templates)}
        self._append([entry])
        return intention

    def withdrawn(self, subject_id: str, purpose: str, *, actor: str, when: str) -> None:
        """Record (durably) that ``subject_id``'s consent for ``purpose`` ended at ``when``."""
        self._append([{"kind": "withdrawal", "subject_id": subject_id, "purpose": purpose,
                       "actor": actor, "time": when}])

    def complete(self, subject_id: str, certificate_id: str) -> None:
        """Record (durably) that the erasure of ``subject_id`` is done."""
        self._append([{"kind": "completion", "subject_id": subject_id,
                       "certificate_id": certificate_id, "time": iso(utc_now())}])

    def entries(self) -> list[dict[str, Any]]:
        """Every well-formed entry, in the order written."""
        if not self.path.exists():
            return []
        with self._locked(fcntl.LOCK_SH) as fd:
            return parse(_read_all(fd).decode("utf-8", errors="replace"))

    def read(self) -> LedgerState:
        return state_of(self.entries())

    def merge(self, entries: Iterable[dict[str, Any]]) -> int:
        """Append the entries not already in the ledger (a backup's copy); returns how many."""
        have = {_identity(e) for e in self.entries()}
        new = []
        for entry in entries:
            if _valid(entry) and _identity(entry) not in have:
                have.add(_identity(entry))
                new.append(entry)
        if new:
            self._append(new)
        return len(new)

    def copy_to(self, dest: Path) -> int:
        """Write the ledger's entries to ``dest`` (a backup), fsynced; returns how many."""
        entries = self.entries()
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            _write_all(fd, "".join(_line(e) for e in entries).encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        return len(entries)

    def _append(self, entries: list[dict[str, Any]]) -> None:
        created = not self.path.exists()
        with self._locked(fcntl.LOCK_EX) as fd:
            size = os.fstat(fd).st_size
            text = "".join(_line(e) for e in entries)
            if size and os.pread(fd, 1, size - 1) != b"\n":
                text = "\n" + text  # a torn last line: start on a fresh one
            _write_all(fd, text.encode("utf-8"))
            os.fsync(fd)
        if created:
            fsync_path(self.path.parent)

    @contextmanager
    def _locked(self, mode: int) -> Iterator[int]:
        with self._lock:
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, mode)
                yield fd
            finally:
                os.close(fd)  # releases the flock


class TableLedger(ErasureLedger):
    """The same ledger as rows of the key store's ``erasure_ledger`` table: used when the
    stores live in PostgreSQL, where every worker on every machine must see every erasure,
    and a restore of the record database leaves the key store (and so the ledger) alone.
    Each append commits (durably) before the caller goes on."""

    def __init__(self, keys: sa.Engine) -> None:
        super().__init__(Path(str(keys.url)))
        self._keys = keys

    def entries(self) -> list[dict[str, Any]]:
        with self._keys.connect() as conn:
            rows = conn.execute(sa.select(db.erasure_ledger.c.entry)
                                .order_by(db.erasure_ledger.c.seq)).scalars().all()
        return parse("".join(row + "\n" for row in rows))

    def _append(self, entries: list[dict[str, Any]]) -> None:
        with self._keys.begin() as conn:
            conn.execute(db.erasure_ledger.insert(),
                         [{"entry": _line(e).rstrip("\n")} for e in entries])


def _identity(entry: dict[str, Any]) -> tuple[str, str, str]:
    if entry["kind"] == "withdrawal":
        return entry["kind"], entry["subject_id"], f"{entry['purpose']}\0{entry['time']}"
    return entry["kind"], entry["subject_id"], entry["certificate_id"]


def _line(entry: dict[str, Any]) -> str:
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=True) + "\n"


def _read_all(fd: int) -> bytes:
    size = os.fstat(fd).st_size
    chunks, offset = [], 0
    while offset < size:
        chunk = os.pread(fd, size - offset, offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]

