"""The sections of an impact assessment, drafted from the deployment and measured facts.

One function per section. Each returns the prefilled facts (plain text: paragraphs separated
by blank lines, list items starting with ``- ``) and, where only a person can judge, a
prompt starting with ``PLACEHOLDER`` for the DPO to replace. The section keys and titles are
the contract with the renderers and the tests (``SECTION_KEYS``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from faceguard.assess.protection import protection_report
from faceguard.policy.deployment import Deployment
from faceguard.policy.packs import pack_numbers
from faceguard.policy.purposes import PURPOSES

if TYPE_CHECKING:
    from faceguard.assess.assessment import AssessmentFacts as Facts

#: Marks text the DPO must write; ``approve`` refuses while it remains anywhere.
PLACEHOLDER = "TO BE COMPLETED BY THE DPO"


@dataclass(frozen=True)
class Draft:
    """One drafted section before it becomes an ``assessment.Section``."""

    prefilled: str
    prompt: str | None = None  # None: no human judgement needed


def todo(prompt: str) -> str:
    """The DPO placeholder text for ``prompt``."""
    return f"{PLACEHOLDER}: {prompt}"


def _n(value: int) -> str:
    return f"{value:,}"


def _lines(items: list[str]) -> str:
    return "\n".join(f"- {item}" for item in items) if items else "- (none)"


def scope(d: Deployment, f: Facts) -> Draft:
    dep = d.deployment
    purposes = [
        f"{name}: {PURPOSES.get(name, '')} Templates stored: {_n(f.templates.get(name, 0))}."
        for name in sorted(d.purposes)
    ]
    return Draft(
        f"Deployment: {dep.name}. Personal information processor: {dep.controller} "
        f"(contact: {dep.contact}). Law packs applied: {', '.join(dep.packs)}.\n\n"
        f"Place type: {dep.place}; public place: {'yes' if dep.public_place else 'no'}. "
        f"People enrolled as of {f.as_of}: {_n(f.people_enrolled)}.\n\n"
        f"Declared purposes:\n{_lines(purposes)}"
    )


def lawfulness(d: Deployment, f: Facts) -> Draft:
    purposes = [f"{name}: {p.necessity}" for name, p in sorted(d.purposes.items())]
    return Draft(
        "Necessity statements declared in the deployment file (R1):\n"
        f"{_lines(purposes)}\n\n"
        "Legal basis: a separate, informed, explicit consent of each person (or guardian) per "
        "purpose, recorded with the version and hash of the notice shown (R2, R3). Processing "
        "for an undeclared purpose is refused by construction (R1); attribute and emotion "
        "inference cannot be declared (R27).",
        "state why each purpose is specific and sufficiently necessary, and why processing "
        "face information for it is lawful and legitimate (who decided, on what evidence).",
    )


def least_impact(d: Deployment, f: Facts) -> Draft:
    dep = d.deployment
    return Draft(
        "Method: a camera image is turned into a numeric template on the operator's equipment; "
        "the image is discarded at once and never stored (R9). Matching compares templates "
        "only within the partition of the purpose named by each request, and only against "
        "people whose consent for that purpose is valid. Clients receive a decision, not a "
        f"similarity score (R17). Liveness checking: {dep.liveness}.",
        "explain why face recognition is the method with the least impact on personal rights "
        "for each purpose, and which non-face methods were considered and why they do not "
        "suffice on their own (FRM 4, 10).",
    )


def alternatives(d: Deployment, f: Facts) -> Draft:
    if f.alternatives:
        return Draft(
            "Non-face ways to obtain the same service (FRM 10, 11; R6):\n"
            f"{_lines(f.alternatives)}\n\n"
            "A person who declines face recognition is pointed to these and is not refused "
            "the service; consent is never a precondition of a non-face service (R4)."
        )
    return Draft(
        "No non-face alternative is registered: the deployment cannot go live (R6).",
        "register at least one non-face alternative in faceguard.toml and describe it here.",
    )


def minimisation_retention(d: Deployment, f: Facts) -> Draft:
    rows = [
        f"{name}: {f.retention_days.get(name, p.retention_days)} days, then erased automatically"
        for name, p in sorted(d.purposes.items())
    ]
    return Draft(
        "Retention per purpose (R8; finite for every purpose):\n"
        f"{_lines(rows)}\n\n"
        "Only templates are kept; raw images exist in memory during a request only (R9). "
        "Templates are stored apart from identity data under a pseudonymous subject ID. "
        "Withdrawal of consent, expiry, removal of a purpose or the end of the service erase "
        "the templates and destroy the person's data key (crypto-shredding), with a signed "
        "deletion certificate (R18)."
    )


def _basis(d: Deployment) -> str:
    basis = d.transmission_basis
    if basis is None:
        return "No basis is recorded (key 'transmission_basis'): the deployment cannot go live."
    return (f"Basis recorded in the deployment file (key 'transmission_basis'): {basis.kind}; "
            f"reference: {basis.reference or '-'}; evidence: {basis.evidence or '-'}.")


def transmission(d: Deployment, f: Facts) -> Draft:
    if d.deployment.transmission == "local":
        return Draft(
            "Transmission: local. Face templates are stored and matched on the operator's own "
            "equipment and not sent over the internet (FRM 8; R7). Sharing with other processors "
            "and export abroad are refused unless a separate consent or recorded legal basis "
            "exists (R20, R21)."
        )
    return Draft(
        "Transmission: network. Face information leaves the recognition device; this needs a "
        "recorded legal basis or a separate transmission consent (FRM 8; R7). "
        f"{_basis(d)} Sharing and cross-border export stay refused without per-recipient "
        "consent (R20, R21).",
        "name the legal basis or the separate consent for transmission, the recipients, the "
        "channel protection (e.g. TLS) and why local processing does not suffice.",
    )


def rights_impact(d: Deployment, f: Facts) -> Draft:
    return Draft(
        f"People affected: {_n(f.people_enrolled)} enrolled. Rights supported by the system: "
        "access and copy, correction by re-enrollment, erasure with a signed certificate, "
        "withdrawal of consent in one step, an explanation of a decision and a request for "
        "human review; every request and answer is recorded (R16, R17).\n\n"
        "A wrong decision can refuse a person the service (false non-match) or admit the wrong "
        "person (false match); the operating point per purpose bounds the false-match rate "
        "of 1:1 verification. For identification (1:N) each purpose declares the share of "
        "strangers an automatic answer may name, and where doubtful answers go (R17):\n"
        f"{_lines(_identification(d, f))}",
        "assess the effect on the people concerned (including a wrong match, a leak, and "
        "feeling watched), the groups most affected, and how the measures reduce it.",
    )


def _identification(d: Deployment, f: Facts) -> list[str]:
    outlooks = {o.purpose: o for o in f.identification}
    lines = []
    for name, p in sorted(d.purposes.items()):
        line = (f"{name}: FPIR at most {p.fpir:.2%} automatically, doubtful band to "
                f"{p.doubt_fpir:.2%}, doubtful answers go to {p.on_doubt!r}")
        o = outlooks.get(name)
        if o is not None and o.calibrated and o.automatic:
            line += (f"; with {_n(o.people)} people enrolled the engine's calibration "
                     f"predicts FPIR {o.expected_fpir:.2%} and FNIR {o.expected_fnir:.1%}")
        elif o is not None:
            line += "; the engine's calibration cannot vouch for this rate today: no answer "
            line += "is automatic"
        lines.append(line)
    return lines


def security_risks(d: Deployment, f: Facts) -> Draft:
    risks = [
        "Leak: templates and identities encrypted with AES-256-GCM under per-person keys kept "
        "in a separate key store; no raw images stored; clients never receive scores.",
        "Tampering: authenticated encryption bound to subject and record IDs; a hash-chained "
        "processing record with Ed25519-signed checkpoints.",
        "Loss or destruction: transactional storage; backups are the operator's task (see "
        "security measures) and hold ciphertext only.",
        "Unlawful acquisition or sale: local storage (R7), sharing off (R20), access control "
        "and authenticated access via the service (R14).",
        "Unlawful use beyond purpose: per-purpose partitions, a consent check before every "
        "match, every match recorded (R1, R3, R11).",
        f"Spoofing with photos, replays or masks: liveness {d.deployment.liveness} (R26).",
    ]
    return Draft(
        "Risks of leaks, tampering, loss, destruction and unlawful acquisition or use, and the "
        f"controls against each:\n{_lines(risks)}",
        "rate the likelihood and the harm of each risk for this deployment and state the "
        "residual risk.",
    )


def security_measures(d: Deployment, f: Facts) -> Draft:
    report = protection_report(
        f.protection_level, d.deployment.place, d.deployment.public_place,
        f.people_enrolled, sorted(d.purposes),
        security_log_months=pack_numbers(d).security_log_retention_months,
        level_1_max_people=pack_numbers(d).protection_level_1_max_people,
        level_3_people=pack_numbers(d).protection_level_3_suggested_people,
    )
    provided = [f"{c.name} ({c.provided_by}): {c.how}" for c in report.controls]
    warnings = [f"[{w.rule}] {w.reason}" for w in report.warnings]
    text = (
        f"Declared protection level (MLPS, GB/T 22240): {f.protection_level}.\n\n"
        f"Controls in force:\n{_lines(f.controls)}\n\n"
        f"Controls faceguard provides at this level (GB/T 22239):\n{_lines(provided)}\n\n"
        f"The operator must add:\n{_lines(report.operator_tasks)}"
    )
    if warnings:
        text += f"\n\nPlausibility warnings:\n{_lines(warnings)}"
    return Draft(
        text,
        "describe the measures the operator has added (physical security, network boundary, "
        "off-site backups, staff training, testing) and who is responsible for each.",
    )


def safeguards_adequacy(d: Deployment, f: Facts) -> Draft:
    return Draft(
        "The technical controls above are enforced by the software; refusals cite their rule "
        "IDs and are recorded. The judgement below must weigh them against the risks assessed.",
        "state whether the protective measures are lawful, effective and proportionate to the "
        "risks assessed above, and what is added where they are not.",
    )


def minors(d: Deployment, f: Facts) -> Draft:
    rules = d.deployment.minors_rules.strip()
    known = "" if f.minors_enrolled is None else f" Minors enrolled: {_n(f.minors_enrolled)}."
    if not rules:
        return Draft(
            "No published rules for under-14s (minors_rules is empty): enrollment of a person "
            f"under 14 is refused (FRM 7; R5).{known}"
        )
    return Draft(
        f"Published rules for under-14s: {rules}. Enrollment of a person under 14 needs the "
        f"guardian's consent, recorded with identity and relationship (FRM 7; R5).{known}",
        "explain why processing the faces of children under 14 is necessary here and how "
        "their heightened protection is ensured.",
    )


def _authorisations(d: Deployment) -> str:
    if not d.authorisations:
        return ""
    rows = [f"{a.kind}: granted by {a.authority or '-'}, reference {a.reference or '-'}, "
            f"valid until {a.valid_until.isoformat()}" for a in d.authorisations]
    return (f"\n\nAuthorisations recorded in the deployment file (key 'authorisations'; "
            f"AIA 5(1)(h); P8):\n{_lines(rows)}")


def public_place(d: Deployment, f: Facts) -> Draft:
    dep = d.deployment
    if not dep.public_place:
        return Draft(
            f"Not a public place (place type {dep.place}). Devices in private spaces (hotel "
            "rooms, public bathrooms, changing rooms, toilets) are refused without override "
            f"(FRM 13; R13).{_authorisations(d)}"
        )
    return Draft(
        f"Public place (place type {dep.place}). Collection area: {dep.collection_area or '-'}. "
        f"Signage evidence: {dep.signage or '-'}. Public-place data is locked to the "
        f"public-safety purpose; other use needs separate consent (FRM 13; R12)."
        f"{_authorisations(d)}",
        "explain why the installation is necessary for public safety and why the collection "
        "area is reasonable.",
    )


def filing(d: Deployment, f: Facts) -> Draft:
    if f.filing is None:
        return Draft(
            f"People enrolled: {_n(f.people_enrolled)}. The filing threshold was not evaluated.",
            "state whether the filing threshold of the applicable pack is reached (FRM 15).",
        )
    s = f.filing
    lines = [f"People enrolled: {_n(s.people)}; threshold: {s.threshold_text}.", s.detail]
    return Draft("\n\n".join(lines))


#: SPC 2's listed infringements and the controls against each (R23).
INFRINGEMENTS: tuple[tuple[str, str], ...] = (
    ("(1) Use in hotels, malls, banks, stations, airports, stadiums, entertainment venues or "
     "other business or public places in breach of laws or regulations",
     "place types are a closed list; private spaces refused (R13); public places need the "
     "public-safety purpose, a collection area and signage (R12)"),
    ("(2) Processing rules not published; purpose, method or scope not stated",
     "a complete, versioned notice is required before consent; its hash is kept with the "
     "consent (R2)"),
    ("(3) No separate consent of the person or guardian, or no written consent where required",
     "one consent per person and purpose, never bundled or implied; guardian records for "
     "under-14s (R3, R4, R5)"),
    ("(4) Processing beyond the stated purpose, method or scope",
     "undeclared purposes refused; per-purpose partitions; a change of purpose or method "
     "requires reassessment (R1, R10)"),
    ("(5) No technical or other necessary measures, leading to leaks, tampering or loss",
     "AES-256-GCM encryption, per-person keys, crypto-shredding, signed hash-chained record "
     "(R9, R11, R14)"),
    ("(6) Providing face information to others in breach of law or agreement",
     "local storage; sharing and export refused without separate consent or basis (R7, R20, "
     "R21)"),
    ("(7) Processing against public order and good morals",
     "no attribute or emotion inference exists (R27); otherwise a human judgement"),
    ("(8) Other excessive processing against lawfulness, legitimacy and necessity",
     "necessity statements, finite retention, automatic erasure (R1, R8, R18)"),
)


def infringements(d: Deployment, f: Facts) -> Draft:
    rows = [f"{what} -> {control}" for what, control in INFRINGEMENTS]
    return Draft(
        "Infringements listed by the Supreme People's Court (SPC 2) and the controls against "
        f"each (R23):\n{_lines(rows)}",
        "confirm that none of the listed infringements applies to this deployment, in "
        "particular (1) and (7), which need a human judgement.",
    )


def records(d: Deployment, f: Facts) -> Draft:
    years = pack_numbers(d).assessment_retention_years
    return Draft(
        "Every enrollment, match, export, share and deletion is appended to a hash-chained, "
        f"signed processing record kept at least {years} years (R11). This assessment is "
        f"kept at least {years} years after its approval (R10). A change of purposes, place "
        "or method, or a major security incident, marks the deployment 'reassessment "
        "required', which blocks enrollment until a new assessment is approved (R10, R22)."
    )


def conclusion(d: Deployment, f: Facts) -> Draft:
    return Draft(
        "Approval records the approver, the date, a hash of this content and a fingerprint of "
        "the deployment's purposes, place and method.",
        "state the residual risk, whether processing may start, and any conditions attached.",
    )


SectionFn = Callable[[Deployment, "Facts"], Draft]

#: key -> (title, sources, drafter), in report order.
SECTIONS: dict[str, tuple[str, tuple[str, ...], SectionFn]] = {
    "scope": ("Description of the processing",
              ("FRM 9", "PIPL 55, 56"), scope),
    "lawfulness": ("Lawfulness, legitimacy and necessity of the purposes and method",
                   ("FRM 4, 9(1)", "PIPL 5, 6, 28, 56(1)", "R1", "R3"), lawfulness),
    "least_impact": ("Least-impact method",
                     ("FRM 4, 10", "PIPL 6", "R1"), least_impact),
    "alternatives": ("Alternatives offered to people who decline",
                     ("FRM 10, 11", "SPC 10", "R4", "R6"), alternatives),
    "minimisation_retention": ("Data minimisation and retention",
                               ("FRM 8", "PIPL 19, 47", "GB/T 41819", "R8", "R9", "R18"),
                               minimisation_retention),
    "transmission": ("Storage location and transmission",
                     ("FRM 8", "PIPL 23, 38-40", "R7", "R20", "R21"), transmission),
    "rights_impact": ("Impact on personal rights and interests",
                      ("FRM 9(2)", "PIPL 56(2)", "R16", "R17"), rights_impact),
    "security_risks": ("Risks of leaks, tampering, loss and misuse",
                       ("FRM 9(3)", "PIPL 56(2)", "R14", "R26"), security_risks),
    "security_measures": ("Security measures: encryption, access control, audit",
                          ("FRM 14", "PIPL 51", "CSL 21", "GB/T 22239", "R14", "R24", "R25"),
                          security_measures),
    "safeguards_adequacy": ("Whether the protective measures are lawful, effective and "
                            "proportionate", ("FRM 9(4)", "PIPL 56(3)"), safeguards_adequacy),
    "minors": ("Minors under 14", ("FRM 7", "PIPL 28, 31", "R5"), minors),
    "public_place": ("Public places and private spaces",
                     ("FRM 13", "CC 1033", "R12", "R13"), public_place),
    "filing": ("Filing with the cyberspace authority", ("FRM 15", "R15"), filing),
    "infringements": ("Infringements listed by SPC 2 and the controls against each",
                      ("SPC 2", "R23"), infringements),
    "records": ("Processing record and keeping of this assessment",
                ("FRM 9", "PIPL 55, 56", "R10", "R11", "R22"), records),
    "conclusion": ("Conclusion and decision", ("FRM 9", "PIPL 56"), conclusion),
}

#: The packs add sources to these sections (``[assessment_sources]`` of a pack, e.g. GDPR
#: 35(7) in ``gdpr``); ``draft_assessment`` cites them after the section's own.
SECTION_KEYS: tuple[str, ...] = tuple(SECTIONS)
