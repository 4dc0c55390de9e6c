"""faceguard: face recognition in which consent, purpose, retention and audit are enforced.

The public API is ``Faceguard`` (one object per data directory) and the plain types it
returns; see README.md. Nothing is loaded at import time.
"""

from faceguard.access.keys import ApiKey, ApiKeys, CreatedKey
from faceguard.api.faceguard import Faceguard
from faceguard.audit.events import AuditEvent, AuditReport
from faceguard.audit.integrity import IntegrityFinding, IntegrityReport
from faceguard.audit.receipts import AuditReceipt
from faceguard.consent.records import Guardian, Notice
from faceguard.engine.calibration import OperatingPoint
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
from faceguard.operating_points import OPERATING_POINT_NAMES
from faceguard.results import (
    ConsentReceipt,
    ConsentRow,
    DeletionCertificate,
    EnrollResult,
    IdentifyResult,
    SubjectExport,
    SweepResult,
    VerifyResult,
    WithdrawResult,
)

__all__ = [
    "OPERATING_POINT_NAMES",
    "ApiKey",
    "ApiKeys",
    "AuditError",
    "AuditEvent",
    "AuditReceipt",
    "AuditReport",
    "ConfigError",
    "ConsentError",
    "ConsentReceipt",
    "ConsentRow",
    "CreatedKey",
    "DeletionCertificate",
    "EngineMismatch",
    "EnrollResult",
    "FaceError",
    "Faceguard",
    "FaceguardError",
    "Guardian",
    "IdentifyResult",
    "ImageDecodeError",
    "ImageError",
    "ImageTooLarge",
    "ImageTooSmall",
    "IntegrityFinding",
    "IntegrityReport",
    "LivenessError",
    "MasterKeyMissing",
    "NoFaceFound",
    "NotFound",
    "Notice",
    "NoticeError",
    "OperatingPoint",
    "PolicyError",
    "PurposeError",
    "QualityError",
    "SubjectExport",
    "SweepResult",
    "TooManyFaces",
    "VaultError",
    "VerifyResult",
    "WithdrawResult",
]
