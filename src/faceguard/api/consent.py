"""Notices, consents and kiosk declines: ``Faceguard.consent`` (R2, R3, R4, R5, R6)."""

from __future__ import annotations

from faceguard import i18n
from faceguard.api.core import Part
from faceguard.audit.operations import Op
from faceguard.consent import declines
from faceguard.consent import records as consents
from faceguard.errors import ConfigError, ConsentError, NoticeError
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


def _notice_text(purpose: str, retention_days: int, necessity: str, contact: str
                 ) -> dict[str, str]:
    """The prefilled notice fields but the processor's, in the current language
    (``i18n.use``); the deployment's own necessity text is used as written unless the
    catalogue has it (the sample texts of the starter and trial files)."""
    _ = i18n.gettext
    label = _(purpose.replace("-", " "))
    return {
        "purpose": purpose if i18n.current() == "en" else f"{label}（{purpose}）",
        "method": _(DEFAULT_NOTICE_TEXT["method"]),
        "retention": i18n.ngettext("%(num)s day from enrollment, then erased",
                                   "%(num)s days from enrollment, then erased",
                                   retention_days) % {"num": retention_days},
        "necessity": _(necessity),
        "impact": _(DEFAULT_NOTICE_TEXT["impact"]),
        "rights": _("Ask %(contact)s to see, copy, correct or delete your data, or withdraw "
                    "consent at any time; withdrawal erases your face template at once.")
                  % {"contact": contact},
    }


class Consents(Part):
    """Publishing notices, granting and withdrawing consents, reading them, kiosk declines."""

    def publish_notice(
        self, purpose: str, fields: dict[str, str] | None = None, *, actor: str = "library",
        translations: dict[str, dict[str, str]] | None = None,
    ) -> consents.Notice:
        """Publish the next notice version for ``purpose`` (R2) in English and Chinese
        (``zh-CN``), prefilled from the deployment; ``fields`` override or complete the
        English text, ``translations`` (``{"zh-CN": {...}}``) the Chinese."""
        with self._core.recorded(Op.NOTICE_PUBLISHED, actor, purpose):
            return self._publish_notice(purpose, fields or {}, translations or {}, actor)

    def _publish_notice(self, purpose: str, fields: dict[str, str],
                        translations: dict[str, dict[str, str]], actor: str
                        ) -> consents.Notice:
        section = self._core.purpose(purpose)
        dep = self._core.deployment.deployment
        texts: dict[str, dict[str, str]] = {}
        for language in i18n.LANGUAGES:
            with i18n.use(language):
                texts[language] = {"controller": dep.controller, "contact": dep.contact,
                                   **_notice_text(purpose, section.retention_days,
                                                  section.necessity, dep.contact)}
        unknown = sorted(set(translations) - set(texts) | ({"en"} & set(translations)))
        if unknown:
            raise NoticeError(f"notice translations are for zh-CN only (English is "
                              f"'fields'), not {', '.join(unknown)}")
        content = texts.pop("en") | fields
        for translated, override in translations.items():
            texts[translated] = texts[translated] | override
        with self._core.store.write() as conn:
            notice = consents.publish_notice(conn, purpose, content, texts)
            self._core.store.audit.append(
                conn,
                actor=actor,
                operation=Op.NOTICE_PUBLISHED,
                outcome="ok",
                purpose=purpose,
                rules=["R2"],
                detail={"version": notice.version, "sha256": notice.sha256,
                        "languages": notice.languages},
            )
        return notice

    def grant(
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
        language: str | None = None,
    ) -> ConsentReceipt:
        """Record one separate consent of a person for one purpose (R3; R5 under 14).
        ``language``: the language of the notice the person read (``zh-CN`` or ``en``;
        default the deployment's, ``deployment.language``), kept with the consent."""
        if not external_id.strip():
            raise ConfigError("an external ID is required to identify the person")
        if language is None:
            language = self.language()
        if language not in i18n.LANGUAGES:
            raise ConfigError(f"unknown notice language {language!r}; one of "
                              f"{', '.join(i18n.LANGUAGES)}")
        with self._core.recorded(Op.CONSENT_GRANTED, actor, purpose):
            self._core.purpose(purpose)
            if minor and not self._core.deployment.deployment.minors_rules.strip():
                raise ConsentError(
                    "the deployment has no published rules for under-14s (minors_rules)",
                    rule="R5",
                )
            consents.validate_grant(method, evidence, minor, guardian)
            allowed = self._core.deployment.deployment.consent_methods
            if method not in allowed:
                release = pack_numbers(self._core.deployment).written_release_required
                raise ConsentError(
                    f"consent method {method!r} is not accepted by this deployment "
                    f"(consent_methods: {', '.join(allowed)})"
                    + ("; the law packs need a written release" if release else ""),
                    rule="P4" if release else "R3",
                )
            created: str | None = None
            with (
                self._core.store.write_lock,
                self._core.discard_key_on_failure(lambda: created),
                self._core.store.write() as conn,
            ):
                notice = consents.current_notice(conn, purpose)
                subject = self._core.subject_id(conn, external_id)
                if subject is None:
                    subject = created = self._core.store.vault.create_subject(
                        conn, external_id, name
                    )
                consent_id, superseded = consents.grant(
                    conn,
                    self._core.store.vault,
                    subject_id=subject,
                    purpose=purpose,
                    notice=notice,
                    method=method,
                    evidence_ref=evidence,
                    minor=minor,
                    guardian=guardian,
                    language=language,
                )
                seq = self._core.store.audit.append(
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
                        "language": language,
                    },
                )
        return ConsentReceipt(
            subject, purpose, consent_id, notice.version, notice.sha256, superseded, seq,
            language,
        )

    def language(self) -> i18n.Language:
        """The deployment's language (``deployment.language``; ``zh-CN`` under the cn
        packs): the notice a consent is assumed read in when none is named."""
        return self._core.language()

    def withdraw(
        self, external_id: str, purpose: str, *, actor: str = "library"
    ) -> WithdrawResult:
        """Withdraw one purpose's consent now (R3, R18); erase the subject if none is left."""
        with self._core.recorded(Op.CONSENT_WITHDRAWN, actor, purpose):
            self._core.purpose(purpose)
            subject = self._core.require_subject(external_id)
            self._core.gate_changed()
            return erasure.withdraw(self._core.store, subject, purpose, actor=actor)


    # ---- reads for the pages, kiosk declines (R4, R6) -----------------------------------

    def current_notice(self, purpose: str) -> consents.Notice | None:
        """The newest notice of a declared purpose, or ``None`` when none is published."""
        self._core.purpose(purpose)
        try:
            with self._core.store.records.connect() as conn:
                return consents.current_notice(conn, purpose)
        except NoticeError:
            return None

    def notices(self) -> dict[str, consents.Notice | None]:
        """Each declared purpose's current notice (``None``: not published yet)."""
        return {purpose: self.current_notice(purpose)
                for purpose in sorted(self._core.deployment.purposes)}

    def active_purposes(self, external_id: str) -> list[str]:
        """The purposes a person currently consents to, sorted (none if unknown)."""
        with self._core.store.records.connect() as conn:
            subject = self._core.subject_id(conn, external_id)
            return consents.active_purposes(conn, subject) if subject else []

    def declined(self, external_id: str) -> dict[str, str]:
        """Purposes this person declined at a kiosk, with when (not asked again)."""
        lookup = self._core.store.keyring.lookup_hash(external_id)
        with self._core.store.records.connect() as conn:
            return declines.declined(conn, lookup)

    def record_decline(self, external_id: str, purpose: str, *, channel: str,
                       actor: str) -> None:
        """Record that the person declined ``purpose`` (idempotent). Nothing identifying is
        kept: only the keyed hash of ``external_id``. ``PurposeError`` if undeclared."""
        self._core.purpose(purpose)
        store = self._core.store
        lookup = store.keyring.lookup_hash(external_id)
        with store.write() as conn:
            declines.record_decline(conn, store.audit, lookup, purpose, channel=channel,
                                    actor=actor,
                                    alternatives=self._core.deployment.deployment.alternatives)
