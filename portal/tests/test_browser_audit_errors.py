"""Real-browser checks of issue #13's screens: the audit log in Chinese, the portal's own 404 page
(DEBUG on, as in the demo), and the dashboard chart's month axis on a 390 px phone. Screenshots go
to test-artifacts/screenshots/."""

from __future__ import annotations

import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from conftest import SCREENSHOT_DIR, browser_login
from groups.roles import sync_derived_roles
from portal.audit import audit_context
from portal.choices import Channel
from violations import services
from violations.models import Rule

from .dashboard_data import build

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "locale": "zh-CN",
}


@pytest.fixture
def data(org, hr, head_sales, head_tech):
    result = build(org, now=timezone.now())
    sync_derived_roles(acting_user=None)
    return result


def test_audit_log_page_in_chinese(page, screenshot, hr, org):
    occurred = datetime.datetime(2026, 5, 3, 10, 0, tzinfo=datetime.UTC)
    with audit_context(hr, Channel.SELF_SERVICE):
        violation = services.record_violation(
            org["east_rep"], Rule.objects.get(code="C04"), occurred, "群里发广告", acting_user=hr,
            group=org["sales_group"], confirmed=True, channel=Channel.SELF_SERVICE,
        )  # fmt: skip
    services.add_evidence(violation, [SimpleUploadedFile("截图.png", b"\x89PNG\r\n\x1a\n" + b"0" * 64)], acting_user=hr)
    browser_login(page, "hr")
    page.goto("/admin/auditlog/logentry/")
    headers = page.locator("#result_list thead").inner_text()
    for header in ("时间", "记录", "操作", "变更", "操作人", "来源"):
        assert header in headers
    listing = page.locator("#result_list").inner_text()
    assert "员工自助" in listing and "self_service" not in listing and "system" not in listing
    screenshot("audit_log_list")
    row = page.locator("#result_list tbody tr", has_text="违规记录 · 张三").filter(has_text="创建")
    row.locator("th a").click()  # the time opens the entry
    page.wait_for_load_state("networkidle")
    detail = page.locator("#content").inner_text()
    assert "张三(E0101)" in detail and "2026-05-03 18:00:00" in detail and "员工自助" in detail
    assert "violations.Evidence.None" not in detail and "False" not in detail
    screenshot("audit_log_entry")


def test_portal_404_page_with_debug_on(browser, live_server, settings, hr, screenshot, page):
    settings.DEBUG = True
    response = page.goto("/no-such-page/")
    assert response.status == 404
    body = page.locator("body").inner_text()
    assert "页面不存在" in body and "返回首页" in body and "URLconf" not in body
    screenshot("error_404_desktop")
    page.click("text=返回首页")
    page.wait_for_load_state("networkidle")
    assert "/login/" in page.url  # home, which asks an anonymous visitor to sign in
    context = browser.new_context(**PHONE, base_url=live_server.url)
    phone = context.new_page()
    try:
        browser_login(phone, "hr")
        assert phone.goto("/admin/no-such-app/").status == 404
        assert "页面不存在" in phone.locator("main").inner_text()
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        phone.screenshot(path=str(SCREENSHOT_DIR / "error_404_phone.png"), full_page=True)
    finally:
        context.close()


# Every month label of the trend chart's x axis lies inside the canvas, unrotated (390 px phone).
AXIS_LABELS = """() => {
  const chart = Chart.getChart(document.getElementById("trend-chart"));
  const scale = chart.scales.x, ctx = chart.ctx;
  const font = Chart.helpers.toFont(scale.options.ticks.font);
  ctx.save(); ctx.font = font.string;
  const labels = scale.ticks.map((tick, i) => {
    const text = String(scale.getLabelForValue(tick.value));
    const shown = scale.options.ticks.callback.call(scale, tick.value, i, scale.ticks);
    const x = scale.getPixelForTick(i), w = ctx.measureText(String(shown)).width;
    return {text, shown: String(shown), left: x - w / 2, right: x + w / 2};
  });
  ctx.restore();
  return {labels, width: chart.width, rotation: scale.labelRotation};
}"""


def test_dashboard_chart_axis_on_a_phone(browser, live_server, data):
    context = browser.new_context(**PHONE, base_url=live_server.url)
    phone = context.new_page()
    try:
        browser_login(phone, "head_sales")
        phone.wait_for_selector("#trend-chart[data-ready='1']")
        axis = phone.evaluate(AXIS_LABELS)
        assert axis["rotation"] == 0
        assert len(axis["labels"]) >= 4
        for label in axis["labels"]:
            assert label["left"] >= 0 and label["right"] <= axis["width"], label
            assert label["shown"] == label["text"][2:]  # 2026-10 → 26-10
        phone.locator("#trend").screenshot(path=str(SCREENSHOT_DIR / "dashboard_chart_phone.png"))
        phone.screenshot(path=str(SCREENSHOT_DIR / "dashboard_phone_390.png"), full_page=True)
    finally:
        context.close()
