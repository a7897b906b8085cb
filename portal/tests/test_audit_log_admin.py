"""The audit log as HR reads it: Chinese headers, Asia/Shanghai times, field labels, readable values;
never changed or deleted. Also the small screens of issue #13: / keeps ?month=, view-only pages."""

from __future__ import annotations

import datetime

import pytest
from auditlog.models import LogEntry
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from groups.roles import sync_derived_roles
from portal.audit import audit_context
from portal.audit_display import readable_changes
from portal.choices import Channel
from violations import services
from violations.models import Rule

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"0" * 64
RAW = ("violations.Evidence.None", "violations.Sanction.None", "self_service", ">False<", ">True<", "Correlation ID")


@pytest.fixture
def violation(hr, org):
    occurred = datetime.datetime(2026, 5, 3, 10, 0, tzinfo=datetime.UTC)  # 18:00 in Shanghai
    with audit_context(hr, Channel.SELF_SERVICE):
        recorded = services.record_violation(
            org["east_rep"], Rule.objects.get(code="C04"), occurred, "群里发广告", acting_user=hr,
            group=org["sales_group"], confirmed=True, channel=Channel.SELF_SERVICE,
        )  # fmt: skip
    services.add_evidence(recorded, [SimpleUploadedFile("截图.png", PNG)], acting_user=hr)
    return recorded


def created_entry(obj):
    return LogEntry.objects.get_for_object(obj).get(action=LogEntry.Action.CREATE)


def rows(entry) -> dict[str, tuple[str, str]]:
    return {row.label: (row.before, row.after) for row in readable_changes(entry)}


def test_changes_are_labels_and_readable_values(violation, org, hr):
    shown = rows(created_entry(violation))
    assert shown["员工"] == ("—", "张三(E0101)")  # the object, not its key
    assert shown["工作群"] == ("—", "销售部工作群(微信)")
    assert shown["状态"] == ("—", "已确认")  # the choice's label
    assert shown["来源"] == ("—", "员工自助")  # portal.choices.Channel, not self_service
    assert shown["匿名举报"] == ("—", "否")
    assert shown["发生时间"] == ("—", "2026-05-03 18:00:00")  # Asia/Shanghai
    flat = repr(shown)
    assert "violations.Evidence.None" not in flat and "employee" not in shown and "None" not in flat
    evidence = rows(created_entry(violation.evidence.get()))
    assert evidence["违规记录"][1] == str(violation) and evidence["上传人"][1] == "hr"


def test_deleted_related_object_is_named_as_deleted(violation, org):
    entry = created_entry(violation)
    entry.changes = {**entry.changes_dict, "group": ["None", "999999"]}
    assert rows(entry)[str(violation._meta.get_field("group").verbose_name)][1] == "已删除的工作群(#999999)"


def test_changelist_and_entry_page_in_chinese(client, hr, violation):
    client.force_login(hr)
    page = client.get(reverse("admin:auditlog_logentry_changelist")).content.decode()
    for header in ("时间", "记录", "操作", "变更", "操作人", "来源"):
        assert f"<span>{header}</span>" in page or f">{header}</a>" in page
    assert "员工自助" in page and "违规记录 · 张三" in page
    for raw in RAW:
        assert raw not in page
    assert ">chatgroup<" not in page and ">工作群<" in page  # the record-type filter names the kinds
    entry = created_entry(violation)
    detail = client.get(reverse("admin:auditlog_logentry_change", args=[entry.pk])).content.decode()
    assert "张三(E0101)" in detail and "员工自助" in detail and "2026-05-03 18:00:00" in detail
    for raw in RAW:
        assert raw not in detail
    local = entry.timestamp.astimezone(datetime.timezone(datetime.timedelta(hours=8))).strftime("%Y-%m-%d %H:%M")
    assert local in detail  # when it was written, in Asia/Shanghai


def test_entries_are_never_changed_or_deleted(client, hr, violation):
    entry = created_entry(violation)
    client.force_login(hr)
    assert client.get(reverse("admin:auditlog_logentry_delete", args=[entry.pk])).status_code == 403
    assert (
        client.post(reverse("admin:auditlog_logentry_change", args=[entry.pk]), {"object_repr": "x"}).status_code == 403
    )
    bulk = {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"}
    client.post(reverse("admin:auditlog_logentry_changelist"), bulk)
    assert LogEntry.objects.filter(pk=entry.pk).exists()
    detail = client.get(reverse("admin:auditlog_logentry_change", args=[entry.pk])).content.decode()
    assert "deletelink" not in detail and 'name="_save"' not in detail


def test_home_keeps_the_month_on_the_way_to_the_dashboard(client, hr):
    client.force_login(hr)
    response = client.get("/", {"month": "2026-10"})
    assert response.status_code == 302 and response["Location"] == "/dashboard/?month=2026-10"
    assert client.get("/")["Location"] == "/dashboard/"
    client.logout()
    login = client.get("/?month=2026-10")
    assert login["Location"] == "/login/?next=/%3Fmonth%3D2026-10"


def test_view_only_violation_page_has_no_upload_field(client, head_sales, hr, violation):
    sync_derived_roles(acting_user=None)
    client.force_login(head_sales)
    page = client.get(reverse("admin:violations_violation_change", args=[violation.pk]))
    assert page.status_code == 200
    body = page.content.decode()
    assert "群里发广告" in body  # the record is shown, read-only
    assert "Add evidence" not in body and "补充证据" not in body and ": None" not in body
    client.force_login(hr)
    assert "补充证据" in client.get(reverse("admin:violations_violation_change", args=[violation.pk])).content.decode()
