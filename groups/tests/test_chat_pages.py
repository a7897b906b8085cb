"""Chat imports by the command, the admin (upload → preview → confirm) and the API; reading a
message is an audited access; heads and group admins read only their groups' messages."""

from __future__ import annotations

from io import StringIO

import pytest
from auditlog.models import LogEntry
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from groups.chat import store
from groups.chat.models import ChatImport, ChatMessage
from groups.choices import ImportStatus
from groups.roles import sync_derived_roles

from .chat_helpers import QQ, WECHAT, WECOM, qq_group, wecom_group, wecom_lines

pytestmark = pytest.mark.django_db


def upload_file(path, name=None):
    return SimpleUploadedFile(name or path.name, path.read_bytes(), content_type="application/octet-stream")


# --- command ---------------------------------------------------------------------------------------


def test_command_imports_by_group_name_and_id(org):
    group = qq_group(org)
    out = StringIO()
    call_command("import_chat", str(QQ), "--group", "销售中心工作群", stdout=out)
    text = out.getvalue()
    assert "消息 5 条" in text and "已导入 5 条新消息" in text and "未匹配: 10001001" in text
    out = StringIO()
    call_command("import_chat", str(QQ), "--group", str(group.pk), "--platform", "qq", stdout=out)
    assert "已导入 0 条新消息,5 条已存在" in out.getvalue()
    assert ChatMessage.objects.count() == 5


def test_command_dry_run_and_errors(org, tmp_path):
    group = org["sales_group"]
    call_command("import_chat", str(WECHAT), "--group", group.name, "--dry-run", stdout=StringIO())
    assert not ChatMessage.objects.exists()
    bad = tmp_path / "bad.csv"
    bad.write_text(WECHAT.read_text(encoding="utf-8-sig").replace("1793581300", "后来"), encoding="utf-8-sig")
    with pytest.raises(CommandError, match="第4行, CreateTime"):
        call_command("import_chat", str(bad), "--group", group.name, stdout=StringIO())
    with pytest.raises(CommandError, match="找不到群"):
        call_command("import_chat", str(WECHAT), "--group", "没有这个群", stdout=StringIO())
    assert not ChatMessage.objects.exists()


# --- admin -------------------------------------------------------------------------------------------


@pytest.fixture
def hr_client(client, hr):
    client.force_login(hr)
    return client


def test_admin_upload_preview_confirm(hr_client, org):
    group = wecom_group(org)
    org["east_rep"].wecom_id = "ZhangSan"
    org["east_rep"].save()
    page = hr_client.get(reverse("admin:groups_chatimport_changelist")).content.decode()
    assert reverse("groups:chat_import_upload") in page
    assert hr_client.get(reverse("groups:chat_import_upload")).status_code == 200
    response = hr_client.post(reverse("groups:chat_import_upload"), {"file": upload_file(WECOM), "group": group.pk})
    job = ChatImport.objects.get()
    assert response.url == reverse("groups:chat_import_job", args=[job.pk])
    assert job.status == ImportStatus.PREVIEWED and not ChatMessage.objects.exists()
    page = hr_client.get(response.url).content.decode()
    assert "2026-11-02" in page and 'class="chat-import-count">6<' in page
    assert "张三(E0101)" in page and "未匹配" in page and "LiSi" in page
    response = hr_client.post(reverse("groups:chat_import_confirm", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE and job.created_count == 6 and not job.file
    assert ChatMessage.objects.count() == 6
    again = hr_client.post(reverse("groups:chat_import_confirm", args=[job.pk]), follow=True)
    assert "不能确认" in again.content.decode() and ChatMessage.objects.count() == 6


def test_admin_bad_file_shows_line_and_field(hr_client, org):
    group = wecom_group(org)
    content = (
        wecom_lines(1) + '{"msgid": "z", "action": "send", "roomid": "r", "from": "a", "msgtime": -1}\n'
    ).encode()
    file = SimpleUploadedFile("bad.jsonl", content)
    response = hr_client.post(reverse("groups:chat_import_upload"), {"file": file, "group": group.pk}, follow=True)
    page = response.content.decode()
    assert "第2行, msgtime: 应为毫秒时间戳(UTC)" in page and "未导入任何消息" in page
    job = ChatImport.objects.get()
    assert job.status == ImportStatus.INVALID and not job.file and not ChatMessage.objects.exists()


@pytest.mark.parametrize(
    ("name", "content", "error"),
    [
        ("chat.xlsx", b"PK\x03\x04rest", "只支持"),
        ("chat.csv", b"PK\x03\x04rest", "不是文本格式"),
        ("chat.txt", b"   ", "文件为空"),
    ],
)
def test_admin_upload_checks(hr_client, org, name, content, error):
    response = hr_client.post(
        reverse("groups:chat_import_upload"),
        {"file": SimpleUploadedFile(name, content), "group": org["sales_group"].pk},
    )
    assert response.status_code == 200 and error in response.content.decode()
    assert not ChatImport.objects.exists()


def test_admin_upload_size_cap(hr_client, org, settings):
    settings.CHAT_UPLOAD_MAX_BYTES = 100
    response = hr_client.post(
        reverse("groups:chat_import_upload"), {"file": upload_file(WECHAT), "group": org["sales_group"].pk}
    )
    assert "文件太大" in response.content.decode() and not ChatImport.objects.exists()


def test_cancel_deletes_file(hr_client, org):
    hr_client.post(reverse("groups:chat_import_upload"), {"file": upload_file(WECHAT), "group": org["sales_group"].pk})
    job = ChatImport.objects.get()
    assert job.file
    path = job.file.path
    hr_client.post(reverse("groups:chat_import_cancel", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == ImportStatus.CANCELLED and not job.file
    import os

    assert not os.path.exists(path)


def test_only_hr_imports(client, org, head_sales, auditor):
    sync_derived_roles()
    job = store.import_chat_file(WECHAT, group=org["sales_group"], acting_user=None, dry_run=True)
    for user in (head_sales, auditor):
        client.force_login(user)
        assert client.get(reverse("groups:chat_import_upload")).status_code == 403
        assert client.get(reverse("groups:chat_import_job", args=[job.pk])).status_code == 404
        assert client.post(reverse("groups:chat_import_confirm", args=[job.pk])).status_code == 404
    assert not ChatMessage.objects.exists()


def test_admin_message_page_is_an_audited_access(hr_client, org):
    store.import_chat_file(WECHAT, group=org["sales_group"], acting_user=None)
    message = ChatMessage.objects.get(natural_key="7:2")
    listing = hr_client.get(reverse("admin:groups_chatmessage_changelist")).content.decode()
    assert "今天下班前" not in listing  # lists show no bodies
    assert not LogEntry.objects.filter(action=LogEntry.Action.ACCESS).exists()
    page = hr_client.get(reverse("admin:groups_chatmessage_change", args=[message.pk])).content.decode()
    assert "今天下班前把客户回访表发我" in page
    entry = LogEntry.objects.get(action=LogEntry.Action.ACCESS)
    assert entry.object_pk == str(message.pk) and entry.actor.username == "hr"


def test_admin_messages_scoped(client, org, head_sales, head_tech, group_admin):
    sync_derived_roles()
    store.import_chat_file(WECHAT, group=org["sales_group"], acting_user=None)
    message = ChatMessage.objects.first()
    url = reverse("admin:groups_chatmessage_change", args=[message.pk])
    for user, expected in ((head_sales, 200), (group_admin, 200), (head_tech, 404)):
        client.force_login(user)
        assert client.get(url).status_code == expected, user
    client.force_login(head_tech)
    assert "wxid_wangjl01" not in client.get(reverse("admin:groups_chatmessage_changelist")).content.decode()


# --- API ---------------------------------------------------------------------------------------------------


def test_api_dry_run_confirm(hr_client, org):
    group = org["sales_group"]
    url = reverse("api:chat-import-list")
    response = hr_client.post(url, {"file": upload_file(WECHAT), "group": group.pk, "dry_run": "true"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "previewed" and body["message_count"] == 9 and body["unmatched_senders"] == 5
    # the busiest senders and their total, not the write's list of every sender id (it grows with the file)
    assert body["preview"]["sender_total"] == len(body["preview"]["senders"]) and "sender_ids" not in body["preview"]
    assert not ChatMessage.objects.exists()
    confirmed = hr_client.post(reverse("api:chat-import-confirm", args=[body["id"]]))
    assert confirmed.status_code == 200 and confirmed.json()["created_count"] == 9
    again = hr_client.post(url, {"file": upload_file(WECHAT), "group": group.pk})
    assert again.status_code == 201 and again.json()["created_count"] == 0
    assert ChatMessage.objects.count() == 9


def test_api_bad_file_400_in_chinese(hr_client, org, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text(QQ.read_text(encoding="utf-8-sig").replace("9:03:41", "9:63:41"), encoding="utf-8")
    response = hr_client.post(reverse("api:chat-import-list"), {"file": upload_file(bad), "group": qq_group(org).pk})
    assert response.status_code == 400
    assert "第12行, 时间: 不是有效的时间“2026-11-02 9:63:41”" in str(response.json())
    assert not ChatMessage.objects.exists()


def test_api_import_hr_only(client, org, head_sales):
    client.force_login(head_sales)
    response = client.post(
        reverse("api:chat-import-list"), {"file": upload_file(WECHAT), "group": org["sales_group"].pk}
    )
    assert response.status_code == 403 and not ChatImport.objects.exists()


def test_api_messages_scoped_and_audited(client, org, head_sales, head_tech, group_admin):
    store.import_chat_file(WECHAT, group=org["sales_group"], acting_user=None)
    message = ChatMessage.objects.get(natural_key="7:2")
    detail = reverse("api:chat-message-detail", args=[message.pk])
    client.force_login(head_sales)
    listing = client.get(reverse("api:chat-message-list"), {"group": org["sales_group"].pk}).json()
    assert listing["count"] == 9 and "text" not in listing["results"][0]
    body = client.get(detail).json()
    assert body["text"].startswith("@所有人") and body["mentions_all"] is True
    assert LogEntry.objects.filter(action=LogEntry.Action.ACCESS, object_pk=str(message.pk)).count() == 1
    client.force_login(group_admin)
    assert client.get(detail).status_code == 200
    client.force_login(head_tech)
    assert client.get(detail).status_code == 404
    assert client.get(reverse("api:chat-message-list")).json()["count"] == 0
    assert LogEntry.objects.filter(action=LogEntry.Action.ACCESS).count() == 2
