"""The generated documents in Chinese: the assessment drafted in zh-CN, the filing packet
and the protection report, rendered to PDF with the embedded CJK font and read back with
pypdf, hold their required sections in the texts' own Chinese terms; a GDPR-only
deployment's assessment uses GDPR's words, not PIPL's."""

from __future__ import annotations

import io
import re
from datetime import date
from pathlib import Path

import pypdf
import pytest

from conftest import CN_TEST_DEPLOYMENT, TEST_DEPLOYMENT
from faceguard import i18n
from faceguard.assess import (
    Assessment,
    AssessmentFacts,
    FilingPacket,
    approve,
    draft_assessment,
    filing_packet,
    filing_status,
    protection_report,
    render_html,
    render_pdf,
    save_draft,
)
from faceguard.assess.render import CJK_FONTS
from faceguard.assess.sections import PLACEHOLDER
from faceguard.errors import ConfigError
from faceguard.policy.deployment import Deployment, parse_deployment
from faceguard.results import Stats

TODAY = date(2025, 9, 22)

needs_cjk_font = pytest.mark.skipif(
    not any(Path(f).is_file() for f in CJK_FONTS),
    reason="no CJK TrueType font (apt-get install fonts-droid-fallback)")


def cn() -> Deployment:
    return parse_deployment(CN_TEST_DEPLOYMENT)


def drafted(dep: Deployment, language: i18n.Language, people: int = 120) -> Assessment:
    facts = AssessmentFacts.from_stats(dep, Stats(people, {"access-control": people}),
                                       controls=[], as_of=TODAY)
    return draft_assessment(dep, facts, language=language)


def packet(language: i18n.Language) -> FilingPacket:
    dep = cn()
    with i18n.use(language):  # the packet's generated texts are made in the language
        status = filing_status(100_000, 100_000, inclusive=True, public_place_triggers=False,
                               public_place=False, crossed_on=None, today=TODAY,
                               working_days=30, warning_percent=80)
        facts = AssessmentFacts.from_stats(dep, Stats(100_000, {}), controls=[],
                                           as_of=TODAY, filing=status)
        return filing_packet(dep, facts, draft_assessment(dep, facts, language=language),
                             status, rules=[{"id": "R15", "kind": "WARN"}])


def pdf_text(data: bytes) -> str:
    """The PDF's text without white space (pypdf breaks Chinese lines anywhere), after
    checking that the CJK font is embedded."""
    reader = pypdf.PdfReader(io.BytesIO(data))
    fonts = {str(f["/BaseFont"]) for page in reader.pages
             for f in page["/Resources"]["/Font"].get_object().values()}
    assert any("Droid" in f for f in fonts), fonts
    return "".join("".join(page.extract_text() for page in reader.pages).split())


def squeeze(text: str) -> str:
    return "".join(text.split())


@needs_cjk_font
def test_assessment_drafted_in_chinese_reads_in_chinese_as_pdf() -> None:
    a = drafted(cn(), "zh-CN")
    text = pdf_text(render_pdf("assessment", a, language="zh-CN", packs=["cn"]))
    # the frame, then the drafted body of the sections, in the texts' own terms
    for required in (
            "个人信息保护影响评估报告", "个人信息处理者：TestPropertyCo.",
            "处理情况说明", "截至2025-09-22已录入人数：120", "声明的处理目的：",
            "处理目的、处理方式的合法性、正当性和必要性", "单独同意",
            "对个人权益影响最小的方式", "摄像头图像在运营方自有设备上转换为数值模板",
            "向不同意者提供的其他方式", "住户卡", "最小必要与保存期限",
            "access-control：365天，届时自动删除", "存储地点与传输", "传输方式：本地",
            "对个人权益的影响", "泄露、篡改、丢失和滥用的风险",
            "安全保护措施：加密、访问控制、审计", "声明的网络安全保护等级",
            "不满十四周岁的未成年人", "监护人同意", "公共场所与私密空间", "向网信部门备案",
            "《最高人民法院关于审理使用人脸识别技术处理个人信息相关民事案件适用法律若干问题的规定》",
            "（七）违背公序良俗处理人脸信息", "结论与决定", "草稿，尚未批准",
            "个人信息保护负责人的评估意见", "待个人信息保护负责人填写"):
        assert required in text, required
    assert "TOBECOMPLETED" not in text  # the marker is shown in Chinese
    assert "?" * 3 not in text  # nothing replaced for want of glyphs
    # the file keeps the marker approval looks for: a Chinese draft is not approvable
    assert a.pending and all(PLACEHOLDER in a.section(k).dpo for k in a.pending)


def test_a_chinese_draft_is_approved_only_once_the_dpo_wrote_every_section(
        tmp_path: Path) -> None:
    dep = cn()
    path = tmp_path / "assessment.toml"
    save_draft(path, drafted(dep, "zh-CN"))
    with pytest.raises(ConfigError, match="R10|TO BE COMPLETED") as refused:
        approve(path, dep, by="王芳")
    assert refused.value.rule == "R10"


@needs_cjk_font
def test_filing_packet_in_chinese_as_pdf() -> None:
    text = pdf_text(render_pdf("filing", packet("zh-CN"), language="zh-CN", packs=["cn"]))
    for required in ("人脸识别技术应用备案材料", "备案机关", "有管辖权的网信部门",
                     "个人信息处理者", "备案状态", "处理方式", "存储人数", "共100,000个不同的人",
                     "保护措施", "适用的规则", "个人信息保护影响评估",
                     "R15：自2025-09-22起须备案", "请在2025-11-07前向网信部门备案",
                     "须备案：是（>=100,000人）", "传输方式：本地", "其他方式：住户卡",
                     "处理情况说明"):
        assert required in text, required
    assert "?" * 3 not in text


@needs_cjk_font
def test_protection_report_in_chinese_as_pdf() -> None:
    with i18n.use("zh-CN"):
        report = protection_report(3, "station", True, 2_000_000, ["public-safety"],
                                   level_3_people=1_000_000)
    text = pdf_text(render_pdf("protection", report, language="zh-CN"))
    for required in ("网络安全等级保护报告", "声明的等级", "faceguard提供的控制项",
                     "登录失败处理与双因素鉴别[service]", "最小权限与三权分立",
                     "数据备份恢复", "剩余信息保护", "运营方须补充的措施",
                     "第二级及以上向当地公安机关办理等级保护备案", "合理性",
                     "要求：", "实现方式："):
        assert required in text, required
    assert "?" * 3 not in text


def test_english_documents_stay_english() -> None:
    html = render_html("filing", packet("en"), packs=["cn"])
    assert "Filing packet: face recognition application (FRM 15)" in html
    assert re.search(r"[\u4e00-\u9fff]", html) is None


def test_a_gdpr_deployment_assessment_uses_gdprs_words() -> None:
    gdpr = parse_deployment(TEST_DEPLOYMENT)
    html = render_html("assessment", drafted(gdpr, "en"), packs=gdpr.deployment.packs)
    text = re.sub(r"<[^>]+>", " ", html)
    assert "Data protection impact assessment (DPIA)" in text
    assert "GDPR Art. 35" in text and "Controller" in text
    for pipl_word in ("processor", "personal information protection impact assessment"):
        assert pipl_word not in text.lower(), pipl_word
    # the same draft of a cn deployment keeps PIPL's words
    chinese_law = render_html("assessment", drafted(cn(), "en"), packs=["cn"])
    assert "Personal information protection impact assessment" in chinese_law
    assert "Personal information processor" in chinese_law
