"""A real browser (zh-hans): HR is warned of a likely duplicate in the admin add form and saves anyway;
a group admin sees the same warning on the report page (phone width); HR edits a rule's default
sanctions as rows."""

from __future__ import annotations

import pytest

from conftest import browser_login
from groups.roles import sync_derived_roles
from violations import services
from violations.models import Rule, Violation

from .conftest import at

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_add_form_warns_of_a_duplicate_then_saves_anyway(page, screenshot, hr, org):
    rule = Rule.objects.get(code="C05")
    existing = services.record_violation(
        org["east_rep"], rule, at(2026, 11, 2, 9, 0), "在部门群转发未经证实的消息", acting_user=hr
    )
    browser_login(page, "hr")
    page.goto("/admin/violations/violation/add/")
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    assert not page.locator("input[type=checkbox][name=confirm_duplicate]").count()
    page.locator(".field-employee .select2-selection").click()
    page.locator(".select2-search__field").fill("张三")
    page.locator(".select2-results__option", has_text="张三").first.click()
    page.select_option("select[name=rule]", str(rule.pk))
    page.fill("input[name=occurred_at_0]", "2026-11-02")
    page.fill("input[name=occurred_at_1]", "15:00:00")
    page.fill("textarea[name=description]", "在部门群转发未经证实的消息(另一位群管理员也报了)")
    # Before saving, the form already names the record (fetched while typing).
    live = page.locator("#duplicate-preview")
    live.get_by_text("可能与以下已有记录重复(保存时需勾选“仍然保存”)").wait_for(timeout=10000)
    assert f"#{existing.pk} 张三 (E0101) · C05" in live.inner_text()
    screenshot("duplicate_preview_admin_desktop")
    page.locator("input[name=_save]").click()
    page.wait_for_load_state("networkidle")
    warning = page.locator(".field-confirm_duplicate")
    assert "可能与以下已有记录重复" in warning.inner_text()
    link = warning.locator(f'a[href="/admin/violations/violation/{existing.pk}/change/"]')
    assert "张三 (E0101) · C05 · 2026-11-02 09:00 · 已举报 · 同一条款和工作群" in link.inner_text()
    screenshot("duplicate_warning_admin_desktop")
    assert Violation.objects.count() == 1
    page.check("input[type=checkbox][name=confirm_duplicate]")
    page.locator("input[name=_save]").click()
    page.wait_for_url("**/admin/violations/violation/")
    assert Violation.objects.count() == 2


def test_report_page_warning_on_a_phone(page, screenshot, hr, group_admin, org):
    sync_derived_roles()  # 孙七 administers 销售部工作群
    rule = Rule.objects.get(code="B02")
    services.record_violation(
        org["east_rep"], rule, at(2026, 11, 2, 22, 0), "在群里辱骂同事", acting_user=hr, group=org["sales_group"]
    )
    page.set_viewport_size({"width": 390, "height": 844})
    browser_login(page, "group_admin")
    page.goto("/violations/report/")
    page.select_option("select[name=group]", str(org["sales_group"].pk))
    page.fill("input[name=person]", "E0101")
    page.select_option("select[name=rule]", str(rule.pk))
    page.fill("input[name=occurred_at]", "2026-11-02T22:30")
    page.fill("textarea[name=description]", "群里骂人")
    page.get_by_role("button", name="提交举报").click()
    page.wait_for_load_state("networkidle")
    assert "可能与以下已有记录重复" in page.locator("form.form").inner_text()
    assert page.locator("input[type=checkbox][name=confirm_duplicate]").is_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width  # the warning wraps instead of widening the page
    screenshot("duplicate_warning_report_phone")
    page.check("input[type=checkbox][name=confirm_duplicate]")
    page.get_by_role("button", name="提交举报").click()
    page.wait_for_load_state("networkidle")
    assert "举报已提交" in page.locator("body").inner_text()
    assert Violation.objects.count() == 2


def test_rule_default_sanctions_as_rows(page, screenshot, hr):
    rule = Rule.objects.get(code="C07")
    browser_login(page, "hr")
    page.goto(f"/admin/violations/rule/{rule.pk}/change/")
    table = page.locator("#id_default_sanctions")
    assert table.locator("tbody tr").count() == 5
    assert table.locator("select[name='default_sanctions-0-kind']").input_value() == "demerit"
    screenshot("rule_sanctions_form_desktop")
    page.check("input[name='default_sanctions-1-delete']")  # 扣当月全额绩效 goes
    page.select_option("select[name='default_sanctions-3-kind']", "fine")
    page.fill("input[name='default_sanctions-3-amount']", "0")
    page.locator("input[name=_save]").click()
    page.wait_for_load_state("networkidle")
    errors = page.locator(".field-default_sanctions .errorlist").first.inner_text()
    assert "第4行 罚款金额(元): 请填写大于0、最多两位小数的金额。" in errors
    assert page.locator("#id_default_sanctions td.errors input[name='default_sanctions-3-amount']").count() == 1
    assert page.locator("input[name='default_sanctions-1-delete']").is_checked()  # what HR typed is kept
    screenshot("rule_sanctions_form_error_desktop")
    page.fill("input[name='default_sanctions-3-amount']", "200")
    page.fill("input[name='default_sanctions-2-days']", "30")
    page.locator("input[name=_save]").click()
    page.wait_for_url("**/admin/violations/rule/")
    rule.refresh_from_db()
    assert rule.default_sanctions == [
        {"kind": "demerit"},
        {"kind": "removal", "days": 30},
        {"kind": "fine", "amount": "200"},
    ]
