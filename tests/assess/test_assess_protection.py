"""Protection-level report (R24, R25): controls per level, operator tasks, plausibility."""

from __future__ import annotations

import pytest

from faceguard.assess import controls_in_force, protection_report
from faceguard.errors import ConfigError
from faceguard.policy.packs import get_pack

#: The R24 number of the Chinese pack: level 1 is implausible above it.
LEVEL_1_MAX = get_pack("cn").numbers.protection_level_1_max_people
LEVEL_3_FROM = get_pack("cn").numbers.protection_level_3_suggested_people

PROVIDERS = {
    "identity.unique": "service", "identity.failed_login": "service",
    "access.least_privilege": "service", "audit.processing": "library",
    "audit.user_actions": "service", "integrity": "library", "confidentiality": "library",
    "backup": "library", "residual": "library", "personal_information": "library",
}


def controls(level: int) -> dict[str, str]:
    report = protection_report(level, "office-entrance", False, 500, ["attendance"])
    return {c.key: f"{c.name} | {c.requirement} | {c.how}" for c in report.controls}


def test_every_control_says_who_provides_it() -> None:
    for level in (2, 3):
        report = protection_report(level, "office-entrance", False, 500, ["attendance"])
        assert {c.key: c.provided_by for c in report.controls} == PROVIDERS


def test_level_3_needs_two_factors_and_separate_roles() -> None:
    l2, l3 = controls(2), controls(3)
    assert "two or more authentication factors" in l3["identity.failed_login"]
    assert "TOTP" in l3["identity.failed_login"]
    assert "two" not in l2["identity.failed_login"] and "TOTP" not in l2["identity.failed_login"]
    assert "separate administrator, auditor and operator roles" in l3["access.least_privilege"]
    assert "separate" not in l2["access.least_privilege"]
    assert "cryptographic" in l3["integrity"] and "cryptographic" not in l2["integrity"]
    assert "off-site real-time backup" in l3["backup"]
    assert ">= 6 months" in l2["audit.user_actions"]
    assert "crypto-shredding" in l2["residual"] and "secure_delete" in l2["residual"]
    assert "AES-256-GCM" in l2["confidentiality"] and "Ed25519" in l2["audit.processing"]
    assert [t for t in protection_report(3, "x", False, 1, []).operator_tasks
            if t.startswith("Level 3")]
    assert not [t for t in protection_report(2, "x", False, 1, []).operator_tasks
                if t.startswith("Level 3")]


def test_operator_tasks_cover_what_software_cannot() -> None:
    tasks = " ".join(protection_report(2, "office-entrance", False, 1, []).operator_tasks)
    for needed in ("Physical security", "Network boundary", "off-site", "training",
                   "penetration testing", "MLPS filing"):
        assert needed in tasks


def test_plausible_levels_have_no_warnings() -> None:
    assert protection_report(2, "residential-entrance", False, 5_000, ["access-control"]
                             ).plausible
    assert protection_report(1, "office-entrance", False, 10_000, ["attendance"]).plausible
    assert protection_report(3, "station", True, 2_000_000, ["public-safety"]).plausible


@pytest.mark.parametrize(("level", "public", "people", "purposes", "reason", "suggested"), [
    (1, False, 10_001, ["attendance"], "level 1 for 10,001 people", 2),
    (1, True, 50, ["public-safety"], "level 1 in a public place", 2),
    (1, False, 50, ["payment-verification"], "level 1 for payment verification", 2),
    (2, False, 1_000_000, ["access-control"], "level 2 for 1,000,000 people", 3),
    (4, False, 50, ["access-control"], "level 3 controls only", 4),
])
def test_implausible_levels_warn_with_the_reason(
        level: int, public: bool, people: int, purposes: list[str], reason: str,
        suggested: int) -> None:
    report = protection_report(level, "mall", public, people, purposes,
                               level_1_max_people=LEVEL_1_MAX, level_3_people=LEVEL_3_FROM)
    assert not report.plausible
    assert len(report.warnings) == 1
    warning = report.warnings[0]
    assert warning.rule == "R24" and reason in warning.reason
    assert warning.suggested_level == suggested
    assert report.to_dict()["plausible"] is False


def test_the_level_3_suggestion_comes_from_the_pack() -> None:
    """No pack number, no suggestion: the GDPR pack sets none."""
    assert LEVEL_3_FROM == 1_000_000
    assert protection_report(2, "mall", False, 2_000_000, ["access-control"]).plausible


def test_several_reasons_are_all_given() -> None:
    report = protection_report(1, "mall", True, 20_000, ["payment-verification"],
                               level_1_max_people=LEVEL_1_MAX)
    assert len(report.warnings) == 3


def test_controls_in_force() -> None:
    library_only = controls_in_force(2, service=False)
    assert library_only == ["Audit of processing", "Integrity", "Confidentiality at rest",
                            "Backup and recovery", "Residual data clearing",
                            "Personal information protection"]
    with_service = controls_in_force(3, service=True)
    assert len(with_service) == 10
    assert "Failed-login handling and two factors" in with_service


def test_level_outside_1_to_5_is_refused() -> None:
    with pytest.raises(ConfigError, match="1..5"):
        protection_report(6, "mall", False, 1, [])


def test_security_log_months_come_from_the_packs() -> None:
    report = protection_report(2, "office-entrance", False, 500, ["attendance"],
                               security_log_months=12)
    texts = [c.requirement for c in report.controls] + report.operator_tasks
    assert sum(">= 12 months" in t for t in texts) == 3
    assert not any(">= 6 months" in t for t in texts)
