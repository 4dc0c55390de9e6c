"""Subject rights beyond erasure: correction, explanation, human review, certificates,
the deletion triggers of PIPL 47 (purpose ended, service ended, BIPA's 3 years)."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import TEST_DEPLOYMENT, go_live
from faceguard import ConfigError, ConsentError, Faceguard, NotFound
from faceguard.audit.certificates import from_json, verify_with_public_key
from faceguard.cli.main import main
from faceguard.engine.dlib_engine import DlibEngine
from faceguard.results import Stats
from faceguard.timeutil import iso, utc_now
from pgtest import raw

PERSON = "Colin_Powell"
OTHER = "Tony_Blair"


def photo(lfw: Path, name: str, number: int) -> bytes:
    return (lfw / name / f"{name}_{number:04d}.jpg").read_bytes()


def enrolled(fg: Faceguard, lfw: Path, name: str, purposes: tuple[str, ...] = ("attendance",),
             method: str = "click") -> None:
    for purpose in purposes:
        fg.consent.grant(name, purpose, name=name, method=method, evidence="kiosk")
        fg.enroll(name, [photo(lfw, name, 1)], purpose)


def test_correction_replaces_the_templates(fg: Faceguard, lfw: Path) -> None:
    enrolled(fg, lfw, PERSON)
    first = fg.rights.export(PERSON).templates
    fg.identify(photo(lfw, PERSON, 5), "attendance")  # index loaded before the correction
    result = fg.correct(PERSON, [photo(lfw, PERSON, 2), photo(lfw, PERSON, 3)], "attendance")
    now = fg.rights.export(PERSON).templates
    assert [t["template_id"] for t in now] == list(result.template_ids)
    assert {t["template_id"] for t in first}.isdisjoint(result.template_ids)
    assert fg.identify(photo(lfw, PERSON, 5), "attendance").external_id == PERSON
    events = fg._store.audit.events(operation="template.corrected")
    assert [(e.outcome, e.detail["replaced"], e.rules) for e in events] == [
        ("ok", 1, ("R3", "R8", "R9", "R16"))
    ]


def test_explanation_names_purpose_point_and_rules_but_no_score(fg: Faceguard, lfw: Path
                                                                ) -> None:
    enrolled(fg, lfw, PERSON)
    decision = fg.verify(PERSON, photo(lfw, OTHER, 1), "attendance")
    explanation = fg.rights.explain(decision.audit_seq)
    assert (explanation.outcome, explanation.purpose, explanation.operating_point) == (
        "no-match", "attendance", "access-control"
    )
    assert explanation.false_match_rate == 1e-3
    assert explanation.rules == ("R1", "R3")
    assert "did not match" in explanation.text and "human review" in explanation.text
    assert "score" not in json.dumps(asdict(explanation)).replace("score_revealed", "")
    assert fg._store.audit.events(operation="decision.explained")[0].detail == {
        "decision": decision.audit_seq
    }
    consent_seq = fg._store.audit.events(operation="consent.granted")[0].seq
    with pytest.raises(NotFound, match="not a decision"):
        fg.rights.explain(consent_seq)


def test_human_review_is_requested_answered_and_recorded(fg: Faceguard, lfw: Path) -> None:
    enrolled(fg, lfw, PERSON)
    decision = fg.verify(PERSON, photo(lfw, PERSON, 2), "attendance")
    opened = fg.rights.request_review(decision.audit_seq, "I was refused at the door")
    assert (opened.status, opened.decision_seq) == ("open", decision.audit_seq)
    with pytest.raises(ConfigError, match="needs the answer"):
        fg.rights.answer_review(opened.id, "", by="dpo")
    answered = fg.rights.answer_review(opened.id, "Checked by hand: it is him.", by="dpo@test")
    assert (answered.status, answered.answered_by) == ("answered", "dpo@test")
    with pytest.raises(ConfigError, match="already answered"):
        fg.rights.answer_review(opened.id, "again", by="dpo")
    assert [r.id for r in fg.rights.reviews("answered")] == [opened.id]
    ops = [e.operation for e in fg._store.audit.events()][-3:]
    assert ops == ["decision.explained", "review.requested", "review.answered"]


def test_certificate_verifies_with_the_public_key_alone(
    fg: Faceguard, lfw: Path, tmp_path: Path
) -> None:
    enrolled(fg, lfw, PERSON)
    cert = fg.rights.erase(PERSON)
    path = tmp_path / "cert.json"
    path.write_text(json.dumps(asdict(cert)))
    assert verify_with_public_key(from_json(json.loads(path.read_text())), fg.audit.public_key_hex)
    result = CliRunner().invoke(
        main, ["certificate", "verify", str(path), "--public-key", fg.audit.public_key_hex]
    )
    assert (result.exit_code, result.stdout.strip()) == (0, "valid")
    forged = {**asdict(cert), "templates_deleted": []}
    path.write_text(json.dumps(forged))
    result = CliRunner().invoke(
        main, ["certificate", "verify", str(path), "--public-key", fg.audit.public_key_hex]
    )
    assert result.exit_code == 1 and "INVALID" in result.stdout
    assert fg.audit.certificate(cert.certificate_id) == cert


def test_a_purpose_dropped_from_the_deployment_ends_and_is_erased(
    data_dir: Path, engine: DlibEngine, lfw: Path
) -> None:
    fg = Faceguard.open(data_dir, engine=engine)
    fg.consent.publish_notice("access-control")
    fg.consent.publish_notice("attendance")
    enrolled(fg, lfw, PERSON, ("access-control", "attendance"))
    enrolled(fg, lfw, OTHER, ("attendance",))
    fg.close()
    without_attendance = TEST_DEPLOYMENT.split("[purposes.attendance]")[0]
    go_live(data_dir, without_attendance, engine)  # a change of purposes: reassessed
    fg = Faceguard.open(data_dir, engine=engine)
    try:
        result = fg.rights.sweep()
        assert result.consents_expired == 2 and result.templates_deleted == 2
        [cert] = result.certificates  # OTHER had no purpose left
        assert cert.reason == "purpose ended" and len(cert.templates_deleted) == 1
        assert [c["status"] for c in fg.rights.export(PERSON).consents] == ["active", "ended"]
        assert fg.verify(PERSON, photo(lfw, PERSON, 2), "access-control").decision == "match"
        with pytest.raises(NotFound):
            fg.rights.export(OTHER)
    finally:
        fg.close()


def test_bipa_erases_three_years_after_the_last_interaction(
    data_dir: Path, engine: DlibEngine, lfw: Path
) -> None:
    bipa = TEST_DEPLOYMENT.replace('packs = ["gdpr"]', 'packs = ["bipa"]').replace(
        "retention_days = 365\n", "retention_days = 1000\n").replace(
        "retention_days = 30\n", "retention_days = 1000\n").replace(
        'liveness = "off"', 'liveness = "off"\nretention_policy_url = "https://test.example/r"\n'
        'consent_methods = ["written"]')
    go_live(data_dir, bipa, engine)
    fg = Faceguard.open(data_dir, engine=engine)
    try:
        fg.consent.publish_notice("attendance")
        with pytest.raises(ConsentError) as refused:
            enrolled(fg, lfw, PERSON)  # a click is not a written release under BIPA
        assert refused.value.rule == "P4"
        enrolled(fg, lfw, PERSON, method="written")
        enrolled(fg, lfw, OTHER, method="written")
        assert fg.verify(OTHER, photo(lfw, OTHER, 2), "attendance").decision == "match"
        two_years_ago = iso(utc_now() - timedelta(days=730))
        with raw(data_dir) as conn:
            conn.execute("UPDATE subjects SET last_seen_at = ?", (two_years_ago,))
        in_18_months = iso(utc_now() + timedelta(days=550))
        result = fg.rights.sweep(now=in_18_months)
        assert [c.reason for c in result.certificates] == [
            "3 years since the last interaction (P3)"
        ] * 2
        assert fg.stats().people == 0
    finally:
        fg.close()


def test_decommission_erases_everyone_and_certifies_it(fg: Faceguard, lfw: Path) -> None:
    enrolled(fg, lfw, PERSON)
    enrolled(fg, lfw, OTHER)
    with pytest.raises(ConfigError, match="confirm"):
        fg.rights.decommission(confirm=False)
    result = fg.rights.decommission(confirm=True)
    assert result.people_erased == 2 and len(result.certificates) == 2
    assert result.summary.scope == "decommission" and result.summary.data_key_destroyed
    assert verify_with_public_key(result.summary, fg.audit.public_key_hex)
    assert fg.stats() == Stats(0, {})
    assert fg.audit.verify().ok


def test_sequence_numbers_beyond_any_store_are_not_found(fg: Faceguard) -> None:
    """A decision or review number no store can hold (PostgreSQL's integer ends at 2**31-1)
    is not found on every backend, not a database error."""
    for number in (2**31, 2**40, 2**62):
        with pytest.raises(NotFound):
            fg.rights.explain(number)
        with pytest.raises(NotFound):
            fg.rights.request_review(number, "why?")
        with pytest.raises(NotFound):
            fg.rights.answer_review(number, "because", by="dpo")
    assert fg.audit.events(before=2**40, limit=5) == fg.audit.events(limit=5) != []
