"""The kiosk in Chinese, in Chromium with the fake camera: a browser asking for zh-CN gets
the welcome, the notice with a separate consent (单独同意) per purpose, the alternatives and
the outcome in Chinese, and the consent record names the language the notice was read in.
Screenshots go to test-artifacts/service/ (kiosk-zh-*.png)."""

from __future__ import annotations

from test_service_browser import (  # noqa: F401  (fixtures used by name)
    PURPOSE,
    Browsing,
    Service,
    browsing,
    log_in,
    playwright,
    shot,
    site,
)

from faceguard import Faceguard


def test_kiosk_in_chinese(browsing: Browsing, site: tuple[Service, str],  # noqa: F811
                          fg: Faceguard) -> None:
    service, url = site
    context = browsing.browser.new_context(locale="zh-CN",
                                           viewport={"width": 1000, "height": 900})
    page = context.new_page()
    log_in(page, url, service.secrets["operator"], "/kiosk")
    assert page.get_attribute("html", "lang") == "zh-CN"
    text = page.inner_text("main")
    assert "人脸识别是可选的" in text and "不刷脸的其他通行方式" in text
    shot(page, "kiosk-zh-1-start")
    page.fill("#external_id", "resident-88")
    page.fill("#name", "张伟")
    page.click("text=继续")
    page.wait_for_url("**/kiosk/consent")
    text = page.inner_text("main")
    assert "这是单独同意，仅针对这一用途" in text and "人脸信息处理者" in text
    assert "门禁通行" in text
    # the notice itself is read in Chinese (the version published in both languages)
    notice = page.inner_text(f"#notice-{PURPOSE}")
    assert "门禁通行（access-control）" in notice and "自录入之日起保存 365 天，届时删除" in notice
    assert "加密的数值模板" in notice and "撤回同意" in notice
    page.check(f'input[name="consent-{PURPOSE}"][value="agree"]')
    page.check('input[name="consent-attendance"][value="decline"]')
    shot(page, "kiosk-zh-2-notice-and-consent")
    page.click("text=确认我的选择")
    page.wait_for_selector("#take-photo:not([hidden]):not([disabled])", timeout=15_000)
    assert "现在拍一张您的人脸照片" in page.inner_text("main")
    assert "摄像头已就绪" in page.inner_text("#camera-status")  # the script speaks Chinese too
    page.click("#take-photo")
    page.wait_for_selector("#outcome-ok", timeout=30_000)
    text = page.inner_text("main")
    assert "完成：已为您开通人脸识别" in text and "您的照片未被保存" in text
    shot(page, "kiosk-zh-3-enrolled")
    context.close()
    consents = fg.rights.export("resident-88").consents
    assert [c["purpose"] for c in consents] == [PURPOSE]
    assert "read in zh-CN" in str(consents[0]["evidence_ref"])
    assert consents[0]["language"] == "zh-CN"  # the consent record names the language
    granted = fg._store.audit.events(operation="consent.granted", newest_first=True)[0]
    assert granted.detail["language"] == "zh-CN"
