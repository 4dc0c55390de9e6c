"""The deployment file ``faceguard.toml`` (keys as in DESIGN.md), validated with pydantic.

Unknown keys, missing keys and wrong types are errors naming the key, and so are an unknown
pack, an unknown place type, an unknown purpose and a value outside its closed list. That is
all this module judges: whether the file can be read as a deployment (``faceguard check``
exit 2). Whether the deployment is lawful (a private place, a forbidden purpose, a blank
contact, a retention the law forbids, no lawful purpose left, a missing legal basis...)
belongs to ``faceguard check`` (``faceguard.policy.check``), which refuses it with its rule
ID (exit 1). So a value that reads fine but fails the law is never a shape error here.

Two kinds of record may be written in the file and are cited by the check and the impact
assessment: ``[transmission_basis]``, the legal basis or separate consent for sending face
data over the network (R7), and ``[[authorisations]]``, e.g. the authorisation of real-time
remote identification in public for law enforcement (P8).

``faceguard.policy`` imports this module; the two validators that need the policy lists import
them when they run.
"""

from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from faceguard.errors import ConfigError
from faceguard.operating_points import OPERATING_POINT_NAMES
from faceguard.policy.purposes import FORBIDDEN_PURPOSES, PURPOSES

#: How a consent may be given; the same names as ``consent.CONSENT_METHODS``.
ConsentMethod = Literal["click", "signature", "written"]


def _every_consent_method() -> list[ConsentMethod]:
    return ["click", "signature", "written"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class DeploymentSection(_Strict):
    name: str = Field(min_length=1)
    #: Who processes the faces and how to reach them (blank: R2, judged by the check).
    controller: str
    contact: str
    packs: list[str] = Field(min_length=1)
    place: str = Field(min_length=1)
    public_place: bool
    collection_area: str = ""
    signage: str = ""
    protection_level: int = Field(ge=1, le=5)
    alternatives: list[str]
    transmission: Literal["local", "network"]
    assessment: str = ""
    minors_rules: str = ""
    liveness: Literal["required", "off"]
    #: Public URL of the retention schedule (required by the ``bipa`` pack: P3).
    retention_policy_url: str = ""
    #: Consent methods this deployment accepts (the ``bipa`` pack excludes "click": P4).
    consent_methods: list[ConsentMethod] = Field(
        default_factory=_every_consent_method, min_length=1
    )
    #: A trial made by ``faceguard serve --dev``: labelled as such everywhere, never lawful
    #: for real people (``policy.trial``).
    trial: bool = False
    #: The language people are addressed in when their browser names none we have
    #: (default: ``zh-CN`` under the ``cn`` packs, else ``en``).
    language: Literal["zh-CN", "en"] | None = None

    @field_validator("packs")
    @classmethod
    def _known_packs(cls, value: list[str]) -> list[str]:
        from faceguard.policy.packs import known_pack_ids

        known = known_pack_ids()
        for pack in value:
            if pack not in known:
                raise ValueError(f"unknown pack {pack!r}; known packs: {', '.join(known)}")
        if len(set(value)) != len(value):
            raise ValueError("each pack may be named once")
        return value

    @field_validator("place")
    @classmethod
    def _known_place(cls, value: str) -> str:
        from faceguard.policy.places import PLACES

        if value not in PLACES:
            raise ValueError(
                f"unknown place type {value!r}; known place types: {', '.join(sorted(PLACES))}"
            )
        return value

    @field_validator("consent_methods")
    @classmethod
    def _no_repeats(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("a consent method is named twice")
        return value


class PurposeSection(_Strict):
    #: Why face recognition is necessary (blank: R1, judged by the check).
    necessity: str
    #: Days templates are kept (outside what the packs allow: R8 / P3, judged by the check).
    retention_days: int
    operating_point: str = "access-control"
    #: 1:N (R17): the false-positive identification rate accepted for automatic answers,
    #: the share of strangers a search may name as someone; the threshold follows from the
    #: engine's calibration and the people enrolled for the purpose (``index.decision``).
    fpir: float = Field(default=0.01, gt=0, lt=1)
    #: 1:N: the wider rate bounding the doubtful band (at least ``fpir``).
    doubt_fpir: float = Field(default=0.05, gt=0, lt=1)
    #: 1:N: what a doubtful answer becomes: "needs-review" (a person decides, shown the
    #: candidates) or "unknown" (the person uses an alternative).
    on_doubt: Literal["needs-review", "unknown"] = "needs-review"
    #: 1:N search: "exact" float32 scan, or "binary" (128-bit first stage + exact re-rank).
    search: Literal["exact", "binary"] = "exact"

    @field_validator("operating_point")
    @classmethod
    def _known_point(cls, value: str) -> str:
        if value not in OPERATING_POINT_NAMES:
            raise ValueError(f"must be one of {', '.join(OPERATING_POINT_NAMES)}")
        return value

    @model_validator(mode="after")
    def _band_contains_fpir(self) -> PurposeSection:
        if self.doubt_fpir < self.fpir:
            raise ValueError(f"doubt_fpir ({self.doubt_fpir:g}) must be at least fpir "
                             f"({self.fpir:g})")
        return self


#: What a transmission basis rests on (R7; FRM 8): a separate consent of each person to the
#: transmission, or a legal basis (a provision of law or an order).
TransmissionBasisKind = Literal["separate-consent", "legal-basis"]

#: Authorisations a deployment may record. ``law-enforcement-realtime-identification``: the
#: prior authorisation of real-time remote identification in public spaces for law
#: enforcement by a judicial or independent administrative authority (AIA 5(1)(h), 5(3): P8).
AuthorisationKind = Literal["law-enforcement-realtime-identification"]


class TransmissionBasis(_Strict):
    """``[transmission_basis]``: why face data may leave the device (R7). Blank text is
    judged by the check (R7), not refused here."""

    kind: TransmissionBasisKind
    #: The provision of law, order or consent form (with its version) relied on.
    reference: str
    #: Where the evidence is kept (the signed consents, the order, the contract).
    evidence: str


class Authorisation(_Strict):
    """One ``[[authorisations]]`` record (P8). An expired or blank one is judged by the
    check (P8), not refused here."""

    kind: AuthorisationKind
    #: Who granted it (the judicial or independent administrative authority).
    authority: str
    #: Its reference (case or decision number).
    reference: str
    #: The last day it is valid (a TOML date, e.g. ``2026-06-30``).
    valid_until: date


class PadModelSection(_Strict):
    """``[pad_model]``: a trained single-image presentation-attack model the operator
    supplies (faceguard ships and downloads none), run by ``liveness.OnnxPadScorer`` beside
    the challenge's own checks. The keys state the model's input and output contract; nothing
    is assumed about the file."""

    #: The ONNX file (relative paths start at the folder of faceguard.toml).
    path: str = Field(min_length=1)
    #: Channel order the model was trained on.
    channels: Literal["rgb", "bgr"] = "rgb"
    #: Input values: ``unit`` (pixel / 255, then ``mean``/``std``) or ``raw`` (0-255).
    pixels: Literal["unit", "raw"] = "unit"
    mean: list[float] = Field(default_factory=lambda: [0.0] * 3, min_length=3, max_length=3)
    std: list[float] = Field(default_factory=lambda: [1.0] * 3, min_length=3, max_length=3)
    #: The crop: the face box grown this much around its centre.
    crop_scale: float = Field(default=1.5, gt=0, le=10)
    #: ``clip`` at the picture's edge, or ``shift`` the crop inside the picture.
    crop: Literal["clip", "shift"] = "clip"
    #: What the first output holds: ``logits`` or ``probability`` (K >= 2 classes), or one
    #: attack ``probability`` or ``logit``.
    output: Literal["logits", "probability", "logit"] = "logits"
    #: The bona fide class among K >= 2.
    live_class: int = Field(default=0, ge=0)
    #: Attack score (1 - P(live)) at or above which a presentation is an attack.
    threshold: float = Field(default=0.5, gt=0, le=1)


class StorageSection(_Strict):
    """Where the records live: ``url`` names a PostgreSQL database shared by every worker
    (``postgresql://user@host/db``); without it, ``faceguard.db`` in the data directory.
    ``FACEGUARD_DATABASE_URL`` in the environment wins over it."""

    url: str | None = None

    @field_validator("url")
    @classmethod
    def _postgresql(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("postgresql://", "postgres://",
                                                       "postgresql+psycopg://")):
            raise ValueError("storage.url must be a postgresql:// URL (leave it out for the "
                             "embedded SQLite file)")
        return value


class Deployment(_Strict):
    """One deployment: who, where, which packs, the declared purposes, and the records of a
    transmission basis (R7) and of authorisations (P8)."""

    deployment: DeploymentSection
    #: The declared purposes (none, or none lawful: R1, judged by the check).
    purposes: dict[str, PurposeSection]
    transmission_basis: TransmissionBasis | None = None
    authorisations: list[Authorisation] = Field(default_factory=list)
    storage: StorageSection | None = None
    pad_model: PadModelSection | None = None

    @field_validator("purposes")
    @classmethod
    def _closed_list(cls, value: dict[str, PurposeSection]) -> dict[str, PurposeSection]:
        # Forbidden purposes pass here so that ``faceguard check`` refuses them with their
        # rule (R27, P7); every operation refuses them too (``purposes.check_purpose_name``).
        for name in value:
            if name not in PURPOSES and name not in FORBIDDEN_PURPOSES:
                raise ValueError(
                    f"unknown purpose {name!r}; allowed purposes: {', '.join(sorted(PURPOSES))}"
                )
        return value


def describe_validation_error(exc: ValidationError) -> str:
    """Each problem of ``exc`` in plain words naming its dotted key, joined by "; "."""
    problems = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"])
        kind = err["type"]
        if kind == "extra_forbidden":
            problems.append(f"unknown key '{key}'")
        elif kind == "missing":
            problems.append(f"missing key '{key}'")
        elif kind == "value_error" and "error" in err.get("ctx", {}):
            problems.append(f"key '{key}': {err['ctx']['error']}")
        else:
            problems.append(f"key '{key}': {err['msg']}")
    return "; ".join(problems)


def read_toml(text: str, source: str) -> dict[str, object]:
    """The TOML document ``text``; ``ConfigError`` naming ``source`` (a file, a pack) when it
    is not valid TOML, or nests values too deep for the parser."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source} is not valid TOML: {exc}") from exc
    except RecursionError as exc:  # tomllib recurses once per level of nested arrays/tables
        raise ConfigError(f"{source} is not valid TOML: values nested too deep") from exc


def parse_deployment(text: str, *, source: str = "faceguard.toml") -> Deployment:
    """Parse and validate deployment TOML; ``ConfigError`` names the offending key."""
    data = read_toml(text, source)
    try:
        return Deployment.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {describe_validation_error(exc)}") from exc


def load_deployment(path: Path) -> Deployment:
    """Read and validate ``path``."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"deployment file {path} not found") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"deployment file {path} is not UTF-8 text") from exc
    return parse_deployment(text, source=str(path))


STARTER_TOML = """\
# faceguard deployment file: every key is documented in README.md ("Deployment file").
[deployment]
name = "Sunshine Garden north gate"
controller = "Sunshine Property Management Co."   # who processes the faces
contact = "privacy@sunshine.example"
packs = ["cn"]                    # cn | cn-draft-2023 | gdpr | bipa | eu-ai-act
place = "residential-entrance"    # closed list of place types (private spaces are refused)
public_place = false
collection_area = ""              # required when public_place
signage = ""                      # evidence of signs, required when public_place
protection_level = 2              # 1..5 (MLPS)
alternatives = ["resident-card", "guard-desk"]   # non-face ways in
transmission = "local"            # local | network (network needs a basis: R7)
assessment = "assessment.toml"    # the impact assessment; absent -> cannot go live (R10)
minors_rules = ""                 # published rules for under-14s; needed to enroll minors (R5)
liveness = "required"             # required | off (a pack may force required)

[purposes.access-control]
necessity = "Residents open the gate hands-free; cards remain available."
retention_days = 365
operating_point = "access-control"   # 1:1: named operating point (false-match rate), see README
fpir = 0.01                          # 1:N: at most 1% of strangers named automatically (R17)
doubt_fpir = 0.05                    # 1:N: the doubtful band, up to 5% of strangers
on_doubt = "needs-review"            # 1:N: a doubtful answer goes to a person (or "unknown")

# With transmission = "network", record its basis (R7):
# [transmission_basis]
# kind = "separate-consent"       # separate-consent | legal-basis
# reference = "Transmission consent form v2"
# evidence = "Signed forms kept by the property office, binder T-2025"
"""


def read_pad_model(path: Path) -> PadModelSection:
    """The ``[pad_model]`` table of the TOML file ``path`` (a deployment file will do; only
    this table is read). ``ConfigError`` naming the file and key when it is missing or bad."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    table = read_toml(text, str(path)).get("pad_model")
    if not isinstance(table, dict):
        raise ConfigError(f"{path} has no [pad_model] table naming a PAD model")
    try:
        return PadModelSection.model_validate(table)
    except ValidationError as exc:
        raise ConfigError(f"{path}: [pad_model]: {describe_validation_error(exc)}") from exc
