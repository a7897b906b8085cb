"""Real-browser checks of the dashboard: a head's scoped numbers and click-through, HR's overview,
the language switch, and the phone layout (WeChat's built-in browser size). Screenshots are written
to test-artifacts/screenshots/."""

from __future__ import annotations

import pytest
from django.utils import timezone

from conftest import browser_login
from groups.roles import sync_derived_roles

from .dashboard_data import build

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def data(org, hr, head_sales, head_tech):
    result = build(org, now=timezone.now())
    sync_derived_roles(acting_user=None)
    return result


def tile(page, testid: str) -> str:
    return page.locator(f"[data-testid={testid}] .num").inner_text().strip()


def test_head_sees_own_subtree_and_clicks_through(page, screenshot, data):
    browser_login(page, "head_sales")
    assert page.url.endswith("/dashboard/")
    assert "总公司/销售部" in page.locator("h1").inner_text()
    assert tile(page, "violations-total") == "3"
    assert tile(page, "at-risk") == "1"
    assert tile(page, "fines") == "¥1,234.50"
    body = page.locator("main").inner_text()
    assert "张三" in body and "孙七" not in body and "技术部" not in body
    page.wait_for_selector("#trend-chart[data-ready='1']")
    screenshot("dashboard_head_zh")
    with page.expect_navigation():
        page.click("[data-testid=violations-total]")
    assert "/dashboard/violations/" in page.url  # the portal's own list, not the admin changelist
    rows = page.locator("#violations-list [data-testid=violation]")
    assert rows.count() == 3
    screenshot("dashboard_head_violations_list")
    page.go_back()
    with page.expect_navigation():
        page.click("[data-testid=departed-in-groups]")
    assert "/admin/groups/membership/" in page.url
    assert page.locator("#result_list tbody tr").count() == 1
    assert "华东区-赵六" in page.locator("#result_list").inner_text()


def test_hr_overview_and_language_switch(page, screenshot, data):
    browser_login(page, "hr")
    assert "全公司" in page.locator("h1").inner_text()
    assert tile(page, "violations-total") == "4"
    table = page.locator("#subdepartments").inner_text()
    assert "销售部" in table and "技术部" in table
    assert "销售部工作群" in page.locator("#groups-violations").inner_text()
    page.wait_for_selector("#trend-chart[data-ready='1']")
    screenshot("dashboard_hr_zh")
    # Drill down into 技术部 through the department picker (auto-submits on change).
    with page.expect_navigation():
        page.select_option("#id_dept", label="总公司/技术部")
    assert "dept=" in page.url
    assert tile(page, "violations-total") == "1"
    with page.expect_navigation():
        page.click("button[data-lang=en]")
    assert page.locator("html").get_attribute("lang") == "en"
    month = timezone.localdate()
    assert page.locator("[data-testid=month]").inner_text().strip() == month.strftime("%B %Y")
    screenshot("dashboard_hr_en")
    page.goto("/dashboard/")  # the choice sticks (cookie), on another page too
    assert page.locator("html").get_attribute("lang") == "en"
    with page.expect_navigation():
        page.click("[data-testid=prev-month]")
    assert "month=" in page.url
    with page.expect_navigation():
        page.click("button[data-lang=zh-hans]")
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    assert "年" in page.locator("[data-testid=month]").inner_text()


def test_phone_layout(browser, live_server, data):
    from conftest import SCREENSHOT_DIR

    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        base_url=live_server.url,
        user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN",
    )
    page = context.new_page()
    try:
        browser_login(page, "head_sales")
        page.wait_for_selector("#trend-chart[data-ready='1']")
        # Nothing wider than the phone: no sideways scrolling of the page itself.
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT_DIR / "dashboard_phone.png"), full_page=True)
    finally:
        context.close()
