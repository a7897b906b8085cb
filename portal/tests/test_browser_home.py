"""Real-browser checks of the shell every page shares: login, start page, language switch."""

import pytest

from conftest import browser_login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_login_home_and_language_switch(page, screenshot, employee_user, group_admin, org):
    page.goto("/")
    assert "/login/" in page.url
    screenshot("login")
    browser_login(page, "employee")
    # A plain employee has no dashboard: the start page shows their own record.
    assert page.url.endswith("/")
    assert "张三" in page.locator(".card.me").inner_text()
    screenshot("home_employee_zh")
    with page.expect_navigation():
        page.click("[data-testid=my-records]")
    assert page.url.endswith("/violations/mine/")
    page.go_back()
    with page.expect_navigation():
        page.click("button[data-lang=en]")
    assert page.locator("html").get_attribute("lang") == "en"
    screenshot("home_employee_en")
    with page.expect_navigation():
        page.click("button[data-lang=zh-hans]")
    assert page.locator("html").get_attribute("lang") == "zh-hans"


def test_group_admin_start_page_lists_groups(page, screenshot, group_admin, org):
    browser_login(page, "group_admin")
    assert "销售部工作群" in page.locator("#my-groups").inner_text()
    screenshot("home_group_admin")
