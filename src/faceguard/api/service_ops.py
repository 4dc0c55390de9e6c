"""What the shells read and keep: the lists the pages show, kiosk declines, API keys, the
counts monitoring reads, and the file-level helpers the commands need (evaluation, batch
enrollment, receipts, certificates), so that the CLI and the service call only ``Faceguard``.

Plain data out. Nothing here writes but a decline, the API keys' own events and the event
recording that identities were decrypted for display (``identity.displayed``, R11).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from faceguard.access.keys import ApiKeys
from faceguard.access.sessions import Sessions, Throttle
from faceguard.api.batch import BatchReport, ManifestRow
from faceguard.api.facade import FacadeBase
from faceguard.assess import assessment_state, render_html, render_pdf
from faceguard.audit import views as audit_views
from faceguard.audit.operations import Op
from faceguard.audit.receipts import AuditReceipt
from faceguard.consent import declines
from faceguard.consent import records as consents
from faceguard.engine.dlib_engine import DlibEngine
from faceguard.engine.evaluation import EvalReport, Pair
from faceguard.errors import NoticeError
from faceguard.liveness.detector import PresentationAttackDetector
from faceguard.liveness.evaluation import PadReport, PadSample, evaluate_pad, read_samples
from faceguard.policy import DeploymentFacts, check_deployment
from faceguard.policy.deployment import Deployment, load_deployment
from faceguard.policy.facts import CheckResult
from faceguard.redact import RedactionReport, work_units
from faceguard.redact.output import write_text_atomic
from faceguard.results import ExpiringRow, MasterRotation, RecordCounts, SubjectRow
from faceguard.rights import views
from faceguard.store import rotation
from faceguard.timeutil import iso, utc_now

if TYPE_CHECKING:
    from faceguard.api.faceguard import Faceguard

#: Events that are alarms whatever their outcome: lockouts and presentation attacks (R25, R26).


class ServiceOps(FacadeBase):
    """Reads for the pages and monitoring, kiosk declines, API keys, command helpers."""

    _api_keys: ApiKeys | None = None

    # ---- API keys (R14, R25) ------------------------------------------------------------

    @property
    def api_keys(self) -> ApiKeys:
        """The service's API keys, kept in this data directory's record store."""
        if self._api_keys is None:
            self._api_keys = ApiKeys(
                self._store, level=lambda: self.deployment.deployment.protection_level,
                check_purpose=self.purpose)
        return self._api_keys

    def rotate_master_key(self, *, actor: str) -> MasterRotation:
        """Re-wrap every data key under a new master key while serving (``store.rotation``,
        R14); the old key is retired and its file replaced."""
        return rotation.rotate_master(self._store, actor=actor)

    def sessions(self, idle_seconds: int, max_seconds: int) -> Sessions:
        """Browser sessions, kept in the record store: every worker shares them."""
        return Sessions(self._store.records, idle_seconds, max_seconds)

    def throttle(self, failures: int, window_seconds: int, lockout_seconds: int) -> Throttle:
        """The failed-authentication throttle, kept in the record store (every worker)."""
        return Throttle(self._store.records, failures, window_seconds, lockout_seconds)

    # ---- kiosk declines (R4, R6) --------------------------------------------------------

    def declined_purposes(self, external_id: str) -> dict[str, str]:
        """Purposes this person declined at a kiosk, with when (not asked again)."""
        lookup = self._store.keyring.lookup_hash(external_id)
        with self._store.records.connect() as conn:
            return declines.declined(conn, lookup)

    def record_decline(self, external_id: str, purpose: str, *, channel: str,
                       actor: str) -> None:
        """Record that the person declined ``purpose`` (idempotent). Nothing identifying is
        kept: only the keyed hash of ``external_id``. ``PurposeError`` if undeclared."""
        self.purpose(purpose)
        lookup = self._store.keyring.lookup_hash(external_id)
        with self._store.write_lock, self._store.records.begin() as conn:
            declines.record_decline(conn, self._store.audit, lookup, purpose, channel=channel,
                                    actor=actor,
                                    alternatives=self.deployment.deployment.alternatives)

    # ---- notices and consents -----------------------------------------------------------

    def current_notice(self, purpose: str) -> consents.Notice | None:
        """The newest notice of a declared purpose, or ``None`` when none is published."""
        self.purpose(purpose)
        try:
            with self._store.records.connect() as conn:
                return consents.current_notice(conn, purpose)
        except NoticeError:
            return None

    def notices(self) -> dict[str, consents.Notice | None]:
        """Each declared purpose's current notice (``None``: not published yet)."""
        return {purpose: self.current_notice(purpose)
                for purpose in sorted(self.deployment.purposes)}

    def active_purposes(self, external_id: str) -> list[str]:
        """The purposes a person currently consents to, sorted (none if unknown)."""
        with self._store.records.connect() as conn:
            subject = self._store.vault.find_subject(conn, external_id)
            return consents.active_purposes(conn, subject) if subject else []

    def external_id_of(self, subject_id: str) -> str:
        """The external ID of an active subject (``NotFound`` if erased or unknown)."""
        with self._store.records.connect() as conn:
            return self._store.vault.identity(conn, subject_id).external_id

    # ---- the people held ----------------------------------------------------------------

    def people(self, *, actor: str, offset: int = 0, limit: int = 50
               ) -> tuple[list[SubjectRow], int]:
        """A page of the people held (active subjects, newest first) and how many there are.

        Their names and external IDs are decrypted for ``actor`` to see, so the page is an
        event of the processing record (R11, R14): one ``identity.displayed`` per page, with
        the subject IDs shown. It is written before the page is returned: when it cannot be
        written, nobody sees the names."""
        with self._store.records.connect() as conn:
            out, total = views.people(conn, self._store.vault, offset=offset, limit=limit)
        if out:
            with self._store.write_lock, self._store.records.begin() as conn:
                self._store.audit.append(
                    conn, actor=actor[:128], operation=Op.IDENTITY_DISPLAYED, outcome="ok",
                    rules=["R11", "R14"],
                    detail={"count": len(out), "offset": offset,
                            "subjects": [r.subject_id for r in out]})
        return out, total

    def expiring(self, *, within_days: int, limit: int = 50) -> list[ExpiringRow]:
        """Templates whose retention ends within ``within_days`` (R8), soonest first."""
        horizon = iso(utc_now() + timedelta(days=within_days))
        with self._store.records.connect() as conn:
            return views.expiring(conn, until=horizon, limit=limit)

    # ---- the processing record ----------------------------------------------------------

    def events(self, *, before: int | None = None, limit: int = 50,
               subject: str | None = None, operations: tuple[str, ...] = ()
               ) -> list[dict[str, Any]]:
        """Processing-record events as plain dicts, newest first, with ``seq < before``."""
        with self._store.records.connect() as conn:
            return audit_views.page(conn, before=before, limit=limit, subject=subject,
                                    operations=operations)

    def alarms(self, *, limit: int = 20) -> list[dict[str, Any]]:
        """Security events worth an alarm: lockouts, attempts while locked, attacks. A
        liveness check passed, or a retry, is not one."""
        with self._store.records.connect() as conn:
            return audit_views.alarms(conn, limit=limit)

    def record_counts(self) -> RecordCounts:
        """The length of the processing record and the open review requests, now."""
        with self._store.records.connect() as conn:
            return RecordCounts(audit_views.count(conn), views.open_reviews(conn))

    # ---- what the commands need ---------------------------------------------------------

    @staticmethod
    def master_key_file(data_dir: Path) -> Path:
        """Where ``init`` (or ``open(dev=True)``) keeps the master key of ``data_dir``."""
        from faceguard.store.core import master_key_path

        return master_key_path(data_dir)

    @staticmethod
    def config_file(data_dir: Path) -> Path:
        """The deployment file ``open`` reads when no other is given."""
        from faceguard.store.core import CONFIG_FILE

        return data_dir / CONFIG_FILE

    @staticmethod
    def load_receipts(path: Path) -> list[AuditReceipt]:
        """Receipts kept by an auditor (``audit_head``) or a receipts file, for
        ``verify_audit``; ``ConfigError`` if the file cannot be read."""
        from faceguard.audit.receipts import load_receipts

        return load_receipts(path)

    @staticmethod
    def verify_certificate(data: dict[str, object], public_key_hex: str) -> bool:
        """Does the deletion certificate ``data`` (its JSON form, as ``erase`` returns it)
        carry a valid signature of ``public_key_hex``? Needs no data directory."""
        from faceguard.audit.certificates import from_json, verify_with_public_key

        return verify_with_public_key(from_json(data), public_key_hex)

    @staticmethod
    def read_pairs(path: Path, subset: str | None = None) -> list[Pair]:
        """An evaluation's pairs CSV, optionally only rows whose subset column is ``subset``."""
        from faceguard.engine.evaluation import read_pairs

        return read_pairs(path, subset)

    @staticmethod
    def evaluate(pairs: Sequence[Pair], root: Path, *, workers: int = 2,
                 progress: Callable[[int], None] | None = None) -> EvalReport:
        """Accuracy and FMR/FNMR at each operating point of the default engine on ``pairs``
        (image paths under ``root``); needs no data directory."""
        from faceguard.engine.calibration import load_calibration
        from faceguard.engine.evaluation import evaluate
        from faceguard.engine.fast_resnet import FastDlibEngine

        engine = FastDlibEngine()
        calibration = load_calibration(engine.name, engine.engine_id)
        return evaluate(list(pairs), root, calibration, workers=workers, progress=progress)

    @staticmethod
    def read_manifest(path: Path) -> list[ManifestRow]:
        """The rows of a batch-enrollment manifest (``enroll_batch``); ``ConfigError`` if it
        cannot be read."""
        from faceguard.api.batch import read_manifest

        return read_manifest(path)

    def enroll_batch(self, manifest: Path, root: Path, report: Path, *, workers: int = 2,
                     actor: str = "batch", progress: Callable[[int], None] | None = None
                     ) -> BatchReport:
        """Enroll every row of ``manifest`` (images under ``root``) not already ``ok`` in
        ``report``, granting each row's consent first; see ``faceguard.api.batch``."""
        from faceguard.api.batch import enroll_manifest

        return enroll_manifest(cast("Faceguard", self), manifest, root, report,
                               workers=workers, actor=actor, progress=progress)

    @staticmethod
    def check_file(deployment: Deployment, config: Path) -> CheckResult:
        """A deployment read from the file ``config`` (``load_deployment_file``) judged alone
        (no data directory or key yet, so nobody enrolled): what ``faceguard check`` prints
        before ``init``."""
        facts = DeploymentFacts(assessment=assessment_state(deployment, config.resolve().parent))
        return check_deployment(deployment, facts)

    @staticmethod
    def load_deployment_file(config: Path) -> Deployment:
        """Read and validate a deployment file (``ConfigError`` names the key)."""
        return load_deployment(config)

    @staticmethod
    def render_report(kind: str, report: object, *, html: Path | None = None,
                      pdf: Path | None = None) -> list[str]:
        """Write ``report`` (an assessment, filing packet or protection report) as HTML
        and/or PDF; returns the paths written."""
        written = []
        if html is not None:
            html.write_text(render_html(kind, report), encoding="utf-8")
            written.append(str(html))
        if pdf is not None:
            pdf.write_bytes(render_pdf(kind, report))
            written.append(str(pdf))
        return written

    @staticmethod
    def evaluate_pad(samples: Sequence[PadSample], *, stride: int = 1, max_frames: int = 300,
                     progress: Callable[[int], None] | None = None) -> PadReport:
        """Presentation-attack detection figures (APCER, BPCER, decision time) on labelled
        media (``faceguard eval-pad``; ``pad_samples`` reads them), with the default
        engine's detector."""
        detector = PresentationAttackDetector(DlibEngine(cnn_fallback=False))
        return evaluate_pad(samples, detector, stride=stride, max_frames=max_frames,
                            progress=progress)

    @staticmethod
    def pad_samples(source: Path, *, label: str | None = None) -> list[PadSample]:
        """The labelled presentations ``source`` names (a folder, a CSV or a list file)."""
        return read_samples(source, label=label)

    @staticmethod
    def redaction_units(src: Path) -> int:
        """How many units of work (images, video frames) redacting ``src`` takes."""
        return work_units(src)

    @staticmethod
    def write_redaction_report(path: Path, report: RedactionReport) -> None:
        """Write a redaction report's JSON to ``path`` atomically."""
        write_text_atomic(path, report.to_json())
