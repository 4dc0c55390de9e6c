"""The deployment file ``faceguard.toml`` (keys as in DESIGN.md), validated with pydantic.

Unknown keys, missing keys and wrong types are errors naming the key. The legal judgement
of a deployment (packs, place types, go-live) belongs to ``faceguard check``; this module only
reads the file and checks its shape and the purposes.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .calibration import OPERATING_POINT_NAMES
from .errors import ConfigError, FaceguardError
from .purposes import check_purpose_name

#: Longest retention accepted for any purpose (R8: no unlimited terms).
MAX_RETENTION_DAYS = 3650


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class DeploymentSection(_Strict):
    name: str = Field(min_length=1)
    controller: str = Field(min_length=1)
    contact: str = Field(min_length=1)
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


class PurposeSection(_Strict):
    necessity: str = Field(min_length=1)
    retention_days: int = Field(ge=1, le=MAX_RETENTION_DAYS)
    operating_point: str = "access-control"

    @field_validator("operating_point")
    @classmethod
    def _known_point(cls, value: str) -> str:
        if value not in OPERATING_POINT_NAMES:
            raise ValueError(f"must be one of {', '.join(OPERATING_POINT_NAMES)}")
        return value


class Deployment(_Strict):
    """One deployment: who, where, which packs, and the declared purposes."""

    deployment: DeploymentSection
    purposes: dict[str, PurposeSection] = Field(min_length=1)

    @field_validator("purposes")
    @classmethod
    def _closed_list(cls, value: dict[str, PurposeSection]) -> dict[str, PurposeSection]:
        for name in value:
            try:
                check_purpose_name(name)
            except FaceguardError as exc:
                raise ValueError(str(exc)) from exc
        return value


def parse_deployment(text: str, *, source: str = "faceguard.toml") -> Deployment:
    """Parse and validate deployment TOML; ``ConfigError`` names the offending key."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source} is not valid TOML: {exc}") from exc
    try:
        return Deployment.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"])
            kind = err["type"]
            if kind == "extra_forbidden":
                problems.append(f"unknown key '{key}'")
            elif kind == "missing":
                problems.append(f"missing key '{key}'")
            else:
                problems.append(f"key '{key}': {err['msg']}")
        raise ConfigError(f"{source}: " + "; ".join(problems)) from exc


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
operating_point = "access-control"   # named operating point (false-match rate), see README
"""
