"""Real browser, zh-hans: a group admin applies the successor of a departed owner's WeCom customer
group; the first try fails at WeCom (the successor lacks customer-contact rights) and the page says
why, the second transfers it through the local WeCom server (screenshots looked at)."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.urls import reverse

from conftest import browser_login
from groups.models import ChatGroup, WeComTransfer
from portal.models import WeComConnection
from portal.tests.wecom_api_server import CORP_ID, SECRETS

from .work_data import build_work

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_successor_through_the_transfer_api(page, screenshot, org, django_user_model, group_admin, wecom_api_server):
    world = wecom_api_server.world
    work = build_work(org, django_user_model)
    chat_id = next(c for i, c in enumerate(world.chat_ids) if world.status(i) == 1)
    ChatGroup.objects.filter(pk=work["project"].pk).update(external_id=chat_id, wecom_chat_type="customer")
    org["tech_dev"].wecom_id = world.owners[0]
    org["tech_dev"].save()
    row = WeComConnection.load()
    row.enabled = row.customer_enabled = True
    row.corp_id, row.base_url = CORP_ID, wecom_api_server.base_url
    row.set_secret("customer", SECRETS["customer"])
    row.save()
    cache.clear()
    wecom_api_server.transfer_failures[chat_id] = (84074, "no external contact permission")

    browser_login(page, "group_admin")
    page.goto(reverse("groups:work_successor", args=[work["owner"].pk]))
    assert "通过企业微信接口" in page.locator("[data-testid=api-transfer]").inner_text()
    page.click("[data-testid=apply-successor]")
    page.wait_for_load_state("networkidle")
    body = page.locator("body").inner_text()
    assert "没有客户联系权限" in body and "转让失败" in body and "84074" in body
    screenshot("wecom_successor_failed")

    del wecom_api_server.transfer_failures[chat_id]  # HR granted the rights in WeCom
    page.click("[data-testid=apply-successor]")
    page.wait_for_load_state("networkidle")
    assert "企业微信已完成转让" in page.locator("body").inner_text()
    screenshot("wecom_successor_transferred")
    assert ChatGroup.objects.get(pk=work["project"].pk).owner == org["tech_dev"]
    assert list(WeComTransfer.objects.order_by("pk").values_list("status", flat=True)) == ["failed", "transferred"]
