"""The processing record (R11) and its evidence: ``Faceguard.audit``.

Verifying the record, its signed head for an auditor, the key that signs it, deletion
certificates (R18), and the events the pages and monitoring read, as plain data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from faceguard.api.core import Part
from faceguard.audit import certificates
from faceguard.audit import views as audit_views
from faceguard.audit.integrity import IntegrityReport, verify_integrity
from faceguard.audit.receipts import AuditReceipt
from faceguard.errors import AuditError
from faceguard.results import DeletionCertificate, RecordCounts
from faceguard.rights import views


class AuditRecord(Part):
    """Integrity, receipts, certificates and the events of the processing record."""

    def verify(self, receipts: Sequence[AuditReceipt] = ()) -> IntegrityReport:
        """Check the processing record (R11): its hash chain and signatures, the receipts in
        the data directory's receipts file and ``receipts`` (kept by an auditor), the
        checkpoints, deletion certificates (R18) and consents (R3) against it."""
        audit = self._core.store.audit
        own = audit.receipts.path if audit.receipts is not None else None
        return verify_integrity(audit, self._core.store.records, receipts_file=own,
                                receipts=receipts)

    def head(self) -> AuditReceipt:
        """The processing record's current signed head as a receipt for an auditor to keep
        (also appended to the data directory's receipts file). ``AuditError`` if the record
        is empty or its head does not verify."""
        receipts = self._core.store.audit.receipts
        if receipts is None:
            raise AuditError("this store keeps no receipts")
        head = receipts.write_head()
        assert head is not None  # write_head raises rather than answer None here
        return head

    @property
    def public_key_hex(self) -> str:
        """The Ed25519 key that signs certificates and audit checkpoints (raw, hex)."""
        return self._core.store.audit.public_key_hex

    def certificate(self, certificate_id: str) -> DeletionCertificate:
        """A deletion certificate issued by this data directory (``NotFound`` if none)."""
        with self._core.store.records.connect() as conn:
            return certificates.load(conn, certificate_id)


    def events(self, *, before: int | None = None, limit: int = 50,
               subject: str | None = None, operations: tuple[str, ...] = ()
               ) -> list[dict[str, Any]]:
        """Processing-record events as plain dicts, newest first, with ``seq < before``."""
        with self._core.store.records.connect() as conn:
            return audit_views.page(conn, before=before, limit=limit, subject=subject,
                                    operations=operations)

    def alarms(self, *, limit: int = 20) -> list[dict[str, Any]]:
        """Security events worth an alarm: lockouts, attempts while locked, attacks (R25,
        R26). A liveness check passed, or a retry, is not one."""
        with self._core.store.records.connect() as conn:
            return audit_views.alarms(conn, limit=limit)

    def counts(self) -> RecordCounts:
        """The length of the processing record and the open review requests, now."""
        with self._core.store.records.connect() as conn:
            return RecordCounts(audit_views.count(conn), views.open_reviews(conn))
