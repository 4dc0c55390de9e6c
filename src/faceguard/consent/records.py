"""Notices and consents (R2, R3, R5): one consent per subject and purpose, never implied.

A notice is versioned per purpose and must hold every field R2 lists, in each language it
is published in (English, the source, and ``zh-CN``: one version holds both, so a person
reads the same notice whichever language they choose); its SHA-256 (over a canonical JSON
encoding of every language's text) is stored with each consent given under it, and the
consent names the language the person read (``language``). Consents are rows
``(subject, purpose)`` with their method, evidence and time; under-14s need a guardian.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from faceguard import db
from faceguard.errors import ConsentError, NotFound, NoticeError
from faceguard.timeutil import iso, utc_now
from faceguard.vault.keys import record_aad
from faceguard.vault.templates import Vault

#: What R2 requires a notice to say (FRM 5; PIPL 17, 30).
NOTICE_FIELDS: dict[str, str] = {
    "controller": "name of the processor (controller)",
    "contact": "how to contact the processor",
    "purpose": "the purpose of processing",
    "method": "how faces are processed",
    "retention": "how long the face information is kept",
    "necessity": "why face recognition is necessary here",
    "impact": "the impact on the person's rights and interests",
    "rights": "how to exercise the rights to access, copy, correct, delete and withdraw",
}

CONSENT_METHODS = ("click", "signature", "written")


#: The language of a notice's ``fields`` (the source text).
SOURCE_LANGUAGE = "en"
#: The languages a notice may be published in besides the source.
NOTICE_LANGUAGES = ("en", "zh-CN")


@dataclass(frozen=True)
class Notice:
    """A published notice version: ``fields`` in English, ``texts`` in every language
    it was published in (``texts["en"]`` is ``fields``)."""

    id: int
    purpose: str
    version: int
    fields: dict[str, str]
    sha256: str
    created_at: str
    texts: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def languages(self) -> list[str]:
        return sorted(self.texts or {SOURCE_LANGUAGE: self.fields})

    def in_language(self, language: str) -> dict[str, str]:
        """The notice as read in ``language`` (English where it was not published in it)."""
        return self.texts.get(language, self.fields)


@dataclass(frozen=True)
class Guardian:
    """A guardian's consent for a subject under 14 (R5)."""

    name: str
    relationship: str
    evidence: str


@dataclass(frozen=True)
class ConsentRecord:
    """One consent row as plain data (guardian details only when decrypted for export)."""

    id: int
    subject_id: str
    purpose: str
    notice_version: int
    notice_sha256: str
    method: str
    evidence_ref: str
    minor: bool
    status: str
    granted_at: str
    ended_at: str | None
    end_reason: str | None
    #: The language of the notice the person read (None: recorded before it was kept).
    language: str | None = None


def notice_hash(fields: dict[str, str]) -> str:
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def validate_notice_fields(fields: dict[str, str], language: str = SOURCE_LANGUAGE) -> None:
    """``NoticeError`` (R2) naming every missing, empty or unknown field."""
    missing = [k for k in NOTICE_FIELDS if not str(fields.get(k, "")).strip()]
    unknown = sorted(set(fields) - set(NOTICE_FIELDS))
    problems = []
    if missing:
        problems.append("missing or empty: " + ", ".join(missing))
    if unknown:
        problems.append("unknown fields: " + ", ".join(unknown))
    if problems:
        where = "" if language == SOURCE_LANGUAGE else f" in {language}"
        raise NoticeError(f"the notice is incomplete{where} (" + "; ".join(problems) + ")")


def _stored(content: dict[str, Any]) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """A stored notice's English fields and its texts by language (a notice of one
    language is stored flat, as before translations existed)."""
    if SOURCE_LANGUAGE in content and isinstance(content[SOURCE_LANGUAGE], dict):
        texts = {str(k): dict(v) for k, v in content.items()}
        return texts[SOURCE_LANGUAGE], texts
    return dict(content), {SOURCE_LANGUAGE: dict(content)}


def publish_notice(conn: Connection, purpose: str, fields: dict[str, str],
                   translations: dict[str, dict[str, str]] | None = None) -> Notice:
    """Store the next version of ``purpose``'s notice after validating its fields (English)
    and each of its ``translations`` (by language, e.g. ``{"zh-CN": {...}}``)."""
    validate_notice_fields(fields)
    if fields["purpose"] != purpose and purpose not in fields["purpose"]:
        raise NoticeError(f"the notice's purpose field does not mention {purpose!r}")
    translations = dict(translations or {})
    for language, text in translations.items():
        if language not in NOTICE_LANGUAGES or language == SOURCE_LANGUAGE:
            raise NoticeError(f"a notice cannot be published in {language!r}; translations "
                              f"are {', '.join(NOTICE_LANGUAGES[1:])}")
        validate_notice_fields(text, language)
    content: dict[str, Any] = (
        {SOURCE_LANGUAGE: dict(fields), **{k: dict(v) for k, v in translations.items()}}
        if translations else dict(fields))
    current = conn.execute(
        sa.select(sa.func.max(db.notices.c.version)).where(db.notices.c.purpose == purpose)
    ).scalar()
    version = int(current or 0) + 1
    digest = notice_hash(content)
    created = iso(utc_now())
    result = conn.execute(
        db.notices.insert().values(
            purpose=purpose,
            version=version,
            content=json.dumps(content, sort_keys=True, ensure_ascii=False),
            sha256=digest,
            created_at=created,
        )
    )
    notice_id = int(result.inserted_primary_key[0])  # type: ignore[index]
    english, texts = _stored(content)
    return Notice(notice_id, purpose, version, english, digest, created, texts)


def current_notice(conn: Connection, purpose: str) -> Notice:
    """The newest notice of ``purpose``; ``NoticeError`` (R2) if none was published."""
    row = conn.execute(
        sa.select(db.notices)
        .where(db.notices.c.purpose == purpose)
        .order_by(db.notices.c.version.desc())
        .limit(1)
    ).first()
    if row is None:
        raise NoticeError(
            f"no notice has been published for purpose {purpose!r}; people must be told "
            "before they consent"
        )
    content = json.loads(row.content)
    if notice_hash(content) != row.sha256:
        raise NoticeError(f"notice {purpose} v{row.version} does not match its stored hash")
    english, texts = _stored(content)
    return Notice(row.id, row.purpose, row.version, english, row.sha256, row.created_at, texts)


#: The longest evidence reference stored (the column's width on every database).
EVIDENCE_MAX = 256


def validate_grant(method: str, evidence_ref: str, minor: bool, guardian: Guardian | None) -> None:
    """Check a consent's method and evidence (R3) and a minor's guardian (R5)."""
    if method not in CONSENT_METHODS:
        raise ConsentError(
            f"consent method {method!r} is not accepted; use one of {', '.join(CONSENT_METHODS)}"
        )
    if not evidence_ref.strip():
        raise ConsentError("a consent needs an evidence reference (what records the consent)")
    if len(evidence_ref) > EVIDENCE_MAX:
        raise ConsentError(f"the evidence reference is {len(evidence_ref)} characters; at most "
                           f"{EVIDENCE_MAX} (a reference to the record, not the record itself)")
    if "\x00" in evidence_ref:  # no database stores it in text (PostgreSQL refuses it)
        raise ConsentError("the evidence reference contains a NUL character")
    if minor and (guardian is None or not all(v.strip() for v in asdict(guardian).values())):
        raise ConsentError(
            "the subject is under 14: a guardian consent with the guardian's name, "
            "relationship and evidence is required",
            rule="R5",
        )


def grant(
    conn: Connection,
    vault: Vault,
    *,
    subject_id: str,
    purpose: str,
    notice: Notice,
    method: str,
    evidence_ref: str,
    minor: bool,
    guardian: Guardian | None,
    language: str | None = None,
) -> tuple[int, int | None]:
    """Record a consent; returns ``(new consent id, id of the consent it superseded)``.
    ``language`` is the language of the notice the person read (one of the notice's).

    Raises ``ConsentError`` for a bad method or missing evidence (R3) and for a minor
    without a complete guardian consent (R5).
    """
    validate_grant(method, evidence_ref, minor, guardian)
    if language is not None and language not in notice.languages:
        raise ConsentError(f"notice {purpose} v{notice.version} was not published in "
                           f"{language!r} (it exists in {', '.join(notice.languages)}), so "
                           "nobody can have read it in that language", rule="R2")
    guardian_ct: bytes | None = None
    if minor and guardian is not None:
        guardian_ct = vault.seal(
            subject_id,
            json.dumps(asdict(guardian)).encode("utf-8"),
            record_aad(b"guardian", subject_id, purpose),
        )
    now = iso(utc_now())
    previous = active_consent_id(conn, subject_id, purpose)
    if previous is not None:
        end_consent(conn, previous, status="superseded", reason="new consent", when=now)
    result = conn.execute(
        db.consents.insert().values(
            subject_id=subject_id,
            purpose=purpose,
            notice_id=notice.id,
            notice_sha256=notice.sha256,
            method=method,
            evidence_ref=evidence_ref,
            minor=minor,
            guardian_ct=guardian_ct,
            status="active",
            granted_at=now,
            language=language,
        )
    )
    return int(result.inserted_primary_key[0]), previous  # type: ignore[index]


# Built once: every verification runs it twice (SQLAlchemy reuses its compiled form).
_ACTIVE_CONSENT = db.Prepared(sa.select(db.consents.c.id).where(
    db.consents.c.subject_id == sa.bindparam("subject_id"),
    db.consents.c.purpose == sa.bindparam("purpose"),
    db.consents.c.status == "active",
))


def active_consent_id(conn: Connection, subject_id: str, purpose: str) -> int | None:
    """The active consent of ``subject_id`` for ``purpose``, or ``None``."""
    row = _ACTIVE_CONSENT.first(conn, {"subject_id": subject_id, "purpose": purpose})
    return None if row is None else int(row[0])


def no_consent(purpose: str, reason: str = "no valid consent for this purpose") -> ConsentError:
    """The refusal for a subject without a valid consent for ``purpose`` (R3).

    Its message is the same whether the person is unknown, has no consent for this purpose
    or a withdrawn one, so that a terminal cannot learn who exists; ``reason`` (kept in the
    processing record, never shown) says which."""
    error = ConsentError(f"no valid consent of this person for purpose {purpose!r}")
    error.reason = reason
    return error


def require_consent(conn: Connection, subject_id: str, purpose: str) -> int:
    """The active consent's id, or ``ConsentError`` (R3)."""
    consent_id = active_consent_id(conn, subject_id, purpose)
    if consent_id is None:
        raise no_consent(purpose)
    return consent_id


def active_purposes(conn: Connection, subject_id: str) -> list[str]:
    rows = conn.execute(
        sa.select(db.consents.c.purpose).where(
            db.consents.c.subject_id == subject_id, db.consents.c.status == "active"
        )
    )
    return sorted(r.purpose for r in rows)


def end_consent(conn: Connection, consent_id: int, *, status: str, reason: str, when: str) -> None:
    conn.execute(
        db.consents.update()
        .where(db.consents.c.id == consent_id)
        .values(status=status, ended_at=when, end_reason=reason)
    )


def end_all(conn: Connection, subject_id: str, *, status: str, reason: str, when: str) -> None:
    conn.execute(
        db.consents.update()
        .where(db.consents.c.subject_id == subject_id, db.consents.c.status == "active")
        .values(status=status, ended_at=when, end_reason=reason)
    )


def consents_of(conn: Connection, subject_id: str) -> list[ConsentRecord]:
    rows = conn.execute(
        sa.select(db.consents, db.notices.c.version)
        .join(db.notices, db.notices.c.id == db.consents.c.notice_id)
        .where(db.consents.c.subject_id == subject_id)
        .order_by(db.consents.c.id)
    )
    return [
        ConsentRecord(
            r.id, r.subject_id, r.purpose, r.version, r.notice_sha256, r.method, r.evidence_ref,
            bool(r.minor), r.status, r.granted_at, r.ended_at, r.end_reason, r.language,
        )
        for r in rows
    ]


def guardian_of(conn: Connection, vault: Vault, consent: ConsentRecord) -> dict[str, Any] | None:
    """Decrypted guardian details of a minor's consent."""
    row = conn.execute(
        sa.select(db.consents.c.guardian_ct).where(db.consents.c.id == consent.id)
    ).first()
    if row is None:
        raise NotFound(f"no consent {consent.id}")
    if row.guardian_ct is None:
        return None
    raw = vault.open(
        consent.subject_id, row.guardian_ct, record_aad(b"guardian", consent.subject_id,
                                                        consent.purpose)
    )
    data: dict[str, Any] = json.loads(raw)
    return data
