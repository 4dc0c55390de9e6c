"""Subject rights, erasure, retention, review and sharing: ``Faceguard.rights`` (R8,
R16-R18, R20, R21), and the people held as the pages list them."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from faceguard.api.core import Part
from faceguard.audit.operations import Op
from faceguard.consent import sharing
from faceguard.errors import ConfigError, NotFound
from faceguard.policy import pack_numbers
from faceguard.results import (
    BackupResult,
    DecommissionResult,
    ExpiringRow,
    Explanation,
    ReviewRequest,
    SubjectExport,
    SubjectRow,
    SweepResult,
)
from faceguard.rights import backup as backups
from faceguard.rights import erasure, recovery, review, views
from faceguard.timeutil import iso, utc_now


class Rights(Part):
    """Erasure, export, retention sweeps, backups, explanations and review, sharing."""

    def erase(
        self, external_id: str, *, reason: str = "request", actor: str = "library"
    ) -> erasure.DeletionCertificate:
        """Erase a person now (R18): templates deleted, data key destroyed, certificate."""
        subject = self._core.require_subject(external_id)
        try:
            return erasure.erase_subject(self._core.store, subject, reason=reason, actor=actor)
        finally:
            self._core.gate_changed()

    def export(self, external_id: str, *, actor: str = "library") -> SubjectExport:
        """Everything held about a person (R16), template bytes excluded."""
        subject = self._core.require_subject(external_id)
        return erasure.export_subject(self._core.store, subject, actor=actor)

    def sweep(self, *, actor: str = "sweep", now: str | None = None) -> SweepResult:
        """Erase every template past its retention (R8, R18), after completing every
        erasure of the ledger left undone (``recovered``)."""
        self._core.gate_changed()
        recovered = recovery.reconcile(self._core.store, actor=actor)
        result = erasure.sweep(
            self._core.store,
            actor=actor,
            now=now or iso(utc_now()),
            declared=set(self._core.deployment.purposes),
            max_years_since_last_interaction=pack_numbers(
                self._core.deployment).max_retention_years_after_last_interaction,
        )
        return replace(result, recovered=recovered)

    # ---- backup and restore (R18, R25) --------------------------------------------------

    def backup(self, dest: Path, *, actor: str = "library") -> BackupResult:
        """A consistent copy of both stores in ``dest`` while the service runs: ``records/``
        and ``keys/`` (with the erasure ledger), to be kept apart. The master key is not
        copied (keep it in a third place)."""
        return backups.backup(self._core.store, dest, actor=actor)

    # ---- explanations and human review (R16, R17) ---------------------------------------

    def explain(self, decision_seq: int, *, actor: str = "library") -> Explanation:
        """Explain a recorded decision in words: purpose, operating point, rules; no score."""
        event = self._core.store.audit.event(decision_seq)
        if event is None:
            raise NotFound(f"no recorded decision {decision_seq}")
        explanation = review.explain(event)
        with self._core.store.write() as conn:
            self._core.store.audit.append(
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
        event = self._core.store.audit.event(decision_seq)
        subject = event.subject if event is not None else None
        with self._core.store.write() as conn:
            review_id = review.open_review(conn, decision_seq, subject, reason, iso(utc_now()))
            self._core.store.audit.append(
                conn, actor=actor, operation=Op.REVIEW_REQUESTED, outcome="open",
                purpose=decision.purpose, subject=subject, rules=["R17"],
                detail={"review": review_id, "decision": decision_seq},
            )
            return review.get_review(conn, review_id)

    def answer_review(self, review_id: int, answer: str, *, by: str) -> ReviewRequest:
        """Record a reviewer's answer to a review request (R17)."""
        with self._core.store.write() as conn:
            review.answer_review(conn, review_id, answer, by, iso(utc_now()))
            answered = review.get_review(conn, review_id)
            self._core.store.audit.append(
                conn, actor=by, operation=Op.REVIEW_ANSWERED, outcome="answered",
                rules=["R17"], detail={"review": review_id, "decision": answered.decision_seq},
            )
        return answered

    def reviews(self, status: str | None = None) -> list[ReviewRequest]:
        with self._core.store.records.connect() as conn:
            return review.list_reviews(conn, status)

    # ---- certificates and decommissioning -----------------------------------------------

    def decommission(self, *, confirm: bool, actor: str = "library") -> DecommissionResult:
        """The service ends (PIPL 47): erase every person, certify each and the whole."""
        if not confirm:
            raise ConfigError("decommissioning erases everyone; pass confirm=True")
        self._core.gate_changed()
        return erasure.decommission(self._core.store, actor=actor)

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
        subject = self._core.require_subject(external_id)
        with self._core.store.write() as conn:
            return self._core.store.audit.append(
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
        with self._core.recorded(Op.TEMPLATES_SHARED, actor, purpose):
            self._core.purpose(purpose)
            subject = self._core.require_subject(external_id)
            recorded = sharing.bases_for(self._core.store.audit.events(subject=subject), recipient)
            sharing.require_basis(pack_numbers(self._core.deployment).sharing_forbidden, recorded,
                                  recipient, cross_border=cross_border)
            with self._core.store.records.connect() as conn:
                stored = self._core.store.vault.templates(conn, purpose=purpose, subject_id=subject)
            payload: dict[str, object] = {
                "purpose": purpose,
                "templates": [
                    {"engine": t.template.engine,
                     "vector": [round(float(x), 7) for x in t.template.vector]}
                    for t in stored
                ],
            }
            ephemeral, sealed = sharing.seal_for(recipient_public_key, payload)
            with self._core.store.write() as conn:
                self._core.store.audit.append(
                    conn, actor=actor, operation=Op.TEMPLATES_SHARED, outcome="ok",
                    purpose=purpose, subject=subject,
                    rules=["R7", "R20", "R21"] if cross_border else ["R7", "R20"],
                    detail={"recipient": recipient, "templates": len(stored),
                            "cross_border": cross_border},
                )
        return sharing.SharePackage(recipient, subject, len(stored), ephemeral, sealed)

    # ---- the people held, as the pages list them ----------------------------------------

    def people(self, *, actor: str, offset: int = 0, limit: int = 50
               ) -> tuple[list[SubjectRow], int]:
        """A page of the people held (active subjects, newest first) and how many there are.

        Their names and external IDs are decrypted for ``actor`` to see, so the page is an
        event of the processing record (R11, R14): one ``identity.displayed`` per page, with
        the subject IDs shown. It is written before the page is returned: when it cannot be
        written, nobody sees the names."""
        store = self._core.store
        with store.records.connect() as conn:
            out, total = views.people(conn, store.vault, offset=offset, limit=limit)
        if out:
            with store.write() as conn:
                store.audit.append(
                    conn, actor=actor[:128], operation=Op.IDENTITY_DISPLAYED, outcome="ok",
                    rules=["R11", "R14"],
                    detail={"count": len(out), "offset": offset,
                            "subjects": [r.subject_id for r in out]})
        return out, total

    def expiring(self, *, within_days: int, limit: int = 50) -> list[ExpiringRow]:
        """Templates whose retention ends within ``within_days`` (R8), soonest first."""
        horizon = iso(utc_now() + timedelta(days=within_days))
        with self._core.store.records.connect() as conn:
            return views.expiring(conn, until=horizon, limit=limit)

    def external_id_of(self, subject_id: str) -> str:
        """The external ID of an active subject (``NotFound`` if erased or unknown)."""
        with self._core.store.records.connect() as conn:
            return self._core.store.vault.identity(conn, subject_id).external_id
