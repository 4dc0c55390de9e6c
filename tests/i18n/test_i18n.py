"""Chinese and English: the catalogue covers every message the pages and documents use, the
browser's language is followed, and the zh-CN assessment as PDF (with its embedded CJK font)
reads in Chinese when its text is extracted with pypdf."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pypdf
import pytest
from babel.messages.extract import extract_from_dir, extract_from_file

from conftest import CN_TEST_DEPLOYMENT
from faceguard import i18n
from faceguard.assess import AssessmentFacts, draft_assessment
from faceguard.assess.render import CJK_FONTS, FILING_HEADINGS, render_html, render_pdf
from faceguard.assess.sections import PLACEHOLDER, SECTIONS
from faceguard.policy.deployment import parse_deployment
from faceguard.policy.packs import combine_numbers, get_pack
from faceguard.results import Stats

SRC = Path(__file__).resolve().parents[2] / "src" / "faceguard"


def used_messages() -> set[str]:
    found: set[str] = set()
    for *_where, message, _comments, _context in extract_from_dir(
            str(SRC / "templates"), method_map=[("**.html", "jinja2")],
            options_map={"**.html": {"extensions": "jinja2.ext.i18n"}}):
        found.add(message[0] if isinstance(message, tuple) else message)
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    for module in (*sorted((SRC / "assess").glob("*.py")), SRC / "api" / "consent.py",
                   SRC / "service" / "pages_kiosk.py", SRC / "service" / "language.py"):
        for _line, message, _comments, _context in extract_from_file(
                "python", str(module), keywords=keywords):
            found.add(message[0] if isinstance(message, tuple) else message)
    return found | {title for title, _sources, _fn in SECTIONS.values()} | shown_values()


def shown_values() -> set[str]:
    """Values the pages and documents translate as they show them (``| t``, ``term``)."""
    from faceguard.policy.purposes import PURPOSES
    from faceguard.service.problems import TYPES

    return ({t.title for t in TYPES.values()} | {t.explanation for t in TYPES.values()}
            | set(PURPOSES.values()) | set(FILING_HEADINGS)
            | {"active", "withdrawn", "superseded", "expired", "erased", "open", "answered",
               "click", "signature", "written", "required", "off", "local", "network",
               PLACEHOLDER})


def test_every_message_has_a_chinese_translation() -> None:
    catalogue = i18n.translations("zh-CN")
    assert catalogue is not None
    missing = [m for m in sorted(used_messages()) if catalogue.gettext(m) == m]
    assert missing == []


@pytest.mark.parametrize(("header", "default", "chosen"), [
    ("zh-CN,zh;q=0.9,en;q=0.8", "en", "zh-CN"),
    ("en-US,en;q=0.9", "zh-CN", "en"),
    ("fr-FR, zh-Hans;q=0.5", "en", "zh-CN"),
    ("de-DE", "zh-CN", "zh-CN"),
    (None, "en", "en"),
    ("en;q=0.2, zh;q=0.8", "en", "zh-CN"),
])
def test_browser_language_with_the_deployment_default(
        header: str | None, default: i18n.Language, chosen: str) -> None:
    assert i18n.negotiate(header, default) == chosen


def test_cn_packs_default_to_chinese() -> None:
    def packs_say(*packs: str) -> str | None:
        return combine_numbers(get_pack(p) for p in packs).language

    assert packs_say("cn") == packs_say("cn-draft-2023") == "zh-CN"
    assert packs_say("gdpr") is None and packs_say("gdpr", "cn") == "zh-CN"
    assert i18n.default_language(packs_say("cn"), None) == "zh-CN"
    assert i18n.default_language(packs_say("gdpr"), None) == "en"
    assert i18n.default_language(packs_say("cn"), "en") == "en"


def _assessment() -> object:
    dep = parse_deployment(CN_TEST_DEPLOYMENT)
    facts = AssessmentFacts.from_stats(dep, Stats(120, {}), controls=[], as_of=date(2025, 9, 22))
    return draft_assessment(dep, facts)


@pytest.mark.skipif(not any(Path(f).is_file() for f in CJK_FONTS),
                    reason="no CJK TrueType font (apt-get install fonts-droid-fallback)")
def test_zh_cn_assessment_pdf_reads_in_chinese() -> None:
    data = render_pdf("assessment", _assessment(), language="zh-CN")
    reader = pypdf.PdfReader(io.BytesIO(data))
    fonts = {str(f["/BaseFont"]) for page in reader.pages
             for f in page["/Resources"]["/Font"].get_object().values()}
    assert any("Droid" in f for f in fonts), fonts  # the CJK font is embedded
    text = "".join("".join(page.extract_text() for page in reader.pages).split())
    for required in ("个人信息保护影响评估报告", "个人信息处理者", "处理情况说明",
                     "处理目的、处理方式的合法性、正当性和必要性", "对个人权益的影响",
                     "安全保护措施：加密、访问控制、审计", "不满十四周岁的未成年人",
                     "向网信部门备案", "结论与决定", "草稿，尚未批准",
                     "个人信息保护负责人的评估意见"):
        assert required in text, required
    assert "?" * 4 not in text  # nothing replaced for want of glyphs


def test_trial_html_in_both_languages() -> None:
    english = render_html("assessment", _assessment(), trial=True)
    chinese = render_html("assessment", _assessment(), trial=True, language="zh-CN")
    assert "TRIAL deployment (faceguard serve --dev)" in english and 'lang="en"' in english
    assert "试用部署" in chinese and 'lang="zh-CN"' in chinese
    assert "个人信息保护影响评估报告" in chinese
