"""Real browser at a phone's width (390 px, zh-hans): a group admin sees a rejoin while barred, a member
left in the old department's group and a mute with its end date, and marks the rejoined member removed.
Screenshots: test-artifacts/screenshots/lifecycle_*.png."""

from __future__ import annotations

import datetime
import re

import pytest
from django.utils import timezone

from groups import services
from groups.models import ChatGroup, Membership, RosterFinding
from groups.reconcile import reconcile_all
from groups.roles import sync_derived_roles

from .test_browser_work_queue import fits, phone  # noqa: F401  the phone fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_group_admin_sees_lifecycle_findings_and_mutes_on_a_phone(phone, org, group_admin, hr):  # noqa: F811
    from conftest import browser_login

    ChatGroup.objects.update(approved_at=timezone.now())
    sales = org["sales_group"]
    services.remove_from_group(
        sales, org["east_rep"], acting_user=hr, source="s:1", days=30, at=timezone.now() - datetime.timedelta(days=3)
    )
    Membership.objects.create(group=sales, employee=org["east_rep"], nickname="华东区-张三")
    Membership.objects.create(group=sales, employee=org["sales_head"], nickname="销售部-李销售")
    services.mute_in_group(sales, org["sales_head"], acting_user=hr, source="s:2", days=7, reason="C10 刷屏")
    moved = Membership.objects.create(group=sales, employee=org["ceo"], nickname="销售部-王总")
    services.update_employee(org["ceo"], acting_user=hr, department=org["sales"])
    services.update_employee(org["ceo"], acting_user=hr, department=org["root"])
    reconcile_all()
    assert set(RosterFinding.objects.open().values_list("kind", flat=True)) == {"rejoined_barred", "moved_department"}
    sync_derived_roles(acting_user=None)
    page = phone
    browser_login(page, "group_admin")
    item = page.locator(".kind-rejoined_barred")
    until = (timezone.localdate() - datetime.timedelta(days=3) + datetime.timedelta(days=30)).isoformat()
    assert "禁入期内重新入群" in item.inner_text() and f"禁止再入群至 {until}" in item.inner_text()
    assert "已调至 总公司" in page.locator(".kind-moved_department").inner_text()
    mute = page.locator("[data-testid=mute]")
    assert f"禁言至 {(timezone.localdate() + datetime.timedelta(days=7)).isoformat()}" in mute.inner_text()
    fits(page, "lifecycle_queue")
    item.locator("[data-testid=removed]").click()
    page.wait_for_url(re.compile(r"/removed/(\?|$)"))  # the link carries ?next=
    fits(page, "lifecycle_confirm")
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url("**/")
    assert page.locator(".kind-rejoined_barred").count() == 0
    assert Membership.objects.open().filter(group=sales, employee=org["east_rep"]).count() == 0
    assert moved.pk in set(RosterFinding.objects.open().values_list("membership_id", flat=True))
