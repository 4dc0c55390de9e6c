"""faceguard: face recognition in which consent, purpose, retention and audit are enforced.

The public API is ``Faceguard`` (one object per data directory), the parts it holds
(``Consents``, ``Rights``, ``AuditRecord``, ``Liveness``, ``Governance``,
``Redaction``, ``Shared``, ``ApiKeys``, ``Tools``) and the plain types they return; see README.md.
Nothing is loaded at import time: each public name is imported from its module the first
time it is used (PEP 562), so ``import faceguard`` and the command line's ``--help`` load no
engine, database, image or web library.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from faceguard import lazy

if TYPE_CHECKING:
    from faceguard.access.keys import ApiKey, ApiKeys, CreatedKey
    from faceguard.access.sessions import Session, Sessions, Throttle
    from faceguard.api.audit import AuditRecord
    from faceguard.api.batch import BatchReport, ManifestRow
    from faceguard.api.config_watch import ConfigState
    from faceguard.api.consent import Consents
    from faceguard.api.core import Admission
    from faceguard.api.faceguard import Faceguard
    from faceguard.api.governance import Governance
    from faceguard.api.liveness import Liveness, LivenessState
    from faceguard.api.redaction import Redaction
    from faceguard.api.rights import Rights
    from faceguard.api.shared import Shared
    from faceguard.api.tools import Tools
    from faceguard.assess.assessment import Assessment
    from faceguard.assess.filing import FilingPacket, FilingStatus
    from faceguard.assess.protection import ProtectionReport
    from faceguard.audit.events import AuditEvent, AuditReport
    from faceguard.audit.integrity import IntegrityFinding, IntegrityReport
    from faceguard.audit.receipts import AuditReceipt
    from faceguard.consent.records import Guardian, Notice
    from faceguard.consent.sharing import SharePackage
    from faceguard.engine.calibration import Calibration, OperatingPoint
    from faceguard.engine.evaluation import EvalReport, Pair
    from faceguard.engine.pipeline import Extraction, FacesFound
    from faceguard.engine.types import FaceEngine
    from faceguard.errors import (
        AuditError,
        ConfigError,
        ConsentError,
        EngineMismatch,
        FaceError,
        FaceguardError,
        ImageDecodeError,
        ImageError,
        ImageTooLarge,
        ImageTooSmall,
        LivenessError,
        MasterKeyMissing,
        NoFaceFound,
        NotFound,
        NoticeError,
        PolicyError,
        PurposeError,
        QualityError,
        TooManyFaces,
        VaultError,
    )
    from faceguard.index.evaluation import IdentifyReport, Split
    from faceguard.liveness.challenge import Challenge
    from faceguard.liveness.detector import PresentationAttackDetector
    from faceguard.liveness.evaluation import PadReport, PadSample
    from faceguard.liveness.lockout import Lockout, Lockouts
    from faceguard.liveness.types import Frame, LivenessAnswer, PadDecision
    from faceguard.operating_points import OPERATING_POINT_NAMES
    from faceguard.policy.check import CheckResult, DeploymentFacts
    from faceguard.policy.deployment import Deployment, PurposeSection
    from faceguard.redact.options import RedactOptions
    from faceguard.redact.report import RedactionReport
    from faceguard.redact.track import TrackSettings
    from faceguard.results import (
        BackupResult,
        ConsentReceipt,
        ConsentRow,
        DecommissionResult,
        DeletionCertificate,
        EnrollResult,
        ExpiringRow,
        Explanation,
        IdentifyResult,
        MasterRotation,
        RecordCounts,
        RestoreResult,
        ReviewRequest,
        Stats,
        SubjectExport,
        SubjectRow,
        SweepResult,
        VerifyResult,
        WithdrawResult,
    )

#: Where each public name lives (the same names as the imports above, for type checkers).
_EXPORTS: dict[str, str] = {
    "ApiKey": "faceguard.access.keys",
    "ApiKeys": "faceguard.access.keys",
    "CreatedKey": "faceguard.access.keys",
    "Session": "faceguard.access.sessions",
    "Sessions": "faceguard.access.sessions",
    "Throttle": "faceguard.access.sessions",
    "AuditRecord": "faceguard.api.audit",
    "BatchReport": "faceguard.api.batch",
    "ManifestRow": "faceguard.api.batch",
    "ConfigState": "faceguard.api.config_watch",
    "Consents": "faceguard.api.consent",
    "Admission": "faceguard.api.core",
    "Faceguard": "faceguard.api.faceguard",
    "Governance": "faceguard.api.governance",
    "Liveness": "faceguard.api.liveness",
    "LivenessState": "faceguard.api.liveness",
    "Redaction": "faceguard.api.redaction",
    "Rights": "faceguard.api.rights",
    "Shared": "faceguard.api.shared",
    "Tools": "faceguard.api.tools",
    "Assessment": "faceguard.assess.assessment",
    "FilingPacket": "faceguard.assess.filing",
    "FilingStatus": "faceguard.assess.filing",
    "ProtectionReport": "faceguard.assess.protection",
    "AuditEvent": "faceguard.audit.events",
    "AuditReport": "faceguard.audit.events",
    "IntegrityFinding": "faceguard.audit.integrity",
    "IntegrityReport": "faceguard.audit.integrity",
    "AuditReceipt": "faceguard.audit.receipts",
    "Guardian": "faceguard.consent.records",
    "Notice": "faceguard.consent.records",
    "SharePackage": "faceguard.consent.sharing",
    "Calibration": "faceguard.engine.calibration",
    "OperatingPoint": "faceguard.engine.calibration",
    "EvalReport": "faceguard.engine.evaluation",
    "Pair": "faceguard.engine.evaluation",
    "Extraction": "faceguard.engine.pipeline",
    "FacesFound": "faceguard.engine.pipeline",
    "FaceEngine": "faceguard.engine.types",
    "AuditError": "faceguard.errors",
    "ConfigError": "faceguard.errors",
    "ConsentError": "faceguard.errors",
    "EngineMismatch": "faceguard.errors",
    "FaceError": "faceguard.errors",
    "FaceguardError": "faceguard.errors",
    "ImageDecodeError": "faceguard.errors",
    "ImageError": "faceguard.errors",
    "ImageTooLarge": "faceguard.errors",
    "ImageTooSmall": "faceguard.errors",
    "LivenessError": "faceguard.errors",
    "MasterKeyMissing": "faceguard.errors",
    "NoFaceFound": "faceguard.errors",
    "NotFound": "faceguard.errors",
    "NoticeError": "faceguard.errors",
    "PolicyError": "faceguard.errors",
    "PurposeError": "faceguard.errors",
    "QualityError": "faceguard.errors",
    "TooManyFaces": "faceguard.errors",
    "VaultError": "faceguard.errors",
    "IdentifyReport": "faceguard.index.evaluation",
    "Split": "faceguard.index.evaluation",
    "Challenge": "faceguard.liveness.challenge",
    "PresentationAttackDetector": "faceguard.liveness.detector",
    "PadReport": "faceguard.liveness.evaluation",
    "PadSample": "faceguard.liveness.evaluation",
    "Lockout": "faceguard.liveness.lockout",
    "Lockouts": "faceguard.liveness.lockout",
    "Frame": "faceguard.liveness.types",
    "LivenessAnswer": "faceguard.liveness.types",
    "PadDecision": "faceguard.liveness.types",
    "OPERATING_POINT_NAMES": "faceguard.operating_points",
    "CheckResult": "faceguard.policy.check",
    "DeploymentFacts": "faceguard.policy.check",
    "Deployment": "faceguard.policy.deployment",
    "PurposeSection": "faceguard.policy.deployment",
    "RedactOptions": "faceguard.redact.options",
    "RedactionReport": "faceguard.redact.report",
    "TrackSettings": "faceguard.redact.track",
    "BackupResult": "faceguard.results",
    "ConsentReceipt": "faceguard.results",
    "ConsentRow": "faceguard.results",
    "DecommissionResult": "faceguard.results",
    "DeletionCertificate": "faceguard.results",
    "EnrollResult": "faceguard.results",
    "ExpiringRow": "faceguard.results",
    "Explanation": "faceguard.results",
    "IdentifyResult": "faceguard.results",
    "MasterRotation": "faceguard.results",
    "RecordCounts": "faceguard.results",
    "RestoreResult": "faceguard.results",
    "ReviewRequest": "faceguard.results",
    "Stats": "faceguard.results",
    "SubjectExport": "faceguard.results",
    "SubjectRow": "faceguard.results",
    "SweepResult": "faceguard.results",
    "VerifyResult": "faceguard.results",
    "WithdrawResult": "faceguard.results",
}


__getattr__, __dir__ = lazy.exports(__name__, _EXPORTS, globals())

__all__ = [
    "Calibration",
    "AuditRecord",
    "Consents",
    "Governance",
    "Liveness",
    "Redaction",
    "Shared",
    "Rights",
    "Tools",
    "Admission",
    "OPERATING_POINT_NAMES",
    "ApiKey",
    "ApiKeys",
    "Assessment",
    "AuditError",
    "AuditEvent",
    "AuditReceipt",
    "AuditReport",
    "BackupResult",
    "MasterRotation",
    "Session",
    "Sessions",
    "Throttle",
    "BatchReport",
    "Challenge",
    "CheckResult",
    "ConfigError",
    "ConfigState",
    "ConsentError",
    "ConsentReceipt",
    "ConsentRow",
    "CreatedKey",
    "DecommissionResult",
    "DeletionCertificate",
    "Deployment",
    "DeploymentFacts",
    "EngineMismatch",
    "EnrollResult",
    "EvalReport",
    "IdentifyReport",
    "Split",
    "ExpiringRow",
    "Explanation",
    "Extraction",
    "FaceEngine",
    "FaceError",
    "Faceguard",
    "FaceguardError",
    "FacesFound",
    "FilingPacket",
    "FilingStatus",
    "Frame",
    "Guardian",
    "IdentifyResult",
    "ImageDecodeError",
    "ImageError",
    "ImageTooLarge",
    "ImageTooSmall",
    "IntegrityFinding",
    "IntegrityReport",
    "LivenessAnswer",
    "LivenessError",
    "LivenessState",
    "Lockout",
    "Lockouts",
    "ManifestRow",
    "MasterKeyMissing",
    "NoFaceFound",
    "NotFound",
    "Notice",
    "NoticeError",
    "OperatingPoint",
    "PadDecision",
    "PadReport",
    "PadSample",
    "Pair",
    "PolicyError",
    "PresentationAttackDetector",
    "ProtectionReport",
    "PurposeError",
    "PurposeSection",
    "QualityError",
    "RecordCounts",
    "RedactOptions",
    "RedactionReport",
    "TrackSettings",
    "RestoreResult",
    "ReviewRequest",
    "SharePackage",
    "SubjectExport",
    "Stats",
    "SubjectRow",
    "SweepResult",
    "TooManyFaces",
    "VaultError",
    "VerifyResult",
    "WithdrawResult",
]
