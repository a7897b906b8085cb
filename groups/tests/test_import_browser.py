"""An HR clerk imports a roster whose 部门 column holds leaf names and one new department, in a real
browser (zh-hans): upload → preview (the create-departments choice) → confirm → done."""

import pytest
from django.urls import reverse

from conftest import browser_login
from groups.models import Department, Employee

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CSV = "工号,姓名,部门,状态\nE0101,张三,华东区,离职\nN0001,钱八,总公司/市场部,在职\nE0201,孙七,技术部,在职\n"


def test_upload_preview_create_departments_confirm_done(page, screenshot, hr, org, tmp_path):
    path = tmp_path / "花名册.csv"
    path.write_text(CSV, encoding="utf-8")
    browser_login(page, "hr")
    page.goto(reverse("groups:import_upload", args=["employees"]))
    page.set_input_files("input[type=file]", str(path))
    with page.expect_navigation():
        page.click("input[type=submit]")
    page.wait_for_selector("#id_create_departments")
    text = page.locator("#content-main").inner_text()
    assert "系统里没有以下 1 个部门" in text and "总公司/市场部" in text
    assert "状态: 在职 → 离职" in text
    screenshot("import_preview_new_department")

    with page.expect_navigation():
        page.click("input[value=确认导入]")
    assert "请勾选“新建以上部门”后再确认" in page.locator("body").inner_text()
    assert not Department.objects.filter(name_path="总公司/市场部").exists()
    screenshot("import_confirm_refused_without_choice")

    page.check("#id_create_departments")
    with page.expect_navigation():
        page.click("input[value=确认导入]")
    page.wait_for_selector(".import-next")
    text = page.locator("#content-main").inner_text()
    assert "已完成" in text and "查看未处理的核查问题" in text
    assert Employee.objects.get(employee_no="N0001").department.name_path == "总公司/市场部"
    assert Employee.objects.get(employee_no="E0101").department.name_path == "总公司/销售部/华东区"
    screenshot("import_done")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot("import_done_phone")
