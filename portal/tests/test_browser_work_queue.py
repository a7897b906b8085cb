"""Real-browser checks at a phone's width (390 px, WeChat's built-in browser, zh-hans): a group admin
works through their queue (mark removed with its confirmation, nickname fixed, owner succession,
report in their group), and a department head's drill-downs fit the width. Screenshots are written
to test-artifacts/screenshots/ (work_*.png)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from conftest import SCREENSHOT_DIR, browser_login
from groups.models import ChatGroup, Membership, RosterFinding
from groups.roles import sync_derived_roles
from groups.tests.work_data import build_work

from .dashboard_data import build, violation

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTH = 390
WECHAT_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN"
)


@pytest.fixture
def phone(browser, live_server):
    context = browser.new_context(
        viewport={"width": WIDTH, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        base_url=live_server.url,
        user_agent=WECHAT_UA,
    )
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


def fits(page, name: str) -> None:
    """No sideways scrolling of the page, then a full-page screenshot to look at."""
    page.wait_for_load_state("load")  # between two documents there is no scrollingElement
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= WIDTH, f"{name}: page is {width}px wide"
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT_DIR / f"{name}.png"), full_page=True)


def test_group_admin_works_the_queue_on_a_phone(phone, org, group_admin, django_user_model):
    work = build_work(org, django_user_model)
    violation(org["east_rep"], "C08", at=timezone.now(), status="reported", group=org["sales_group"])
    page = phone
    browser_login(page, "group_admin")
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    assert page.locator("h1").inner_text() == "我的群待办"
    groups = page.locator("[data-testid=queue-group]")
    assert groups.count() == 2
    sales = page.locator(f"[data-group='{org['sales_group'].pk}']")
    assert sales.locator("[data-testid=finding]").count() == 3
    assert sales.locator("[data-testid=violation]").count() == 1
    assert "路人乙" not in page.locator("main").inner_text()  # another admin's group
    fits(page, "work_queue_phone")

    departed = page.locator(f"[data-finding='{work['departed'].pk}']")
    with page.expect_navigation():
        departed.locator("[data-testid=removed]").click()
    assert "确认已移出群" in page.locator("h1").inner_text()
    assert "华东区-赵六" in page.locator("main").inner_text()
    fits(page, "work_confirm_removed_phone")
    with page.expect_navigation():
        page.click("[data-testid=confirm-removed]")
    assert page.url.endswith("/")
    assert "已移出" in page.locator(".messages").inner_text()
    assert page.locator(f"[data-finding='{work['departed'].pk}']").count() == 0
    assert Membership.objects.get(pk=work["departed"].membership_id).left_at is not None
    fits(page, "work_queue_after_removal_phone")

    with page.expect_navigation():
        page.locator(f"[data-finding='{work['nickname'].pk}'] [data-testid=nickname-fixed]").click()
    assert RosterFinding.objects.get(pk=work["nickname"].pk).status == "resolved"
    assert Membership.objects.get(pk=work["nickname"].membership_id).nickname == "华东区-张三"

    with page.expect_navigation():
        page.locator(f"[data-finding='{work['owner'].pk}'] [data-testid=successor]").click()
    assert page.locator("#id_successor").input_value() == str(org["tech_dev"].pk)  # the suggestion
    fits(page, "work_successor_phone")
    with page.expect_navigation():
        page.click("[data-testid=apply-successor]")
    assert ChatGroup.objects.get(pk=work["project"].pk).owner == org["tech_dev"]
    assert page.locator(f"[data-group='{work['project'].pk}']").count() == 0  # nothing left to do there

    with page.expect_navigation():
        sales.locator("[data-testid=report-in-group]").click()
    assert page.locator("#id_group").input_value() == str(org["sales_group"].pk)
    fits(page, "work_report_phone")


def test_head_drill_downs_fit_a_phone(phone, org, head_sales, head_tech):
    build(org, now=timezone.now())
    sync_derived_roles(acting_user=None)
    page = phone
    browser_login(page, "head_sales")
    assert page.url.endswith("/dashboard/")
    with page.expect_navigation():
        page.click("[data-testid=violations-total]")
    assert "/dashboard/violations/" in page.url
    assert page.locator("[data-testid=violation]").count() == 3
    fits(page, "work_head_violations_phone")
    page.go_back()
    page.locator("a[href^='/dashboard/findings/']").first.click()
    page.wait_for_load_state("networkidle")
    assert "/dashboard/findings/" in page.url
    assert "华东区-赵六" in page.locator("main").inner_text()
    fits(page, "work_head_findings_phone")
