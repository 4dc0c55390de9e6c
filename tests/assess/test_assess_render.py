"""HTML and PDF of the assessment, filing packet and protection report, read back with pypdf."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pypdf
import pytest

from conftest import CN_TEST_DEPLOYMENT as TEST_DEPLOYMENT
from faceguard.assess import (
    SECTION_KEYS,
    Assessment,
    AssessmentFacts,
    FilingPacket,
    draft_assessment,
    filing_packet,
    filing_status,
    protection_report,
    render_html,
    render_pdf,
)
from faceguard.assess.render import FILING_HEADINGS, FONT_CANDIDATES
from faceguard.errors import ConfigError
from faceguard.policy.deployment import parse_deployment
from faceguard.policy.packs import get_pack
from faceguard.results import Stats

TODAY = date(2025, 9, 22)
CN_LEVEL_1_MAX = get_pack("cn").numbers.protection_level_1_max_people


def assessment(name: str = "Test gate") -> Assessment:
    dep = parse_deployment(TEST_DEPLOYMENT.replace('name = "Test gate"', f'name = "{name}"'))
    facts = AssessmentFacts.from_stats(dep, Stats(120, {}), controls=[],
                                       as_of=TODAY)
    return draft_assessment(dep, facts)


def packet() -> FilingPacket:
    dep = parse_deployment(TEST_DEPLOYMENT)
    status = filing_status(100_000, 100_000, inclusive=True, public_place_triggers=False,
                           public_place=False, crossed_on=None, today=TODAY,
                           working_days=30, warning_percent=80)
    facts = AssessmentFacts.from_stats(dep, Stats(100_000, {}),
                                       controls=["signed audit"], as_of=TODAY, filing=status)
    return filing_packet(dep, facts, draft_assessment(dep, facts), status,
                         rules=[{"id": "R15", "kind": "WARN"}])


def pdf_text(data: bytes) -> str:
    assert data.startswith(b"%PDF-")
    reader = pypdf.PdfReader(io.BytesIO(data))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def flat(text: str) -> str:
    return " ".join(text.split())


def titles(a: Assessment) -> list[str]:
    return [f"{n}. {s.title}" for n, s in enumerate(a.sections, start=1)]


def test_html_has_every_section_and_nothing_external() -> None:
    a = assessment()
    html = render_html("assessment", a)
    assert html.startswith("<!DOCTYPE html>")
    for title in titles(a):
        assert f"<h2>{title}</h2>" in html
    assert len(titles(a)) == len(SECTION_KEYS)
    assert 'class="todo"' in html and "TO BE COMPLETED BY THE DPO" in html
    assert "<style>" in html
    for external in ("<link", "<script", "src=", "href=", "@import", "url("):
        assert external not in html


def test_html_escapes_deployment_text() -> None:
    html = render_html("assessment", assessment("<script>alert(1)</script> & co"))
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp;" in html


def test_html_of_filing_packet_and_protection_report() -> None:
    html = render_html("filing", packet())
    for heading in FILING_HEADINGS:
        assert f"<h2>{heading}</h2>" in html
    report = protection_report(1, "mall", True, 20_000, ["payment-verification"],
                               level_1_max_people=CN_LEVEL_1_MAX)
    html = render_html("protection", report)
    for heading in ("Controls faceguard provides", "What the operator must add",
                    "Plausibility"):
        assert f"<h2>{heading}</h2>" in html
    assert "3 plausibility warnings" in html and "[service]" in html


def test_assessment_pdf_has_every_required_section() -> None:
    a = assessment()
    text = pdf_text(render_pdf("assessment", a))
    assert "Personal information protection impact assessment" in text
    for title in titles(a):
        assert flat(title) in text
    assert "TO BE COMPLETED BY THE DPO" in text
    # 9 judgement sections, plus filing: no filing status was given in the facts
    assert "DRAFT, not approved: 10 sections to be completed by the DPO" in text


def test_filing_packet_pdf_has_every_required_section() -> None:
    p = packet()
    assert p.assessment is not None
    text = pdf_text(render_pdf("filing", p))
    assert "Filing packet: face recognition application (FRM 15)" in text
    for heading in FILING_HEADINGS:
        assert heading in text
    for title in titles(p.assessment):
        assert flat(title) in text
    assert "file with the cyberspace authority by 2025-11-07" in text
    assert "Test Property Co." in text and "privacy@test.example" in text


def test_protection_report_pdf() -> None:
    report = protection_report(3, "station", True, 2_000_000, ["public-safety"])
    text = pdf_text(render_pdf("protection", report, system_fonts=False))
    for heading in ("Controls faceguard provides", "What the operator must add",
                    "Plausibility", "Failed-login handling and two factors [service]"):
        assert heading in text


def test_core_font_replaces_what_latin_1_cannot_show() -> None:
    a = assessment("阳光花园 north gate")
    text = pdf_text(render_pdf("assessment", a, system_fonts=False))
    assert "???? north gate" in text
    # the name appears twice (header row and scope section): 2 x 4 characters
    assert ("8 characters that the PDF font cannot show were replaced by '?'; the HTML, TOML "
            "and JSON versions hold the full text.") in text
    assert "阳光花园 north gate" in render_html("assessment", a)
    plain = pdf_text(render_pdf("assessment", assessment("Café — north ≥ gate"),
                                system_fonts=False))
    assert "Café -- north >= gate" in plain and "cannot show" not in plain


def test_system_font_keeps_characters_it_has() -> None:
    found = [Path(regular) for regular, _ in FONT_CANDIDATES if Path(regular).is_file()]
    if not found:
        pytest.skip("no DejaVu Sans on this machine (fonts-dejavu-core); the core-font path "
                    "is tested instead")
    a = assessment("Ωmega Δelta 阳光")
    text = pdf_text(render_pdf("assessment", a))
    assert "Ωmega Δelta ??" in text
    assert "4 characters that the PDF font cannot show" in text  # 2 x 2
    explicit = pdf_text(render_pdf("assessment", assessment("Ωmega"), font=found[0]))
    assert "Ωmega" in explicit and "cannot show" not in explicit


def test_bad_arguments_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown report kind 'poster'"):
        render_html("poster", assessment())
    with pytest.raises(ConfigError, match="needs a FilingPacket, not Assessment"):
        render_pdf("filing", assessment())
    with pytest.raises(ConfigError, match="not found"):
        render_pdf("assessment", assessment(), font=tmp_path / "missing.ttf")
    junk = tmp_path / "junk.ttf"
    junk.write_bytes(b"not a font")
    with pytest.raises(ConfigError, match="cannot use .*junk.ttf as the PDF font"):
        render_pdf("assessment", assessment(), font=junk)
