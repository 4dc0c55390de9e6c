"""Notices and consents: the ``Faceguard`` operations of R2, R3 and R5."""

from __future__ import annotations

from faceguard.api.facade import FacadeBase
from faceguard.audit.operations import Op
from faceguard.consent import records as consents
from faceguard.errors import ConfigError, ConsentError
from faceguard.policy import pack_numbers
from faceguard.results import ConsentReceipt, WithdrawResult
from faceguard.rights import erasure

DEFAULT_NOTICE_TEXT = {
    "method": (
        "A camera image of your face is turned into an encrypted numeric template on the "
        "operator's own equipment; the image itself is discarded at once."
    ),
    "impact": (
        "Your face template could identify you if it leaked; it is encrypted with a key of "
        "your own that is destroyed when you withdraw, and it is used for no other purpose."
    ),
}


class ConsentOps(FacadeBase):
    """Publishing notices, granting and withdrawing consents."""

    def publish_notice(
        self, purpose: str, fields: dict[str, str] | None = None, *, actor: str = "library"
    ) -> consents.Notice:
        """Publish the next notice version for ``purpose`` (R2), prefilled from the
        deployment; ``fields`` override or complete the prefilled text."""
        with self._recorded(Op.NOTICE_PUBLISHED, actor, purpose):
            return self._publish_notice(purpose, fields or {}, actor)

    def _publish_notice(self, purpose: str, fields: dict[str, str], actor: str
                        ) -> consents.Notice:
        section = self.purpose(purpose)
        dep = self.deployment.deployment
        content = {
            "controller": dep.controller,
            "contact": dep.contact,
            "purpose": purpose,
            "method": DEFAULT_NOTICE_TEXT["method"],
            "retention": f"{section.retention_days} days from enrollment, then erased",
            "necessity": section.necessity,
            "impact": DEFAULT_NOTICE_TEXT["impact"],
            "rights": (
                f"Ask {dep.contact} to see, copy, correct or delete your data, or withdraw "
                "consent at any time; withdrawal erases your face template at once."
            ),
        }
        content.update(fields)
        with self._store.write_lock, self._store.records.begin() as conn:
            notice = consents.publish_notice(conn, purpose, content)
            self._store.audit.append(
                conn,
                actor=actor,
                operation=Op.NOTICE_PUBLISHED,
                outcome="ok",
                purpose=purpose,
                rules=["R2"],
                detail={"version": notice.version, "sha256": notice.sha256},
            )
        return notice

    def grant_consent(
        self,
        external_id: str,
        purpose: str,
        *,
        name: str,
        method: str,
        evidence: str,
        minor: bool = False,
        guardian: consents.Guardian | None = None,
        actor: str = "library",
    ) -> ConsentReceipt:
        """Record one separate consent of a person for one purpose (R3; R5 under 14)."""
        if not external_id.strip():
            raise ConfigError("an external ID is required to identify the person")
        with self._recorded(Op.CONSENT_GRANTED, actor, purpose):
            self.purpose(purpose)
            if minor and not self.deployment.deployment.minors_rules.strip():
                raise ConsentError(
                    "the deployment has no published rules for under-14s (minors_rules)",
                    rule="R5",
                )
            consents.validate_grant(method, evidence, minor, guardian)
            allowed = self.deployment.deployment.consent_methods
            if method not in allowed:
                release = pack_numbers(self.deployment).written_release_required
                raise ConsentError(
                    f"consent method {method!r} is not accepted by this deployment "
                    f"(consent_methods: {', '.join(allowed)})"
                    + ("; the law packs need a written release" if release else ""),
                    rule="P4" if release else "R3",
                )
            created: str | None = None
            with (
                self._store.write_lock,
                self._discard_key_on_failure(lambda: created),
                self._store.records.begin() as conn,
            ):
                notice = consents.current_notice(conn, purpose)
                subject = self._subject_id(conn, external_id)
                if subject is None:
                    subject = created = self._store.vault.create_subject(
                        conn, external_id, name
                    )
                consent_id, superseded = consents.grant(
                    conn,
                    self._store.vault,
                    subject_id=subject,
                    purpose=purpose,
                    notice=notice,
                    method=method,
                    evidence_ref=evidence,
                    minor=minor,
                    guardian=guardian,
                )
                seq = self._store.audit.append(
                    conn,
                    actor=actor,
                    operation=Op.CONSENT_GRANTED,
                    outcome="ok",
                    purpose=purpose,
                    subject=subject,
                    rules=["R3", "R5"] if minor else ["R3"],
                    detail={
                        "method": method,
                        "notice_version": notice.version,
                        "minor": minor,
                    },
                )
        return ConsentReceipt(
            subject, purpose, consent_id, notice.version, notice.sha256, superseded, seq
        )

    def withdraw_consent(
        self, external_id: str, purpose: str, *, actor: str = "library"
    ) -> WithdrawResult:
        """Withdraw one purpose's consent now (R3, R18); erase the subject if none is left."""
        with self._recorded(Op.CONSENT_WITHDRAWN, actor, purpose):
            self.purpose(purpose)
            subject = self._require_subject(external_id)
            self._gate_changed()
            return erasure.withdraw(self._store, subject, purpose, actor=actor)

