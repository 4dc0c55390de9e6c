"""Request (``*Create``) and response (``*Public``) bodies: a stored row is never a response.

Lengths are bounded here so that no input can reach the processing record oversized (its
strings are capped at 1024 characters). Responses carry decisions, never scores (R17).
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, create_model

from faceguard.audit.events import AuditEvent
from faceguard.audit.integrity import IntegrityFinding, IntegrityReport
from faceguard.results import (
    MAX_ID,
    ConsentReceipt,
    DeletionCertificate,
    EnrollResult,
    Explanation,
    IdentifyResult,
    ReviewRequest,
    SubjectExport,
    VerifyResult,
    WithdrawResult,
)

ExternalId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                              max_length=128)]
PurposeName = Annotated[str, StringConstraints(min_length=1, max_length=64,
                                               pattern=r"^[a-z][a-z0-9-]*$")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]

M = TypeVar("M", bound=BaseModel)



def derived(result: type[Any], *, exclude: tuple[str, ...] = (),
            **overrides: Any) -> type[BaseModel]:
    """A response model with the fields of the library's result type ``result`` (same names,
    types and defaults) less ``exclude`` (a score, an internal ID): the wire format follows
    the library's results instead of a copy kept by hand. ``overrides`` replace a field's type
    (a nested result by its own response model)."""
    hints = typing.get_type_hints(result)
    fields: dict[str, Any] = {}
    for item in dataclasses.fields(result):
        if item.name in exclude:
            continue
        if item.default is not dataclasses.MISSING:
            default: Any = item.default
        elif item.default_factory is not dataclasses.MISSING:
            default = item.default_factory()
        else:
            default = ...
        fields[item.name] = (overrides.get(item.name, hints[item.name]), default)
    model: type[BaseModel] = create_model(f"{result.__name__}Fields", **fields)
    return model


def public(model: type[M], obj: Any) -> M:
    """A response model from a library dataclass."""
    is_instance = dataclasses.is_dataclass(obj) and not isinstance(obj, type)
    data = dataclasses.asdict(obj) if is_instance else obj
    return model.model_validate(data)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---- requests ---------------------------------------------------------------------------


NoticeField = Literal["controller", "contact", "purpose", "method", "retention", "necessity",
                      "impact", "rights"]


class NoticeCreate(_In):
    """Overrides of the prefilled notice text (R2); empty: all fields from the deployment.
    The notice is published in English (``fields``) and Chinese (``translations["zh-CN"]``)."""

    fields: dict[NoticeField, Text] = Field(default_factory=dict)
    translations: dict[Literal["zh-CN"], dict[NoticeField, Text]] = Field(
        default_factory=dict)


class GuardianIn(_In):
    name: Short
    relationship: Short
    evidence: Short


class ConsentCreate(_In):
    """One separate consent of one person for one purpose (R3; R5 under 14)."""

    external_id: ExternalId
    name: Short
    purpose: PurposeName
    method: Literal["click", "signature", "written"]
    evidence: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                               max_length=256)]
    under_14: bool = False
    guardian: GuardianIn | None = None
    #: The language of the notice the person read (default: the deployment's language).
    language: Literal["zh-CN", "en"] | None = None


class WithdrawalCreate(_In):
    external_id: ExternalId
    purpose: PurposeName


class ErasureCreate(_In):
    external_id: ExternalId
    reason: Short = "request"


class ExportCreate(_In):
    external_id: ExternalId


class ReviewCreate(_In):
    decision_seq: int = Field(ge=1, le=MAX_ID)
    reason: Text


class ReviewAnswerCreate(_In):
    answer: Text


class KeyCreate(_In):
    role: Literal["admin", "operator", "terminal", "auditor"]
    holder: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                             max_length=128)]
    purposes: list[PurposeName] = Field(default_factory=list, max_length=20)
    totp: bool = Field(default=False, description="give an admin key a TOTP second factor "
                       "(always at protection level 3)")


# ---- liveness answers (R26) ---------------------------------------------------------------

ChallengeId = Annotated[str, StringConstraints(min_length=1, max_length=64,
                                               pattern=r"^[A-Za-z0-9_-]+$")]


class ChallengeCreate(_In):
    """Optional: bind the challenge to one person; it can then only be answered for them.
    The terminal is the key that asks (never a field of the body)."""

    external_id: ExternalId | None = None


class FrameIn(_In):
    """One captured frame: the JPEG as captured, unmirrored, and its capture time."""

    t_ms: int = Field(ge=0, le=2**53, description="capture time in milliseconds on any "
                      "monotonic clock (e.g. performance.now()); only differences count")
    jpeg: str = Field(min_length=1, description="the JPEG bytes, base64 (standard alphabet, "
                      "padded, no data: prefix)")


class LivenessAnswerIn(_In):
    """The frames answering a challenge, in capture order."""

    challenge_id: ChallengeId
    frames: list[FrameIn] = Field(min_length=1, max_length=600)


class LiveFaceCreate(_In):
    """Enroll or verify from a live answer: the face recognised is its most frontal frame.
    ``external_id`` may instead come in the X-External-Id header."""

    external_id: ExternalId | None = None
    liveness: LivenessAnswerIn


class LiveIdentifyCreate(_In):
    """Identify from a live answer: the face recognised is its most frontal frame."""

    liveness: LivenessAnswerIn


class KioskChallengeCreate(_In):
    """The person at the kiosk, whom the challenge is bound to."""

    external_id: ExternalId


class KioskEnrollCreate(_In):
    """The kiosk's live enrollment: the person, the purposes they agreed to, the answer."""

    external_id: ExternalId
    purposes: list[PurposeName] = Field(min_length=1, max_length=20)
    liveness: LivenessAnswerIn


# ---- responses --------------------------------------------------------------------------


class NoticePublic(BaseModel):
    purpose: str
    version: int
    sha256: str
    created_at: str
    fields: dict[str, str]
    #: The notice in each language it was published in (``en``, ``zh-CN``).
    texts: dict[str, dict[str, str]]


class ConsentReceiptPublic(derived(ConsentReceipt)):  # type: ignore[misc]
    """A consent recorded (R3)."""


class EnrollmentPublic(derived(EnrollResult)):  # type: ignore[misc]
    """Templates stored for a purpose."""


class VerificationPublic(derived(VerifyResult, exclude=("score",))):  # type: ignore[misc]
    """A 1:1 decision; never the score (R17)."""


_IdentifyFields = derived(IdentifyResult, exclude=("score", "subject_id"))


class IdentificationPublic(_IdentifyFields):  # type: ignore[misc,valid-type]
    """A 1:N decision: the matched person's external ID, ``unknown``, or ``needs-review``
    with candidates (the nearest people, for a human to decide) when the gallery is too large
    for an automatic match (R17); never the score."""


class CertificatePublic(derived(DeletionCertificate)):  # type: ignore[misc]
    """A signed deletion certificate (R18); verify it with ``/-/public-key``."""


_WithdrawFields = derived(WithdrawResult, certificate=CertificatePublic | None)


class WithdrawalPublic(_WithdrawFields):  # type: ignore[misc,valid-type]
    """A consent withdrawn (R3, R18), with the certificate when the person was erased."""


class ExportPublic(derived(SubjectExport)):  # type: ignore[misc]
    """Everything held about a person (R16), without template bytes."""


class ExplanationPublic(derived(Explanation)):  # type: ignore[misc]
    """A recorded decision explained (R16, R17)."""


class ReviewPublic(derived(ReviewRequest)):  # type: ignore[misc]
    """A human review of an automated decision (R17)."""


class IntegrityFindingPublic(derived(IntegrityFinding)):  # type: ignore[misc]
    """One sign of tampering found by the integrity check."""


_ReportFields = derived(IntegrityReport, findings=list[IntegrityFindingPublic])


class AuditReportPublic(_ReportFields):  # type: ignore[misc,valid-type]
    """The processing record verified against its receipts, certificates and consents."""


class AuditEventPublic(derived(AuditEvent)):  # type: ignore[misc]
    """One event of the processing record (R11)."""


class FindingPublic(BaseModel):
    rule: str
    kind: str
    detail: str


class CheckPublic(BaseModel):
    """``faceguard check --json``."""

    status: Literal["pass", "fail"]
    violations: list[FindingPublic]
    warnings: list[FindingPublic]


class KeyPublic(BaseModel):
    id: str
    holder: str
    role: str
    purposes: list[str]
    created_at: str
    created_by: str
    last_used_at: str | None
    revoked_at: str | None
    has_totp: bool


class KeyCreatedPublic(BaseModel):
    """A new key. ``secret`` (and ``totp_secret``) are shown this once and never again."""

    key: KeyPublic
    secret: str
    totp_secret: str | None
    totp_uri: str | None


class MePublic(BaseModel):
    key: KeyPublic
    via: Literal["key", "session"]
    second_factor: bool


class HealthPublic(BaseModel):
    """``config``: whether the deployment in force is ``faceguard.toml`` as it is on disk
    (``current``), or the file was changed and does not validate (``invalid``) or needs a
    restart to apply (``restart-needed``); ``config_problem`` says why; the deployment
    read at ``config_loaded_at`` stays in force meanwhile."""

    status: Literal["ok"]
    version: str
    deployment_live: bool
    config: Literal["current", "invalid", "restart-needed"] = "current"
    config_problem: str | None = None
    config_loaded_at: str | None = None


class PublicKeyPublic(BaseModel):
    """The Ed25519 key (raw, hex) that verifies certificates and audit checkpoints."""

    public_key: str


class ChallengeColour(BaseModel):
    """One screen colour of a challenge: its name and its CSS colour (``#rrggbb``)."""

    name: Literal["red", "green", "blue", "yellow", "cyan", "magenta"]
    rgb: str


class ChallengePublic(BaseModel):
    """A liveness challenge (R26): film the person at 6 to 15 frames per second; from
    ``colour_start_ms`` after the first frame, fill the screen with each of ``colours`` for
    ``colour_ms`` while the person faces it; then show the instructions one by one while they
    make the movements in order, and send the frames before ``expires_at``, capturing for at
    most ``max_capture_ms``."""

    challenge_id: str
    movements: list[Literal["turn-left", "turn-right", "look-up", "look-down"]]
    instructions: list[str]
    issued_at: str
    expires_at: str
    expires_in_ms: int
    max_capture_ms: int
    min_frames: int
    max_frames: int
    frame_format: Literal["image/jpeg"]
    colours: list[ChallengeColour]
    colour_ms: int
    colour_start_ms: int
    rule: Literal["R26"]


class KioskEnrolledOne(BaseModel):
    purpose: str
    expires_at: str


class KioskEnrolledPublic(BaseModel):
    """The kiosk's outcome, in words for the person and per purpose."""

    message: str
    enrollments: list[KioskEnrolledOne]
