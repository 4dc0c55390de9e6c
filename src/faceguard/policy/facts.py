"""What ``faceguard check`` reads besides the deployment file, and what it answers.

- ``DeploymentFacts``: what the running system knows (people enrolled, the impact
  assessment's state, the presentation-attack detector, the day) and the records of a
  transmission basis (R7) and of authorisations (P8); the defaults fail closed.
- ``Finding`` and ``CheckResult``: the verdict, each finding citing its rule ID.

Imports only the deployment model (``faceguard.policy.deployment``) and the pack model.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any, Literal, Protocol

from faceguard.errors import PolicyError
from faceguard.policy.deployment import Authorisation, Deployment, TransmissionBasis
from faceguard.policy.packs import Kind


@dataclass(frozen=True)
class Finding:
    """One violated rule or warning: rule ID, kind and a plain-words detail naming the key."""

    rule: str
    kind: Kind
    detail: str

    def to_json(self) -> dict[str, str]:
        return {"rule": self.rule, "kind": self.kind, "detail": self.detail}


class AssessmentView(Protocol):
    """What the check reads of an assessment's state; ``AssessmentState`` below and the
    assessment module's own state object both fit."""

    @property
    def present(self) -> bool: ...
    @property
    def approved(self) -> bool: ...
    @property
    def matches_deployment(self) -> bool: ...
    @property
    def detail(self) -> str: ...


@dataclass(frozen=True)
class AssessmentState:
    """The impact assessment as the assessment module found it (R10, P2)."""

    present: bool = False
    approved: bool = False
    matches_deployment: bool = False
    detail: str = ""


@dataclass(frozen=True)
class IdentificationOutlook:
    """What 1:N search of one purpose is predicted to do at today's gallery (R17), from the
    engine's calibration and the purpose's declared ``fpir``."""

    purpose: str
    #: People enrolled for the purpose, and the pictures they hold on average.
    people: int
    mean_pictures: float
    #: The engine has 1:N score tables at all (``faceguard calibrate``).
    calibrated: bool
    #: The declared FPIR can be vouched for at this size (else nothing is automatic).
    automatic: bool
    expected_fpir: float
    expected_fnir: float
    #: The FNIR if every person held 3 fused pictures (a remedy to name), when known.
    fnir_with_three_pictures: float | None = None


@dataclass(frozen=True)
class DeploymentFacts:
    """What the deployment file cannot tell; the defaults fail closed."""

    #: Distinct people enrolled across all galleries (R15, R24).
    people_enrolled: int = 0
    #: The impact assessment's state (R10, P2); default: none present.
    assessment: AssessmentView = field(default_factory=AssessmentState)
    #: A presentation-attack (liveness) detector is configured (R26).
    pad_available: bool = False
    #: Recorded authorisations, e.g. of kind ``LAW_ENFORCEMENT_AUTHORISATION`` (P8).
    authorisations: tuple[Authorisation, ...] = ()
    #: The recorded legal basis or separate consent for network transmission (R7).
    transmission_basis: TransmissionBasis | None = None
    #: 1:N predictions per purpose (R17); empty: not known (the check says nothing).
    identification: tuple[IdentificationOutlook, ...] = ()
    #: The day validity is judged on (an authorisation expires after its ``valid_until``);
    #: ``None``: today (UTC).
    today: date | None = None

    def with_records_of(self, deployment: Deployment) -> DeploymentFacts:
        """These facts plus the records the deployment file holds: its transmission basis
        (unless one is already known) and its authorisations (each once)."""
        return replace(
            self,
            transmission_basis=self.transmission_basis or deployment.transmission_basis,
            authorisations=tuple(dict.fromkeys((*self.authorisations,
                                                *deployment.authorisations))),
        )

    @property
    def day(self) -> date:
        """``today``, or the current UTC date."""
        return self.today or datetime.now(UTC).date()


@dataclass(frozen=True)
class CheckResult:
    """The verdict: "fail" iff there is a BLOCK violation; WARN and REPORT are warnings."""

    status: Literal["pass", "fail"]
    violations: list[Finding]
    warnings: list[Finding]

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    def to_json(self) -> dict[str, Any]:
        """The ``faceguard check --json`` document of DESIGN.md (a dict for ``json.dumps``)."""
        return {
            "status": self.status,
            "violations": [f.to_json() for f in self.violations],
            "warnings": [f.to_json() for f in self.warnings],
        }

    def raise_if_failed(self) -> None:
        """Raise ``PolicyError`` citing the first violated rule and listing them all."""
        if self.violations:
            listed = "; ".join(f"{v.rule}: {v.detail}" for v in self.violations)
            raise PolicyError(
                f"the deployment fails its check ({listed})", rule=self.violations[0].rule
            )
