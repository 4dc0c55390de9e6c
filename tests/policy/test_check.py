"""``faceguard check`` on real deployment files: each rule fires with its ID, and only then."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from importlib import resources
from pathlib import Path

import pytest

from faceguard.errors import ConfigError, PolicyError
from faceguard.policy import (
    CHECKS,
    AssessmentState,
    CheckResult,
    DeploymentFacts,
    IdentificationOutlook,
    PackNumbers,
    check_deployment,
    get_pack,
    rules_for,
)
from faceguard.policy import check as check_module
from faceguard.policy.check import LAW_ENFORCEMENT_AUTHORISATION, evaluate
from faceguard.policy.deployment import (
    Authorisation,
    Deployment,
    TransmissionBasis,
    load_deployment,
    parse_deployment,
)
from faceguard.policy.packs import combine_numbers, known_pack_ids, load_pack, merge_rules
from faceguard.policy.places import private_places

FIXTURES = Path(__file__).parent / "fixtures"
PACKS = resources.files("faceguard.policy").joinpath("packs")
APPROVED = AssessmentState(
    present=True, approved=True, matches_deployment=True, detail="approved 2025-07-01 by the DPO"
)
#: An approved assessment and a presentation-attack detector: what a live deployment has.
GOOD = DeploymentFacts(people_enrolled=1_200, assessment=APPROVED, pad_available=True)
BASIS = TransmissionBasis(kind="legal-basis", reference="Order 12/2025 of the district",
                          evidence="Order kept by the legal department, file L-12")
WITH_BASIS = replace(GOOD, transmission_basis=BASIS)
AUTHORISATION = Authorisation(kind=LAW_ENFORCEMENT_AUTHORISATION, authority="District court",
                              reference="RDC 2025/114-AI", valid_until=date(2026, 6, 30))
AUTHORISED = replace(GOOD, authorisations=(AUTHORISATION,), today=date(2026, 6, 30))
EXPIRED = replace(AUTHORISED, today=date(2026, 7, 1))
#: 1:N predictions (R17): a purpose the engine serves well, and one it cannot serve.
GOOD_OUTLOOK = IdentificationOutlook("access-control", 900, 3.0, True, True, 0.0099, 0.12, 0.12)
POOR_OUTLOOK = IdentificationOutlook("access-control", 9000, 1.0, True, False, 0.0, 1.0, None)
UNCALIBRATED = IdentificationOutlook("access-control", 10, 1.0, False, False, 0.0, 1.0)
POOR = replace(GOOD, identification=(POOR_OUTLOOK,))
#: Over the ``cn`` pack's compliance-audit threshold (R22) and its filing threshold (R15).
HUGE = replace(GOOD, people_enrolled=10_000_001)

Pairs = set[tuple[str, str]]

#: fixture -> (facts, violations as (rule, kind), warnings as (rule, kind)).
CASES: dict[str, tuple[DeploymentFacts, Pairs, Pairs]] = {
    "passing_cn_residential.toml": (GOOD, set(), set()),
    "failing_r1_blank_necessity.toml": (GOOD, {("R1", "BLOCK")}, set()),
    "failing_r1_no_lawful_purpose.toml": (GOOD, {("R1", "BLOCK"), ("R27", "BLOCK")}, set()),
    "failing_r2_blank_contact.toml": (GOOD, {("R2", "BLOCK")}, set()),
    "failing_r5_no_minors_rules.toml": (GOOD, set(), {("R5", "WARN")}),
    "failing_r6_no_alternative.toml": (GOOD, {("R6", "BLOCK")}, set()),
    "passing_r7_network_with_basis.toml": (GOOD, set(), set()),
    "failing_r7_network_without_basis.toml": (GOOD, {("R7", "BLOCK")}, set()),
    "failing_r7_basis_without_evidence.toml": (GOOD, {("R7", "BLOCK")}, set()),
    "failing_r8_unlimited_retention.toml": (GOOD, {("R8", "BLOCK")}, set()),
    "failing_r10_no_assessment.toml": (GOOD, {("R10", "BLOCK")}, set()),
    "passing_r12_public_square.toml": (GOOD, set(), set()),
    "failing_r12_public_no_signage.toml": (GOOD, {("R12", "BLOCK")}, set()),
    "failing_r12_public_wrong_purpose.toml": (GOOD, {("R12", "BLOCK")}, set()),
    "failing_r12_undeclared_public_place.toml": (GOOD, {("R12", "BLOCK")}, set()),
    "failing_r13_hotel_room.toml": (GOOD, {("R13", "BLOCK")}, set()),
    "failing_r15_draft_public_place.toml": (GOOD, set(), {("R15", "REPORT")}),
    "failing_r22_compliance_audit_due.toml": (HUGE, set(), {("R15", "REPORT"),
                                                           ("R22", "REPORT")}),
    "failing_r17_identification_fnir.toml": (POOR, set(), {("R17", "REPORT"),
                                                           ("R17", "WARN")}),
    "failing_r24_level1_payment.toml": (GOOD, set(), {("R24", "WARN")}),
    "failing_r24_level4_residential.toml": (GOOD, set(), {("R24", "WARN")}),
    "failing_r26_liveness_off.toml": (GOOD, {("R26", "BLOCK")}, set()),
    "failing_r27_emotion_analysis.toml": (GOOD, {("R27", "BLOCK")}, set()),
    "passing_gdpr_office.toml": (GOOD, set(), set()),
    "failing_p2_no_assessment.toml": (GOOD, {("P2", "BLOCK")}, set()),
    "passing_bipa_office.toml": (GOOD, set(), set()),
    "failing_p3_retention_too_long.toml": (GOOD, {("P3", "BLOCK")}, set()),
    "failing_p3_no_policy_url.toml": (GOOD, {("P3", "BLOCK")}, set()),
    "failing_p4_click_consent.toml": (GOOD, {("P4", "BLOCK")}, set()),
    "failing_p5_network.toml": (GOOD, {("P5", "BLOCK")}, set()),
    "passing_eu_ai_act_office.toml": (GOOD, set(), set()),
    "failing_p7_emotion_analysis.toml": (GOOD, {("P7", "BLOCK")}, set()),
    "passing_p8_authorised_public_safety.toml": (GOOD, set(), set()),
    "failing_p8_public_identification.toml": (GOOD, {("P8", "BLOCK")}, set()),
    "failing_p8_authorisation_expired.toml": (GOOD, {("P8", "BLOCK")}, set()),
    "passing_multi_cn_gdpr_eu.toml": (GOOD, set(), set()),
    "failing_multi_emotion_analysis.toml": (GOOD, {("R27", "BLOCK"), ("P7", "BLOCK")}, set()),
}
#: Files that cannot be read as a deployment (exit 2), refused before any check: fixture ->
#: the key named. A value that reads fine but fails the law is a violation in ``CASES``.
UNREADABLE = {
    "failing_unreadable_retention_as_text.toml": "purposes.access-control.retention_days",
}


def load(name: str) -> Deployment:
    return load_deployment(FIXTURES / name)


def pairs(result: CheckResult) -> tuple[Pairs, Pairs]:
    return ({(f.rule, f.kind) for f in result.violations},
            {(f.rule, f.kind) for f in result.warnings})


def with_text(name: str, old: str, new: str) -> Deployment:
    text = (FIXTURES / name).read_text(encoding="utf-8")
    assert old in text
    return parse_deployment(text.replace(old, new), source=name)


@pytest.mark.parametrize("name", sorted(CASES))
def test_fixture_fires_exactly_its_rules(name: str) -> None:
    facts, violations, warnings = CASES[name]
    result = check_deployment(load(name), facts)
    assert pairs(result) == (violations, warnings)
    assert result.status == ("fail" if violations else "pass")
    assert all(f.detail for f in [*result.violations, *result.warnings])


@pytest.mark.parametrize("name", sorted(UNREADABLE))
def test_unreadable_fixture_names_the_key(name: str) -> None:
    with pytest.raises(ConfigError, match=f"key '{UNREADABLE[name]}'"):
        load(name)


def test_every_fixture_is_exercised() -> None:
    files = {p.name for p in FIXTURES.glob("*.toml")}
    assert files == set(CASES) | set(UNREADABLE)
    assert all(n.startswith(("passing_", "failing_")) for n in files)
    for name, (_, violations, warnings) in CASES.items():
        assert name.startswith("passing_") == (not violations and not warnings), name


def test_every_checked_rule_has_a_passing_and_a_failing_fixture() -> None:
    checked = {
        rule_id
        for pack in known_pack_ids()
        for rule_id, rule in merge_rules([get_pack(pack)]).items()
        if rule.check is not None
    }
    fired = {rule for _, v, w in CASES.values() for rule, _ in v | w}
    assert checked <= fired
    passing = [n for n in CASES if n.startswith("passing_")]
    covered = {r for n in passing for r, rule in rules_for(load(n)).items() if rule.check}
    assert checked <= covered
    for rule_id in checked:
        prefix = f"failing_{rule_id.lower()}_"
        assert any(n.startswith(prefix) for n in CASES), rule_id


# ---- the JSON document of DESIGN.md ----------------------------------------------------


def test_json_shape_is_exactly_the_documented_one() -> None:
    result = check_deployment(load("failing_r13_hotel_room.toml"), GOOD)
    document = json.loads(json.dumps(result.to_json()))
    assert document == {
        "status": "fail",
        "violations": [{
            "rule": "R13",
            "kind": "BLOCK",
            "detail": "key 'deployment.place' is 'hotel-room', a private space: face "
                      "recognition is refused there, with no override",
        }],
        "warnings": [],
    }
    assert list(document) == ["status", "violations", "warnings"]


def test_json_of_a_pass_with_warnings() -> None:
    document = check_deployment(load("failing_r5_no_minors_rules.toml"), GOOD).to_json()
    assert document["status"] == "pass"
    assert document["violations"] == []
    [warning] = document["warnings"]
    assert set(warning) == {"rule", "kind", "detail"}
    assert (warning["rule"], warning["kind"]) == ("R5", "WARN")
    assert "deployment.minors_rules" in warning["detail"]


def test_raise_if_failed_cites_the_rule() -> None:
    failing = check_deployment(load("failing_r13_hotel_room.toml"), GOOD)
    with pytest.raises(PolicyError, match=r"^\[R13\] the deployment fails its check") as info:
        failing.raise_if_failed()
    assert info.value.rule == "R13"
    check_deployment(load("passing_cn_residential.toml"), GOOD).raise_if_failed()


def test_default_facts_fail_closed() -> None:
    result = check_deployment(load("passing_cn_residential.toml"), DeploymentFacts())
    assert pairs(result)[0] == {("R10", "BLOCK"), ("R26", "BLOCK")}


# ---- facts the file cannot show ----------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "words"),
    [
        (AssessmentState(detail="assessment.toml not found"), "is missing (assessment.toml not"),
        (AssessmentState(present=True), "is not approved"),
        (AssessmentState(present=True, approved=True, detail="purposes changed"),
         "reassessment required: impact assessment 'assessment.toml' was approved for "
         "different purposes, place or method (purposes changed)"),
    ],
)
def test_r10_assessment_states(state: AssessmentState, words: str) -> None:
    result = check_deployment(load("passing_cn_residential.toml"), replace(GOOD, assessment=state))
    [finding] = result.violations
    assert (finding.rule, finding.kind) == ("R10", "BLOCK")
    assert words in finding.detail


@pytest.mark.parametrize(
    ("packs", "people", "expected"),
    [
        ('["cn"]', 79_999, set()),
        ('["cn"]', 80_000, {("R15", "WARN")}),
        ('["cn"]', 99_999, {("R15", "WARN")}),
        ('["cn"]', 100_000, {("R15", "REPORT")}),
        ('["cn-draft-2023"]', 7_999, set()),
        ('["cn-draft-2023"]', 8_000, {("R15", "WARN")}),
        ('["cn-draft-2023"]', 10_000, {("R15", "WARN")}),
        ('["cn-draft-2023"]', 10_001, {("R15", "REPORT")}),
        ('["cn", "cn-draft-2023"]', 10_001, {("R15", "REPORT")}),
        ('["gdpr"]', 10_000_000, set()),
    ],
)
def test_r15_filing_threshold(packs: str, people: int, expected: Pairs) -> None:
    deployment = with_text("passing_cn_residential.toml", 'packs = ["cn"]', f"packs = {packs}")
    result = check_deployment(deployment, replace(GOOD, people_enrolled=people))
    assert pairs(result) == (set(), expected)


def test_r15_report_names_the_deadline_and_authority() -> None:
    deployment = load("passing_cn_residential.toml")
    [finding] = check_deployment(deployment, replace(GOOD, people_enrolled=100_000)).warnings
    assert "(>= 100,000)" in finding.detail
    assert "the provincial cyberspace office within 30 working days" in finding.detail


def test_r24_level_1_for_many_people() -> None:
    deployment = with_text("passing_cn_residential.toml", "protection_level = 2",
                           "protection_level = 1")
    assert pairs(check_deployment(deployment, replace(GOOD, people_enrolled=10_000))) == (
        set(), set())
    result = check_deployment(deployment, replace(GOOD, people_enrolled=10_001))
    [finding] = result.warnings
    assert (finding.rule, finding.kind) == ("R24", "WARN")
    assert "key 'deployment.protection_level' is 1: implausible for 10,001" in finding.detail


def test_r26_needs_a_presentation_attack_detector() -> None:
    result = check_deployment(load("passing_cn_residential.toml"), replace(GOOD,
                                                                           pad_available=False))
    [finding] = result.violations
    assert (finding.rule, finding.kind) == ("R26", "BLOCK")
    assert "no presentation-attack detector is configured" in finding.detail


@pytest.mark.parametrize("place", private_places())
@pytest.mark.parametrize("packs", ['["cn"]', '["gdpr"]', '["bipa"]', '["eu-ai-act"]'])
def test_r13_every_private_place_under_every_pack(place: str, packs: str) -> None:
    text = (FIXTURES / "passing_bipa_office.toml").read_text(encoding="utf-8")
    text = text.replace('packs = ["bipa"]', f"packs = {packs}").replace(
        'place = "office-entrance"', f'place = "{place}"')
    result = check_deployment(parse_deployment(text), GOOD)
    assert ("R13", "BLOCK") in pairs(result)[0]


def test_r27_is_refused_whatever_the_packs() -> None:
    deployment = with_text("passing_gdpr_office.toml", "[purposes.access-control]",
                           '[purposes.race-classification]\nnecessity = "x"\nretention_days = 1'
                           "\n\n[purposes.access-control]")
    assert pairs(check_deployment(deployment, GOOD)) == ({("R27", "BLOCK")}, set())


# ---- the kind comes from the pack --------------------------------------------------------


def test_a_pack_that_makes_r24_block_fails_the_check(tmp_path: Path) -> None:
    text = PACKS.joinpath("cn.toml").read_text(encoding="utf-8")
    old = 'kind = "REPORT"\n# An implausible level for the place and scale is a warning with ' \
          'the reason (issue 3).\nalso = ["WARN"]'
    assert old in text
    path = tmp_path / "cn.toml"
    path.write_text(text.replace(old, 'kind = "BLOCK"'), encoding="utf-8")
    pack = load_pack(path)
    deployment = load("failing_r24_level4_residential.toml")
    result = evaluate(deployment, GOOD, merge_rules([pack]), combine_numbers([pack]))
    assert pairs(result) == ({("R24", "BLOCK")}, set())
    assert result.status == "fail"


# ---- each check alone ----------------------------------------------------------------------

BASE = load("passing_cn_residential.toml")
CN = combine_numbers([get_pack("cn")])
BIPA = combine_numbers([get_pack("bipa")])
NONE = PackNumbers()


def dep(**changes: object) -> Deployment:
    """The base deployment with ``[deployment]`` keys changed (unvalidated, as a check sees)."""
    return BASE.model_copy(update={"deployment": BASE.deployment.model_copy(update=changes)})


def purposes(**sections: dict[str, object]) -> Deployment:
    """The base deployment with these purposes, each a copy of access-control with changes."""
    section = BASE.purposes["access-control"]
    made = {name.replace("_", "-"): section.model_copy(update=ch) for name, ch in sections.items()}
    return BASE.model_copy(update={"purposes": made})


PUBLIC = dep(public_place=True, collection_area="The square", signage="Signs at entrances")
SAFETY = purposes(public_safety={})
PUBLIC_SAFETY = SAFETY.model_copy(update={"deployment": PUBLIC.deployment})

NO_PURPOSES = BASE.model_copy(update={"purposes": {}})
NETWORK = dep(transmission="network")


def basis(**changes: str) -> DeploymentFacts:
    return replace(GOOD, transmission_basis=BASIS.model_copy(update=changes))


def authorised(**changes: str) -> DeploymentFacts:
    return replace(AUTHORISED, authorisations=(AUTHORISATION.model_copy(update=changes),))


UNIT_CASES = [
    ("check_purposes_declared", BASE, GOOD, CN, []),
    ("check_purposes_declared", purposes(access_control={"necessity": " "}), GOOD, CN, ["R1"]),
    ("check_purposes_declared", purposes(access_control={"necessity": ""}), GOOD, CN, ["R1"]),
    ("check_purposes_declared", purposes(made_up={}), GOOD, CN, ["R1", "R1"]),
    ("check_purposes_declared", purposes(emotion_analysis={}), GOOD, CN, ["R1"]),
    ("check_purposes_declared", purposes(emotion_analysis={}, access_control={}), GOOD, CN, []),
    ("check_purposes_declared", NO_PURPOSES, GOOD, CN, ["R1"]),
    ("check_processor_named", BASE, GOOD, NONE, []),
    ("check_processor_named", dep(contact=" "), GOOD, NONE, ["R2"]),
    ("check_processor_named", dep(controller="", contact=""), GOOD, NONE, ["R2", "R2"]),
    ("check_minors_rules", BASE, GOOD, CN, []),
    ("check_minors_rules", dep(minors_rules=" "), GOOD, CN, ["R5"]),
    ("check_alternatives", BASE, GOOD, CN, []),
    ("check_alternatives", dep(alternatives=[" "]), GOOD, CN, ["R6"]),
    ("check_transmission_basis", NETWORK, GOOD, CN, ["R7"]),
    ("check_transmission_basis", NETWORK, WITH_BASIS, CN, []),
    ("check_transmission_basis", NETWORK, basis(evidence=" "), CN, ["R7"]),
    ("check_transmission_basis", NETWORK, basis(reference="", evidence=""), CN, ["R7", "R7"]),
    ("check_transmission_basis", BASE, GOOD, CN, []),
    ("check_finite_retention", purposes(access_control={"retention_days": 0}), GOOD, CN, ["R8"]),
    ("check_finite_retention", purposes(access_control={"retention_days": -5}), GOOD, NONE,
     ["R8"]),
    ("check_finite_retention", BASE, GOOD, PackNumbers(max_retention_days=364), ["R8"]),
    ("check_finite_retention", purposes(attendance={"retention_days": 3651}), GOOD, CN,
     ["R8"]),
    ("check_finite_retention", purposes(attendance={"retention_days": 3650}), GOOD, CN, []),
    ("check_assessment", BASE, DeploymentFacts(), CN, ["R10"]),
    ("check_assessment", BASE, GOOD, CN, []),
    ("check_assessment", dep(assessment=""), GOOD, CN, ["R10"]),
    ("check_public_place", BASE, GOOD, CN, []),
    ("check_public_place", PUBLIC_SAFETY, GOOD, CN, []),
    ("check_public_place", dep(public_place=True), GOOD, CN, ["R12"] * 4),
    ("check_public_place", dep(place="airport"), GOOD, CN, ["R12"] * 5),
    ("check_private_place", dep(place="toilet"), GOOD, CN, ["R13"]),
    ("check_private_place", dep(place="hotel-lobby"), GOOD, CN, []),
    ("check_filing_threshold", BASE, replace(GOOD, people_enrolled=10**7), NONE, []),
    ("check_filing_threshold", BASE, replace(GOOD, people_enrolled=80_000), CN, ["R15"]),
    ("check_filing_threshold", PUBLIC, GOOD, CN, []),
    ("check_compliance_audit", BASE, GOOD, CN, []),
    ("check_compliance_audit", BASE, replace(GOOD, people_enrolled=10_000_000), CN, []),
    ("check_compliance_audit", BASE, HUGE, CN, ["R22"]),
    ("check_compliance_audit", BASE, HUGE, NONE, []),
    ("check_protection_level", BASE, GOOD, CN, []),
    ("check_protection_level", dep(protection_level=1, public_place=True), GOOD, CN, ["R24"]),
    ("check_protection_level", dep(protection_level=5), GOOD, CN, ["R24"]),
    ("check_protection_level", PUBLIC_SAFETY.model_copy(update={
        "deployment": PUBLIC.deployment.model_copy(update={"protection_level": 4})}),
     GOOD, CN, []),
    ("check_liveness", BASE, GOOD, CN, []),
    ("check_liveness", dep(liveness="off"), DeploymentFacts(), NONE, []),
    ("check_liveness", BASE, DeploymentFacts(), NONE, ["R26"]),
    ("check_liveness", dep(liveness="off"), GOOD, CN, ["R26"]),
    ("check_liveness", dep(liveness="off"), DeploymentFacts(), CN, ["R26", "R26"]),
    ("check_forbidden_purposes", BASE, GOOD, CN, []),
    ("check_forbidden_purposes", purposes(emotion_analysis={}, access_control={}), GOOD, CN,
     ["R27"]),
    ("check_bipa_retention", purposes(access_control={"retention_days": 3650}), GOOD, NONE, []),
    ("check_bipa_retention", dep(retention_policy_url="https://x.example/r"), GOOD, BIPA, []),
    ("check_bipa_retention", dep(retention_policy_url="ftp://x.example/r"), GOOD, BIPA, ["P3"]),
    ("check_bipa_retention", purposes(access_control={"retention_days": 1096}), GOOD, BIPA,
     ["P3", "P3"]),
    ("check_written_release", BASE, GOOD, BIPA, ["P4"]),
    ("check_written_release", BASE, GOOD, CN, []),  # no pack asks for a written release
    ("check_written_release", dep(consent_methods=["signature"]), GOOD, BIPA, []),
    ("check_local_only", BASE, GOOD, BIPA, []),
    ("check_local_only", NETWORK, WITH_BASIS, BIPA, ["P5"]),
    ("check_local_only", NETWORK, WITH_BASIS, CN, []),  # no pack forbids sharing
    ("check_public_identification_authorised", PUBLIC_SAFETY, GOOD, NONE, ["P8"]),
    ("check_public_identification_authorised", PUBLIC_SAFETY, AUTHORISED, NONE, []),
    ("check_public_identification_authorised", PUBLIC_SAFETY, EXPIRED, NONE, ["P8"]),
    ("check_public_identification_authorised", PUBLIC_SAFETY, authorised(authority=" "), NONE,
     ["P8"]),
    ("check_public_identification_authorised", SAFETY, GOOD, NONE, []),
    ("check_public_identification_authorised", PUBLIC, GOOD, NONE, []),
    ("check_identification_outlook", BASE, GOOD, CN, []),  # nothing known, nothing said
    ("check_identification_outlook", BASE, replace(GOOD, identification=(GOOD_OUTLOOK,)), CN,
     ["R17"]),
    ("check_identification_outlook", BASE, POOR, CN, ["R17", "R17"]),
    # FNIR 12%: useful under the packs' 20%, not under a pack asking for at most 10%
    ("check_identification_outlook", BASE, replace(GOOD, identification=(GOOD_OUTLOOK,)),
     replace(CN, useful_fnir=0.1), ["R17", "R17"]),
    ("check_identification_outlook", BASE, replace(GOOD, identification=(UNCALIBRATED,)), CN,
     ["R17"]),
]


@pytest.mark.parametrize(
    ("name", "deployment", "facts", "numbers", "expected"),
    UNIT_CASES,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(UNIT_CASES)],
)
def test_check_alone(name: str, deployment: Deployment, facts: DeploymentFacts,
                     numbers: PackNumbers, expected: list[str]) -> None:
    found = CHECKS[name](deployment, facts, numbers)
    assert [f.rule for f in found] == expected
    assert all(f.detail and f.kind in ("BLOCK", "WARN", "REPORT") for f in found)


def test_every_check_is_unit_tested_and_used_by_a_pack() -> None:
    assert {c[0] for c in UNIT_CASES} == set(CHECKS)
    named = {r.check for p in known_pack_ids() for r in get_pack(p).rules}
    assert named - {None} == set(CHECKS)
    public = {n for n in vars(check_module) if n.startswith("check_") and n != "check_deployment"}
    assert public == set(CHECKS)


def test_minors_age_comes_from_the_numbers() -> None:
    [finding] = CHECKS["check_minors_rules"](dep(minors_rules=""), GOOD,
                                             PackNumbers(minors_age=16))
    assert "people under 16 cannot be enrolled" in finding.detail
