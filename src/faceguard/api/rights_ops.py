"""Subject rights, erasure and retention: the ``Faceguard`` operations of R8, R16-R18."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from faceguard.api.facade import FacadeBase
from faceguard.audit import certificates
from faceguard.audit.integrity import IntegrityReport, verify_integrity
from faceguard.audit.operations import Op
from faceguard.audit.receipts import AuditReceipt
from faceguard.consent import sharing
from faceguard.errors import AuditError, ConfigError, NotFound
from faceguard.policy import pack_numbers
from faceguard.results import (
    BackupResult,
    DecommissionResult,
    DeletionCertificate,
    Explanation,
    RestoreResult,
    ReviewRequest,
    SubjectExport,
    SweepResult,
)
from faceguard.rights import backup as backups
from faceguard.rights import erasure, recovery, review
from faceguard.store.core import master_key_path
from faceguard.timeutil import iso, utc_now
from faceguard.vault.keys import load_master_key


class RightsOps(FacadeBase):
    """Erasure, export, retention sweeps and the processing record."""

    def erase(
        self, external_id: str, *, reason: str = "request", actor: str = "library"
    ) -> erasure.DeletionCertificate:
        """Erase a person now (R18): templates deleted, data key destroyed, certificate."""
        subject = self._require_subject(external_id)
        try:
            return erasure.erase_subject(self._store, subject, reason=reason, actor=actor)
        finally:
            self._gate_changed()

    def export(self, external_id: str, *, actor: str = "library") -> SubjectExport:
        """Everything held about a person (R16), template bytes excluded."""
        subject = self._require_subject(external_id)
        return erasure.export_subject(self._store, subject, actor=actor)

    def sweep(self, *, actor: str = "sweep", now: str | None = None) -> SweepResult:
        """Erase every template past its retention (R8, R18), after completing every
        erasure of the ledger left undone (``recovered``)."""
        self._gate_changed()
        recovered = recovery.reconcile(self._store, actor=actor)
        result = erasure.sweep(
            self._store,
            actor=actor,
            now=now or iso(utc_now()),
            declared=set(self.deployment.purposes),
            max_years_since_last_interaction=pack_numbers(
                self.deployment).max_retention_years_after_last_interaction,
        )
        return replace(result, recovered=recovered)

    # ---- backup and restore (R18, R25) --------------------------------------------------

    def backup(self, dest: Path, *, actor: str = "library") -> BackupResult:
        """A consistent copy of both stores in ``dest`` while the service runs: ``records/``
        and ``keys/`` (with the erasure ledger), to be kept apart. The master key is not
        copied (keep it in a third place)."""
        return backups.backup(self._store, dest, actor=actor)

    @staticmethod
    def restore(data_dir: Path, src: Path, *, records: bool = True, keys: bool = True,
                actor: str = "library") -> RestoreResult:
        """Put a backup back into ``data_dir`` (no process may have it open) and re-apply
        every erasure of the ledger, so that nobody erased since comes back (R18)."""
        parts = tuple(p for p, wanted in (("records", records), ("keys", keys)) if wanted)
        if not parts:
            raise ConfigError("restore needs the records, the keys or both")
        master = load_master_key(master_key_path(data_dir))
        return backups.restore(data_dir, src, master, parts=parts, actor=actor)

    def verify_audit(self, receipts: Sequence[AuditReceipt] = ()) -> IntegrityReport:
        """Check the processing record (R11): its hash chain and signatures, the receipts in
        the data directory's receipts file and ``receipts`` (kept by an auditor), the
        checkpoints, deletion certificates (R18) and consents (R3) against it."""
        audit = self._store.audit
        own = audit.receipts.path if audit.receipts is not None else None
        return verify_integrity(audit, self._store.records, receipts_file=own,
                                receipts=receipts)

    def audit_head(self) -> AuditReceipt:
        """The processing record's current signed head as a receipt for an auditor to keep
        (also appended to the data directory's receipts file). ``AuditError`` if the record
        is empty or its head does not verify."""
        receipts = self._store.audit.receipts
        if receipts is None:
            raise AuditError("this store keeps no receipts")
        head = receipts.write_head()
        assert head is not None  # write_head raises rather than answer None here
        return head

    # ---- explanations and human review (R16, R17) ---------------------------------------

    def explain(self, decision_seq: int, *, actor: str = "library") -> Explanation:
        """Explain a recorded decision in words: purpose, operating point, rules; no score."""
        event = self._store.audit.event(decision_seq)
        if event is None:
            raise NotFound(f"no recorded decision {decision_seq}")
        explanation = review.explain(event)
        with self._store.write_lock, self._store.records.begin() as conn:
            self._store.audit.append(
                conn, actor=actor, operation=Op.DECISION_EXPLAINED, outcome="ok",
                purpose=event.purpose, subject=event.subject, rules=["R16", "R17"],
                detail={"decision": decision_seq},
            )
        return explanation

    def request_review(
        self, decision_seq: int, reason: str, *, actor: str = "library"
    ) -> ReviewRequest:
        """Ask for a human to review an automated decision (R17)."""
        decision = self.explain(decision_seq, actor=actor)
        event = self._store.audit.event(decision_seq)
        subject = event.subject if event is not None else None
        with self._store.write_lock, self._store.records.begin() as conn:
            review_id = review.open_review(conn, decision_seq, subject, reason, iso(utc_now()))
            self._store.audit.append(
                conn, actor=actor, operation=Op.REVIEW_REQUESTED, outcome="open",
                purpose=decision.purpose, subject=subject, rules=["R17"],
                detail={"review": review_id, "decision": decision_seq},
            )
            return review.get_review(conn, review_id)

    def answer_review(self, review_id: int, answer: str, *, by: str) -> ReviewRequest:
        """Record a reviewer's answer to a review request (R17)."""
        with self._store.write_lock, self._store.records.begin() as conn:
            review.answer_review(conn, review_id, answer, by, iso(utc_now()))
            answered = review.get_review(conn, review_id)
            self._store.audit.append(
                conn, actor=by, operation=Op.REVIEW_ANSWERED, outcome="answered",
                rules=["R17"], detail={"review": review_id, "decision": answered.decision_seq},
            )
        return answered

    def reviews(self, status: str | None = None) -> list[ReviewRequest]:
        with self._store.records.connect() as conn:
            return review.list_reviews(conn, status)

    # ---- certificates and decommissioning -----------------------------------------------

    @property
    def public_key_hex(self) -> str:
        """The Ed25519 key that signs certificates and audit checkpoints (raw, hex)."""
        return self._store.audit.public_key_hex

    def certificate(self, certificate_id: str) -> DeletionCertificate:
        with self._store.records.connect() as conn:
            return certificates.load(conn, certificate_id)

    def decommission(self, *, confirm: bool, actor: str = "library") -> DecommissionResult:
        """The service ends (PIPL 47): erase every person, certify each and the whole."""
        if not confirm:
            raise ConfigError("decommissioning erases everyone; pass confirm=True")
        self._gate_changed()
        return erasure.decommission(self._store, actor=actor)

    # ---- giving face data to another processor (R7, R20, R21, P5) -----------------------

    def record_sharing_basis(
        self, external_id: str, recipient: str, *, kind: sharing.BasisKind, evidence: str,
        actor: str = "library",
    ) -> int:
        """Record a person's separate consent to a recipient (``kind="consent"``, R20) or a
        cross-border mechanism (``kind="mechanism"``, R21). Returns the event's sequence."""
        if kind not in ("consent", "mechanism"):
            raise ConfigError("kind must be 'consent' or 'mechanism'")
        if not recipient.strip() or not evidence.strip():
            raise ConfigError("a sharing basis needs the recipient and its evidence")
        subject = self._require_subject(external_id)
        with self._store.write_lock, self._store.records.begin() as conn:
            return self._store.audit.append(
                conn, actor=actor, operation=sharing.BASIS_OPERATION, outcome="ok",
                subject=subject, rules=["R20"] if kind == "consent" else ["R21"],
                detail={"recipient": recipient, "kind": kind, "evidence": evidence[:500]},
            )

    def share(
        self, external_id: str, purpose: str, recipient: str, recipient_public_key: str, *,
        cross_border: bool = False, actor: str = "library",
    ) -> sharing.SharePackage:
        """Give a person's templates for ``purpose`` to ``recipient``, sealed to its X25519
        key; refused (R20, R21, P5) unless the bases the packs need are recorded."""
        with self._recorded(Op.TEMPLATES_SHARED, actor, purpose):
            self.purpose(purpose)
            subject = self._require_subject(external_id)
            recorded = sharing.bases_for(self._store.audit.events(subject=subject), recipient)
            sharing.require_basis(pack_numbers(self.deployment).sharing_forbidden, recorded,
                                  recipient, cross_border=cross_border)
            with self._store.records.connect() as conn:
                stored = self._store.vault.templates(conn, purpose=purpose, subject_id=subject)
            payload: dict[str, object] = {
                "purpose": purpose,
                "templates": [
                    {"engine": t.template.engine,
                     "vector": [round(float(x), 7) for x in t.template.vector]}
                    for t in stored
                ],
            }
            ephemeral, sealed = sharing.seal_for(recipient_public_key, payload)
            with self._store.write_lock, self._store.records.begin() as conn:
                self._store.audit.append(
                    conn, actor=actor, operation=Op.TEMPLATES_SHARED, outcome="ok",
                    purpose=purpose, subject=subject,
                    rules=["R7", "R20", "R21"] if cross_border else ["R7", "R20"],
                    detail={"recipient": recipient, "templates": len(stored),
                            "cross_border": cross_border},
                )
        return sharing.SharePackage(recipient, subject, len(stored), ephemeral, sealed)
