"""A real browser (zh-hans, desktop): HR reads the appeal's facts and both outcomes, then decides."""

from __future__ import annotations

import pytest

from conftest import browser_login
from violations.choices import AppealStatus
from violations.models import Appeal

from .test_appeal_decision import appeal_of_third_warning

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_hr_decides_an_appeal_with_the_facts_on_screen(page, screenshot, hr, org, employee_user):
    appeal = appeal_of_third_warning(hr, org, employee_user)
    browser_login(page, "hr")
    page.goto("/admin/violations/appeal/")
    page.get_by_role("link", name="裁决", exact=True).click()
    page.wait_for_url(f"**/admin/violations/appeal/{appeal.pk}/decide/")
    assert page.get_by_test_id("statement").inner_text() == "当天我在外地出差,群里发广告的是同名同事。"
    assert page.get_by_test_id("attachments").get_by_role("link", name="出差证明.pdf").is_visible()
    assert page.get_by_test_id("evidence").get_by_role("link", name="群聊截图.png").is_visible()
    upheld, overturned = page.get_by_test_id("upheld"), page.get_by_test_id("overturned")
    assert "这是12个月内第3次警告" in upheld.inner_text()
    assert "升级维持:第3次警告(12个月内)→ 记过一次" in upheld.inner_text()
    assert "12个月内警告次数从3次回到2次" in overturned.inner_text()
    assert "不再扣12分、扣当月全额绩效" in overturned.inner_text()
    assert "张三(E0101) · 销售部/华东区" in page.get_by_test_id("appeal-employee").inner_text()
    # Both buttons sit on the same page as the facts, visible without leaving it.
    assert page.get_by_role("button", name="维持原处分").is_visible()
    assert page.get_by_role("button", name="撤销处分").is_visible()
    screenshot("appeal-decision-desktop")

    page.fill("textarea[name=reason]", "出差记录属实,发广告的是同名同事")
    page.get_by_role("button", name="撤销处分").click()
    page.get_by_text("申诉已裁决:撤销").wait_for()
    screenshot("appeal-decision-done-desktop")
    assert Appeal.objects.get(pk=appeal.pk).status == AppealStatus.OVERTURNED
    assert "出差记录属实" in page.get_by_test_id("decision").inner_text()
