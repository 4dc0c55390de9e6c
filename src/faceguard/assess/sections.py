"""The sections of an impact assessment, drafted from the deployment and measured facts.

One function per section. Each returns the prefilled facts (plain text: paragraphs separated
by blank lines, list items starting with ``- ``) and, where only a person can judge, a
prompt starting with ``PLACEHOLDER`` for the DPO to replace. The section keys and titles are
the contract with the renderers and the tests (``SECTION_KEYS``).

The texts are drafted in the current language (``i18n.use``; ``draft_assessment`` drafts
in the deployment's) with the texts' own terms; the placeholder marker stays
``PLACEHOLDER`` in every language, so that approval finds it (a zh-CN document shows it as
待个人信息保护负责人填写). A deployment under a ``cn`` pack names the personal information
processor, one under GDPR only the controller.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from faceguard.assess.protection import protection_report
from faceguard.i18n import gettext as _
from faceguard.i18n import ngettext, term
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


def N_(message: str) -> str:
    """Marks ``message`` for the catalogue; translated where it is used."""
    return message


def todo(prompt: str) -> str:
    """The DPO placeholder text for ``prompt``."""
    return f"{PLACEHOLDER}: {prompt}"


def _n(value: int) -> str:
    return f"{value:,}"


def _lines(items: list[str]) -> str:
    return "\n".join(f"- {item}" for item in items) if items else "- " + _("(none)")


def _yes(flag: bool) -> str:
    return _("yes") if flag else _("no")


def under_pipl(d: Deployment) -> bool:
    """Whether the deployment's documents use PIPL's words (personal information processor,
    personal information protection impact assessment), as its packs' ``vocabulary``
    says; otherwise GDPR's (controller, data protection impact assessment)."""
    return pack_numbers(d).vocabulary in ("processor", None)


def scope(d: Deployment, f: Facts) -> Draft:
    dep = d.deployment
    purposes = [
        _("%(name)s: %(description)s Templates stored: %(templates)s.") % {
            "name": name, "description": _(PURPOSES[name]) if name in PURPOSES else "",
            "templates": _n(f.templates.get(name, 0))}
        for name in sorted(d.purposes)
    ]
    processor = (_("Personal information processor") if under_pipl(d) else _("Controller"))
    return Draft(
        _("Deployment: %(name)s. %(processor)s: %(controller)s (contact: %(contact)s). Law "
          "packs applied: %(packs)s.") % {"name": dep.name, "processor": processor,
                                         "controller": dep.controller, "contact": dep.contact,
                                         "packs": ", ".join(dep.packs)}
        + "\n\n"
        + _("Place type: %(place)s; public place: %(public)s. People enrolled as of %(day)s: "
            "%(people)s.") % {"place": dep.place, "public": _yes(dep.public_place),
                              "day": f.as_of, "people": _n(f.people_enrolled)}
        + "\n\n" + _("Declared purposes:") + f"\n{_lines(purposes)}"
    )


def lawfulness(d: Deployment, f: Facts) -> Draft:
    purposes = [f"{name}: {_(p.necessity)}" for name, p in sorted(d.purposes.items())]
    return Draft(
        _("Necessity statements declared in the deployment file (R1):") + "\n"
        f"{_lines(purposes)}\n\n"
        + _("Legal basis: a separate, informed, explicit consent of each person (or guardian) "
            "per purpose, recorded with the version and hash of the notice shown (R2, R3). "
            "Processing for an undeclared purpose is refused by construction (R1); attribute "
            "and emotion inference cannot be declared (R27)."),
        _("state why each purpose is specific and sufficiently necessary, and why processing "
          "face information for it is lawful and legitimate (who decided, on what "
          "evidence)."),
    )


def least_impact(d: Deployment, f: Facts) -> Draft:
    dep = d.deployment
    return Draft(
        _("Method: a camera image is turned into a numeric template on the operator's "
          "equipment; the image is discarded at once and never stored (R9). Matching compares "
          "templates only within the partition of the purpose named by each request, and "
          "only against people whose consent for that purpose is valid. Clients receive a "
          "decision, not a similarity score (R17). Liveness checking: %(liveness)s.")
        % {"liveness": _(dep.liveness)},
        _("explain why face recognition is the method with the least impact on personal "
          "rights for each purpose, and which non-face methods were considered and why they "
          "do not suffice on their own (FRM 4, 10)."),
    )


def alternatives(d: Deployment, f: Facts) -> Draft:
    if f.alternatives:
        return Draft(
            _("Non-face ways to obtain the same service (FRM 10, 11; R6):") + "\n"
            f"{_lines([term(a) for a in f.alternatives])}\n\n"
            + _("A person who declines face recognition is pointed to these and is not "
                "refused the service; consent is never a precondition of a non-face service "
                "(R4).")
        )
    return Draft(
        _("No non-face alternative is registered: the deployment cannot go live (R6)."),
        _("register at least one non-face alternative in faceguard.toml and describe it "
          "here."),
    )


def minimisation_retention(d: Deployment, f: Facts) -> Draft:
    rows = []
    for name, p in sorted(d.purposes.items()):
        days = f.retention_days.get(name, p.retention_days)
        rows.append(ngettext("%(name)s: %(num)s day, then erased automatically",
                             "%(name)s: %(num)s days, then erased automatically", days)
                    % {"name": name, "num": days})
    return Draft(
        _("Retention per purpose (R8; finite for every purpose):") + "\n"
        f"{_lines(rows)}\n\n"
        + _("Only templates are kept; raw images exist in memory during a request only (R9). "
            "Templates are stored apart from identity data under a pseudonymous subject ID. "
            "Withdrawal of consent, expiry, removal of a purpose or the end of the service "
            "erase the templates and destroy the person's data key (crypto-shredding), with "
            "a signed deletion certificate (R18).")
    )


def _basis(d: Deployment) -> str:
    basis = d.transmission_basis
    if basis is None:
        return _("No basis is recorded (key 'transmission_basis'): the deployment cannot go "
                 "live.")
    return _("Basis recorded in the deployment file (key 'transmission_basis'): %(kind)s; "
             "reference: %(reference)s; evidence: %(evidence)s.") % {
        "kind": basis.kind, "reference": basis.reference or "-",
        "evidence": basis.evidence or "-"}


def transmission(d: Deployment, f: Facts) -> Draft:
    if d.deployment.transmission == "local":
        return Draft(
            _("Transmission: local. Face templates are stored and matched on the operator's "
              "own equipment and not sent over the internet (FRM 8; R7). Sharing with others "
              "and export abroad are refused unless a separate consent or "
              "recorded legal basis exists (R20, R21).")
        )
    return Draft(
        _("Transmission: network. Face information leaves the recognition device; this "
          "needs a recorded legal basis or a separate transmission consent (FRM 8; R7). "
          "%(basis)s Sharing and cross-border export stay refused without per-recipient "
          "consent (R20, R21).") % {"basis": _basis(d)},
        _("name the legal basis or the separate consent for transmission, the recipients, "
          "the channel protection (e.g. TLS) and why local processing does not suffice."),
    )


def rights_impact(d: Deployment, f: Facts) -> Draft:
    return Draft(
        _("People affected: %(people)s enrolled. Rights supported by the system: access and "
          "copy, correction by re-enrollment, erasure with a signed certificate, withdrawal "
          "of consent in one step, an explanation of a decision and a request for human "
          "review; every request and answer is recorded (R16, R17).")
        % {"people": _n(f.people_enrolled)} + "\n\n"
        + _("A wrong decision can refuse a person the service (false non-match) or admit the "
            "wrong person (false match); the operating point per purpose bounds the "
            "false-match rate of 1:1 verification. For identification (1:N) each purpose "
            "declares the share of strangers an automatic answer may name, and where "
            "doubtful answers go (R17):")
        + f"\n{_lines(_identification(d, f))}",
        _("assess the effect on the people concerned (including a wrong match, a leak, and "
          "feeling watched), the groups most affected, and how the measures reduce it."),
    )


def _identification(d: Deployment, f: Facts) -> list[str]:
    outlooks = {o.purpose: o for o in f.identification}
    lines = []
    for name, p in sorted(d.purposes.items()):
        line = _("%(name)s: FPIR at most %(fpir)s automatically, doubtful band to %(doubt)s, "
                 "doubtful answers go to %(on_doubt)r") % {
            "name": name, "fpir": f"{p.fpir:.2%}", "doubt": f"{p.doubt_fpir:.2%}",
            "on_doubt": p.on_doubt}
        o = outlooks.get(name)
        if o is not None and o.calibrated and o.automatic:
            line += _("; with %(people)s people enrolled the engine's calibration predicts "
                      "FPIR %(fpir)s and FNIR %(fnir)s") % {
                "people": _n(o.people), "fpir": f"{o.expected_fpir:.2%}",
                "fnir": f"{o.expected_fnir:.1%}"}
        elif o is not None:
            line += _("; the engine's calibration cannot vouch for this rate today: no "
                      "answer is automatic")
        lines.append(line)
    return lines


def security_risks(d: Deployment, f: Facts) -> Draft:
    risks = [
        _("Leak: templates and identities encrypted with AES-256-GCM under per-person keys "
          "kept in a separate key store; no raw images stored; clients never receive "
          "scores."),
        _("Tampering: authenticated encryption bound to subject and record IDs; a "
          "hash-chained processing record with Ed25519-signed checkpoints."),
        _("Loss or destruction: transactional storage; backups are the operator's task (see "
          "security measures) and hold ciphertext only."),
        _("Unlawful acquisition or sale: local storage (R7), sharing off (R20), access "
          "control and authenticated access via the service (R14)."),
        _("Unlawful use beyond purpose: per-purpose partitions, a consent check before every "
          "match, every match recorded (R1, R3, R11)."),
        _("Spoofing with photos, replays or masks: liveness %(liveness)s (R26).")
        % {"liveness": _(d.deployment.liveness)},
    ]
    return Draft(
        _("Risks of leaks, tampering, loss, destruction and unlawful acquisition or use, and "
          "the controls against each:") + f"\n{_lines(risks)}",
        _("rate the likelihood and the harm of each risk for this deployment and state the "
          "residual risk."),
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
        _("Declared protection level (MLPS, GB/T 22240): %(level)s.")
        % {"level": f.protection_level} + "\n\n"
        + _("Controls in force:") + f"\n{_lines([_(c) for c in f.controls])}\n\n"
        + _("Controls faceguard provides at this level (GB/T 22239):")
        + f"\n{_lines(provided)}\n\n"
        + _("The operator must add:") + f"\n{_lines(report.operator_tasks)}"
    )
    if warnings:
        text += "\n\n" + _("Plausibility warnings:") + f"\n{_lines(warnings)}"
    return Draft(
        text,
        _("describe the measures the operator has added (physical security, network "
          "boundary, off-site backups, staff training, testing) and who is responsible for "
          "each."),
    )


def safeguards_adequacy(d: Deployment, f: Facts) -> Draft:
    return Draft(
        _("The technical controls above are enforced by the software; refusals cite their "
          "rule IDs and are recorded. The judgement below must weigh them against the risks "
          "assessed."),
        _("state whether the protective measures are lawful, effective and proportionate to "
          "the risks assessed above, and what is added where they are not."),
    )


def minors(d: Deployment, f: Facts) -> Draft:
    rules = d.deployment.minors_rules.strip()
    known = ("" if f.minors_enrolled is None else
             " " + _("Minors enrolled: %(num)s.") % {"num": _n(f.minors_enrolled)})
    if not rules:
        return Draft(
            _("No published rules for under-14s (minors_rules is empty): enrollment of a "
              "person under 14 is refused (FRM 7; R5).") + known
        )
    return Draft(
        _("Published rules for under-14s: %(rules)s. Enrollment of a person under 14 needs "
          "the guardian's consent, recorded with identity and relationship (FRM 7; R5).")
        % {"rules": rules} + known,
        _("explain why processing the faces of children under 14 is necessary here and how "
          "their heightened protection is ensured."),
    )


def _authorisations(d: Deployment) -> str:
    if not d.authorisations:
        return ""
    rows = [_("%(kind)s: granted by %(authority)s, reference %(reference)s, valid until "
              "%(until)s") % {"kind": a.kind, "authority": a.authority or "-",
                              "reference": a.reference or "-",
                              "until": a.valid_until.isoformat()} for a in d.authorisations]
    return ("\n\n" + _("Authorisations recorded in the deployment file (key "
                        "'authorisations'; AIA 5(1)(h); P8):") + f"\n{_lines(rows)}")


def public_place(d: Deployment, f: Facts) -> Draft:
    dep = d.deployment
    if not dep.public_place:
        return Draft(
            _("Not a public place (place type %(place)s). Devices in private spaces (hotel "
              "rooms, public bathrooms, changing rooms, toilets) are refused without override "
              "(FRM 13; R13).") % {"place": dep.place} + _authorisations(d)
        )
    return Draft(
        _("Public place (place type %(place)s). Collection area: %(area)s. Signage evidence: "
          "%(signage)s. Public-place data is locked to the public-safety purpose; other use "
          "needs separate consent (FRM 13; R12).") % {
            "place": dep.place, "area": dep.collection_area or "-",
            "signage": dep.signage or "-"} + _authorisations(d),
        _("explain why the installation is necessary for public safety and why the "
          "collection area is reasonable."),
    )


def filing(d: Deployment, f: Facts) -> Draft:
    if f.filing is None:
        return Draft(
            _("People enrolled: %(people)s. The filing threshold was not evaluated.")
            % {"people": _n(f.people_enrolled)},
            _("state whether the filing threshold of the applicable pack is reached (FRM "
              "15)."),
        )
    s = f.filing
    lines = [_("People enrolled: %(people)s; threshold: %(threshold)s.")
             % {"people": _n(s.people), "threshold": s.threshold_text}, s.detail]
    return Draft("\n\n".join(lines))


#: SPC 2's listed infringements and the controls against each (R23).
INFRINGEMENTS: tuple[tuple[str, str], ...] = (
    (N_("(1) Use in hotels, malls, banks, stations, airports, stadiums, entertainment venues "
        "or other business or public places in breach of laws or regulations"),
     N_("place types are a closed list; private spaces refused (R13); public places need "
        "the public-safety purpose, a collection area and signage (R12)")),
    (N_("(2) Processing rules not published; purpose, method or scope not stated"),
     N_("a complete, versioned notice is required before consent; its hash is kept with the "
        "consent (R2)")),
    (N_("(3) No separate consent of the person or guardian, or no written consent where "
        "required"),
     N_("one consent per person and purpose, never bundled or implied; guardian records for "
        "under-14s (R3, R4, R5)")),
    (N_("(4) Processing beyond the stated purpose, method or scope"),
     N_("undeclared purposes refused; per-purpose partitions; a change of purpose or method "
        "requires reassessment (R1, R10)")),
    (N_("(5) No technical or other necessary measures, leading to leaks, tampering or loss"),
     N_("AES-256-GCM encryption, per-person keys, crypto-shredding, signed hash-chained "
        "record (R9, R11, R14)")),
    (N_("(6) Providing face information to others in breach of law or agreement"),
     N_("local storage; sharing and export refused without separate consent or basis (R7, "
        "R20, R21)")),
    (N_("(7) Processing against public order and good morals"),
     N_("no attribute or emotion inference exists (R27); otherwise a human judgement")),
    (N_("(8) Other excessive processing against lawfulness, legitimacy and necessity"),
     N_("necessity statements, finite retention, automatic erasure (R1, R8, R18)")),
)


def infringements(d: Deployment, f: Facts) -> Draft:
    rows = [f"{_(what)} -> {_(control)}" for what, control in INFRINGEMENTS]
    return Draft(
        _("Infringements listed by the Supreme People's Court (SPC 2) and the controls "
          "against each (R23):") + f"\n{_lines(rows)}",
        _("confirm that none of the listed infringements applies to this deployment, in "
          "particular (1) and (7), which need a human judgement."),
    )


def records(d: Deployment, f: Facts) -> Draft:
    years = pack_numbers(d).assessment_retention_years
    return Draft(
        _("Every enrollment, match, export, share and deletion is appended to a "
          "hash-chained, signed processing record kept at least %(years)s years (R11). This "
          "assessment is kept at least %(years)s years after its approval (R10). A change of "
          "purposes, place or method, or a major security incident, marks the deployment "
          "'reassessment required', which blocks enrollment until a new assessment is "
          "approved (R10, R22).") % {"years": years}
    )


def conclusion(d: Deployment, f: Facts) -> Draft:
    return Draft(
        _("Approval records the approver, the date, a hash of this content and a fingerprint "
          "of the deployment's purposes, place and method."),
        _("state the residual risk, whether processing may start, and any conditions "
          "attached."),
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
