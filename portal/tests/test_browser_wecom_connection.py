"""Real browser: HR sets up the WeCom connection in the zh-hans admin against the local WeCom server,
tests it, and never sees a secret again (screenshots in test-artifacts/screenshots/)."""

from __future__ import annotations

import pytest

from conftest import browser_login
from portal.models import WeComConnection
from portal.tests.wecom_api_server import CORP_ID, SECRETS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_hr_configures_and_tests_the_connection(page, screenshot, hr, wecom_api_server):
    browser_login(page, "hr")
    page.goto(f"/admin/portal/wecomconnection/{WeComConnection.load().pk}/change/")
    assert "企业微信连接" in page.locator("#content").inner_text()
    page.check("#id_enabled")
    page.fill("#id_corp_id", CORP_ID)
    page.fill("#id_base_url", wecom_api_server.base_url)
    page.fill("#id_customer_secret", SECRETS["customer"])
    page.fill("#id_contacts_secret", "typed-wrong-secret")
    page.check("#id_customer_enabled")
    page.click("[data-testid=wecom-test-connection]")
    page.wait_for_load_state("networkidle")
    messages = page.locator("ul.messagelist").inner_text()
    assert "客户联系: 成功" in messages and "通讯录同步: 失败" in messages and "40001" in messages
    content = page.locator("#content").inner_text()
    assert "已设置" in content and "未设置" in content
    html = page.content()
    assert SECRETS["customer"] not in html and "typed-wrong-secret" not in html
    assert page.input_value("#id_customer_secret") == ""  # write-only: never rendered back
    screenshot("wecom_connection_tested")
    row = WeComConnection.load()
    assert row.secret("customer") == SECRETS["customer"] and row.corp_id == CORP_ID
