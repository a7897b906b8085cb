"""The WeCom connection: secrets encrypted, write-only in the admin (blank keeps, never shown), never
in logs, audit diffs or API output; 测试连接 against the local server; HR only."""

from __future__ import annotations

import logging

import pytest
from auditlog.models import LogEntry
from django.core.cache import cache
from django.urls import reverse

from portal import secrets
from portal.models import WeComConnection
from portal.tests.wecom_api_server import CORP_ID, SECRETS
from portal.wecom import WeComNotConfigured, client_for

NEW_SECRET = "customer-secret-for-tests"  # the local server's; what HR types in


@pytest.fixture
def url(db):
    return reverse("admin:portal_wecomconnection_change", args=[WeComConnection.load().pk])


def _form(server_url: str, **overrides) -> dict:
    form = {
        "enabled": "on",
        "corp_id": CORP_ID,
        "base_url": server_url,
        "agent_id": "1000002",
        "customer_enabled": "on",
        "contacts_secret": "",
        "customer_secret": "",
        "archive_secret": "",
        "app_secret": "",
    }
    form.update(overrides)
    return form


def test_secret_stored_encrypted_and_blank_keeps_it(client, hr, url, wecom_api_server):
    client.force_login(hr)
    assert client.post(url, _form(wecom_api_server.base_url, customer_secret=NEW_SECRET)).status_code == 302
    row = WeComConnection.load()
    assert NEW_SECRET not in row.customer_secret_enc and row.secret("customer") == NEW_SECRET
    assert client.post(url, _form(wecom_api_server.base_url, corp_id=CORP_ID)).status_code == 302  # blank
    assert WeComConnection.load().secret("customer") == NEW_SECRET
    page = client.get(url).content.decode()
    assert NEW_SECRET not in page and row.customer_secret_enc not in page
    assert "已设置" in page and 'name="customer_secret"' in page and 'value="' + NEW_SECRET not in page


def test_secret_never_in_audit_diff_only_changed(client, hr, url, wecom_api_server):
    client.force_login(hr)
    client.post(url, _form(wecom_api_server.base_url, customer_secret=NEW_SECRET))
    entries = LogEntry.objects.get_for_object(WeComConnection.load())
    everything = " ".join(f"{e.changes} {e.additional_data}" for e in entries)
    assert NEW_SECRET not in everything and WeComConnection.load().customer_secret_enc not in everything
    assert "customer_secret_enc" not in everything
    assert any(e.changes_dict.get("customer_secret") == ["", "已更换"] and e.actor == hr for e in entries)
    assert any("corp_id" in e.changes_dict for e in entries)  # the plain fields are audited as usual
    listing = client.get(reverse("admin:auditlog_logentry_changelist"))
    assert listing.status_code == 200 and NEW_SECRET not in listing.content.decode()
    pages = [client.get(reverse("admin:auditlog_logentry_change", args=[e.pk])) for e in entries]
    assert all(p.status_code == 200 and NEW_SECRET not in p.content.decode() for p in pages)
    assert any("已更换" in p.content.decode() for p in pages)  # what HR reads instead


def test_clear_removes_a_secret(client, hr, url, wecom_api_server):
    client.force_login(hr)
    client.post(url, _form(wecom_api_server.base_url, customer_secret=NEW_SECRET))
    client.post(url, _form(wecom_api_server.base_url, customer_clear="on"))
    assert not WeComConnection.load().has_secret("customer")


def test_test_connection_button_calls_gettoken(client, hr, url, wecom_api_server, caplog):
    caplog.set_level(logging.DEBUG)
    client.force_login(hr)
    form = _form(wecom_api_server.base_url, customer_secret=NEW_SECRET, contacts_secret="wrong-contacts-secret")
    response = client.post(url, {**form, "_test_connection": "1"}, follow=True)
    page = response.content.decode()
    assert "客户联系: 成功" in page
    assert "通讯录同步: 失败" in page and "40001" in page
    assert "会话内容存档: 未设置 Secret" in page
    assert len(wecom_api_server.calls("gettoken")) == 2
    row = WeComConnection.load()
    assert row.last_test_at and "客户联系: 成功" in row.last_test_result
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in (NEW_SECRET, "wrong-contacts-secret"):
        assert secret not in page and secret not in logged and secret not in row.last_test_result


def test_only_hr_may_change_it(client, auditor, head_sales, url):
    client.force_login(auditor)
    assert client.post(url, {"corp_id": "wwevil"}).status_code == 403
    page = client.get(url)
    assert page.status_code == 200 and "测试连接" not in page.content.decode()  # read-only for the auditor
    client.force_login(head_sales)
    assert client.get(url).status_code in (302, 403)
    assert WeComConnection.load().corp_id == ""


def test_client_for_uses_the_stored_connection(db, wecom_api_server):
    row = WeComConnection.load()
    with pytest.raises(WeComNotConfigured):
        client_for("customer")
    row.enabled, row.corp_id, row.base_url = True, CORP_ID, wecom_api_server.base_url
    row.set_secret("customer", SECRETS["customer"])
    row.save()
    cache.clear()
    assert client_for("customer").groupchat_list(limit=2)["group_chat_list"]
    with pytest.raises(WeComNotConfigured):
        client_for("archive")
    assert SECRETS["customer"] not in repr(row) and SECRETS["customer"] not in repr(client_for("customer"))


def test_key_rotation(settings, db):
    from cryptography.fernet import Fernet

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.WECOM_SECRET_KEY = old
    token = secrets.encrypt("s3cret")
    settings.WECOM_SECRET_KEY = f"{new},{old}"
    assert secrets.decrypt(token) == "s3cret"
    rotated = secrets.rotate(token)
    settings.WECOM_SECRET_KEY = new
    assert secrets.decrypt(rotated) == "s3cret"
    with pytest.raises(secrets.SecretUnreadable):
        secrets.decrypt(token)


def test_rotate_stored_secrets_command(settings, db):
    from cryptography.fernet import Fernet
    from django.core.management import call_command

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.WECOM_SECRET_KEY = old
    row = WeComConnection.load()
    row.set_secret("archive", "archive-s3cret")
    row.save()
    settings.WECOM_SECRET_KEY = f"{new},{old}"
    call_command("rotate_stored_secrets", stdout=open("/dev/null", "w"))  # noqa: SIM115
    settings.WECOM_SECRET_KEY = new  # the old key dropped
    assert WeComConnection.load().secret("archive") == "archive-s3cret"


def test_application_messages_use_the_connection_when_settings_are_empty(settings, db, wecom_api_server):
    from portal import wecom

    settings.WECOM_CORP_ID = settings.WECOM_AGENT_ID = settings.WECOM_APP_SECRET = ""
    assert not wecom.configured()
    row = WeComConnection.load()
    row.enabled, row.corp_id, row.agent_id, row.base_url = True, CORP_ID, "1000002", wecom_api_server.base_url
    row.set_secret("app", SECRETS["app"])
    row.save()
    assert wecom.configured()
    assert wecom.send_textcard("user00001", "【群规】测试", "正文", "https://qungui.example.com/") == "msgid_1"
    [body] = wecom_api_server.delivered
    assert body["agentid"] == 1000002 and body["touser"] == "user00001"


def test_record_sync_status_touches_only_the_status(db):
    from portal.wecom_connection import record_sync_status

    row = WeComConnection.load()
    row.set_secret("customer", "kept-secret")
    row.save()
    record_sync_status("failed", "45009: 稍后继续")
    row = WeComConnection.load()
    assert (row.last_sync_status, row.last_sync_message) == ("failed", "45009: 稍后继续") and row.last_sync_at
    assert row.secret("customer") == "kept-secret"
