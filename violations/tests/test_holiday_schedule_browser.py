"""A real browser: the employee sees 暂定 next to a deadline in a year without the official schedule."""

from __future__ import annotations

import pytest

from conftest import browser_login
from violations import services
from violations.workdays import PACKAGE_YEARS

from .conftest import at

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
Y = PACKAGE_YEARS.stop
P = Y - 1


def test_employee_sees_provisional_deadline_desktop_and_phone(page, screenshot, sanction, hr, employee_user):
    violation = services.mark_notified(sanction("C04", at(P, 11, 2, 10)), acting_user=hr, at=at(P, 12, 28, 10))
    browser_login(page, "employee")
    page.goto("/violations/mine/")
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    mark = page.locator("[data-testid=provisional]")
    assert mark.inner_text() == "暂定"
    assert "周一至周五" in mark.get_attribute("title")
    assert violation.appeal_deadline.isoformat() in page.locator("tbody tr").first.inner_text()
    screenshot("provisional_mine_desktop")
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    assert page.locator("[data-testid=provisional]").is_visible()
    screenshot("provisional_mine_phone")
    page.goto(f"/violations/{violation.pk}/appeal/")
    assert page.locator("[data-testid=provisional]").is_visible()
    screenshot("provisional_appeal_phone")
    # Once HR enters the year's schedule, the mark is gone.
    services.enter_holiday_schedule(Y, f"{Y}-01-01至{Y}-01-03 放假", acting_user=hr)
    page.goto("/violations/mine/")
    assert page.locator("[data-testid=provisional]").count() == 0
