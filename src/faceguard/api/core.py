"""The shared state and policy helpers that ``Faceguard`` hands to each of its parts.

``Core`` holds the store, the deployment, the engine and its calibration, the quality gates
and image limits, and the helpers every part uses (the declared purpose, recording a refusal,
the subject lookup). The parts (``api.consent``, ``api.rights``, ``api.audit``,
``api.liveness``, ``api.governance``, ``api.redaction``) each hold the one ``Core``; they
reach each other only through ``Faceguard``, never through a shared ``self``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from faceguard import db, i18n
from faceguard.engine.calibration import Calibration, OperatingPoint
from faceguard.engine.imaging import ImageLimits
from faceguard.engine.quality import ENROLL_GATE, PROBE_GATE, QualityGate
from faceguard.engine.types import FaceEngine
from faceguard.engine.workers import ExtractionPool
from faceguard.errors import (
    FaceError,
    FaceguardError,
    ImageError,
    NotFound,
    PolicyError,
    PurposeError,
)
from faceguard.policy.deployment import Deployment, PurposeSection
from faceguard.policy.purposes import check_purpose_name
from faceguard.results import Stats
from faceguard.rights import views
from faceguard.store.core import Store
from faceguard.timeutil import iso, utc_now

# Built once: every matching verification runs it.
_TOUCH = db.Prepared(db.subjects.update().where(db.subjects.c.id == sa.bindparam("subject"))
                     .values(last_seen_at=sa.bindparam("when")))
# PostgreSQL: the group commit's transaction holds the record's lock; it must never wait
# for a person's row that another transaction (an erasure) holds while that one waits for
# the record. A row locked elsewhere is left as it is: it is being erased or touched anyway.
_TOUCH_UNLOCKED = db.Prepared(db.subjects.update().where(db.subjects.c.id.in_(
    sa.select(db.subjects.c.id).where(db.subjects.c.id == sa.bindparam("subject"))
    .with_for_update(skip_locked=True))).values(last_seen_at=sa.bindparam("when")))


@dataclass(frozen=True)
class Admission:
    """What the gate (``Faceguard.admit``) let through: the purpose's section, its operating
    point, and the live frame to recognise when a liveness answer gave one."""

    section: PurposeSection
    point: OperatingPoint
    live: bytes | None


@dataclass(frozen=True)
class Answer:
    """The store's answer to a face decision, read in the transaction that records it:
    the outcome, the person it names (``None`` but for verify and a match), what the record
    adds, the external IDs to return, subjects the index proposed but the store refused, and
    rules beyond R1 and R3 (R17 for a review)."""

    outcome: str
    subject: str | None
    detail: dict[str, Any] = field(default_factory=dict)
    externals: tuple[str, ...] = ()
    stale: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    score: float | None = None


class Core:
    """State shared by the parts of ``Faceguard``."""

    #: A presentation-attack detector is available: challenge-response liveness
    #: (``api.liveness``) is built in. The R26 deployment check reads this.
    pad_available: bool = True

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
        config_dir: Path | None = None,
    ) -> None:
        self.store = store
        #: Folder of faceguard.toml: relative paths in it (the assessment) start here.
        self.config_dir = config_dir or store.data_dir
        self.deployment = deployment
        self.engine = engine
        self.calibration = calibration
        self.image_limits = image_limits or ImageLimits()
        self.enroll_gate = enroll_gate
        self.probe_gate = probe_gate
        #: Worker processes extracting faces from image bytes (``use_worker_processes``).
        self.extractor: ExtractionPool | None = None
        #: The cached go-live verdict (``Governance.require_live``): key, expiry, result.
        self.gate_cache: tuple[tuple[object, ...], float, Any] | None = None

    def stats(self) -> Stats:
        """Counts for reports: active people, templates per purpose."""
        with self.store.records.connect() as conn:
            return views.stats(conn)

    # ---- policy helpers -----------------------------------------------------------------

    def language(self) -> i18n.Language:
        """The deployment's language (``deployment.language``; ``zh-CN`` under the cn
        packs): what its documents are drafted in, and the notice a consent is assumed
        read in when none is named."""
        from faceguard.policy.packs import pack_numbers

        return i18n.default_language(pack_numbers(self.deployment).language,
                                     self.deployment.deployment.language)

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
    def recorded(
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
            rules = [exc.rule] if exc.rule else []
            detail = {"error": type(exc).__name__, "message": exc.message[:500]}
            reason = getattr(exc, "reason", None)  # the precise cause, kept only here
            if reason:
                detail["reason"] = str(reason)[:200]
            self.store.commit(lambda conn: self.store.audit.append(
                conn, actor=actor, operation=operation, outcome=outcome, purpose=purpose,
                subject=subject, rules=rules, detail=detail,
            ))
            raise

    @contextmanager
    def discard_key_on_failure(self, created: Callable[[], str | None]) -> Iterator[None]:
        """If a new subject's transaction fails, destroy the data key made for it."""
        try:
            yield
        except BaseException:
            subject = created()
            if subject is not None:
                self.store.vault.shred(subject)
            raise

    def subject_id(self, conn: sa.Connection, external_id: str) -> str | None:
        return self.store.vault.find_subject(conn, external_id)

    def gate_changed(self) -> None:
        """Enrollment or erasure changed the people count: re-check before the next use."""
        self.gate_cache = None

    @staticmethod
    def touch(conn: sa.Connection, subject_id: str) -> None:
        """Record the last interaction with a subject (BIPA: P3 counts 3 years from it)."""
        touch = _TOUCH_UNLOCKED if conn.dialect.name == "postgresql" else _TOUCH
        touch.run(conn, {"subject": subject_id, "when": iso(utc_now())})

    def require_subject(self, external_id: str) -> str:
        """The active subject of ``external_id``; ``NotFound`` otherwise."""
        with self.store.records.connect() as conn:
            subject = self.subject_id(conn, external_id)
        if subject is None:
            raise NotFound("no enrolled person with that external ID")
        return subject


class Part:
    """One part of ``Faceguard`` (consent, rights, audit, liveness, governance, redaction):
    it holds the shared ``Core`` and nothing of its siblings."""

    def __init__(self, core: Core) -> None:
        self._core = core
