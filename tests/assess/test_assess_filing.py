"""Filing (R15): thresholds of both packs, approaching, public place, deadline, packet."""

from __future__ import annotations

import json
from datetime import date

import pytest

from conftest import CN_TEST_DEPLOYMENT as TEST_DEPLOYMENT
from faceguard.assess import (
    AssessmentFacts,
    FilingStatus,
    covered_years,
    draft_assessment,
    filing_packet,
    filing_status,
)
from faceguard.errors import ConfigError
from faceguard.policy.deployment import parse_deployment
from faceguard.results import Stats

TODAY = date(2025, 9, 22)


def cn(people: int, *, public_place: bool = False, crossed_on: date | None = None,
       today: date = TODAY, filed_on: date | None = None) -> FilingStatus:
    """The ``cn`` pack's numbers: reaching 100,000 people."""
    return filing_status(people, 100_000, inclusive=True, public_place_triggers=False,
                         public_place=public_place, crossed_on=crossed_on, today=today,
                         filed_on=filed_on, working_days=30, warning_percent=80)


def draft(people: int, *, public_place: bool = False) -> FilingStatus:
    """The ``cn-draft-2023`` pack's numbers: more than 10,000 people, or a public place."""
    return filing_status(people, 10_000, inclusive=False, public_place_triggers=True,
                         public_place=public_place, crossed_on=None, today=TODAY,
                           working_days=30, warning_percent=80)


@pytest.mark.parametrize(("people", "required", "approaching"), [
    (79_999, False, False), (80_000, False, True), (99_999, False, True),
    (100_000, True, False), (250_000, True, False),
])
def test_cn_threshold_is_inclusive(people: int, required: bool, approaching: bool) -> None:
    status = cn(people)
    assert (status.required, status.approaching) == (required, approaching)


@pytest.mark.parametrize(("people", "required", "approaching"), [
    (7_999, False, False), (8_000, False, True), (10_000, False, True),
    (10_001, True, False),
])
def test_draft_threshold_is_exclusive(people: int, required: bool, approaching: bool) -> None:
    status = draft(people)
    assert (status.required, status.approaching) == (required, approaching)


def test_details_say_what_to_do() -> None:
    assert cn(1_000).detail == "1,000 people stored; filing threshold (>= 100,000) not reached"
    assert cn(90_000).detail == ("R15: 90,000 people stored, 90% of the filing threshold "
                                 "(>= 100,000); prepare the filing packet")
    assert cn(99_999).detail.startswith("R15: 99,999 people stored, 99% of the filing")
    assert draft(10_000).threshold_text == "> 10,000 people"
    with pytest.raises(ConfigError, match="threshold must be >= 1"):
        filing_status(5, 0, inclusive=False, public_place_triggers=False, public_place=False,
                      crossed_on=None, today=TODAY,
                           working_days=30, warning_percent=80)


def test_crossing_records_today_and_computes_the_deadline() -> None:
    status = cn(100_000)
    assert status.required and status.newly_crossed
    assert status.crossed_on == TODAY and status.trigger == "count"
    assert status.deadline == date(2025, 11, 7)  # 30 working days across National Day
    assert status.working_days_left == 30 and not status.overdue
    assert "file with the cyberspace authority by 2025-11-07" in status.detail
    shorter = filing_status(100_000, 100_000, inclusive=True, public_place_triggers=False,
                            public_place=False, crossed_on=None, today=TODAY,
                           working_days=10, warning_percent=80)
    assert shorter.deadline == date(2025, 10, 11)  # the make-up Saturday


def test_public_place_triggers_filing_only_under_the_draft() -> None:
    status = draft(5, public_place=True)
    assert status.required and status.trigger == "public-place"
    assert "public-place use" in status.detail
    assert draft(20_000, public_place=True).trigger == "count+public-place"
    assert not cn(5, public_place=True).required


def test_deadline_and_overdue() -> None:
    crossed = date(2025, 9, 22)
    before = cn(120_000, crossed_on=crossed, today=date(2025, 10, 10))
    assert not before.newly_crossed and before.deadline == date(2025, 11, 7)
    assert before.working_days_left == 21 and not before.overdue
    last_day = cn(120_000, crossed_on=crossed, today=date(2025, 11, 7))
    assert not last_day.overdue and last_day.working_days_left == 0
    late = cn(120_000, crossed_on=crossed, today=date(2025, 11, 8))
    assert late.overdue and "OVERDUE" in late.detail
    assert "the deadline was 2025-11-07" in late.detail
    filed = cn(120_000, crossed_on=crossed, today=date(2025, 12, 1), filed_on=date(2025, 11, 3))
    assert not filed.overdue and "filed on 2025-11-03" in filed.detail


def test_obligation_stays_once_recorded() -> None:
    status = cn(99_000, crossed_on=date(2025, 9, 22), today=date(2025, 10, 10))
    assert status.required and status.trigger == ""
    assert "threshold reached on 2025-09-22, count now 99,000" in status.detail


def test_deadline_beyond_the_calendar_is_reported_not_guessed() -> None:
    last = covered_years()[1]
    status = cn(100_000, today=date(last, 12, 20))
    assert status.required and status.deadline is None and not status.overdue
    assert "the deadline is unknown" in status.detail and str(last + 1) in status.detail


def test_filing_packet_holds_everything_the_filing_needs() -> None:
    dep = parse_deployment(TEST_DEPLOYMENT)
    status = filing_status(100_000, 100_000, inclusive=True, public_place_triggers=False,
                           public_place=False, crossed_on=None, today=TODAY,
                           working_days=30, warning_percent=80)
    facts = AssessmentFacts.from_stats(
        dep, Stats(100_000, {"access-control": 100_500}),
        controls=["AES-256-GCM templates"], as_of=TODAY, filing=status)
    assessment = draft_assessment(dep, facts)
    rules = [{"id": "R15", "kind": "WARN", "source": "FRM 15"},
             {"id": "R10", "kind": "BLOCK", "source": "FRM 9"}]
    packet = filing_packet(dep, facts, assessment, status, rules=rules,
                           authority="provincial cyberspace office")
    assert packet.processor.name == "Test Property Co."
    assert packet.processor.contact == "privacy@test.example"
    assert [p.name for p in packet.purposes] == ["access-control", "attendance"]
    assert packet.purposes[0].templates == 100_500 and packet.purposes[1].retention_days == 30
    assert packet.methods.transmission == "local" and packet.methods.alternatives == [
        "resident-card"]
    assert packet.people == 100_000 and packet.safeguards == ["AES-256-GCM templates"]
    assert packet.warnings == ["R10: the impact assessment is not approved"]
    data = json.loads(packet.to_json())
    assert set(data) == {"generated_on", "authority", "processor", "purposes", "methods",
                         "people", "status", "protection_level", "safeguards", "rules",
                         "assessment", "warnings"}
    assert data["status"]["deadline"] == "2025-11-07"
    assert data["status"]["threshold_text"] == ">= 100,000 people"
    assert data["rules"] == rules
    assert len(data["assessment"]["sections"]) == 16
    assert data["assessment"]["approval"] is None
    early = filing_packet(dep, facts, None, cn(10), rules=[])
    assert early.warnings == [
        "R10: no impact assessment; the filing must include an approved one",
        "R15: filing is not required yet; this packet is preparatory"]
