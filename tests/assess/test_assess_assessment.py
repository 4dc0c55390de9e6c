"""Impact assessment (R10, R23): draft, store, approve, fingerprint, state, retention."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from conftest import CN_TEST_DEPLOYMENT as TEST_DEPLOYMENT
from faceguard.assess import (
    PLACEHOLDER,
    SECTION_KEYS,
    Assessment,
    AssessmentFacts,
    approve,
    assessment_state,
    content_hash,
    deployment_fingerprint,
    draft_assessment,
    filing_status,
    keep_until,
    load_assessment,
    may_delete,
    save_assessment,
    save_draft,
)
from faceguard.errors import ConfigError
from faceguard.policy.deployment import Deployment, parse_deployment
from faceguard.results import Stats

EXPECTED_KEYS = (
    "scope", "lawfulness", "least_impact", "alternatives", "minimisation_retention",
    "transmission", "rights_impact", "security_risks", "security_measures",
    "safeguards_adequacy", "minors", "public_place", "filing", "infringements", "records",
    "conclusion",
)
APPROVED_AT = datetime(2025, 9, 22, 8, 30, tzinfo=UTC)


def deployment(*changes: tuple[str, str]) -> Deployment:
    text = TEST_DEPLOYMENT
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new)
    return parse_deployment(text)


def facts(dep: Deployment, people: int = 1234) -> AssessmentFacts:
    status = filing_status(people, 100_000, inclusive=True, public_place_triggers=False,
                           public_place=dep.deployment.public_place, crossed_on=None,
                           today=date(2025, 9, 20), working_days=30, warning_percent=80)
    return AssessmentFacts.from_stats(
        dep, Stats(people, {"access-control": 1200, "attendance": 40}),
        controls=["AES-256-GCM templates", "signed audit chain"], as_of=date(2025, 9, 20),
        filing=status)


def filled(assessment: Assessment) -> Assessment:
    """The DPO's work: every placeholder replaced by a judgement."""
    return replace(assessment, sections=tuple(
        replace(s, dpo=f"Judged by the DPO for {s.key}.") if s.needs_human else s
        for s in assessment.sections))


def approved_file(tmp_path: Path, dep: Deployment) -> Path:
    path = tmp_path / "assessment.toml"
    save_draft(path, filled(draft_assessment(dep, facts(dep))))
    approve(path, dep, by="Li Wei", when=APPROVED_AT)
    return path


def test_draft_covers_every_required_section() -> None:
    dep = deployment()
    draft = draft_assessment(dep, facts(dep))
    assert SECTION_KEYS == EXPECTED_KEYS
    assert tuple(s.key for s in draft.sections) == EXPECTED_KEYS
    assert all(s.title and s.sources and s.prefilled for s in draft.sections)
    human = {s.key for s in draft.sections if s.needs_human}
    assert human == {"lawfulness", "least_impact", "rights_impact", "security_risks",
                     "security_measures", "safeguards_adequacy", "minors", "infringements",
                     "conclusion"}
    for s in draft.sections:
        if s.needs_human:
            assert s.dpo.startswith(f"{PLACEHOLDER}: ")
        else:
            assert s.dpo == "" and PLACEHOLDER not in s.prefilled
    assert draft.pending == [s.key for s in draft.sections if s.needs_human]
    assert draft.approval is None
    assert draft.deployment_sha256 == deployment_fingerprint(dep)


def test_draft_is_prefilled_from_deployment_and_facts() -> None:
    dep = deployment()
    draft = draft_assessment(dep, facts(dep))
    assert "1,234" in draft.section("scope").prefilled
    assert "Templates stored: 1,200" in draft.section("scope").prefilled
    assert "Residents open the gate hands-free." in draft.section("lawfulness").prefilled
    assert "attendance: 30 days" in draft.section("minimisation_retention").prefilled
    assert "resident-card" in draft.section("alternatives").prefilled
    measures = draft.section("security_measures").prefilled
    assert "protection level (MLPS, GB/T 22240): 2" in measures
    assert "signed audit chain" in measures and "Physical security" in measures
    assert "not reached" in draft.section("filing").prefilled
    spc = draft.section("infringements").prefilled
    assert spc.count("\n- (") == 8 and "R23" in spc  # all eight SPC 2 items mapped
    assert "https://test.example/minors" in draft.section("minors").prefilled


def test_sections_needing_a_person_depend_on_the_deployment() -> None:
    dep = deployment(('public_place = false', 'public_place = true\ncollection_area = "hall"'),
                     ('transmission = "local"', 'transmission = "network"'),
                     ('alternatives = ["resident-card"]', 'alternatives = []'),
                     ('minors_rules = "https://test.example/minors"', 'minors_rules = ""'),
                     ('packs = ["cn"]', 'packs = ["cn", "gdpr"]'))
    draft = draft_assessment(dep, facts(dep))
    needs = {s.key: s.needs_human for s in draft.sections}
    assert needs["public_place"] and needs["transmission"] and needs["alternatives"]
    assert not needs["minors"]
    assert "cannot go live (R6)" in draft.section("alternatives").prefilled
    assert "Collection area: hall" in draft.section("public_place").prefilled
    assert "GDPR 35(7)(b)" in draft.section("lawfulness").sources
    assert "GDPR 35(7)(d)" in draft.section("safeguards_adequacy").sources


def test_file_round_trip_keeps_every_character(tmp_path: Path) -> None:
    dep = deployment()
    draft = filled(draft_assessment(dep, facts(dep)))
    tricky = 'He said "yes" \\ C:\\path\t"""triple""" 人脸识别 \u0007 end"'
    draft = replace(draft, sections=(replace(draft.sections[0], dpo=tricky + "\nline two"),
                                     replace(draft.sections[1], dpo=tricky),
                                     replace(draft.sections[2], dpo="ends in a backslash \\"),
                                     replace(draft.sections[3], title="two\nlines\r"),
                                     *draft.sections[4:]), controller="Co.\n\"Ltd\"")
    path = tmp_path / "a.toml"
    save_assessment(path, draft)
    assert load_assessment(path) == draft
    assert content_hash(load_assessment(path)) == content_hash(draft)


def test_approve_refuses_while_placeholders_remain(tmp_path: Path) -> None:
    dep = deployment()
    path = tmp_path / "assessment.toml"
    save_draft(path, draft_assessment(dep, facts(dep)))
    before = path.read_bytes()
    with pytest.raises(ConfigError, match="lawfulness, least_impact") as info:
        approve(path, dep, by="Li Wei")
    assert info.value.rule == "R10"
    assert path.read_bytes() == before
    one_left = filled(load_assessment(path))
    one_left = replace(one_left, sections=tuple(
        replace(s, dpo=f"{PLACEHOLDER}: later") if s.key == "conclusion" else s
        for s in one_left.sections))
    save_assessment(path, one_left)
    with pytest.raises(ConfigError, match=r"DPO.*: conclusion$"):
        approve(path, dep, by="Li Wei")
    with pytest.raises(ConfigError, match="approver"):
        approve(path, dep, by="  ")


def test_approve_records_approver_date_and_hashes(tmp_path: Path) -> None:
    dep = deployment()
    path = approved_file(tmp_path, dep)
    loaded = load_assessment(path)
    assert loaded.approval is not None
    assert loaded.approval.by == "Li Wei"
    assert loaded.approval.at == APPROVED_AT
    assert loaded.approval.content_sha256 == content_hash(loaded)
    assert loaded.approval.deployment_sha256 == deployment_fingerprint(dep)
    assert loaded.approval.keep_until == date(2028, 9, 22)
    state = assessment_state(dep, tmp_path)
    assert (state.present, state.approved, state.matches_deployment) == (True, True, True)
    assert state.ok and state.detail == "approved by Li Wei on 2025-09-22"
    with pytest.raises(ConfigError, match="already approved by Li Wei"):
        approve(path, dep, by="Someone Else")


@pytest.mark.parametrize("change", [
    ('necessity = "Residents open the gate hands-free."',
     'necessity = "Residents and visitors open the gate."'),
    ("retention_days = 30", "retention_days = 90"),
    ('retention_days = 30\n', 'retention_days = 30\n\n[purposes.parcel-pickup]\n'
                              'necessity = "Lockers."\nretention_days = 30\n'),
    ('place = "residential-entrance"', 'place = "office-entrance"'),
    ('transmission = "local"', 'transmission = "network"'),
    ("public_place = false", "public_place = true"),
    ('liveness = "off"', 'liveness = "required"'),
    ("protection_level = 2", "protection_level = 3"),
    ('packs = ["cn"]', 'packs = ["cn-draft-2023"]'),
], ids=["necessity", "retention", "new-purpose", "place", "transmission", "public-place",
        "liveness", "level", "packs"])
def test_change_of_purpose_place_or_method_requires_reassessment(
        tmp_path: Path, change: tuple[str, str]) -> None:
    approved_file(tmp_path, deployment())
    state = assessment_state(deployment(change), tmp_path)
    assert (state.present, state.approved, state.matches_deployment) == (True, True, False)
    assert not state.ok
    assert state.detail == ("reassessment required: purposes/place/method changed since "
                            "approval on 2025-09-22")


def test_other_changes_keep_the_assessment_valid(tmp_path: Path) -> None:
    approved_file(tmp_path, deployment())
    renamed = deployment(('name = "Test gate"', 'name = "Test gate (north)"'),
                         ('contact = "privacy@test.example"', 'contact = "dpo@test.example"'))
    assert assessment_state(renamed, tmp_path).ok


def test_editing_the_approved_file_is_detected(tmp_path: Path) -> None:
    dep = deployment()
    path = approved_file(tmp_path, dep)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("Judged by the DPO for conclusion.",
                                 "Judged later, differently."), encoding="utf-8")
    state = assessment_state(dep, tmp_path)
    assert (state.approved, state.matches_deployment) == (True, False)
    assert state.detail.startswith("reassessment required: the assessment was edited after "
                                   "its approval on 2025-09-22")
    again = approve(path, dep, by="Zhang Min", when=datetime(2025, 10, 9, tzinfo=UTC))
    assert again.approval is not None and again.approval.by == "Zhang Min"
    assert again.approval.keep_until == date(2028, 10, 9)  # the pack's 3 years
    assert assessment_state(dep, tmp_path).ok


def test_incident_after_approval_requires_reassessment(tmp_path: Path) -> None:
    dep = deployment()
    approved_file(tmp_path, dep)
    assert assessment_state(dep, tmp_path, incident_at=datetime(2025, 9, 1, tzinfo=UTC)).ok
    state = assessment_state(dep, tmp_path, incident_at=datetime(2025, 10, 2, tzinfo=UTC))
    assert not state.matches_deployment
    assert state.detail == ("reassessment required: incident on 2025-10-02 after approval on "
                            "2025-09-22")


def test_state_without_an_approved_assessment(tmp_path: Path) -> None:
    dep = deployment()
    missing = assessment_state(dep, tmp_path)
    assert (missing.present, missing.approved, missing.matches_deployment) == (False,) * 3
    assert "not found" in missing.detail and "drafts and approves" in missing.detail
    none = assessment_state(deployment(('assessment = "assessment.toml"', 'assessment = ""')),
                            tmp_path)
    assert not none.present and "deployment.assessment" in none.detail
    save_draft(tmp_path / "assessment.toml", draft_assessment(dep, facts(dep)))
    draft = assessment_state(dep, tmp_path)
    assert (draft.present, draft.approved, draft.matches_deployment) == (True, False, True)
    assert draft.detail.startswith("draft not approved; sections to be completed by the DPO: "
                                   "lawfulness")
    (tmp_path / "assessment.toml").write_text("format = [", encoding="utf-8")
    broken = assessment_state(dep, tmp_path)
    assert (broken.present, broken.approved, broken.matches_deployment) == (True, False, False)
    assert "is not valid TOML" in broken.detail


def test_approve_refuses_a_draft_of_a_different_deployment(tmp_path: Path) -> None:
    dep = deployment()
    path = tmp_path / "assessment.toml"
    save_draft(path, filled(draft_assessment(dep, facts(dep))))
    with pytest.raises(ConfigError, match="draft it again"):
        approve(path, deployment(('transmission = "local"', 'transmission = "network"')),
                by="Li Wei")


@pytest.mark.parametrize(("edit", "message"), [
    (lambda t: t.replace('format = 1', 'format = "1"'), "key 'format'"),
    (lambda t: t.replace('key = "minors"', 'key = "children"'),
     "missing sections: minors; unknown sections: children"),
    (lambda t: t.replace('key = "minors"', 'key = "scope"'),
     "missing sections: minors; duplicate sections: scope"),
    (lambda t: t.replace('needs_human = true', 'needs_human = "yes"', 1),
     "key 'sections.1.needs_human'"),
    (lambda t: t.replace('drafted_on = "2025-09-20"', 'drafted_on = "20/9/2025"'),
     "key 'drafted_on': not a date"),
    (lambda t: t.replace('deployment = "Test gate"\n', ''), "missing key 'deployment'"),
    (lambda t: t + '\nsurprise = 1\n', "unknown key 'sections.15.surprise'"),
    (lambda t: t.replace('format = 1', 'format = 2'), "unsupported version 2"),
    (lambda t: t.replace('at = "2025-09-22T08:30:00.000000+00:00"', 'at = "2025-09-22T08:30"'),
     "needs a UTC offset"),
    (lambda t: t.replace('[approval]\n', '[approval]\nextra = 1\n'),
     "unknown key 'approval.extra'"),
])
def test_malformed_files_name_the_problem(tmp_path: Path, edit: Callable[[str], str],
                                         message: str) -> None:
    path = approved_file(tmp_path, deployment())
    text = path.read_text(encoding="utf-8")
    changed = edit(text)
    assert changed != text
    path.write_text(changed, encoding="utf-8")
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_assessment(path)


def test_keep_for_three_years_after_approval() -> None:
    assert keep_until(datetime(2025, 9, 22, 23, 0, tzinfo=UTC), 3) == date(2028, 9, 22)
    assert keep_until(datetime(2024, 2, 29, tzinfo=UTC), 3) == date(2027, 3, 1)
    assert keep_until(datetime(2025, 9, 22, tzinfo=UTC), years=5) == date(2030, 9, 22)
    dep = deployment()
    draft = draft_assessment(dep, facts(dep))
    assert may_delete(draft, date(2025, 9, 21))
    assert not may_delete(draft, date(2025, 9, 21), in_force=True)


def test_may_delete_only_after_keep_until(tmp_path: Path) -> None:
    path = approved_file(tmp_path, deployment())
    approved = load_assessment(path)
    assert not may_delete(approved, date(2028, 9, 22))  # kept through keep_until
    assert may_delete(approved, date(2028, 9, 23))
    assert not may_delete(approved, date(2030, 1, 1), in_force=True)


def test_new_draft_archives_the_approved_assessment(tmp_path: Path) -> None:
    dep = deployment()
    path = approved_file(tmp_path, dep)
    changed = deployment(('transmission = "local"', 'transmission = "network"'))
    previous = load_assessment(path)
    redraft = draft_assessment(changed, facts(changed), previous=previous)
    archived = save_draft(path, redraft)
    assert archived == tmp_path / "assessment.approved-2025-09-22.toml"
    assert load_assessment(archived) == previous
    assert load_assessment(path).approval is None
    carried = redraft.section("lawfulness").dpo
    assert carried.startswith(f"{PLACEHOLDER}: review the text carried over from the "
                              "assessment of 2025-09-22")
    assert carried.endswith("Judged by the DPO for lawfulness.")
    assert redraft.section("transmission").dpo.startswith(PLACEHOLDER)
    with pytest.raises(ConfigError, match="lawfulness"):
        approve(path, changed, by="Li Wei")
    # a second approved assessment archived on the same day gets its own name
    save_assessment(path, filled(load_assessment(path)))
    approve(path, changed, by="Li Wei", when=APPROVED_AT)
    assert save_draft(path, redraft) == tmp_path / "assessment.approved-2025-09-22-2.toml"


def test_unapproved_draft_texts_carry_over_as_they_are() -> None:
    dep = deployment()
    previous = filled(draft_assessment(dep, facts(dep)))
    again = draft_assessment(dep, facts(dep, people=2000), previous=previous)
    assert again.section("conclusion").dpo == "Judged by the DPO for conclusion."
    assert "2,000" in again.section("scope").prefilled
    assert again.pending == []


def test_fingerprint_ignores_purpose_order() -> None:
    head, purposes = TEST_DEPLOYMENT.split("[purposes.access-control]")
    access, attendance = purposes.split("[purposes.attendance]")
    reordered = (f"{head}[purposes.attendance]{attendance}\n"
                 f"[purposes.access-control]{access}")
    assert list(parse_deployment(reordered).purposes) == ["attendance", "access-control"]
    assert deployment_fingerprint(parse_deployment(reordered)) == deployment_fingerprint(
        deployment())


def test_dpo_edits_the_file_by_hand_then_approves(tmp_path: Path) -> None:
    dep = deployment()
    path = tmp_path / "assessment.toml"
    save_draft(path, draft_assessment(dep, facts(dep)))
    lines = path.read_text(encoding="utf-8").splitlines()
    edited = [
        'The gate serves 1,234 residents; "cards" stay available.\n\nSecond paragraph.'
        if line.startswith(f"{PLACEHOLDER}:") else line
        for line in lines
    ]
    assert edited != lines
    path.write_text("\n".join(edited) + "\n", encoding="utf-8")
    approved = approve(path, dep, by="Li Wei")
    assert approved.section("conclusion").dpo.endswith("Second paragraph.")
    assert approved.approval is not None and approved.approval.at.tzinfo is not None
    assert assessment_state(dep, tmp_path).ok


# ---- the records of R7 and P8, and the packs' sources (issue 13) ---------------------------

BASIS = ('\n[transmission_basis]\nkind = "legal-basis"\nreference = "Order 12/2025"\n'
         'evidence = "Kept by the legal department, file L-12"\n')
AUTHORISATION = ('\n[[authorisations]]\nkind = "law-enforcement-realtime-identification"\n'
                 'authority = "Riverside District Court"\nreference = "RDC 2025/114-AI"\n'
                 'valid_until = 2026-06-30\n')


def test_the_transmission_basis_is_cited() -> None:
    network = ('transmission = "local"', 'transmission = "network"')
    without = draft_assessment(deployment(network), facts(deployment(network)))
    assert "No basis is recorded (key 'transmission_basis')" in without.section(
        "transmission").prefilled
    dep = parse_deployment(TEST_DEPLOYMENT.replace(*network) + BASIS)
    text = draft_assessment(dep, facts(dep)).section("transmission").prefilled
    assert ("Basis recorded in the deployment file (key 'transmission_basis'): legal-basis; "
            "reference: Order 12/2025; evidence: Kept by the legal department, file L-12.") in text


def test_authorisations_are_cited() -> None:
    dep = parse_deployment(TEST_DEPLOYMENT + AUTHORISATION)
    text = draft_assessment(dep, facts(dep)).section("public_place").prefilled
    assert "Authorisations recorded in the deployment file (key 'authorisations'" in text
    assert ("- law-enforcement-realtime-identification: granted by Riverside District Court, "
            "reference RDC 2025/114-AI, valid until 2026-06-30") in text
    assert "Authorisations" not in draft_assessment(deployment(), facts(deployment())).section(
        "public_place").prefilled


def test_a_changed_record_requires_reassessment() -> None:
    plain = deployment_fingerprint(deployment())
    with_basis = deployment_fingerprint(parse_deployment(TEST_DEPLOYMENT + BASIS))
    other = deployment_fingerprint(parse_deployment(
        TEST_DEPLOYMENT + BASIS.replace("Order 12/2025", "Order 13/2025")))
    authorised = deployment_fingerprint(parse_deployment(TEST_DEPLOYMENT + AUTHORISATION))
    assert len({plain, with_basis, other, authorised}) == 4


def test_pack_sources_name_real_sections() -> None:
    from faceguard.policy import get_pack, known_pack_ids

    for pack_id in known_pack_ids():
        assert set(get_pack(pack_id).assessment_sources) <= set(SECTION_KEYS), pack_id
    dep = deployment(('packs = ["cn"]', 'packs = ["cn", "gdpr"]'))
    sources = draft_assessment(dep, facts(dep)).section("scope").sources
    assert sources[-1] == "GDPR 35(7)(a)" and sources.count("GDPR 35(7)(a)") == 1
