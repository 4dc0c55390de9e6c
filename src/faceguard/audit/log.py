"""The tamper-evident processing record (R11): the chain, its checkpoints and head.

Every processing operation appends one event to ``audit_events`` inside the caller's
transaction, so the event commits or rolls back with the operation it records. Events form
a hash chain: ``hash = sha256(canonical JSON of every field, including seq, ts and
prev_hash)`` and ``prev_hash`` is the previous event's hash (64 zeros for event 1). The
canonical JSON is ``json.dumps(fields, sort_keys=True, separators=(",", ":"),
ensure_ascii=False)`` encoded as UTF-8, with ``rules`` as a list and ``detail`` as an object.

Every ``checkpoint_every`` events an Ed25519-signed checkpoint ``(seq, hash)`` is written
to ``audit_checkpoints``, and after every append the signed *head* (the last seq and hash)
is rewritten in ``settings["audit.head"]``. The chain catches edits, deletions, insertions
and reordering; the signatures catch an attacker who rewrites the chain and recomputes its
hashes, and the head catches deletion of the newest events.

Inside :meth:`AuditLog.batch` (the group commit of ``Store.commit``), events are buffered
and written at the end of the block with one multi-row insert and one signed head, so many
operations share one transaction and one ``fsync``; each is answered only after it.

Whoever can write the database can also cut the chain's tail and write back an older
signed head, so the signatures are also kept outside it as receipts (``audit_receipts``,
``attach_receipts``), and ``audit_integrity`` verifies the chain against them.

``AuditReport.first_bad_seq`` names the first event that cannot be trusted. A rewrite that
was rehashed is only visible to a signature, so it is reported from the first event after
the last checkpoint that still matches (the span the tampering must lie in).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from faceguard.audit.events import (
    _SELECT_ROWS,
    AuditEvent,
    AuditReport,
    _canonical,
    _check_fields,
    _matches,
    _plain_detail,
    _recompute,
    _record_hash,
    _StoredRow,
    _to_event,
)
from faceguard.audit.operations import Op
from faceguard.db import Prepared, audit_checkpoints, audit_events, driver_cursor, settings
from faceguard.errors import AuditError
from faceguard.results import MAX_ID

if TYPE_CHECKING:
    from faceguard.audit.receipts import ReceiptLog

GENESIS = "0" * 64
HEAD_KEY = "audit.head"
_CHECKPOINT_LABEL = b"faceguard-audit-checkpoint\0"
_HEAD_LABEL = b"faceguard-audit-head\0"
_BATCH = "faceguard.audit.batch"
_RECEIPT_DUE = "faceguard.audit.receipt_due"

# Statements compiled once and run through the driver (every operation appends).
_LAST = Prepared(sa.select(audit_events.c.seq, audit_events.c.hash)
                 .order_by(audit_events.c.seq.desc()).limit(1))
_INSERT_EVENT = Prepared(audit_events.insert())
_INSERT_CHECKPOINT = Prepared(audit_checkpoints.insert())
_UPDATE_HEAD = Prepared(settings.update().where(settings.c.key == HEAD_KEY)
                        .values(value=sa.bindparam("head")))
# A write that changes nothing, run first so the transaction holds the database's write lock
# before it reads the chain's tail (another process cannot append in between).
_LOCK = Prepared(settings.update().where(settings.c.key == HEAD_KEY)
                 .values(value=settings.c.value))


#: The PostgreSQL advisory lock that serialises appends to the chain across processes and
#: machines (held until the transaction ends). A row lock on the head would not do: before
#: the first event there is no head row to lock, and two writers would both take seq 1.
CHAIN_LOCK = 0x66_67_61_75_64_69_74  # "fgaudit"


def lock_chain(conn: sa.Connection) -> None:
    """Hold the chain's write lock until ``conn``'s transaction ends (SQLite: the
    database's write lock, taken by a write that changes nothing)."""
    if conn.dialect.name == "postgresql":
        driver_cursor(conn).execute("SELECT pg_advisory_xact_lock(%s)", (CHAIN_LOCK,))
    else:
        _LOCK.run(conn)


@dataclass
class _Pending:
    """Events appended inside :meth:`AuditLog.batch`, not yet written."""

    seq: int
    hash: str
    events: list[dict[str, Any]] = field(default_factory=list)
    checkpoints: list[dict[str, Any]] = field(default_factory=list)
    ts: str = ""


@dataclass(frozen=True)
class BatchMark:
    """Where a batch stood, to drop what one failed operation appended (``rewind``)."""

    seq: int
    hash: str
    events: int
    checkpoints: int
    ts: str


def _signed_message(label: bytes, seq: int, digest: str, signed_at: str) -> bytes:
    return label + f"{seq}:{digest}:{signed_at}".encode()


class AuditLog:
    """Appends to and verifies the hash-chained, signed processing record."""

    def __init__(self, engine: sa.Engine, signing_key: Ed25519PrivateKey, *,
                 checkpoint_every: int = 256,
                 clock: Callable[[], datetime] | None = None) -> None:
        if checkpoint_every < 1:
            raise AuditError("checkpoint_every must be at least 1", rule="R11")
        self._engine = engine
        self._key = signing_key
        self._public = signing_key.public_key()
        self._every = checkpoint_every
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.RLock()
        #: Where receipts of the checkpoints and head are written (``attach_receipts``).
        self.receipts: ReceiptLog | None = None

    def attach_receipts(self, path: Path) -> None:
        """Keep receipts of the signed checkpoints and head in the file ``path`` (see
        audit_receipts): catches up with the committed checkpoints now (``AuditError`` if
        the file cannot be written), then receipts each one after its commit."""
        from faceguard.audit.receipts import ReceiptLog  # it imports this module

        receipts = ReceiptLog(path, self._engine, self._public)
        receipts.attach()
        self.receipts = receipts

    @property
    def checkpoint_every(self) -> int:
        """A signed checkpoint is written every this many events."""
        return self._every

    def close(self) -> None:
        """Receipt the newest events (the head) and stop writing receipts."""
        if self.receipts is not None:
            self.receipts.close()

    def _checkpointed(self, conn: sa.Connection) -> None:
        """A checkpoint was written on ``conn``: receipt it once the connection is done."""
        if self.receipts is not None:
            conn.info[_RECEIPT_DUE] = True

    @property
    def public_key_hex(self) -> str:
        """The raw Ed25519 public key that verifies checkpoints and head, as hex."""
        return self._public.public_bytes(Encoding.Raw, PublicFormat.Raw).hex()

    def _now(self) -> str:
        now = self._clock()
        if now.tzinfo is None:
            raise AuditError("the audit clock returned a naive datetime", rule="R11")
        return now.astimezone(UTC).isoformat(timespec="microseconds")

    def _sign(self, label: bytes, seq: int, digest: str, signed_at: str) -> str:
        return self._key.sign(_signed_message(label, seq, digest, signed_at)).hex()

    def _signature_ok(self, label: bytes, seq: int, digest: str, signed_at: str,
                      signature: str) -> bool:
        try:
            self._public.verify(bytes.fromhex(signature),
                                _signed_message(label, seq, digest, signed_at))
        except (InvalidSignature, ValueError, TypeError):
            return False
        return True

    def append(self, conn: sa.Connection, *, actor: str, operation: str, outcome: str,
               purpose: str | None = None, subject: str | None = None,
               rules: Sequence[str] = (), detail: Mapping[str, Any] | None = None) -> int:
        """Append one event inside the caller's open transaction; returns its seq.

        ``detail`` must be plain JSON data (no bytes, arrays or strings over 1024
        characters): no biometric data may enter the record.
        """
        # an ``Op`` member is stored as its plain text
        name = operation.value if isinstance(operation, Op) else operation
        fields: dict[str, Any] = {"actor": actor, "operation": name, "outcome": outcome,
                                  "purpose": purpose, "subject": subject}
        for key in ("actor", "purpose", "subject"):  # the record of a refusal must not fail:
            value = fields[key]                      # no database stores NUL in text
            if isinstance(value, str) and "\x00" in value:
                fields[key] = value.replace("\x00", "\ufffd")
        _check_fields(fields, rules)
        fields["rules"] = _canonical(list(rules))
        fields["detail"] = _canonical(_plain_detail(detail))
        if not conn.in_transaction():
            raise AuditError("audit events must be appended inside the caller's transaction",
                             rule="R11")
        with self._lock:
            try:
                return self._write(conn, fields)
            except sa.exc.SQLAlchemyError as exc:
                raise AuditError(f"the processing record could not be written: {exc}",
                                 rule="R11") from exc

    def _write(self, conn: sa.Connection, fields: dict[str, Any]) -> int:
        """Chain and store ``fields`` (``rules`` and ``detail`` already canonical JSON)."""
        pending: _Pending | None = conn.info.get(_BATCH)
        if pending is None:
            lock_chain(conn)
            last = _LAST.first(conn)
            seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS)
        else:
            seq, prev_hash = pending.seq + 1, pending.hash
        ts = self._now()
        digest = _record_hash(seq, ts, fields["actor"], fields["operation"], fields["outcome"],
                              fields["purpose"], fields["subject"], fields["rules"],
                              fields["detail"], prev_hash)
        row = {**fields, "seq": seq, "ts": ts, "prev_hash": prev_hash, "hash": digest}
        checkpoint = None
        if seq % self._every == 0:
            checkpoint = {"seq": seq, "hash": digest, "signed_at": ts,
                          "signature": self._sign(_CHECKPOINT_LABEL, seq, digest, ts)}
        if pending is not None:
            pending.events.append(row)
            if checkpoint is not None:
                pending.checkpoints.append(checkpoint)
            pending.seq, pending.hash, pending.ts = seq, digest, ts
            return seq
        _INSERT_EVENT.run(conn, row)
        if checkpoint is not None:
            _INSERT_CHECKPOINT.run(conn, checkpoint)
            self._checkpointed(conn)
        self._write_head(conn, seq, digest, ts)
        return seq

    def _write_head(self, conn: sa.Connection, seq: int, digest: str, ts: str) -> None:
        head = _canonical({"seq": seq, "hash": digest, "signed_at": ts,
                           "signature": self._sign(_HEAD_LABEL, seq, digest, ts)})
        if _UPDATE_HEAD.run(conn, {"head": head}) == 0:
            conn.execute(settings.insert().values(key=HEAD_KEY, value=head))

    @contextmanager
    def batch(self, conn: sa.Connection) -> Iterator[None]:
        """Buffer the events appended on ``conn`` inside the block; write them at its end.

        For group commit: many operations run on one connection and transaction, and their
        events go in with one multi-row insert and one signed head. The block holds the
        database's write lock from its start, so the buffered chain cannot fork. If the block
        raises, its buffered events are dropped with the transaction.
        """
        if _BATCH in conn.info:
            raise AuditError("audit batches do not nest", rule="R11")
        if not conn.in_transaction():
            raise AuditError("an audit batch must run inside the caller's transaction",
                             rule="R11")
        with self._lock:
            lock_chain(conn)
            last = _LAST.first(conn)
            pending = _Pending(last[0], last[1]) if last else _Pending(0, GENESIS)
            conn.info[_BATCH] = pending
            try:
                yield
                if pending.events:
                    _INSERT_EVENT.many(conn, pending.events)
                    if pending.checkpoints:
                        _INSERT_CHECKPOINT.many(conn, pending.checkpoints)
                        self._checkpointed(conn)
                    self._write_head(conn, pending.seq, pending.hash, pending.ts)
            except sa.exc.SQLAlchemyError as exc:
                raise AuditError(f"the processing record could not be written: {exc}",
                                 rule="R11") from exc
            finally:
                del conn.info[_BATCH]

    @staticmethod
    def mark(conn: sa.Connection) -> BatchMark:
        """The state of the open batch on ``conn`` (see :meth:`rewind`)."""
        pending: _Pending = conn.info[_BATCH]
        return BatchMark(pending.seq, pending.hash, len(pending.events),
                         len(pending.checkpoints), pending.ts)

    @staticmethod
    def rewind(conn: sa.Connection, mark: BatchMark) -> None:
        """Drop the events buffered after ``mark`` (their operation failed)."""
        pending: _Pending = conn.info[_BATCH]
        del pending.events[mark.events:]
        del pending.checkpoints[mark.checkpoints:]
        pending.seq, pending.hash, pending.ts = mark.seq, mark.hash, mark.ts

    def events(self, *, subject: str | None = None, operation: str | None = None,
               limit: int | None = None, newest_first: bool = False) -> list[AuditEvent]:
        """Events matching ``subject`` and ``operation``, in seq order (or newest first)."""
        if limit is not None and limit < 0:
            raise AuditError("limit must not be negative")
        query = sa.select(audit_events)
        if subject is not None:
            query = query.where(audit_events.c.subject == subject)
        if operation is not None:
            query = query.where(audit_events.c.operation == operation)
        order = audit_events.c.seq.desc() if newest_first else audit_events.c.seq
        query = query.order_by(order).limit(limit)
        try:
            with self._engine.connect() as conn:
                return [_to_event(row) for row in conn.execute(query)]
        except (sa.exc.SQLAlchemyError, ValueError, TypeError) as exc:
            raise AuditError(f"the processing record could not be read: {exc}") from exc

    def event(self, seq: int) -> AuditEvent | None:
        """The event with sequence number ``seq``, or ``None``."""
        if not 1 <= seq <= MAX_ID:
            return None
        try:
            with self._engine.connect() as conn:
                row = conn.execute(
                    sa.select(audit_events).where(audit_events.c.seq == seq)).first()
        except (sa.exc.SQLAlchemyError, ValueError, TypeError) as exc:
            raise AuditError(f"the processing record could not be read: {exc}") from exc
        return None if row is None else _to_event(row)

    def verify(self) -> AuditReport:
        """Walk the whole chain and report the first sign of tampering."""
        try:
            with self._engine.connect() as conn:
                for _attempt in range(5):
                    head = self._read_head(conn)
                    report = self._walk(conn, head)
                    if self._read_head(conn) == head:  # no append committed meanwhile
                        return report
        except sa.exc.SQLAlchemyError as exc:
            raise AuditError(f"the processing record could not be read: {exc}") from exc
        raise AuditError("the processing record kept changing during verification")

    @staticmethod
    def _read_head(conn: sa.Connection) -> str | None:
        return conn.execute(sa.select(settings.c.value)
                            .where(settings.c.key == HEAD_KEY)).scalar_one_or_none()

    def _walk(self, conn: sa.Connection, head: str | None) -> AuditReport:
        checkpoints = {row.seq: row for row in conn.execute(sa.select(audit_checkpoints))}
        cursor = driver_cursor(conn)
        cursor.execute(_SELECT_ROWS)
        rows = map(_StoredRow._make, iter(cursor.fetchone, None))
        counts = [0, 0]  # events examined, checkpoints verified

        def fail(seq: int, problem: str) -> AuditReport:
            return AuditReport(False, counts[0], counts[1], seq, problem)

        prev, anchor, seen = GENESIS, 0, {GENESIS: 0}
        matches = _matches
        for seq, row in enumerate(rows, start=1):
            counts[0] += 1
            if row.seq != seq:
                if row.seq > seq:
                    return fail(seq, f"event {seq} is missing (seq jumps to {row.seq})")
                return fail(row.seq, f"event {row.seq} is not part of the chain")
            if row.prev_hash != prev:
                earlier = seen.get(row.prev_hash)
                if earlier is not None and earlier < seq - 1:
                    return fail(earlier + 1, f"events {earlier + 1}..{seq - 1} were inserted "
                                f"(event {seq} links to event {earlier})")
                return fail(seq, f"event {seq} does not link to event {seq - 1} "
                            "(deleted, inserted or reordered events)")
            if not matches(row):  # else: stored exactly as appended
                try:
                    event = _to_event(row)
                except (ValueError, TypeError):
                    return fail(seq, f"event {seq} was modified (unreadable fields)")
                if _recompute(event) != row.hash:
                    return fail(seq, f"event {seq} was modified (hash mismatch)")
            cp = checkpoints.pop(seq, None)
            if cp is not None:
                if not self._signature_ok(_CHECKPOINT_LABEL, cp.seq, cp.hash, cp.signed_at,
                                          cp.signature):
                    return fail(seq, f"checkpoint {seq} has a bad signature (forged or modified)")
                if cp.hash != row.hash:
                    return fail(anchor + 1, f"events {anchor + 1}..{seq} were rewritten after "
                                f"checkpoint {seq} was signed")
                anchor = seq
                counts[1] += 1
            seen[row.hash] = seq
            prev = row.hash
        last = counts[0]
        for cp_seq in sorted(checkpoints):
            cp = checkpoints[cp_seq]
            if not self._signature_ok(_CHECKPOINT_LABEL, cp.seq, cp.hash, cp.signed_at,
                                      cp.signature):
                return fail(cp_seq, f"checkpoint {cp_seq} has a bad signature (forged or "
                            "modified)")
            return fail(last + 1, f"events {last + 1}..{cp_seq} were deleted (a signed "
                        f"checkpoint exists at {cp_seq})")
        bad_head = self._check_head(head, last, prev, anchor, fail)
        return bad_head if bad_head is not None else AuditReport(True, last, counts[1], None, None)

    def _check_head(self, head: str | None, last: int, prev: str, anchor: int,
                    fail: Callable[[int, str], AuditReport]) -> AuditReport | None:
        if head is None:
            if last == 0:
                return None
            return fail(anchor + 1, "the signed head is missing, so events after "
                        f"{anchor} are not covered by a signature")
        try:
            data = json.loads(head)
            seq, digest = int(data["seq"]), str(data["hash"])
            valid = self._signature_ok(_HEAD_LABEL, seq, digest, str(data["signed_at"]),
                                       str(data["signature"]))
        except (ValueError, TypeError, KeyError):
            valid = False
        if not valid:
            return fail(anchor + 1, "the signed head has a bad signature (forged or modified)")
        if seq > last:
            return fail(last + 1, f"events {last + 1}..{seq} were deleted (the signed head "
                        f"is at {seq})")
        if seq < last:
            return fail(seq + 1, f"events {seq + 1}..{last} are not covered by the signed head "
                        "(added after it)")
        if digest != prev:
            return fail(anchor + 1, f"events {anchor + 1}..{seq} were rewritten after the head "
                        "was signed")
        return None
