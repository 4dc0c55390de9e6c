"""Receipts of the processing record, kept outside the record store (R11).

The record store holds the chain, its signed checkpoints and the signed head, so whoever can
write the database can cut the chain's tail and write back an older signed head, or wipe it
all, and the database alone still reads "intact". A *receipt* is a copy of one signature,
kept where such an attacker must reach separately: an append-only file beside the store
(``DATA_DIR/audit-receipts.jsonl``) and, above all, copies an auditor keeps
(``faceguard audit head``). Verification (``audit_integrity``) then requires the chain to
reach every receipt with the same hash.

The file holds one canonical JSON object a line (keys sorted, no spaces), appended under an
exclusive ``flock`` and ``fsync``-ed, never rewritten::

    {"hash": "<64 hex>", "key_id": "<16 hex>", "kind": "checkpoint", "seq": 256,
     "signature": "<128 hex>", "time": "2026-11-22T19:40:01.123456+00:00"}

``kind`` is ``checkpoint`` (a signed checkpoint: the signature is the checkpoint row's),
``head`` (the signed head of ``settings["audit.head"]``) or ``restore`` (see
:func:`record_restore`; it also has ``source``). ``key_id`` is the first 16 hex digits of
SHA-256 of the raw Ed25519 public key that verifies ``signature``.

When receipts are written:

- *checkpoints*, after the transaction that wrote them commits: ``AuditLog`` marks the
  connection (also at the end of a group-commit batch, which writes its checkpoints then), and
  when that connection goes back to the pool (after its commit or rollback) the file is caught
  up from the *committed* checkpoint rows. A checkpoint that rolled back is never receipted.
  If the process dies between the commit and the file write, the checkpoint is receipted
  when the store next opens (opening catches up the same way). A write that fails after the
  commit cannot undo the operation: it is kept in :attr:`ReceiptLog.error`, retried at the
  next checkpoint and at close, and verification notes the checkpoints still without one.
- *the head*, when the store closes (if events arrived since the newest receipt) and on
  demand (:meth:`ReceiptLog.write_head`), so the newest events are covered too.
- *restores*, by :func:`record_restore`.

Only a checkpoint whose signature verifies is receipted; a torn last line (a write
interrupted by a crash, never a whole receipt) is ignored when reading and cut off by the next
append.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import event

from faceguard.audit.log import (
    _CHECKPOINT_LABEL,
    _HEAD_LABEL,
    _RECEIPT_DUE,
    HEAD_KEY,
    _signed_message,
)
from faceguard.db import audit_checkpoints, audit_events, settings
from faceguard.errors import AuditError, ConfigError
from faceguard.files import fsync_path
from faceguard.timeutil import iso, utc_now

RECEIPTS_FILE = "audit-receipts.jsonl"
#: ``Connection.info`` key: a checkpoint was written on this connection (set by ``AuditLog``).
RECEIPT_DUE = _RECEIPT_DUE
KINDS = ("checkpoint", "head", "restore")
_RESTORE_LABEL = b"faceguard-audit-restore\0"
_MAX_SOURCE = 1024


def receipts_path(data_dir: Path) -> Path:
    """Where a data directory's receipts file lives."""
    return data_dir / RECEIPTS_FILE


def key_id(public_key: Ed25519PublicKey) -> str:
    """The short name of a public key in receipts: 16 hex digits of SHA-256 of its raw bytes."""
    return hashlib.sha256(public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)).hexdigest()[:16]


@dataclass(frozen=True)
class AuditReceipt:
    """A signed ``(seq, hash)`` of the processing record, as kept outside the store.

    ``time`` is when it was signed; ``source`` only for a ``restore`` (what was restored)."""

    kind: str
    seq: int
    hash: str
    time: str
    signature: str
    key_id: str
    source: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        if self.source is None:
            del data["source"]
        return data

    def line(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False)

    def describe(self) -> str:
        """``"checkpoint receipt for event 256 (2026-...)"``, for messages."""
        return f"{self.kind} receipt for event {self.seq} ({self.time})"


def receipt_from_json(data: object) -> AuditReceipt:
    """An ``AuditReceipt`` from its JSON form; ``ConfigError`` naming what is wrong."""
    if not isinstance(data, dict):
        raise ConfigError("a receipt must be a JSON object")
    need = {"kind", "seq", "hash", "time", "signature", "key_id"}
    missing, unknown = need - data.keys(), data.keys() - need - {"source"}
    if missing or unknown:
        raise ConfigError("not a receipt: " + "; ".join(
            part for part in (f"missing {', '.join(sorted(missing))}" if missing else "",
                              f"unknown {', '.join(sorted(unknown))}" if unknown else "")
            if part))
    seq, kind, source = data["seq"], data["kind"], data.get("source")
    if kind not in KINDS:
        raise ConfigError(f"receipt kind {kind!r} is not one of {', '.join(KINDS)}")
    if type(seq) is not int or seq < 0:
        raise ConfigError("a receipt's seq must be a non-negative integer")
    texts = [data[k] for k in ("hash", "time", "signature", "key_id")]
    if not all(isinstance(t, str) and 0 < len(t) <= 256 for t in texts):
        raise ConfigError("a receipt's hash, time, signature and key_id must be short text")
    if (kind == "restore") != isinstance(source, str) or (
            isinstance(source, str) and len(source) > _MAX_SOURCE):
        raise ConfigError("a restore receipt (and only one) has a short text source")
    return AuditReceipt(kind, seq, texts[0], texts[1], texts[2], texts[3], source)


def parse_receipts(text: str, *, name: str) -> list[AuditReceipt]:
    """Receipts kept by an auditor: one JSON receipt, a JSON list of them, or a receipts
    file (one a line). ``ConfigError`` names the line that is not a receipt."""
    stripped = text.strip()
    if not stripped:
        raise ConfigError(f"{name} holds no receipt")
    with contextlib.suppress(ValueError):
        whole = json.loads(stripped)
        items = whole if isinstance(whole, list) else [whole]
        try:
            return [receipt_from_json(item) for item in items]
        except ConfigError as exc:
            exc.add_context(name)
            raise
    receipts = []
    for number, line in enumerate(stripped.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            receipts.append(receipt_from_json(json.loads(line)))
        except (ValueError, ConfigError) as exc:
            raise ConfigError(f"line {number} of {name} is not a receipt: {exc}") from exc
    return receipts


def load_receipts(path: Path) -> list[AuditReceipt]:
    """``parse_receipts`` of a file; ``ConfigError`` if it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read receipts from {path}: {exc}") from exc
    return parse_receipts(text, name=str(path))


def _message(receipt: AuditReceipt) -> bytes:
    if receipt.kind == "restore":
        body = {"hash": receipt.hash, "seq": receipt.seq, "source": receipt.source,
                "time": receipt.time}
        return _RESTORE_LABEL + json.dumps(body, sort_keys=True, separators=(",", ":"),
                                           ensure_ascii=False).encode()
    label = _CHECKPOINT_LABEL if receipt.kind == "checkpoint" else _HEAD_LABEL
    return _signed_message(label, receipt.seq, receipt.hash, receipt.time)


def signature_ok(receipt: AuditReceipt, public_key: Ed25519PublicKey) -> bool:
    """True when ``public_key`` verifies the receipt's signature."""
    try:
        public_key.verify(bytes.fromhex(receipt.signature), _message(receipt))
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


@dataclass
class ReceiptsFile:
    """What a receipts file holds: its receipts in order, and lines that are not receipts
    (``(line number, problem)``); ``torn`` when the last line was cut short by a crash."""

    receipts: list[AuditReceipt] = field(default_factory=list)
    bad_lines: list[tuple[int, str]] = field(default_factory=list)
    torn: bool = False


def read_receipts_file(path: Path) -> ReceiptsFile:
    """Read a receipts file (empty when it does not exist)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return ReceiptsFile()
    except OSError as exc:
        raise AuditError(f"the receipts file {path} cannot be read: {exc}") from exc
    return _parse_file(data)


def _parse_file(data: bytes) -> ReceiptsFile:
    found = ReceiptsFile()
    lines = data.split(b"\n")
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            found.receipts.append(receipt_from_json(json.loads(raw.decode("utf-8"))))
        except (ValueError, ConfigError) as exc:
            if number == len(lines):  # no newline after it: a write cut short
                found.torn = True
            else:
                found.bad_lines.append((number, str(exc)))
    return found


@dataclass
class InForce:
    """Receipts in force after a file's restores: ``current`` (checkpoint, head and restore
    receipts still to be honoured) and ``superseded`` pairs ``(receipt, restore)``."""

    current: list[AuditReceipt] = field(default_factory=list)
    superseded: list[tuple[AuditReceipt, AuditReceipt]] = field(default_factory=list)
    restores: list[AuditReceipt] = field(default_factory=list)


def in_force(receipts: Sequence[AuditReceipt],
             trusted: Callable[[AuditReceipt], bool]) -> InForce:
    """Apply the restores among ``receipts`` (in file order): a restore whose signature is
    ``trusted`` supersedes the receipts before it that lie beyond its point."""
    state = InForce()
    for receipt in receipts:
        if receipt.kind == "restore" and trusted(receipt):
            state.superseded += [(r, receipt) for r in state.current if r.seq > receipt.seq]
            state.current = [r for r in state.current if r.seq <= receipt.seq]
            state.restores.append(receipt)
        state.current.append(receipt)
    return state


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[int]:
    """The receipts file opened for appending, under an exclusive lock (created if absent)."""
    created = not path.exists()
    try:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as exc:
        raise AuditError(f"the receipts file {path} cannot be opened: {exc}",
                         rule="R11") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        if created:  # make the new name durable too
            fsync_path(path.parent)
        yield fd
    finally:
        os.close(fd)  # releases the lock


def _read_fd(fd: int) -> bytes:
    size = os.fstat(fd).st_size
    return os.pread(fd, size, 0) if size else b""


def _append(fd: int, existing: bytes, receipts: Sequence[AuditReceipt]) -> None:
    text = "".join(r.line() + "\n" for r in receipts).encode("utf-8")
    try:
        if existing and not existing.endswith(b"\n"):  # drop a torn line (never a receipt)
            os.ftruncate(fd, existing.rfind(b"\n") + 1)
        os.write(fd, text)
        os.fsync(fd)
    except OSError as exc:
        raise AuditError(f"the receipts file could not be written: {exc}", rule="R11") from exc


def append_receipts(path: Path, receipts: Sequence[AuditReceipt]) -> None:
    """Append ``receipts`` to the file at ``path`` (locked, fsynced)."""
    with _locked(path) as fd:
        _append(fd, _read_fd(fd), receipts)


def record_restore(data_dir: Path, signing_key: Ed25519PrivateKey, restored_seq: int,
                   restored_hash: str, source: str) -> AuditReceipt:
    """Record in ``data_dir``'s receipts file that a restore rolled the chain back.

    Contract (for the restore from backup):

    - call it after the restored record store is in place and *before* the store is opened
      again or any event is appended to it (new events would otherwise reuse sequence
      numbers that receipts already cover, and read as a rollback);
    - ``restored_seq`` and ``restored_hash`` are the restored chain's last event (``0`` and
      64 zeros when it is empty); ``signing_key`` is the deployment's (``Keyring.signing_key``),
      so ``faceguard audit verify`` accepts the entry; ``source`` names the backup (at most
      1024 characters, e.g. its file name and creation time);
    - it appends one signed ``restore`` entry (fsynced) and returns it. Verification against
      this file then reports receipts written *before* the entry for events beyond
      ``restored_seq`` as "superseded by the restore of <time>", not as tampering, and
      requires the chain to hold ``restored_hash`` at ``restored_seq``. A receipt an auditor
      kept separately still reads as a rollback, with this restore named beside it.

    Raises ``ConfigError`` for a bad argument, ``AuditError`` if the file cannot be written.
    """
    if type(restored_seq) is not int or restored_seq < 0:
        raise ConfigError("restored_seq must be a non-negative integer")
    if len(restored_hash) != 64 or any(c not in "0123456789abcdef" for c in restored_hash):
        raise ConfigError("restored_hash must be 64 lower-case hex digits")
    if not source.strip() or len(source) > _MAX_SOURCE:
        raise ConfigError(f"source must name the backup in 1..{_MAX_SOURCE} characters")
    unsigned = AuditReceipt("restore", restored_seq, restored_hash, iso(utc_now()), "",
                            key_id(signing_key.public_key()), source)
    receipt = AuditReceipt(**{**asdict(unsigned),
                              "signature": signing_key.sign(_message(unsigned)).hex()})
    append_receipts(receipts_path(data_dir), [receipt])
    return receipt


class ReceiptLog:
    """Writes the receipts of one record store's checkpoints and head to ``path``."""

    def __init__(self, path: Path, engine: sa.Engine, public_key: Ed25519PublicKey) -> None:
        self.path = path
        self._engine = engine
        self._public = public_key
        self._key_id = key_id(public_key)
        self._lock = threading.RLock()
        self._closed = False
        #: The last failure to write a receipt after a commit (retried; ``None`` when fine).
        self.error: str | None = None

    def attach(self) -> None:
        """Catch up with the committed checkpoints, then receipt each new one after its
        commit. ``AuditError`` if the file cannot be written (the store should not open)."""
        self.sync()
        event.listen(self._engine, "checkin", self._on_checkin)

    def detach(self) -> None:
        if event.contains(self._engine, "checkin", self._on_checkin):
            event.remove(self._engine, "checkin", self._on_checkin)

    def _on_checkin(self, _dbapi_connection: Any, record: Any) -> None:
        # After the connection's commit (or rollback): sync reads committed rows only.
        if record.info.pop(RECEIPT_DUE, False):
            self.sync_quietly()

    def sync_quietly(self) -> None:
        """``sync``, keeping a failure in ``error`` instead of raising (after a commit)."""
        try:
            self.sync()
        except (AuditError, sa.exc.SQLAlchemyError) as exc:
            self.error = str(exc)

    def _trusted(self, receipt: AuditReceipt) -> bool:
        return signature_ok(receipt, self._public)

    def sync(self) -> int:
        """Receipt every committed, validly signed checkpoint newer than the newest one
        receipted (after the file's restores); returns how many were written."""
        with self._lock, _locked(self.path) as fd:
            existing = _read_fd(fd)
            state = in_force(_parse_file(existing).receipts, self._trusted)
            done = max((r.seq for r in state.current if r.kind == "checkpoint"), default=0)
            try:
                with self._engine.connect() as conn:
                    rows = conn.execute(sa.select(audit_checkpoints)
                                        .where(audit_checkpoints.c.seq > done)
                                        .order_by(audit_checkpoints.c.seq)).all()
            except sa.exc.SQLAlchemyError as exc:
                raise AuditError(f"the checkpoints could not be read: {exc}") from exc
            new = [AuditReceipt("checkpoint", row.seq, row.hash, row.signed_at, row.signature,
                                self._key_id) for row in rows]
            new = [r for r in new if self._trusted(r)]
            if new:
                _append(fd, existing, new)
            self.error = None
            return len(new)

    def head(self) -> AuditReceipt:
        """The current signed head as a receipt; ``AuditError`` if the record is empty, or
        its head does not verify or is not the chain's last event."""
        receipt = self._head()
        if receipt is None:
            raise AuditError("the processing record is empty: there is no signed head yet")
        return receipt

    def _head(self) -> AuditReceipt | None:
        try:
            with self._engine.connect() as conn:
                stored = conn.execute(sa.select(settings.c.value)
                                      .where(settings.c.key == HEAD_KEY)).scalar_one_or_none()
                last = conn.execute(sa.select(audit_events.c.seq, audit_events.c.hash)
                                    .order_by(audit_events.c.seq.desc()).limit(1)).first()
        except sa.exc.SQLAlchemyError as exc:
            raise AuditError(f"the processing record could not be read: {exc}") from exc
        if stored is None and last is None:
            return None
        try:
            data = json.loads(stored or "")
            receipt = AuditReceipt("head", int(data["seq"]), str(data["hash"]),
                                   str(data["signed_at"]), str(data["signature"]), self._key_id)
        except (ValueError, TypeError, KeyError) as exc:
            raise AuditError("the stored head is missing or unreadable (modified)",
                             rule="R11") from exc
        if not self._trusted(receipt):
            raise AuditError("the stored head has a bad signature (forged or modified)",
                             rule="R11")
        if last is None or (last.seq, last.hash) != (receipt.seq, receipt.hash):
            raise AuditError("the signed head is not the chain's last event; run "
                             "`faceguard audit verify`", rule="R11")
        return receipt

    def write_head(self, *, only_if_newer: bool = False) -> AuditReceipt | None:
        """Append a receipt of the current head (unless the file holds it) and return it;
        with ``only_if_newer``, only when it covers events no receipt in force covers, and
        ``None`` instead of an error for an empty record."""
        receipt = self._head() if only_if_newer else self.head()
        if receipt is None:
            return None
        with self._lock, _locked(self.path) as fd:
            existing = _read_fd(fd)
            state = in_force(_parse_file(existing).receipts, self._trusted)
            newest = max((r.seq for r in state.current), default=0)
            if only_if_newer and receipt.seq <= newest:
                return None
            if receipt not in state.current:  # the same head twice is one receipt
                _append(fd, existing, [receipt])
        return receipt

    def close(self) -> None:
        """At close: catch up, receipt the head if it is newer, stop listening. Failures
        are kept in ``error`` (closing does not raise); closing again does nothing."""
        if self._closed:
            return
        self._closed = True
        self.detach()
        try:
            self.sync()
            self.write_head(only_if_newer=True)
        except (AuditError, sa.exc.SQLAlchemyError) as exc:
            self.error = str(exc)
