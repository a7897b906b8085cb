"""Chat detection in a real browser (zh-hans): HR imports a WeChat export → the suspicions appear →
HR confirms one in the admin (its evidence on the page); a group admin on a phone (390 px) confirms
one of their group's suspicions and dismisses another with a reason. Screenshots: detect_*.png."""

from __future__ import annotations

import shutil

import pytest
from django.urls import reverse

from conftest import SCREENSHOT_DIR, browser_login
from groups.models import Membership
from groups.roles import sync_derived_roles
from groups.tests.chat_helpers import WECHAT
from portal.tests.test_browser_work_queue import fits, phone  # noqa: F401  the phone fixture
from violations.choices import ViolationStatus
from violations.models import Violation

from .detection_helpers import at, msg

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def shot(page, name: str) -> None:
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT_DIR / f"{name}.png"), full_page=True)


@pytest.fixture
def sales(org):
    group = org["sales_group"]
    Membership.objects.create(
        group=group, platform_id="wxid_zhangsan88", nickname="销售部-张三", employee=org["east_rep"]
    )
    Membership.objects.create(group=group, platform_id="wxid_wangjl01", nickname="王经理", employee=org["sales_head"])
    # a red envelope already in the store, inside the export's range: found with it
    msg(group, "wxid_zhangsan88", at(2026, 11, 2, 12, 0), kind="redpacket", text=None, employee=org["east_rep"])
    sync_derived_roles(acting_user=None)
    return group


def test_import_suspect_confirm_as_hr_then_decide_as_group_admin(page, phone, sales, hr, group_admin, tmp_path):  # noqa: F811
    upload = tmp_path / "销售部工作群.csv"
    shutil.copy(WECHAT, upload)
    browser_login(page, "hr")
    page.goto(reverse("groups:chat_import_upload"))
    page.set_input_files("input[type=file]", str(upload))
    page.select_option("select[name=group]", str(sales.pk))
    with page.expect_navigation():
        page.click("input[type=submit]")
    with page.expect_navigation():
        page.click("input[value=确认导入]")
    assert "已导入" in page.locator("body").inner_text()

    # the detection ran after the import: five suspicions of matched senders. R01 twice: the
    # department head's 09:00:05 @所有人 directive answered by 张三 at 09:45:12, and his 08:30 notice
    # "请大家…按要求执行" (a directive phrase, counted from 09:00) that 张三 never answered
    found = list(Violation.objects.suspected().select_related("rule"))
    assert sorted(v.rule.code for v in found) == ["B05", "B06", "C09", "R01", "R01"]
    r01 = sorted(v.description for v in found if v.rule.code == "R01")
    assert "09:00:05 的指令,张三 46 分钟后才回复" in r01[0] and "08:30:00 的指令,张三 在 30 分钟内" in r01[1]
    suspected = {v.rule.code: v for v in found}
    page.goto(reverse("admin:violations_violation_changelist") + "?status__exact=suspected")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 5 and "待核实" in rows.first.inner_text()
    shot(page, "detect_hr_list")

    page.goto(reverse("admin:violations_violation_change", args=[suspected["B06"].pk]))
    evidence = page.locator("[data-testid=evidence]")
    assert "休息时间(23:30–07:30)内发送消息" in evidence.inner_text()
    assert "明天几点开会" in page.locator("[data-testid=evidence-trigger]").inner_text()
    shot(page, "detect_hr_evidence")

    page.goto(reverse("admin:violations_violation_changelist") + "?status__exact=suspected")
    page.check(f"input[name=_selected_action][value='{suspected['B06'].pk}']")
    page.select_option("select[name=action]", "confirm_selected")
    with page.expect_navigation():
        page.click("button[name=index]")
    assert "已确认: 1 条" in page.locator("body").inner_text()
    suspected["B06"].refresh_from_db()
    assert suspected["B06"].status == ViolationStatus.CONFIRMED

    # the group admin (孙七 administers the sales group), on a phone
    browser_login(phone, "group_admin")
    assert phone.locator("[data-testid=verify-suspicion]").count() == 4  # B05, C09, R01 ×2 in the queue
    with phone.expect_navigation():
        phone.click("[data-testid=suspicions-link]")
    items = phone.locator("[data-testid=suspicion]")
    assert items.count() == 4
    fits(phone, "detect_admin_list")

    with phone.expect_navigation():
        phone.click(f"[data-violation='{suspected['B05'].pk}'] [data-testid=open-suspicion]")
    assert "在群内发红包" in phone.locator("[data-testid=evidence]").inner_text()
    fits(phone, "detect_admin_detail")
    with phone.expect_navigation():
        phone.click("[data-testid=confirm]")
    assert "已确认" in phone.locator(".messages").inner_text()

    with phone.expect_navigation():
        phone.click(f"[data-violation='{suspected['C09'].pk}'] [data-testid=open-suspicion]")
    assert phone.locator("textarea[name=reason]").get_attribute("required") is not None  # a reason first
    phone.fill("textarea[name=reason]", "群主发布的工作通知,内容必要")
    with phone.expect_navigation():
        phone.click("[data-testid=dismiss]")
    assert "已不予处理" in phone.locator(".messages").inner_text()
    fits(phone, "detect_admin_done")
    statuses = dict(Violation.objects.filter(channel="detection").values_list("rule__code", "status"))
    assert statuses == {"B06": "confirmed", "B05": "confirmed", "C09": "dismissed", "R01": "suspected"}
