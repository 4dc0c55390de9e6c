"""What the public operations return: plain frozen dataclasses."""

from __future__ import annotations

import dataclasses
import datetime
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

#: Signed into every deletion certificate before its fields (see ``audit.certificates``).
_CERTIFICATE_DOMAIN = b"faceguard-deletion-certificate\0"


@dataclass(frozen=True)
class DeletionCertificate:
    """What was erased, why and when; ``signature`` is Ed25519 over the other fields."""

    certificate_id: str
    subject_id: str
    reason: str
    scope: str
    templates_deleted: tuple[str, ...]
    data_key_destroyed: bool
    issued_at: str
    audit_seq: int
    signature: str = ""

    def body(self) -> bytes:
        fields = asdict(self)
        fields.pop("signature")
        fields["templates_deleted"] = list(self.templates_deleted)
        text = json.dumps(fields, sort_keys=True, separators=(",", ":"))
        return _CERTIFICATE_DOMAIN + text.encode()





@dataclass(frozen=True)
class ConsentReceipt:
    """A recorded consent."""

    subject_id: str
    purpose: str
    consent_id: int
    notice_version: int
    notice_sha256: str
    superseded: int | None
    audit_seq: int
    #: The language of the notice the person read (``zh-CN`` or ``en``).
    language: str = "en"


@dataclass(frozen=True)
class Stats:
    """Counts for reports: active people, and stored templates per purpose."""

    people: int
    templates: dict[str, int]


@dataclass(frozen=True)
class EnrollResult:
    """Templates stored for one subject and purpose."""

    subject_id: str
    purpose: str
    template_ids: tuple[str, ...]
    expires_at: str
    audit_seq: int


@dataclass(frozen=True)
class VerifyResult:
    """A 1:1 decision. ``score`` is set only on the admin path (``reveal_score=True``)."""

    decision: Literal["match", "no-match"]
    purpose: str
    operating_point: str
    audit_seq: int
    score: float | None = None


@dataclass(frozen=True)
class IdentifyResult:
    """A 1:N decision: the matched subject, ``unknown``, or ``needs-review`` (R17: the gallery
    is too large for an automatic match at this operating point) with ``candidates`` (external
    IDs, nearest first) and the ``reason``."""

    decision: Literal["match", "unknown", "needs-review"]
    purpose: str
    operating_point: str
    audit_seq: int
    subject_id: str | None = None
    external_id: str | None = None
    score: float | None = None
    candidates: tuple[str, ...] = ()
    reason: str | None = None


@dataclass(frozen=True)
class WithdrawResult:
    """A withdrawal; ``certificate`` is set when the subject had no purpose left and was erased."""

    subject_id: str
    purpose: str
    templates_deleted: tuple[str, ...]
    audit_seq: int
    certificate: DeletionCertificate | None


@dataclass(frozen=True)
class SweepResult:
    """What a retention sweep erased."""

    templates_deleted: int
    consents_expired: int
    certificates: tuple[DeletionCertificate, ...] = field(default=())
    #: Erasures of the ledger found undone and completed or re-applied first.
    recovered: ErasureRecovery | None = None


@dataclass(frozen=True)
class SubjectExport:
    """Everything held about a subject (R16), without template bytes."""

    subject_id: str
    identity: dict[str, str]
    consents: list[dict[str, Any]]
    templates: list[dict[str, str]]
    events: list[dict[str, Any]]


@dataclass(frozen=True)
class Explanation:
    """Why a decision came out as it did (R16, R17), in words; never the raw score."""

    decision_seq: int
    operation: str
    outcome: str
    purpose: str | None
    time: str
    operating_point: str | None
    false_match_rate: float | None
    rules: tuple[str, ...]
    text: str


@dataclass(frozen=True)
class ReviewRequest:
    """A request for human review of an automated decision (R17) and its answer."""

    id: int
    decision_seq: int
    reason: str
    status: str
    requested_at: str
    answer: str | None
    answered_by: str | None
    answered_at: str | None


@dataclass(frozen=True)
class DecommissionResult:
    """The service ended (PIPL 47): everyone erased, each with a certificate, and a summary."""

    people_erased: int
    certificates: tuple[str, ...]
    summary: DeletionCertificate


@dataclass(frozen=True)
class ErasureRecovery:
    """What the erasure ledger made good (R18): ``completed`` erasures had been interrupted
    (finished now); ``reapplied`` ones were done before and undone by a restored copy (done
    again). ``certificates`` names each one's certificate; ``withdrawals_reapplied`` counts
    one-purpose withdrawals a restored copy had undone."""

    completed: int = 0
    reapplied: int = 0
    certificates: tuple[str, ...] = ()
    #: purpose withdrawals undone by a restored copy and made again
    withdrawals_reapplied: int = 0


#: The largest sequence number or row ID any store holds (PostgreSQL's integer); a larger one
#: names nothing, and is answered as not found rather than sent to the database.
MAX_ID = 2**31 - 1


@dataclass(frozen=True)
class MasterRotation:
    """A master-key rotation: the old and new keys' fingerprints, the data keys re-wrapped,
    the passes it took (writers may add keys meanwhile) and its event in the record."""

    old_fingerprint: str
    new_fingerprint: str
    rewrapped: int
    passes: int
    audit_event: int


@dataclass(frozen=True)
class BackupResult:
    """A consistent copy of the stores: the record store copy and the key store copy (with
    the erasure ledger) in two folders, to be kept apart. The master key is not copied."""

    backup_id: str
    created_at: str
    records: str
    keys: str
    audit_seq: int
    erasures: int
    audit_event: int


@dataclass(frozen=True)
class RestoreResult:
    """A restore: which backup, which parts came back, and every erasure of the ledger
    re-applied on them (``recovery``). ``unreadable`` counts active people whose data key the
    restored key store lacks (their data cannot be opened); ``orphan_keys`` counts keys of
    people the restored record store does not know (``sweep`` destroys them)."""

    backup_id: str
    backup_created_at: str
    parts: tuple[str, ...]
    ledger_entries_merged: int
    recovery: ErasureRecovery
    unreadable: int
    orphan_keys: int
    audit_event: int


@dataclass(frozen=True)
class ConsentRow:
    """One consent of a person as the pages list it (``Faceguard.rights.people``)."""

    purpose: str
    status: str
    method: str
    minor: bool
    granted_at: str
    ended_at: str | None
    #: The language of the notice read (None: recorded before it was kept).
    language: str | None = None


@dataclass(frozen=True)
class SubjectRow:
    """One person held, with their decrypted identity (``Faceguard.rights.people``)."""

    subject_id: str
    external_id: str
    name: str
    created_at: str
    last_seen_at: str | None
    templates: int
    consents: list[ConsentRow]


@dataclass(frozen=True)
class ExpiringRow:
    """A person's templates of one purpose whose retention ends soon
    (``Faceguard.rights.expiring``)."""

    subject_id: str
    purpose: str
    expires_at: str
    templates: int


@dataclass(frozen=True)
class RecordCounts:
    """Sizes read for monitoring (``Faceguard.audit.counts``)."""

    #: Events in the processing record (R11).
    audit_events: int
    #: Human-review requests still open (R17).
    reviews_open: int


def plain(value: Any) -> Any:
    """A JSON-ready copy of a result: dataclasses to dicts (keys as text), tuples, lists and
    sets to lists, dates to ISO text, paths to text. The CLI's ``--json`` and the pages'
    JSON twins both print results through it."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return plain(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return value
