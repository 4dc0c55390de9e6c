"""The one library object: ``Faceguard``. The CLI and the service are thin shells over it.

``Faceguard`` keeps the face operations (enroll, verify, identify, correct, batch
enrollment), the gate they pass (``admit``) and the decision they share; it holds its other
parts as attributes, each over the one shared ``Core``: ``consent``, ``rights``, ``audit``,
``liveness``, ``governance``, ``redaction``, ``api_keys``, and ``tools`` (no data directory
needed). A part reaches another only through this object.

Every operation runs the policy gate first (purpose declared: R1; consent valid: R3, R5;
notice complete: R2), touches pixels only in memory (R9), and appends to the processing
record (R11) in the same transaction as the change it records. Refusals are recorded too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import sqlalchemy as sa

from faceguard.access.keys import ApiKeys
from faceguard.api import gallery
from faceguard.api.audit import AuditRecord
from faceguard.api.batch import BatchReport, enroll_manifest
from faceguard.api.config_watch import ConfigState, ConfigWatch
from faceguard.api.consent import Consents
from faceguard.api.core import Admission, Answer, Core
from faceguard.api.detection import FacesFound, detect_faces
from faceguard.api.governance import Governance
from faceguard.api.liveness import Liveness
from faceguard.api.redaction import Redaction
from faceguard.api.rights import Rights
from faceguard.api.setup import ensure_dev_key, init_data_dir
from faceguard.api.shared import Shared
from faceguard.api.tools import Tools
from faceguard.audit.operations import Op
from faceguard.consent import records as consents
from faceguard.engine.calibration import Calibration, load_calibration, load_calibration_file
from faceguard.engine.fast_resnet import FastDlibEngine
from faceguard.engine.pipeline import Extraction, FaceChoice, extract, quality_record
from faceguard.engine.types import FaceEngine, require_same_engine
from faceguard.engine.workers import ExtractionPool
from faceguard.errors import ConfigError, FaceguardError
from faceguard.i18n import Language
from faceguard.index.decision import (
    decide,
    doubt_reason,
    identification_rule,
    identification_thresholds,
)
from faceguard.index.follow import Follower
from faceguard.index.people import people_of
from faceguard.liveness import LivenessAnswer
from faceguard.policy.deployment import Deployment, load_deployment
from faceguard.results import EnrollResult, IdentifyResult, Stats, VerifyResult
from faceguard.rights.recovery import open_store
from faceguard.store.core import CONFIG_FILE, Store, database_url, master_key_path
from faceguard.timeutil import iso, utc_now
from faceguard.vault.keys import load_master_key


class Faceguard:
    """Consent-gated enrollment, verification and identification on one data directory."""

    #: Notices, consents, kiosk declines (R2-R6).
    consent: Consents
    #: Erasure, export, retention, backups, explanations and review, sharing (R8, R16-R21).
    rights: Rights
    #: The processing record, its receipts and deletion certificates (R11, R18).
    audit: AuditRecord
    #: Challenge-response liveness (R26).
    liveness: Liveness
    #: The deployment check, assessment, filing and protection level (R10, R15, R24).
    governance: Governance
    #: Anonymising faces in kept media (R9, R20).
    redaction: Redaction
    #: The service's API keys, kept in the record store (R14, R25).
    api_keys: ApiKeys
    #: Sessions, the login throttle and master-key rotation, shared by every worker.
    shared: Shared
    #: Helpers of the commands that need no data directory.
    tools: ClassVar[Tools] = Tools()

    def __init__(self, core: Core, *, config_file: Path | None = None) -> None:
        """Over an open store and its settings (``Core``); ``open`` is the usual way in.
        ``config_file``: the deployment file ``reload_config`` watches (none: nothing)."""
        self._core = core
        self._config = ConfigWatch(core, config_file)
        self.consent = Consents(core)
        self.rights = Rights(core)
        self.audit = AuditRecord(core)
        self.liveness = Liveness(core)
        self.governance = Governance(core)
        self.redaction = Redaction(core)
        self.shared = Shared(core)
        self._follower: Follower | None = None
        self.api_keys = ApiKeys(
            core.store, level=lambda: core.deployment.deployment.protection_level,
            check_purpose=core.purpose)

    @property
    def deployment(self) -> Deployment:
        """The deployment file as read when this object was opened."""
        return self._core.deployment

    def reload_config(self, *, actor: str = "library") -> ConfigState:
        """Take up the deployment file if it changed since it was read, validated as at
        start; a file that does not validate, or changes what only a start applies
        (``config_watch.RESTART_ONLY``), leaves the deployment in force and says why."""
        return self._config.poll(actor)

    @property
    def engine(self) -> FaceEngine:
        return self._core.engine

    @property
    def calibration(self) -> Calibration:
        """The engine's operating points (thresholds per false-match rate)."""
        return self._core.calibration

    @property
    def _store(self) -> Store:
        return self._core.store

    def stats(self) -> Stats:
        """Counts for reports: active people, templates per purpose."""
        return self._core.stats()

    def language(self) -> Language:
        """The deployment's language (``deployment.language``; ``zh-CN`` under the cn
        packs): its documents' and, unless a person names another, its notices'."""
        return self._core.language()

    # ---- construction -------------------------------------------------------------------

    @staticmethod
    def init(data_dir: Path) -> Path:
        """Create a data directory: master key (0600), both stores, a starter faceguard.toml.

        Returns the path of the deployment file. Refuses to overwrite an existing key.
        """
        return init_data_dir(data_dir)

    @classmethod
    def open(
        cls,
        data_dir: Path,
        *,
        config: Path | None = None,
        dev: bool = False,
        engine: FaceEngine | None = None,
        calibration: Path | None = None,
    ) -> Faceguard:
        """Open a data directory. Without a master key, ``dev=True`` creates a local one;
        otherwise ``MasterKeyMissing`` (R14) says how to make one."""
        if dev:
            ensure_dev_key(data_dir)
        master = load_master_key(master_key_path(data_dir))
        config = config or data_dir / CONFIG_FILE
        deployment = load_deployment(config)
        engine = engine or FastDlibEngine()
        points = (
            load_calibration_file(calibration, engine.engine_id) if calibration is not None
            else load_calibration(engine.engine_id.split(":")[0], engine.engine_id)
        )
        url = database_url(data_dir, deployment.storage.url if deployment.storage else None)
        return cls(Core(open_store(data_dir, master, url=url), deployment, engine, points,
                        config_dir=config.resolve().parent), config_file=config)

    def use_worker_processes(self, workers: int) -> None:
        """Extract faces from image bytes in ``workers`` processes (``engine.workers``): the
        service's face work then uses every core, and an image that crashes native code
        takes down a worker, not the service. ``ConfigError`` if the workers' engine is not
        this one."""
        if self._core.extractor is not None:
            self._core.extractor.close()
            self._core.extractor = None
        pool = ExtractionPool(self.engine, workers)
        found = pool.engine_id()
        if found != self.engine.engine_id:
            pool.close()
            raise ConfigError(f"the worker processes run engine {found}, not "
                              f"{self.engine.engine_id}")
        self._core.extractor = pool

    def follow_changes(self, interval: float = 0.5) -> None:
        """Keep the loaded index partitions current from a background thread (``index.
        follow``): enrollments, withdrawals and erasures made by other workers reach this
        one within about ``interval`` seconds (on PostgreSQL, at their notification)."""
        if self._follower is None:
            self._follower = Follower(self._store.records,
                                      lambda: gallery.catch_up_all(self._core),
                                      interval=interval)

    def close(self) -> None:
        if self._follower is not None:
            self._follower.close()
            self._follower = None
        if self._core.extractor is not None:
            self._core.extractor.close()
            self._core.extractor = None
        self._store.close()

    def __enter__(self) -> Faceguard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


    # ---- enrollment ---------------------------------------------------------------------

    def _extract(self, image: bytes | np.ndarray, *, enroll: bool,
                 choose: FaceChoice | None = None) -> Extraction:
        core = self._core
        gate = core.enroll_gate if enroll else core.probe_gate
        if core.extractor is not None and not isinstance(image, np.ndarray):
            return core.extractor.extract(image, single_face=enroll, gate=gate,
                                          limits=core.image_limits, choose=choose)
        return extract(core.engine, image, single_face=enroll, gate=gate,
                       limits=core.image_limits, choose=choose)

    def faces_in(self, image: bytes, purpose: str, *, actor: str = "library") -> FacesFound:
        """The faces of a picture about to be enrolled for ``purpose``, for the operator to
        choose one (``enroll(face=box)``): detection only, recorded (``faces.detected``).
        Refused as enrollment is: undeclared purpose (R1), failing check (R10...)."""
        return detect_faces(self._core, self.governance, image, purpose, actor)

    def enroll(
        self,
        external_id: str,
        images: Sequence[bytes | np.ndarray | Extraction],
        purpose: str,
        *,
        actor: str = "library",
        progress: Callable[[int], None] | None = None,
        replace: bool = False,
        liveness: LivenessAnswer | None = None,
        face: FaceChoice | list[FaceChoice | None] | None = None,
    ) -> EnrollResult:
        """Enroll one or more images of a consenting person for ``purpose``.

        All images are processed before anything is stored: if one fails, none is kept.
        ``progress`` is called with 1 after each image. ``replace=True`` is correction
        (R16): the new templates replace the person's old ones for this purpose, atomically.
        An item may also be an ``Extraction`` made by this engine with the enrollment gate
        (batch enrollment prepares them in worker processes). Where liveness is required
        (R26), ``liveness`` must answer a challenge; its most frontal frame is enrolled (the
        same answer may enroll the person in each of their purposes, once each, for a minute).
        ``face`` picks the face of pictures holding several: a box ``(left, top, right,
        bottom)`` or "centre" (the face nearest the picture's centre), or a list with one
        such choice (or ``None``) per image. The quality of each picture is recorded with
        the enrollment (R11).
        """
        operation = Op.TEMPLATE_CORRECTED if replace else Op.TEMPLATE_ENROLLED
        with self._core.recorded(operation, actor, purpose):
            admitted = self.admit(purpose, actor, liveness, subject=external_id,
                                  enrolling=purpose)
            section = admitted.section
            if admitted.live is not None:
                images = [admitted.live]
            if not images:
                raise ConfigError("enrollment needs at least one image")
            with self._store.records.connect() as conn:
                subject = self._core.subject_id(conn, external_id)
                if subject is None:
                    raise consents.no_consent(purpose, "no such person")
                consents.require_consent(conn, subject, purpose)
            extractions = []
            for number, image in enumerate(images, start=1):
                try:
                    if isinstance(image, Extraction):
                        require_same_engine(image.template.engine, self.engine.engine_id)
                        self._core.enroll_gate.judge(image.quality)
                        extractions.append(image)
                    else:
                        choice = ((face[number - 1] if number <= len(face) else None)
                                  if isinstance(face, list) else face)
                        extractions.append(self._extract(image, enroll=True, choose=choice))
                    if progress is not None:
                        progress(1)
                except FaceguardError as exc:
                    if len(images) > 1:
                        exc.add_context(f"image {number} of {len(images)}")
                    raise
            expires = iso(utc_now() + timedelta(days=section.retention_days))
            with self._store.write() as conn:
                consents.require_consent(conn, subject, purpose)
                replaced = (
                    self._store.vault.delete_templates(conn, subject, purpose) if replace else []
                )
                ids = [
                    self._store.vault.add_template(conn, subject, purpose, ex.template, expires)
                    for ex in extractions
                ]
                self._core.touch(conn, subject)
                seq = self._store.audit.append(
                    conn,
                    actor=actor,
                    operation=operation,
                    outcome="ok",
                    purpose=purpose,
                    subject=subject,
                    rules=["R3", "R8", "R9", "R16"] if replace else ["R3", "R8", "R9"],
                    detail={"templates": len(ids), "replaced": len(replaced),
                            "engine": self.engine.engine_id,
                            "quality": [quality_record(ex) for ex in extractions]},
                )
            partition = self._store.index.get(purpose)
            if partition is not None:
                partition.remove_templates(set(replaced))
                partition.add_missing([subject] * len(ids), list(ids),
                                      np.stack([ex.template.vector for ex in extractions]))
            if replaced:
                self._store.settle()
            self._core.gate_changed()  # the people count may have crossed a threshold
        return EnrollResult(subject, purpose, tuple(ids), expires, seq)

    def correct(
        self, external_id: str, images: Sequence[bytes | np.ndarray], purpose: str, *,
        actor: str = "library",
    ) -> EnrollResult:
        """Correction (R16): re-enroll a person, replacing their templates for ``purpose``."""
        return self.enroll(external_id, images, purpose, actor=actor, replace=True)

    def enroll_batch(self, manifest: Path, root: Path, report: Path, *, workers: int = 2,
                     actor: str = "batch", progress: Callable[[int], None] | None = None
                     ) -> BatchReport:
        """Enroll every row of ``manifest`` (images under ``root``) not already ``ok`` in
        ``report``, granting each row's consent first; see ``faceguard.api.batch``."""
        return enroll_manifest(self, manifest, root, report, workers=workers, actor=actor,
                               progress=progress)

    # ---- verification and identification ------------------------------------------------

    def verify(
        self,
        external_id: str,
        image: bytes | np.ndarray,
        purpose: str,
        *,
        actor: str = "library",
        reveal_score: bool = False,
        liveness: LivenessAnswer | None = None,
    ) -> VerifyResult:
        """1:1: is the person in ``image`` the consenting person ``external_id``?

        Only templates stored for ``purpose`` under a valid consent are compared. The
        score is returned only when ``reveal_score`` (admin and evaluation use, R17).
        """
        with self._core.recorded(Op.FACE_VERIFIED, actor, purpose):
            admitted = self.admit(purpose, actor, liveness, subject=external_id)
            image = admitted.live if admitted.live is not None else image
            point = admitted.point
            # The person, their consent and their live templates in one query; nothing is
            # decrypted, and no face processed, without a consent for this purpose.
            with self._store.records.connect() as conn:
                side = self._store.vault.consented_templates(conn, external_id, purpose,
                                                            iso(utc_now()))
            if side is None:
                raise consents.no_consent(purpose, "no such person")
            subject, consented, stored = side
            if not consented:
                raise consents.no_consent(purpose)
            probe = self._extract(image, enroll=False).template
            distances = []
            for item in stored:
                require_same_engine(item.template.engine, probe.engine)
                distances.append(item.template.distance(probe))
            best = min(distances) if distances else float("inf")
            decision = "match" if point.is_match(best) else "no-match"

            def confirm(conn: sa.Connection) -> Answer:
                # it may have been withdrawn while the face was extracted: refused then
                consents.require_consent(conn, subject, purpose)
                return Answer(decision, subject)

            seq, _ = self._decide(Op.FACE_VERIFIED, purpose, actor, confirm, {
                "operating_point": point.name, "score_revealed": reveal_score,
                "templates_compared": len(distances)})
        return VerifyResult(
            decision,  # type: ignore[arg-type]
            purpose,
            point.name,
            seq,
            score=(best if distances else None) if reveal_score else None,
        )

    def identify(
        self,
        image: bytes | np.ndarray,
        purpose: str,
        *,
        actor: str = "library",
        reveal_score: bool = False,
        liveness: LivenessAnswer | None = None,
    ) -> IdentifyResult:
        """1:N: who, among the people consenting to ``purpose``, is in ``image``?

        Each person is scored by one fused template; the purpose's declared FPIR sets the
        automatic threshold for the gallery as it is now (R17, ``index.decision``). Answers
        the person (``match``), ``unknown``, or, for a doubtful answer, the purpose's
        ``on_doubt``: ``needs-review`` with up to 3 candidates and the reason, or
        ``unknown``. A proposed person is confirmed against the store (consent still
        valid, a template alive) before anything is answered.
        """
        with self._core.recorded(Op.FACE_IDENTIFIED, actor, purpose):
            admitted = self.admit(purpose, actor, liveness)
            image = admitted.live if admitted.live is not None else image
            section = admitted.section
            probe = self._extract(image, enroll=False).template
            partition = gallery.partition(self._core, purpose)
            require_same_engine(partition.engine, probe.engine)
            people = people_of(partition)
            limits = identification_thresholds(self.calibration, people.composition(),
                                               identification_rule(section))
            hits = ([] if limits.doubtful is None else
                    people.search(probe.vector, k=3, max_distance=limits.doubtful))

            def confirm(conn: sa.Connection) -> Answer:
                # Every hit confirmed by the store in the transaction that records the answer
                # (consent active, a template alive): a withdrawal or erasure the index has
                # not seen yet can never be answered as a match.
                now = iso(utc_now())
                confirmed = [h for h in hits if gallery.still_valid(conn, h.subject_id, purpose,
                                                                    now)]
                stale = tuple({h.subject_id for h in hits} - {h.subject_id for h in confirmed})
                outcome = decide(confirmed, limits)
                externals = tuple(self._store.vault.identity(conn, h.subject_id).external_id
                                  for h in confirmed[:3])
                detail = {"people": limits.people, "candidates": len(externals),
                          "fpir": section.fpir, "decided": outcome,
                          **({"stale_candidates": len(stale)} if stale else {})}
                if outcome == "match":
                    return Answer("match", confirmed[0].subject_id, detail, externals[:1],
                                  stale, score=confirmed[0].distance)
                if outcome == "doubtful" and section.on_doubt == "needs-review":
                    return Answer("needs-review", None, detail, externals, stale, ("R17",))
                if outcome == "doubtful":
                    return Answer("unknown", None, detail, (), stale, ("R17",))
                return Answer("unknown", None, detail, (), stale)

            seq, answer = self._decide(Op.FACE_IDENTIFIED, purpose, actor, confirm, {
                "score_revealed": reveal_score})
            for subject in answer.stale:  # the index lagged: it catches up now
                partition.remove_subject(subject)
        point = f"fpir {section.fpir:g}"
        if answer.outcome == "needs-review":
            return IdentifyResult("needs-review", purpose, point, seq,
                                  candidates=answer.externals, reason=doubt_reason(limits))
        if answer.outcome != "match":
            return IdentifyResult("unknown", purpose, point, seq)
        return IdentifyResult(
            "match",
            purpose,
            point,
            seq,
            subject_id=answer.subject,
            external_id=answer.externals[0],
            score=answer.score if reveal_score else None,
        )

    # ---- the gate and the decision ------------------------------------------------------

    def admit(self, purpose: str, actor: str, liveness: LivenessAnswer | None, *,
              subject: str | None = None, enrolling: str | None = None) -> Admission:
        """The one gate every face operation passes first: the purpose is declared (R1,
        R27), the deployment may process faces (its check passes: R10 and the rest), and
        the person is shown live where the packs require it (R26). Raises the refusal,
        citing its rule; returns the purpose's section, its operating point and the live
        frame to recognise (``None`` when no liveness answer was given)."""
        section = self._core.purpose(purpose)
        point = self.calibration.point(section.operating_point)
        self.governance.require_live()
        live = self.liveness.probe(liveness, subject=subject, actor=actor, enrolling=enrolling)
        return Admission(section, point, live)

    def _decide(self, operation: Op, purpose: str, actor: str,
                confirm: Callable[[sa.Connection], Answer], detail: dict[str, Any]
                ) -> tuple[int, Answer]:
        """Verify's and identify's last step: ``confirm`` reads the store's answer and the
        event recording it is appended, in one transaction on one connection (group
        commit: durable before this returns). A match touches the person's last
        interaction (P3). ``confirm`` may run twice (a group is retried): it only reads."""
        def record(conn: sa.Connection) -> tuple[int, Answer]:
            answer = confirm(conn)
            if answer.outcome == "match" and answer.subject is not None:
                self._core.touch(conn, answer.subject)
            seq = self._store.audit.append(
                conn, actor=actor, operation=operation, outcome=answer.outcome,
                purpose=purpose, subject=answer.subject,
                rules=["R1", "R3", *answer.rules], detail={**detail, **answer.detail})
            return seq, answer

        return self._store.commit(record)

