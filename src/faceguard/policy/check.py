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

``DeploymentFacts`` (``faceguard.policy.facts``) carries what the file alone cannot tell
(people enrolled, the state of the impact assessment, the presentation-attack detector, the
day of the check) and the records of a transmission basis (R7) and of authorisations (P8),
which the deployment file may hold (``DeploymentFacts.with_records_of``; ``check_deployment``
adds them). Its defaults are the safe ones: no assessment, no detector, no basis, no
authorisation, so a check with default facts fails closed.

A value the file can hold but the law does not allow (a blank contact or necessity, a
retention the packs forbid, no lawful purpose) is a finding of its rule here, never a shape
error of ``faceguard.policy.deployment``. Every number a check uses comes from the packs
(``PackNumbers``).

Rules that no deployment file can show (consent, notices, audit, rights...) are enforced
where the product acts; their ``enforced_at`` in the pack says where.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from faceguard.policy.deployment import AuthorisationKind, Deployment
from faceguard.policy.facts import (
    AssessmentState,
    AssessmentView,
    CheckResult,
    DeploymentFacts,
    Finding,
    IdentificationOutlook,
)
from faceguard.policy.identification import check_identification_outlook
from faceguard.policy.packs import PackNumbers, Rule, pack_numbers, rules_for
from faceguard.policy.places import PLACES
from faceguard.policy.purposes import FORBIDDEN_PURPOSES, PURPOSES
from faceguard.policy.trial import trial_findings

__all__ = [
    "CHECKS", "LAW_ENFORCEMENT_AUTHORISATION", "AssessmentState", "AssessmentView",
    "CheckFn", "CheckResult", "DeploymentFacts", "Finding", "IdentificationOutlook",
    "check_deployment", "evaluate", "is_public",
]

#: The authorisation record that allows real-time identification in public (P8).
LAW_ENFORCEMENT_AUTHORISATION: AuthorisationKind = "law-enforcement-realtime-identification"
#: Consent methods that are a written release (P4); "click" is not.
WRITTEN_CONSENT_METHODS = ("signature", "written")
#: The one purpose a public-place deployment may declare (R12).
PUBLIC_SAFETY = "public-safety"


CheckFn = Callable[[Deployment, DeploymentFacts, PackNumbers], list[Finding]]


def is_public(deployment: Deployment) -> bool:
    """Declared public, or at a place type that is a public place in itself (R12)."""
    dep = deployment.deployment
    return dep.public_place or PLACES[dep.place].public


# ---- the checks ------------------------------------------------------------------------


def _blank(value: str) -> bool:
    return not value.strip()


def _blank_keys(rule: str, table: str, values: Mapping[str, str], needs: str) -> list[Finding]:
    """A BLOCK finding of ``rule`` for each blank value, naming its key ``table.key``."""
    return [Finding(rule, "BLOCK", f"key '{table}.{key}' is blank: {needs}")
            for key, value in values.items() if _blank(value)]


def check_purposes_declared(
    deployment: Deployment, facts: DeploymentFacts, numbers: PackNumbers
) -> list[Finding]:
    """R1: at least one lawful purpose; every purpose is on the closed list and states its
    necessity."""
    found = []
    if not any(name in PURPOSES for name in deployment.purposes):
        declared = ", ".join(deployment.purposes) or "none"
        found.append(Finding("R1", "BLOCK", "key 'purposes' declares no lawful purpose "
                             f"(declared: {declared}): face recognition needs a specific "
                             "purpose from the closed list"))
    for name, section in deployment.purposes.items():
        if name in FORBIDDEN_PURPOSES:
            continue  # refused by check_forbidden_purposes (R27, P7)
        if name not in PURPOSES:
            found.append(Finding("R1", "BLOCK", f"purpose {name!r} (key 'purposes.{name}') "
                                 "is not on the closed list of purposes"))
        if _blank(section.necessity):
            found.append(Finding("R1", "BLOCK", f"purpose {name!r} has no necessity statement "
                                 f"(key 'purposes.{name}.necessity' is blank)"))
    return found


def check_processor_named(
    deployment: Deployment, facts: DeploymentFacts, numbers: PackNumbers
) -> list[Finding]:
    """R2: the notice names the processor and how to reach it, so neither may be blank."""
    dep = deployment.deployment
    return _blank_keys("R2", "deployment", {"controller": dep.controller, "contact": dep.contact},
                       "every notice must name the processor and how to reach it before "
                       "anyone consents")


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
    """R7: network transmission needs a recorded legal basis or separate consent, with its
    reference and evidence (``[transmission_basis]``)."""
    if deployment.deployment.transmission != "network":
        return []
    basis = facts.transmission_basis
    if basis is None:
        return [Finding("R7", "BLOCK", "key 'deployment.transmission' is 'network' but no "
                        "legal basis or separate transmission consent is recorded (key "
                        "'transmission_basis'); face data stays on the device otherwise")]
    return _blank_keys("R7", "transmission_basis",
                       {"reference": basis.reference, "evidence": basis.evidence},
                       f"a {basis.kind} basis for network transmission needs its reference "
                       "and evidence")


def check_finite_retention(
    deployment: Deployment, facts: DeploymentFacts, numbers: PackNumbers
) -> list[Finding]:
    """R8: every purpose keeps data for a finite period: 1 day to the packs'
    ``max_retention_days``."""
    longest = numbers.max_retention_days
    return [
        Finding("R8", "BLOCK", f"key 'purposes.{name}.retention_days' is "
                f"{section.retention_days}: it must be 1 to {longest} days")
        for name, section in deployment.purposes.items()
        if not 1 <= section.retention_days <= longest
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
        warn_percent = numbers.filing_warning_percent or 100  # a threshold sets it (packs)
        if numbers.filing_due(people):
            found.append(Finding("R15", "REPORT", f"{people:,} people enrolled reach the filing "
                                 f"threshold ({bound}): file with {authority}{within} "
                                 "(`faceguard filing` produces the packet)"))
        elif people * 100 >= threshold * warn_percent:
            found.append(Finding("R15", "WARN", f"{people:,} people enrolled near the filing "
                                 f"threshold ({bound}): prepare the filing"))
    if numbers.filing_on_public_place and is_public(deployment):
        found.append(Finding("R15", "REPORT", "public-place use (key 'deployment.place' / "
                             "'deployment.public_place') makes the filing due whatever the "
                             f"count (draft Measures): file with {authority}{within}"))
    return found


def check_compliance_audit(
    deployment: Deployment, facts: DeploymentFacts, numbers: PackNumbers
) -> list[Finding]:
    """R22: above the packs' ``compliance_audit_people``, a compliance audit is due at least
    every ``compliance_audit_interval_years``."""
    people, years = numbers.compliance_audit_people, numbers.compliance_audit_interval_years
    if people is None or years is None or facts.people_enrolled <= people:
        return []
    return [Finding("R22", "REPORT", f"{facts.people_enrolled:,} people enrolled, more than "
                    f"{people:,}: a personal-information compliance audit is due at least "
                    f"every {years} years (`faceguard audit` exports the evidence)")]


def check_protection_level(
    deployment: Deployment, facts: DeploymentFacts, numbers: PackNumbers
) -> list[Finding]:
    """R24: the declared protection level is plausible for the scale, place and purposes."""
    dep = deployment.deployment
    level = dep.protection_level
    key = f"key 'deployment.protection_level' is {level}"
    reasons = []
    if level == 1:
        most = numbers.protection_level_1_max_people
        if most is not None and facts.people_enrolled > most:
            reasons.append(f"implausible for {facts.people_enrolled:,} people enrolled (more "
                           f"than {most:,} harms many citizens' rights: level 2 "
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
    """P4: where the packs require a written release, consent is never a click."""
    unwritten = [m for m in deployment.deployment.consent_methods
                 if m not in WRITTEN_CONSENT_METHODS]
    if not numbers.written_release_required or not unwritten:
        return []
    return [Finding("P4", "BLOCK", f"key 'deployment.consent_methods' allows "
                    f"{', '.join(repr(m) for m in unwritten)}: a written release is required "
                    f"(use {' or '.join(repr(m) for m in WRITTEN_CONSENT_METHODS)})")]


def check_local_only(
    deployment: Deployment, facts: DeploymentFacts, numbers: PackNumbers
) -> list[Finding]:
    """P5: where the packs forbid sharing, no disclosure or export: face data stays local."""
    if not numbers.sharing_forbidden or deployment.deployment.transmission == "local":
        return []
    return [Finding("P5", "BLOCK", "key 'deployment.transmission' is 'network': sharing and "
                    "export must stay off, set it to 'local'")]


def check_public_identification_authorised(
    deployment: Deployment, facts: DeploymentFacts, numbers: PackNumbers
) -> list[Finding]:
    """P8: real-time identification in public for public safety needs an authorisation of
    kind ``LAW_ENFORCEMENT_AUTHORISATION`` naming its authority and reference and valid on
    the day of the check; an expired or incomplete one does not count."""
    if not is_public(deployment) or PUBLIC_SAFETY not in deployment.purposes:
        return []
    problems = []
    for i, record in enumerate(facts.authorisations):
        if record.kind != LAW_ENFORCEMENT_AUTHORISATION:
            continue
        key = f"key 'authorisations.{i}"
        blank = [k for k in ("authority", "reference") if _blank(getattr(record, k))]
        if blank:
            problems.append(f"{key}.{blank[0]}' is blank")
        elif record.valid_until < facts.day:
            problems.append(f"{key}.valid_until': the authorisation {record.reference!r} of "
                            f"{record.authority} expired on {record.valid_until.isoformat()}")
        else:
            return []
    why = f" ({'; '.join(problems)})" if problems else ""
    return [Finding("P8", "BLOCK", f"purpose {PUBLIC_SAFETY!r} in a public place (key "
                    "'deployment.place') is real-time remote identification: it needs a "
                    f"recorded, valid {LAW_ENFORCEMENT_AUTHORISATION!r} authorisation (key "
                    f"'authorisations'){why}")]


#: Every check, by the name a pack gives in ``check``.
CHECKS: dict[str, CheckFn] = {
    fn.__name__: fn
    for fn in (
        check_purposes_declared,
        check_processor_named,
        check_minors_rules,
        check_alternatives,
        check_transmission_basis,
        check_finite_retention,
        check_assessment,
        check_public_place,
        check_private_place,
        check_filing_threshold,
        check_compliance_audit,
        check_protection_level,
        check_liveness,
        check_identification_outlook,
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
    """Evaluate ``deployment`` and ``facts`` (plus the records the file holds) against every
    rule that applies to it."""
    result = evaluate(deployment, facts.with_records_of(deployment), rules_for(deployment),
                      pack_numbers(deployment))
    result.warnings.extend(trial_findings(deployment))
    return result
