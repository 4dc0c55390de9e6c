"""faceguard: face recognition in which consent, purpose, retention and audit are enforced.

The public API is ``Faceguard`` (one object per data directory) and the plain types it
returns; see README.md. Nothing is loaded at import time.
"""

from .api import Faceguard
from .audit import AuditEvent, AuditReport
from .audit_integrity import IntegrityFinding, IntegrityReport
from .audit_receipts import AuditReceipt
from .calibration import OPERATING_POINT_NAMES, OperatingPoint
from .certificates import DeletionCertificate
from .consent import Guardian, Notice
from .errors import (
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
from .results import (
    ConsentReceipt,
    EnrollResult,
    IdentifyResult,
    SubjectExport,
    SweepResult,
    VerifyResult,
    WithdrawResult,
)

__all__ = [
    "OPERATING_POINT_NAMES",
    "AuditError",
    "AuditEvent",
    "AuditReceipt",
    "AuditReport",
    "ConfigError",
    "ConsentError",
    "ConsentReceipt",
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
