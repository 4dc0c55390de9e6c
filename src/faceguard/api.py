"""The one library object: ``Faceguard``. The CLI and the service are thin shells over it.

Every operation runs the policy gate first (purpose declared: R1; consent valid: R3, R5;
notice complete: R2), touches pixels only in memory (R9), and appends to the processing
record (R11) in the same transaction as the change it records. Refusals are recorded too.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa

from . import consent as consents
from . import db, erasure
from .audit import AuditReport
from .calibration import Calibration, OperatingPoint, load_calibration
from .config import STARTER_TOML, Deployment, PurposeSection, load_deployment
from .engine.dlib_engine import DlibEngine
from .engine.imaging import ImageLimits
from .engine.pipeline import Extraction, extract
from .engine.quality import ENROLL_GATE, PROBE_GATE, QualityGate
from .engine.types import FaceEngine, require_same_engine
from .errors import (
    ConfigError,
    ConsentError,
    FaceError,
    FaceguardError,
    ImageError,
    NotFound,
    PolicyError,
    PurposeError,
)
from .index import Partition
from .keys import load_master_key, new_master_key, write_key_file
from .purposes import check_purpose_name
from .results import (
    ConsentReceipt,
    EnrollResult,
    IdentifyResult,
    SubjectExport,
    SweepResult,
    VerifyResult,
    WithdrawResult,
)
from .store import CONFIG_FILE, Store, master_key_path
from .timeutil import iso, utc_now

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


class Faceguard:
    """Consent-gated enrollment, verification and identification on one data directory."""

    def __init__(
        self,
        store: Store,
        deployment: Deployment,
        engine: FaceEngine,
        calibration: Calibration,
        *,
        image_limits: ImageLimits | None = None,
        enroll_gate: QualityGate = ENROLL_GATE,
        probe_gate: QualityGate = PROBE_GATE,
    ) -> None:
        self.store = store
        self.deployment = deployment
        self.engine = engine
        self.calibration = calibration
        self.image_limits = image_limits or ImageLimits()
        self.enroll_gate = enroll_gate
        self.probe_gate = probe_gate

    # ---- construction -------------------------------------------------------------------

    @staticmethod
    def init(data_dir: Path) -> Path:
        """Create a data directory: master key (0600), both stores, a starter faceguard.toml.

        Returns the path of the deployment file. Refuses to overwrite an existing key.
        """
        data_dir.mkdir(parents=True, exist_ok=True)
        key_path = master_key_path(data_dir)
        if not os.environ.get("FACEGUARD_MASTER_KEY"):
            write_key_file(key_path, new_master_key())
        config = data_dir / CONFIG_FILE
        if not config.exists():
            config.write_text(STARTER_TOML, encoding="utf-8")
        Store.open(data_dir, load_master_key(key_path)).close()
        return config

    @classmethod
    def open(
        cls,
        data_dir: Path,
        *,
        config: Path | None = None,
        dev: bool = False,
        engine: FaceEngine | None = None,
    ) -> Faceguard:
        """Open a data directory. Without a master key, ``dev=True`` creates a local one;
        otherwise ``MasterKeyMissing`` (R14) says how to make one."""
        key_path = master_key_path(data_dir)
        if dev and not os.environ.get("FACEGUARD_MASTER_KEY") and not key_path.exists():
            write_key_file(key_path, new_master_key())
        master = load_master_key(key_path)
        deployment = load_deployment(config or data_dir / CONFIG_FILE)
        engine = engine or DlibEngine()
        calibration = load_calibration(engine.engine_id.split(":")[0], engine.engine_id)
        return cls(Store.open(data_dir, master), deployment, engine, calibration)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Faceguard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- policy helpers -----------------------------------------------------------------

    def purpose(self, purpose: str) -> PurposeSection:
        """The declared purpose; ``PurposeError`` (R1/R27) if unknown or undeclared."""
        check_purpose_name(purpose)
        section = self.deployment.purposes.get(purpose)
        if section is None:
            raise PurposeError(
                f"purpose {purpose!r} is not declared by deployment "
                f"{self.deployment.deployment.name!r} (declared: "
                f"{', '.join(sorted(self.deployment.purposes))})"
            )
        return section

    def operating_point(self, purpose: str) -> OperatingPoint:
        return self.calibration.point(self.purpose(purpose).operating_point)

    @contextmanager
    def _recorded(
        self, operation: str, actor: str, purpose: str | None, subject: str | None = None
    ) -> Iterator[None]:
        """Record a refusal or rejection of ``operation`` in the processing record."""
        try:
            yield
        except FaceguardError as exc:
            if isinstance(exc, PolicyError):
                outcome = "refused"
            elif isinstance(exc, (FaceError, ImageError)):
                outcome = "rejected"
            else:
                raise
            with self.store.write_lock, self.store.records.begin() as conn:
                self.store.audit.append(
                    conn,
                    actor=actor,
                    operation=operation,
                    outcome=outcome,
                    purpose=purpose,
                    subject=subject,
                    rules=[exc.rule] if exc.rule else [],
                    detail={"error": type(exc).__name__, "message": exc.message[:500]},
                )
            raise

    @contextmanager
    def _discard_key_on_failure(self, created: Callable[[], str | None]) -> Iterator[None]:
        """If a new subject's transaction fails, destroy the data key made for it."""
        try:
            yield
        except BaseException:
            subject = created()
            if subject is not None:
                self.store.vault.shred(subject)
            raise

    def _subject_id(self, conn: sa.Connection, external_id: str) -> str | None:
        return self.store.vault.find_subject(conn, external_id)

    # ---- notices and consent ------------------------------------------------------------

    def publish_notice(
        self, purpose: str, fields: dict[str, str] | None = None, *, actor: str = "library"
    ) -> consents.Notice:
        """Publish the next notice version for ``purpose`` (R2), prefilled from the
        deployment; ``fields`` override or complete the prefilled text."""
        with self._recorded("notice.published", actor, purpose):
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
        with self.store.write_lock, self.store.records.begin() as conn:
            notice = consents.publish_notice(conn, purpose, content)
            self.store.audit.append(
                conn,
                actor=actor,
                operation="notice.published",
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
        with self._recorded("consent.granted", actor, purpose):
            self.purpose(purpose)
            if minor and not self.deployment.deployment.minors_rules.strip():
                raise ConsentError(
                    "the deployment has no published rules for under-14s (minors_rules)",
                    rule="R5",
                )
            consents.validate_grant(method, evidence, minor, guardian)
            created: str | None = None
            with (
                self.store.write_lock,
                self._discard_key_on_failure(lambda: created),
                self.store.records.begin() as conn,
            ):
                notice = consents.current_notice(conn, purpose)
                subject = self._subject_id(conn, external_id)
                if subject is None:
                    subject = created = self.store.vault.create_subject(
                        conn, external_id, name
                    )
                consent_id, superseded = consents.grant(
                    conn,
                    self.store.vault,
                    subject_id=subject,
                    purpose=purpose,
                    notice=notice,
                    method=method,
                    evidence_ref=evidence,
                    minor=minor,
                    guardian=guardian,
                )
                seq = self.store.audit.append(
                    conn,
                    actor=actor,
                    operation="consent.granted",
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
        with self._recorded("consent.withdrawn", actor, purpose):
            self.purpose(purpose)
            with self.store.records.connect() as conn:
                subject = self._subject_id(conn, external_id)
            if subject is None:
                raise NotFound("no enrolled person with that external ID")
            return erasure.withdraw(self.store, subject, purpose, actor=actor)

    # ---- enrollment ---------------------------------------------------------------------

    def _extract(self, image: bytes | np.ndarray, *, enroll: bool) -> Extraction:
        return extract(
            self.engine,
            image,
            single_face=enroll,
            gate=self.enroll_gate if enroll else self.probe_gate,
            limits=self.image_limits,
        )

    def enroll(
        self,
        external_id: str,
        images: Sequence[bytes | np.ndarray],
        purpose: str,
        *,
        actor: str = "library",
        progress: Callable[[int], None] | None = None,
    ) -> EnrollResult:
        """Enroll one or more images of a consenting person for ``purpose``.

        All images are processed before anything is stored: if one fails, none is kept.
        ``progress`` is called with 1 after each image.
        """
        with self._recorded("template.enrolled", actor, purpose):
            section = self.purpose(purpose)
            if not images:
                raise ConfigError("enrollment needs at least one image")
            with self.store.records.connect() as conn:
                subject = self._subject_id(conn, external_id)
                if subject is None:
                    raise ConsentError(f"no consent recorded for this person ({purpose!r})")
                consents.require_consent(conn, subject, purpose)
            extractions = []
            for number, image in enumerate(images, start=1):
                try:
                    extractions.append(self._extract(image, enroll=True))
                    if progress is not None:
                        progress(1)
                except FaceguardError as exc:
                    if len(images) > 1:
                        exc.add_context(f"image {number} of {len(images)}")
                    raise
            expires = iso(utc_now() + timedelta(days=section.retention_days))
            with self.store.write_lock, self.store.records.begin() as conn:
                consents.require_consent(conn, subject, purpose)
                ids = [
                    self.store.vault.add_template(conn, subject, purpose, ex.template, expires)
                    for ex in extractions
                ]
                seq = self.store.audit.append(
                    conn,
                    actor=actor,
                    operation="template.enrolled",
                    outcome="ok",
                    purpose=purpose,
                    subject=subject,
                    rules=["R3", "R8", "R9"],
                    detail={"templates": len(ids), "engine": self.engine.engine_id},
                )
            partition = self.store.index.get(purpose)
            if partition is not None:
                for template_id, ex in zip(ids, extractions, strict=True):
                    partition.add(subject, template_id, ex.template.vector)
        return EnrollResult(subject, purpose, tuple(ids), expires, seq)

    # ---- verification and identification ------------------------------------------------

    def verify(
        self,
        external_id: str,
        image: bytes | np.ndarray,
        purpose: str,
        *,
        actor: str = "library",
        reveal_score: bool = False,
    ) -> VerifyResult:
        """1:1: is the person in ``image`` the consenting person ``external_id``?

        Only templates stored for ``purpose`` under a valid consent are compared. The
        score is returned only when ``reveal_score`` (admin and evaluation use, R17).
        """
        with self._recorded("face.verified", actor, purpose):
            point = self.operating_point(purpose)
            with self.store.records.connect() as conn:
                subject = self._subject_id(conn, external_id)
                if subject is None:
                    raise ConsentError(f"no consent recorded for this person ({purpose!r})")
                consents.require_consent(conn, subject, purpose)
            probe = self._extract(image, enroll=False).template
            now = iso(utc_now())
            with self.store.records.connect() as conn:
                consents.require_consent(conn, subject, purpose)
                stored = [
                    t
                    for t in self.store.vault.templates(conn, purpose=purpose, subject_id=subject)
                    if t.expires_at > now
                ]
            distances = []
            for item in stored:
                require_same_engine(item.template.engine, probe.engine)
                distances.append(item.template.distance(probe))
            best = min(distances) if distances else float("inf")
            decision = "match" if point.is_match(best) else "no-match"
            with self.store.write_lock, self.store.records.begin() as conn:
                seq = self.store.audit.append(
                    conn,
                    actor=actor,
                    operation="face.verified",
                    outcome=decision,
                    purpose=purpose,
                    subject=subject,
                    rules=["R1", "R3"],
                    detail={"operating_point": point.name, "score_revealed": reveal_score,
                            "templates_compared": len(distances)},
                )
        return VerifyResult(
            decision,  # type: ignore[arg-type]
            purpose,
            point.name,
            seq,
            score=(best if distances else None) if reveal_score else None,
        )

    def _partition(self, purpose: str) -> Partition:
        existing = self.store.index.get(purpose)
        if existing is not None:
            return existing
        partition = Partition(self.engine.dimension, self.engine.engine_id)
        now = iso(utc_now())
        with self.store.records.connect() as conn:
            allowed = {
                r.subject_id
                for r in conn.execute(
                    sa.select(db.consents.c.subject_id).where(
                        db.consents.c.purpose == purpose, db.consents.c.status == "active"
                    )
                )
            }
            for item in self.store.vault.templates(conn, purpose=purpose):
                if item.subject_id in allowed and item.expires_at > now:
                    require_same_engine(item.template.engine, self.engine.engine_id)
                    partition.add(item.subject_id, item.template_id, item.template.vector)
        return self.store.index.install(purpose, partition)

    def _still_valid(self, subject: str, template_id: str, purpose: str) -> bool:
        """The store's answer, not the index's: consent active and template alive."""
        with self.store.records.connect() as conn:
            if consents.active_consent_id(conn, subject, purpose) is None:
                return False
            row = conn.execute(
                sa.select(db.templates.c.expires_at).where(
                    db.templates.c.id == template_id, db.templates.c.subject_id == subject
                )
            ).first()
        return row is not None and row.expires_at > iso(utc_now())

    def identify(
        self,
        image: bytes | np.ndarray,
        purpose: str,
        *,
        actor: str = "library",
        reveal_score: bool = False,
    ) -> IdentifyResult:
        """1:N: who, among the people consenting to ``purpose``, is in ``image``?

        Answers a subject or ``unknown``. A proposed match is confirmed against the store
        (consent still valid, template not erased or expired) before it is returned.
        """
        with self._recorded("face.identified", actor, purpose):
            point = self.operating_point(purpose)
            probe = self._extract(image, enroll=False).template
            partition = self._partition(purpose)
            require_same_engine(partition.engine, probe.engine)
            matched = None
            for candidate in partition.search(probe.vector, k=5):
                if not point.is_match(candidate.distance):
                    break
                if self._still_valid(candidate.subject_id, candidate.template_id, purpose):
                    matched = candidate
                    break
                partition.remove_subject(candidate.subject_id)
            external = None
            if matched is not None:
                with self.store.records.connect() as conn:
                    external = self.store.vault.identity(conn, matched.subject_id).external_id
            with self.store.write_lock, self.store.records.begin() as conn:
                seq = self.store.audit.append(
                    conn,
                    actor=actor,
                    operation="face.identified",
                    outcome="match" if matched else "unknown",
                    purpose=purpose,
                    subject=matched.subject_id if matched else None,
                    rules=["R1", "R3"],
                    detail={"operating_point": point.name, "score_revealed": reveal_score,
                            "gallery": len(partition)},
                )
        if matched is None:
            return IdentifyResult("unknown", purpose, point.name, seq)
        return IdentifyResult(
            "match",
            purpose,
            point.name,
            seq,
            subject_id=matched.subject_id,
            external_id=external,
            score=matched.distance if reveal_score else None,
        )

    # ---- rights, erasure, retention -----------------------------------------------------

    def erase(
        self, external_id: str, *, reason: str = "request", actor: str = "library"
    ) -> erasure.DeletionCertificate:
        """Erase a person now (R18): templates deleted, data key destroyed, certificate."""
        with self.store.records.connect() as conn:
            subject = self._subject_id(conn, external_id)
        if subject is None:
            raise NotFound("no enrolled person with that external ID")
        return erasure.erase_subject(self.store, subject, reason=reason, actor=actor)

    def export(self, external_id: str, *, actor: str = "library") -> SubjectExport:
        """Everything held about a person (R16), template bytes excluded."""
        with self.store.records.connect() as conn:
            subject = self._subject_id(conn, external_id)
        if subject is None:
            raise NotFound("no enrolled person with that external ID")
        return erasure.export_subject(self.store, subject, actor=actor)

    def sweep(self, *, actor: str = "sweep", now: str | None = None) -> SweepResult:
        """Erase every template past its retention (R8, R18)."""
        return erasure.sweep(self.store, actor=actor, now=now or iso(utc_now()))

    def verify_audit(self) -> AuditReport:
        """Check the processing record's hash chain and signatures (R11)."""
        return self.store.audit.verify()

    def stats(self) -> dict[str, Any]:
        """Counts for reports: active subjects, templates per purpose."""
        with self.store.records.connect() as conn:
            people = conn.execute(
                sa.select(sa.func.count()).select_from(db.subjects).where(
                    db.subjects.c.status == "active"
                )
            ).scalar_one()
            per_purpose = {
                r.purpose: r.n
                for r in conn.execute(
                    sa.select(db.templates.c.purpose, sa.func.count().label("n")).group_by(
                        db.templates.c.purpose
                    )
                )
            }
        return {"people": int(people), "templates": per_purpose}
