"""A real browser records a violation through the admin form and sees the ladder's preview."""

from __future__ import annotations

import pytest
from django.test import Client

from violations.models import Rule, Sanction, Violation

from .conftest import at

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(browser, live_server, hr):
    client = Client()
    client.force_login(hr)
    context = browser.new_context(locale="zh-CN")
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}])
    yield context.new_page()
    context.close()


def test_record_violation_with_ladder_preview(page, live_server, org, sanction):
    sanction("C04", at(2026, 11, 2, 10))
    sanction("C04", at(2026, 11, 3, 10))
    rule = Rule.objects.get(code="C05")
    page.goto(f"{live_server.url}/admin/violations/violation/add/")
    page.locator(".field-employee .select2-selection").click()
    page.locator(".select2-search__field").fill("张三")
    page.locator(".select2-results__option", has_text="张三").first.click()
    page.select_option("select[name=rule]", str(rule.pk))
    preview = page.locator("#ladder-preview")
    preview.get_by_text("第3次警告(12个月内)→ 记过一次").wait_for(timeout=10000)
    assert page.locator('input[name="sanction_kinds"][value="warning"]').is_checked()
    page.fill("textarea[name=description]", "在部门群转发未经证实的消息")
    page.locator("input[name=_save]").click()
    page.wait_for_url("**/admin/violations/violation/")
    violation = Violation.objects.get(rule=rule)
    assert violation.status == "sanctioned"
    assert Sanction.objects.filter(violation=violation, is_derived=True, kind="demerit").exists()
