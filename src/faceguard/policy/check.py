"""``faceguard check``: judge a deployment against the packs it names.

``check_deployment(deployment, facts)`` runs, for every rule that applies (``rules_for``),
the check function the pack names, and returns a ``CheckResult``: "pass" or "fail" plus the
findings, each citing its rule ID. A BLOCK finding is a violation and fails the check; WARN
and REPORT findings are warnings.

Each check is a plain function ``(deployment, facts, numbers) -> list[Finding]`` listed in
``CHECKS``; packs name them by function name. A check reports findings under its own rule ID
and kind; ``check_deployment`` re-cites them under the rule of the pack that asked (one
function serves R10 and P2, another R27 and P7) and takes the kind from the pack: a finding
keeps its kind if the pack's rule allows it (``Rule.kinds``), else it gets the rule's kind.

``DeploymentFacts`` carries what the file alone cannot tell (people enrolled, the state of
the impact assessment, the presentation-attack detector, recorded authorisations and legal
bases). Its defaults are the safe ones: no assessment, no detector, no basis, so a check
with default facts fails closed.

Rules that no deployment file can show (consent, notices, audit, rights...) are enforced
where the product acts; their ``enforced_at`` in the pack says where.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from faceguard.errors import PolicyError
from faceguard.policy.deployment import MAX_RETENTION_DAYS, Deployment
from faceguard.policy.packs import Kind, PackNumbers, Rule, pack_numbers, rules_for
from faceguard.policy.places import PLACES
from faceguard.policy.purposes import FORBIDDEN_PURPOSES, PURPOSES

#: The authorisation record that allows real-time identification in public (P8).
LAW_ENFORCEMENT_AUTHORISATION = "law-enforcement-rti"
#: The one purpose a public-place deployment may declare (R12).
PUBLIC_SAFETY = "public-safety"
#: R15 warns from this share of the filing threshold (numerator, denominator): 80 %.
FILING_WARNING_SHARE = (4, 5)
#: R24: more people than this at level 1 is implausible.
LEVEL_1_MAX_PEOPLE = 10_000


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
class DeploymentFacts:
    """What the deployment file cannot tell; the defaults fail closed."""

    #: Distinct people enrolled across all galleries (R15, R24).
    people_enrolled: int = 0
    #: The impact assessment's state (R10, P2); default: none present.
    assessment: AssessmentView = field(default_factory=AssessmentState)
    #: A presentation-attack (liveness) detector is configured (R26).
    pad_available: bool = False
    #: Recorded authorisation records, e.g. ``LAW_ENFORCEMENT_AUTHORISATION`` (P8).
    authorisations: frozenset[str] = frozenset()
    #: A recorded legal basis or separate consent for network transmission (R7).
    transmission_basis: bool = False


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


CheckFn = Callable[[Deployment, DeploymentFacts, PackNumbers], list[Finding]]


def is_public(deployment: Deployment) -> bool:
    """Declared public, or at a place type that is a public place in itself (R12)."""
    dep = deployment.deployment
    return dep.public_place or PLACES[dep.place].public


# ---- the checks ------------------------------------------------------------------------


def check_purposes_declared(
    deployment: Deployment, facts: DeploymentFacts, numbers: PackNumbers
) -> list[Finding]:
    """R1: every purpose is on the closed list and states its necessity."""
    found = []
    for name, section in deployment.purposes.items():
        if name in FORBIDDEN_PURPOSES:
            continue  # refused by check_forbidden_purposes (R27, P7)
        if name not in PURPOSES:
            found.append(Finding("R1", "BLOCK", f"purpose {name!r} (key 'purposes.{name}') "
                                 "is not on the closed list of purposes"))
        if not section.necessity.strip():
            found.append(Finding("R1", "BLOCK", f"purpose {name!r} has no necessity statement "
                                 f"(key 'purposes.{name}.necessity' is blank)"))
    return found


def check_minors_rules(
    deployment: Deployment, facts: DeploymentFacts, numbers: PackNumbers
) -> list[Finding]:
    """R5: without published minors' rules nobody under the minors' age can be enrolled."""
    if deployment.deployment.minors_rules.strip():
        return []
    return [Finding("R5", "WARN", "no published rules for minors (key "
                    "'deployment.minors_rules' is blank): people under "
                    f"{numbers.minors_age} cannot be enrolled")]


def check_alternatives(
    deployment: Deployment, facts: DeploymentFacts, numbers: PackNumbers
) -> list[Finding]:
    """R6: at least one non-face way to get the service."""
    if any(a.strip() for a in deployment.deployment.alternatives):
        return []
    return [Finding("R6", "BLOCK", "no non-face alternative (key 'deployment.alternatives' is "
                    "empty): whoever declines face recognition needs another way in")]


def check_transmission_basis(
    deployment: Deployment, facts: DeploymentFacts, numbers: PackNumbers
) -> list[Finding]:
    """R7: network transmission needs a recorded legal basis or separate consent."""
    if deployment.deployment.transmission != "network" or facts.transmission_basis:
        return []
    return [Finding("R7", "BLOCK", "key 'deployment.transmission' is 'network' but no legal "
                    "basis or separate transmission consent is recorded; face data stays on "
                    "the device otherwise")]


def check_finite_retention(
    deployment: Deployment, facts: DeploymentFacts, numbers: PackNumbers
) -> list[Finding]:
    """R8: every purpose keeps data for a finite period (1 to ``MAX_RETENTION_DAYS`` days)."""
    return [
        Finding("R8", "BLOCK", f"key 'purposes.{name}.retention_days' is "
                f"{section.retention_days}: it must be 1 to {MAX_RETENTION_DAYS} days")
        for name, section in deployment.purposes.items()
        if not 1 <= section.retention_days <= MAX_RETENTION_DAYS
    ]


def check_assessment(
    deployment: Deployment, facts: DeploymentFacts, numbers: PackNumbers
) -> list[Finding]:
    """R10 (and P2): an approved impact assessment that matches the deployment."""
    name = deployment.deployment.assessment.strip()
    state = facts.assessment
    why = f" ({state.detail})" if state.detail else ""
    if not name:
        problem = ("no impact assessment is named (key 'deployment.assessment' is blank): the "
                   "deployment cannot go live")
    elif not state.present:
        problem = f"impact assessment {name!r} (key 'deployment.assessment') is missing{why}"
    elif not state.approved:
        problem = f"impact assessment {name!r} is not approved{why}"
    elif not state.matches_deployment:
        problem = (f"reassessment required: impact assessment {name!r} was approved for "
                   f"different purposes, place or method{why}")
    else:
        return []
    return [Finding("R10", "BLOCK", problem)]


def check_public_place(
    deployment: Deployment, facts: DeploymentFacts, numbers: PackNumbers
) -> list[Finding]:
    """R12: public places serve public safety only, in a described area, with signs."""
    dep = deployment.deployment
    if not is_public(deployment):
        return []
    found = []

    def block(detail: str) -> None:
        found.append(Finding("R12", "BLOCK", detail))

    if not dep.public_place:
        block(f"place {dep.place!r} is a public place but key 'deployment.public_place' is "
              "false: declare it")
    others = sorted(p for p in deployment.purposes if p != PUBLIC_SAFETY)
    if others:
        block(f"a public-place deployment may declare only the {PUBLIC_SAFETY!r} purpose "
              f"(key 'purposes' also declares {', '.join(others)})")
    if PUBLIC_SAFETY not in deployment.purposes:
        block(f"a public-place deployment needs the {PUBLIC_SAFETY!r} purpose "
              f"(key 'purposes.{PUBLIC_SAFETY}')")
    if not dep.collection_area.strip():
        block("key 'deployment.collection_area' is blank: describe the collection area")
    if not dep.signage.strip():
        block("key 'deployment.signage' is blank: give evidence of conspicuous signs")
    return found


def check_private_place(
    deployment: Deployment, facts: DeploymentFacts, numbers: PackNumbers
) -> list[Finding]:
    """R13: no device in a private space; there is no override."""
    place = deployment.deployment.place
    if not PLACES[place].private:
        return []
    return [Finding("R13", "BLOCK", f"key 'deployment.place' is {place!r}, a private space: "
                    "face recognition is refused there, with no override")]


def check_filing_threshold(
    deployment: Deployment, facts: DeploymentFacts, numbers: PackNumbers
) -> list[Finding]:
    """R15: warn near the filing threshold; report when the filing is due."""
    people = facts.people_enrolled
    threshold = numbers.filing_threshold_people
    deadline = numbers.filing_deadline_working_days
    within = f" within {deadline} working days" if deadline else ""
    authority = numbers.filing_authority or "the cyberspace authority"
    found = []
    if threshold is not None:
        bound = f"{numbers.filing_threshold_comparison} {threshold:,}"
        share_num, share_den = FILING_WARNING_SHARE
        if numbers.filing_due(people):
            found.append(Finding("R15", "REPORT", f"{people:,} people enrolled reach the filing "
                                 f"threshold ({bound}): file with {authority}{within} "
                                 "(`faceguard filing` produces the packet)"))
        elif people * share_den >= threshold * share_num:
            found.append(Finding("R15", "WARN", f"{people:,} people enrolled near the filing "
                                 f"threshold ({bound}): prepare the filing"))
    if numbers.filing_on_public_place and is_public(deployment):
        found.append(Finding("R15", "REPORT", "public-place use (key 'deployment.place' / "
                             "'deployment.public_place') makes the filing due whatever the "
                             f"count (draft Measures): file with {authority}{within}"))
    return found


def check_protection_level(
    deployment: Deployment, facts: DeploymentFacts, numbers: PackNumbers
) -> list[Finding]:
    """R24: the declared protection level is plausible for the scale, place and purposes."""
    dep = deployment.deployment
    level = dep.protection_level
    key = f"key 'deployment.protection_level' is {level}"
    reasons = []
    if level == 1:
        if facts.people_enrolled > LEVEL_1_MAX_PEOPLE:
            reasons.append(f"implausible for {facts.people_enrolled:,} people enrolled (more "
                           f"than {LEVEL_1_MAX_PEOPLE:,} harms many citizens' rights: level 2 "
                           "or above)")
        if is_public(deployment):
            reasons.append("implausible for a public place (harm to social order: level 2 or "
                           "above)")
        if "payment-verification" in deployment.purposes:
            reasons.append("implausible for payment verification (financial harm to citizens: "
                           "level 2 or above)")
    if level >= 4 and not is_public(deployment) and PUBLIC_SAFETY not in deployment.purposes:
        reasons.append(f"unusual for a {dep.place!r} deployment (levels 4 and 5 concern serious "
                       "harm to social order or national security); check the rationale")
    return [Finding("R24", "WARN", f"{key}: {reason}") for reason in reasons]


def check_liveness(
    deployment: Deployment, facts: DeploymentFacts, numbers: PackNumbers
) -> list[Finding]:
    """R26: liveness where the pack requires it, and a detector to perform it."""
    liveness = deployment.deployment.liveness
    found = []
    if numbers.liveness_required and liveness != "required":
        found.append(Finding("R26", "BLOCK", f"the pack(s) {', '.join(numbers.packs)} require "
                             f"liveness but key 'deployment.liveness' is {liveness!r}"))
    if (numbers.liveness_required or liveness == "required") and not facts.pad_available:
        found.append(Finding("R26", "BLOCK", "liveness is required but no presentation-attack "
                             "detector is configured"))
    return found


def check_forbidden_purposes(
    deployment: Deployment, facts: DeploymentFacts, numbers: PackNumbers
) -> list[Finding]:
    """R27 (and P7): no purpose that infers attributes or emotions from faces."""
    return [
        Finding(FORBIDDEN_PURPOSES[name], "BLOCK", f"purpose {name!r} (key 'purposes.{name}') "
                "infers attributes or emotions from faces and cannot be declared")
        for name in deployment.purposes
        if name in FORBIDDEN_PURPOSES
    ]


def check_bipa_retention(
    deployment: Deployment, facts: DeploymentFacts, numbers: PackNumbers
) -> list[Finding]:
    """P3: a public retention schedule, and no purpose kept longer than BIPA allows.

    Retention counts from enrollment, so at most ``years * 365`` days keeps every template
    within the limit after the last interaction too.
    """
    years = numbers.max_retention_years_after_last_interaction
    if years is None:
        return []
    limit = years * 365
    found = [
        Finding("P3", "BLOCK", f"key 'purposes.{name}.retention_days' is "
                f"{section.retention_days}: at most {limit} days ({years} years)")
        for name, section in deployment.purposes.items()
        if section.retention_days > limit
    ]
    url = deployment.deployment.retention_policy_url.strip()
    if not url.startswith(("https://", "http://")):
        found.append(Finding("P3", "BLOCK", "key 'deployment.retention_policy_url' must give "
                             "the public URL of the retention schedule"))
    return found


def check_written_release(
    deployment: Deployment, facts: DeploymentFacts, numbers: PackNumbers
) -> list[Finding]:
    """P4: consent is a written release, never a click."""
    if "click" not in deployment.deployment.consent_methods:
        return []
    return [Finding("P4", "BLOCK", "key 'deployment.consent_methods' allows 'click': a written "
                    "release is required (use 'signature' or 'written')")]


def check_local_only(
    deployment: Deployment, facts: DeploymentFacts, numbers: PackNumbers
) -> list[Finding]:
    """P5: no disclosure or export: face data stays local."""
    if deployment.deployment.transmission == "local":
        return []
    return [Finding("P5", "BLOCK", "key 'deployment.transmission' is 'network': sharing and "
                    "export must stay off, set it to 'local'")]


def check_public_identification_authorised(
    deployment: Deployment, facts: DeploymentFacts, numbers: PackNumbers
) -> list[Finding]:
    """P8: real-time identification in public for public safety needs an authorisation."""
    if not is_public(deployment) or PUBLIC_SAFETY not in deployment.purposes:
        return []
    if LAW_ENFORCEMENT_AUTHORISATION in facts.authorisations:
        return []
    return [Finding("P8", "BLOCK", f"purpose {PUBLIC_SAFETY!r} in a public place (key "
                    "'deployment.place') is real-time remote identification: it needs a "
                    f"recorded {LAW_ENFORCEMENT_AUTHORISATION!r} authorisation")]


#: Every check, by the name a pack gives in ``check``.
CHECKS: dict[str, CheckFn] = {
    fn.__name__: fn
    for fn in (
        check_purposes_declared,
        check_minors_rules,
        check_alternatives,
        check_transmission_basis,
        check_finite_retention,
        check_assessment,
        check_public_place,
        check_private_place,
        check_filing_threshold,
        check_protection_level,
        check_liveness,
        check_forbidden_purposes,
        check_bipa_retention,
        check_written_release,
        check_local_only,
        check_public_identification_authorised,
    )
}


def evaluate(
    deployment: Deployment,
    facts: DeploymentFacts,
    rules: Mapping[str, Rule],
    numbers: PackNumbers,
) -> CheckResult:
    """Run the check of every rule in ``rules``; the kind of each finding is the pack's."""
    violations: list[Finding] = []
    warnings: list[Finding] = []
    for rule in rules.values():
        if rule.check is None:
            continue
        for found in CHECKS[rule.check](deployment, facts, numbers):
            kind = found.kind if found.kind in rule.kinds else rule.kind
            finding = Finding(rule.id, kind, found.detail)
            (violations if kind == "BLOCK" else warnings).append(finding)
    return CheckResult("fail" if violations else "pass", violations, warnings)


def check_deployment(deployment: Deployment, facts: DeploymentFacts) -> CheckResult:
    """Evaluate ``deployment`` and ``facts`` against every rule of the packs it names."""
    return evaluate(deployment, facts, rules_for(deployment), pack_numbers(deployment))
