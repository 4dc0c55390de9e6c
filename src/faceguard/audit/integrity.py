"""Verifying the processing record against what lies outside it (R11; R3, R18).

``AuditLog.verify`` walks the chain and checks its signatures; everything it reads is in the
database it judges. This adds the checks that reach outside the chain:

- *receipts* (``audit_receipts``): every receipt in force (the data directory's file, after
  its restores, and any an auditor kept) must verify with the deployment's public key, and
  the chain must hold its hash at its seq. An empty record with receipts was wiped; a chain
  shorter than a receipt lost its tail (also when an older signed head was written back); a
  different hash at a receipt's seq was rolled back and rewritten. A checkpoint receipt also
  needs its checkpoint row. Receipts of the data directory's file that a recorded restore
  rolled back are noted as superseded; an auditor's receipt is never superseded, but a
  restore recorded in the data directory is named beside the rollback it explains;
- *checkpoints*: one is signed every ``checkpoint_every`` events, so each multiple up to the
  last event must be there (a deleted checkpoint row is otherwise invisible);
- *deletion certificates* (R18): each event naming a certificate in its detail (erasure,
  decommissioning) needs that certificate, verifying with the public key and naming that
  subject; each certificate needs the event its ``audit_seq`` names to record it;
- *consents* (R3): a consent the table shows active must have a ``consent.granted`` event
  after which no event ended it: ``consent.withdrawn`` or ``purpose.ended`` (that subject
  and purpose), an erasure of the subject (an event naming a certificate), or a
  ``template.expired`` that left the person no template for the purpose (the sweep ends the
  consent then); and an active consent has no end time.

The receipts are read before the database, so a receipt written meanwhile (always after its
commit) is never ahead of what is read. The database is read in one transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from faceguard import db
from faceguard.audit import certificates as certs
from faceguard.audit.log import AuditLog
from faceguard.audit.operations import CONSENT_ENDINGS, Op
from faceguard.audit.receipts import (
    AuditReceipt,
    ReceiptsFile,
    in_force,
    key_id,
    read_receipts_file,
    signature_ok,
)
from faceguard.errors import AuditError
from faceguard.results import DeletionCertificate

_GRANTED = Op.CONSENT_GRANTED
_ENDS_ONE = CONSENT_ENDINGS
_EXPIRED = Op.TEMPLATE_EXPIRED
_CHUNK = 500


@dataclass(frozen=True)
class IntegrityFinding:
    """One sign of tampering: ``kind`` (e.g. ``truncated``, ``wiped``, ``rolled-back``,
    ``checkpoint-deleted``, ``certificate-deleted``, ``consent-revived``), the first event it
    concerns (if any) and what is wrong, in plain words."""

    kind: str
    seq: int | None
    problem: str


@dataclass(frozen=True)
class IntegrityReport:
    """Result of verifying the record with its receipts, certificates and consents.

    ``ok``, ``events``, ``checkpoints``, ``first_bad_seq`` and ``problem`` read as in
    ``AuditReport`` (``problem`` is the finding at ``first_bad_seq``); ``findings`` lists
    every problem found, ``receipts`` counts the receipts checked, and ``notes`` says what is
    not tampering but worth knowing (superseded receipts, receipts not yet written)."""

    ok: bool
    events: int
    checkpoints: int
    first_bad_seq: int | None
    problem: str | None
    receipts: int = 0
    findings: tuple[IntegrityFinding, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass
class _Snapshot:
    """What the checks read from the record store, in one transaction."""

    last: int = 0
    hashes: dict[int, str] = field(default_factory=dict)
    checkpoints: dict[int, str] = field(default_factory=dict)
    certified: list[tuple[int, str, str | None, str]] = field(default_factory=list)
    certificates: dict[str, Any] = field(default_factory=dict)
    consent_events: list[tuple[int, str, str | None, str | None]] = field(default_factory=list)
    active: list[Any] = field(default_factory=list)
    with_templates: set[tuple[str, str]] = field(default_factory=set)


def verify_integrity(audit: AuditLog, engine: sa.Engine, *, receipts_file: Path | None = None,
                     receipts: Sequence[AuditReceipt] = ()) -> IntegrityReport:
    """Verify the chain (``audit.verify``) and everything above against ``engine``'s store,
    the receipts in ``receipts_file`` (the data directory's) and ``receipts`` (an auditor's).
    """
    public = Ed25519PublicKey.from_public_bytes(bytes.fromhex(audit.public_key_hex))

    def trusted(receipt: AuditReceipt) -> bool:
        return signature_ok(receipt, public)

    own = read_receipts_file(receipts_file) if receipts_file is not None else ReceiptsFile()
    chain = audit.verify()
    seqs = {r.seq for r in [*own.receipts, *receipts]}
    snap = _read(engine, seqs)
    findings: list[IntegrityFinding] = []
    notes: list[str] = []
    if not chain.ok:
        findings.append(IntegrityFinding("chain", chain.first_bad_seq, str(chain.problem)))
    checked = _check_receipts(own, receipts, snap, trusted, key_id(public), findings, notes)
    if receipts_file is not None:
        _note_coverage(own, receipts_file, snap, trusted, notes)
    _check_checkpoints(snap, audit.checkpoint_every, findings)
    _check_certificates(snap, public, findings)
    _check_consents(snap, findings)
    findings = _unique(findings)
    first = min(findings, key=lambda f: (f.seq is None, f.seq or 0), default=None)
    return IntegrityReport(
        ok=not findings, events=chain.events, checkpoints=chain.checkpoints,
        first_bad_seq=None if first is None else first.seq,
        problem=None if first is None else first.problem,
        receipts=checked, findings=tuple(findings), notes=tuple(notes))


def _read(engine: sa.Engine, seqs: set[int]) -> _Snapshot:
    snap = _Snapshot()
    events = db.audit_events.c
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                snap.last = int(conn.execute(sa.select(sa.func.max(events.seq))).scalar() or 0)
                wanted = sorted(s for s in seqs if 0 < s <= snap.last)
                for start in range(0, len(wanted), _CHUNK):
                    chunk = wanted[start:start + _CHUNK]
                    snap.hashes.update((r.seq, r.hash) for r in conn.execute(
                        sa.select(events.seq, events.hash).where(events.seq.in_(chunk))))
                cps = db.audit_checkpoints.c
                snap.checkpoints = {r.seq: r.hash
                                    for r in conn.execute(sa.select(cps.seq, cps.hash))}
                for row in conn.execute(
                        sa.select(events.seq, events.operation, events.subject, events.detail)
                        .where(events.outcome == "ok",
                               events.detail.like('%"certificate":%')).order_by(events.seq)):
                    cert_id = _certificate_named(row.detail)
                    if cert_id is not None:
                        snap.certified.append((row.seq, row.operation, row.subject, cert_id))
                snap.certificates = {r.id: r for r in conn.execute(sa.select(db.certificates))}
                snap.consent_events = [tuple(r) for r in conn.execute(
                    sa.select(events.seq, events.operation, events.purpose, events.subject)
                    .where(events.outcome == "ok",
                           events.operation.in_([_GRANTED, *_ENDS_ONE, _EXPIRED]))
                    .order_by(events.seq))]
                snap.active = list(conn.execute(
                    sa.select(db.consents).where(db.consents.c.status == "active")))
                snap.with_templates = {(r.subject_id, r.purpose) for r in conn.execute(
                    sa.select(db.templates.c.subject_id, db.templates.c.purpose).distinct())}
    except sa.exc.SQLAlchemyError as exc:
        raise AuditError(f"the record store could not be read: {exc}") from exc
    return snap


def _certificate_named(detail: str) -> str | None:
    try:
        value = json.loads(detail).get("certificate")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def _check_receipts(own: ReceiptsFile, kept: Sequence[AuditReceipt], snap: _Snapshot,
                    trusted: Callable[[AuditReceipt], bool], ours: str,
                    findings: list[IntegrityFinding], notes: list[str]) -> int:
    """Check the data directory's receipts in force and an auditor's; returns how many."""
    for number, problem in own.bad_lines:
        findings.append(IntegrityFinding("receipts-edited", None, f"line {number} of the "
                                         f"receipts file is not a receipt ({problem})"))
    if own.torn:
        notes.append("the receipts file's last line is incomplete (a write cut short); "
                     "it was ignored")
    state = in_force(own.receipts, trusted)
    for receipt, restore in state.superseded:
        notes.append(f"the {receipt.describe()} is superseded by the restore of "
                     f"{restore.time} (to event {restore.seq}, from {restore.source})")
    current = _distinct(state.current)
    for receipt in sorted(current, key=lambda r: -r.seq):  # the furthest first: the whole loss
        _check_one(receipt, snap, trusted, ours, findings, "")
    seen = set(current)
    theirs = _distinct(in_force(kept, trusted).current)
    for receipt in sorted(theirs, key=lambda r: -r.seq):
        if receipt in seen:
            continue
        named = [r for r in state.restores if r.seq < receipt.seq]
        why = "" if not named else (f"; the data directory records a restore of "
                                    f"{named[-1].time} to event {named[-1].seq} from "
                                    f"{named[-1].source}")
        _check_one(receipt, snap, trusted, ours, findings, why)
    return len(current) + len([r for r in theirs if r not in seen])


def _distinct(receipts: Iterable[AuditReceipt]) -> list[AuditReceipt]:
    return list(dict.fromkeys(receipts))


def _check_one(receipt: AuditReceipt, snap: _Snapshot, trusted: Callable[[AuditReceipt], bool],
               ours: str, findings: list[IntegrityFinding], why: str) -> None:
    desc, seq, last = receipt.describe(), receipt.seq, snap.last
    if not trusted(receipt):
        whose = (f"signed by key {receipt.key_id}, not this deployment's {ours}"
                 if receipt.key_id != ours else "forged or modified")
        findings.append(IntegrityFinding("receipt-invalid", seq or None,
                                         f"the {desc} has a bad signature ({whose})"))
        return
    if seq == 0:  # a restore to an empty record
        return
    if last == 0:
        findings.append(IntegrityFinding("wiped", 1, f"the record is empty, but the {desc} "
                                         f"shows events 1..{seq} existed: it was wiped{why}"))
    elif seq > last:
        findings.append(IntegrityFinding(
            "truncated", last + 1, f"the record ends at event {last}, but the {desc} shows "
            f"events up to {seq}: events {last + 1}..{seq} were deleted (the tail cut off, or "
            f"the record rolled back to an older signed head){why}"))
    elif snap.hashes.get(seq) != receipt.hash:
        findings.append(IntegrityFinding(
            "rolled-back", seq, f"event {seq} is not the event the {desc} signed: the record "
            f"was rolled back and rewritten, or replaced{why}"))
    elif receipt.kind == "checkpoint" and snap.checkpoints.get(seq) != receipt.hash:
        findings.append(IntegrityFinding(
            "checkpoint-deleted", seq, f"checkpoint {seq} was deleted or altered (the {desc} "
            "exists)"))


def _note_coverage(own: ReceiptsFile, path: Path, snap: _Snapshot,
                   trusted: Callable[[AuditReceipt], bool], notes: list[str]) -> None:
    """Say what the data directory's receipts do not cover (not tampering by itself)."""
    if not own.receipts and not own.bad_lines:
        if snap.last:
            notes.append(f"no receipts at {path}: only the database's own signatures were "
                         "checked; keep `faceguard audit head` receipts to catch a rollback")
        return
    covered = {r.seq for r in in_force(own.receipts, trusted).current
               if r.kind == "checkpoint"}
    missing = sorted(s for s in snap.checkpoints if s > max(covered, default=0))
    if missing:
        notes.append(f"{len(missing)} checkpoint(s) ({missing[0]}..{missing[-1]}) have no "
                     "receipt yet (written after each commit, and when the store opens)")


def _check_checkpoints(snap: _Snapshot, every: int, findings: list[IntegrityFinding]) -> None:
    for seq in range(every, snap.last + 1, every):
        if seq not in snap.checkpoints:
            findings.append(IntegrityFinding(
                "checkpoint-deleted", seq, f"checkpoint {seq} is missing (deleted): one is "
                f"signed every {every} events"))


def _check_certificates(snap: _Snapshot, public: Ed25519PublicKey,
                        findings: list[IntegrityFinding]) -> None:
    recorded: dict[str, set[int]] = {}
    for seq, operation, subject, cert_id in snap.certified:
        recorded.setdefault(cert_id, set()).add(seq)
        row = snap.certificates.get(cert_id)
        if row is None:
            findings.append(IntegrityFinding(
                "certificate-deleted", seq, f"deletion certificate {cert_id} of event {seq} "
                f"({operation}) is missing: deleted"))
            continue
        cert = _certificate(row)
        whose = subject if subject is not None else "*"
        if cert is None or not certs.is_authentic(cert, public) or (
                cert.certificate_id, cert.subject_id) != (cert_id, whose):
            findings.append(IntegrityFinding(
                "certificate-invalid", seq, f"deletion certificate {cert_id} of event {seq} "
                "does not verify, or names another subject (modified or forged)"))
    for cert_id, row in snap.certificates.items():
        cert = _certificate(row)
        if cert is None:
            if cert_id not in recorded:
                findings.append(IntegrityFinding(
                    "certificate-invalid", None, f"deletion certificate {cert_id} is "
                    "unreadable and no event records it"))
        elif cert.audit_seq not in recorded.get(cert_id, set()):
            findings.append(IntegrityFinding(
                "certificate-unrecorded", cert.audit_seq or None, f"deletion certificate "
                f"{cert_id} names event {cert.audit_seq}, which does not record it (the "
                "certificate was inserted, or its event altered)"))


def _certificate(row: Any) -> DeletionCertificate | None:
    try:
        fields = json.loads(row.body)
        fields["templates_deleted"] = tuple(fields["templates_deleted"])
        return DeletionCertificate(**fields, signature=row.signature)
    except (ValueError, TypeError, KeyError):
        return None


def _check_consents(snap: _Snapshot, findings: list[IntegrityFinding]) -> None:
    granted: dict[tuple[str | None, str | None], int] = {}
    ended: dict[tuple[str | None, str | None], tuple[int, str]] = {}
    expired: dict[tuple[str | None, str | None], int] = {}
    for seq, operation, purpose, subject in snap.consent_events:
        key = (subject, purpose)
        if operation == _GRANTED:
            granted[key] = seq
        elif operation == _EXPIRED:
            expired[key] = seq
        else:
            ended[key] = (seq, operation)
    erased: dict[str, tuple[int, str]] = {}
    for seq, operation, subject, _cert in snap.certified:
        if subject is not None:
            erased[subject] = (seq, operation)
    for row in snap.active:
        key = (row.subject_id, row.purpose)
        name = f"consent {row.id} (subject {row.subject_id}, {row.purpose!r})"
        grant = granted.get(key)
        ends = [e for e in (ended.get(key), erased.get(row.subject_id)) if e is not None]
        end = max(ends, default=None)
        if grant is None:
            findings.append(IntegrityFinding(
                "consent-unrecorded", None, f"{name} is active, but no consent.granted event "
                "records it (inserted or revived)"))
        elif end is not None and end[0] > grant:
            findings.append(IntegrityFinding(
                "consent-revived", end[0], f"{name} is active, but event {end[0]} "
                f"({end[1]}) ended it: revived"))
        elif row.ended_at is not None or row.end_reason is not None:
            findings.append(IntegrityFinding(
                "consent-revived", grant, f"{name} is active but ended at {row.ended_at} "
                f"({row.end_reason}): revived"))
        elif expired.get(key, 0) > grant and key not in snap.with_templates:
            findings.append(IntegrityFinding(
                "consent-revived", expired[key], f"{name} is active, but event "
                f"{expired[key]} expired the person's last template for it, which ends the "
                "consent: revived"))


def _unique(findings: list[IntegrityFinding]) -> list[IntegrityFinding]:
    """Drop a finding repeating an earlier one's kind and seq (receipt and sequence checks
    both see a deleted checkpoint)."""
    seen: set[tuple[str, int | None]] = set()
    out = []
    for finding in findings:
        key = (finding.kind, finding.seq)
        if finding.seq is None or key not in seen:
            out.append(finding)
            seen.add(key)
    return out
