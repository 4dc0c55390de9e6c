"""What the commands need without an open data directory: ``Faceguard.tools``.

File-level helpers (the master key's and the deployment file's places, receipts,
certificates, evaluation pairs and presentation-attack samples, batch manifests, reports,
restoring a backup), so that the CLI calls only ``Faceguard``. ``Tools`` holds no state: it
is reached from the class (``Faceguard.tools.evaluate(...)``) as well as from an instance.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from faceguard.api.batch import ManifestRow
from faceguard.assess import assessment_state, render_html, render_pdf
from faceguard.audit.receipts import AuditReceipt
from faceguard.engine.calibration import Calibration
from faceguard.engine.choice import Detector, engine_calibration, make_engine
from faceguard.engine.dlib_engine import DlibEngine
from faceguard.engine.evaluation import EvalReport, Pair
from faceguard.errors import ConfigError
from faceguard.i18n import Language
from faceguard.index.evaluation import (
    IdentifyReport,
    Split,
    calibrate_pictures,
    evaluate_split,
    labelled_pictures,
    split_folder,
)
from faceguard.liveness.detector import PresentationAttackDetector
from faceguard.liveness.evaluation import PadReport, PadSample, evaluate_pad, read_samples
from faceguard.liveness.passive import scorers_for
from faceguard.policy import DeploymentFacts, check_deployment
from faceguard.policy.deployment import (
    Deployment,
    PurposeSection,
    load_deployment,
    read_pad_model,
)
from faceguard.policy.facts import CheckResult
from faceguard.redact.output import write_text_atomic
from faceguard.redact.report import RedactionReport
from faceguard.results import RestoreResult
from faceguard.rights import backup as backups
from faceguard.store.core import CONFIG_FILE, master_key_path
from faceguard.vault.keys import load_master_key


class Tools:
    """Stateless helpers of the commands; every one needs no data directory open."""

    @staticmethod
    def master_key_file(data_dir: Path) -> Path:
        """Where ``init`` (or ``open(dev=True)``) keeps the master key of ``data_dir``."""
        return master_key_path(data_dir)

    @staticmethod
    def config_file(data_dir: Path) -> Path:
        """The deployment file ``open`` reads when no other is given."""
        return data_dir / CONFIG_FILE

    @staticmethod
    def load_receipts(path: Path) -> list[AuditReceipt]:
        """Receipts kept by an auditor (``fg.audit.head``) or a receipts file, for
        ``fg.audit.verify``; ``ConfigError`` if the file cannot be read."""
        from faceguard.audit.receipts import load_receipts

        return load_receipts(path)

    @staticmethod
    def verify_certificate(data: dict[str, object], public_key_hex: str) -> bool:
        """Does the deletion certificate ``data`` (its JSON form, as ``fg.rights.erase`` returns it)
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
                 progress: Callable[[int], None] | None = None,
                 models: Path | None = None, detector: Detector = "own",
                 calibration: Path | None = None, centre: bool = False) -> EvalReport:
        """Accuracy on ``pairs`` (image paths under ``root``) with the default engine or the
        ONNX models in the folder ``models`` (``engine.faceplugin``), and FMR/FNMR at each
        operating point of its calibration (the shipped one or the file ``calibration``;
        none for an engine without one); ``centre``: the face nearest the centre of each
        picture instead of the largest (LFW labels the central face); needs no data
        directory."""
        from faceguard.engine.evaluation import evaluate

        engine = make_engine(models, detector)
        try:
            points: Calibration | None = engine_calibration(engine, calibration)
        except ConfigError:
            if calibration is not None:
                raise
            points = None
        return evaluate(list(pairs), root, points, workers=workers, progress=progress,
                        engine=engine, choose="centre" if centre else None)

    @staticmethod
    def identification_split(root: Path, gallery_images: int, distractors: int = 0) -> Split:
        """``eval-identify``'s split of a folder per person (``index.evaluation``)."""
        return split_folder(root, gallery_images, distractors)

    @staticmethod
    def evaluate_identification(split: Split, section: PurposeSection | None, *,
                                workers: int = 2, cache: Path | None = None,
                                progress: Callable[[int], None] | None = None,
                                models: Path | None = None, detector: Detector = "own",
                                calibration: Path | None = None, centre: bool = False
                                ) -> IdentifyReport:
        """1:N figures on ``split`` under the rule ``section`` declares (``None``: the
        defaults), with the engine (``models``, as for ``evaluate``) and its calibration;
        ``progress`` gets 1 per picture extracted; ``centre``: the gallery's pictures with
        several faces enroll the one nearest the centre; needs no data directory
        (``index.evaluation``)."""
        engine = make_engine(models, detector)
        return evaluate_split(split, engine, engine_calibration(engine, calibration),
                              section or PurposeSection(necessity="", retention_days=1),
                              workers=workers, cache=cache, progress=progress,
                              centre=centre)

    @staticmethod
    def labelled_pictures(root: Path) -> list[tuple[str, Path]]:
        """(person, picture) of a folder per person (what ``calibrate`` reads)."""
        return labelled_pictures(root)

    @staticmethod
    def calibrate(pictures: Sequence[tuple[str, Path]], *, workers: int = 2,
                  cache: Path | None = None, progress: Callable[[int], None] | None = None,
                  models: Path | None = None, detector: Detector = "own") -> dict[str, Any]:
        """An engine's calibration (operating points and 1:N score tables) from labelled
        pictures: the content of a file ``Faceguard.open(calibration=...)`` loads
        (docs/CALIBRATION.md). The engine as for ``evaluate``."""
        return calibrate_pictures(pictures, make_engine(models, detector), workers=workers,
                                  cache=cache, progress=progress)

    @staticmethod
    def read_manifest(path: Path) -> list[ManifestRow]:
        """The rows of a batch-enrollment manifest (``enroll_batch``); ``ConfigError`` if it
        cannot be read."""
        from faceguard.api.batch import read_manifest

        return read_manifest(path)

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
                      pdf: Path | None = None, trial: bool = False,
                      language: Language = "en", packs: Sequence[str] | None = None
                      ) -> list[str]:
        """Write ``report`` (an assessment, filing packet or protection report) as HTML
        and/or PDF in ``language``, labelled a trial for a trial deployment, in the words
        of its ``packs`` (GDPR's without a cn pack); returns the paths written."""
        written = []
        if html is not None:
            html.write_text(render_html(kind, report, trial=trial, language=language,
                                        packs=packs), encoding="utf-8")
            written.append(str(html))
        if pdf is not None:
            pdf.write_bytes(render_pdf(kind, report, trial=trial, language=language,
                                       packs=packs))
            written.append(str(pdf))
        return written

    @staticmethod
    def evaluate_pad(samples: Sequence[PadSample], *, stride: int = 1, max_frames: int = 300,
                     progress: Callable[[int], None] | None = None,
                     pad_model: Path | None = None) -> PadReport:
        """Presentation-attack detection figures (APCER, BPCER, decision time) on labelled
        media (``faceguard eval-pad``; ``pad_samples`` reads them), with the default
        engine's detector; ``pad_model``: a TOML file whose ``[pad_model]`` table names an
        operator-supplied model to run as well (relative paths from its folder)."""
        scorers = None
        if pad_model is not None:
            scorers = scorers_for(read_pad_model(pad_model), pad_model.parent)
        detector = PresentationAttackDetector(DlibEngine(cnn_fallback=False), scorers=scorers)
        return evaluate_pad(samples, detector, stride=stride, max_frames=max_frames,
                            progress=progress)

    @staticmethod
    def pad_samples(source: Path, *, label: str | None = None) -> list[PadSample]:
        """The labelled presentations ``source`` names (a folder, a CSV or a list file)."""
        return read_samples(source, label=label)

    @staticmethod
    def redaction_units(src: Path) -> int:
        """How many units of work (images, video frames) redacting ``src`` takes."""
        from faceguard.redact.batch import work_units  # OpenCV loads on first use

        return work_units(src)

    @staticmethod
    def write_redaction_report(path: Path, report: RedactionReport) -> None:
        """Write a redaction report's JSON to ``path`` atomically."""
        write_text_atomic(path, report.to_json())

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
