"""faceguard: face recognition in which consent, purpose, retention and audit are enforced.

The public API is ``Faceguard`` (one object per data directory), the parts it holds
(``Consents``, ``Rights``, ``AuditRecord``, ``Liveness``, ``Governance``,
``Redaction``, ``Shared``, ``ApiKeys``, ``Tools``) and the plain types they return; see README.md.
Nothing is loaded at import time.
"""

from faceguard.access.keys import ApiKey, ApiKeys, CreatedKey
from faceguard.access.sessions import Session, Sessions, Throttle
from faceguard.api.audit import AuditRecord
from faceguard.api.batch import BatchReport, ManifestRow
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
from faceguard.engine.pipeline import Extraction
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
