"""Roster findings and import records are the record: never deleted; waived or cancelled with a reason."""

from __future__ import annotations

from datetime import timedelta

import pytest
from auditlog.models import LogEntry
from django.urls import reverse
from django.utils import timezone

from groups.choices import FindingKind, ImportKind, ImportStatus
from groups.models import ChatGroup, ImportJob, Membership, RosterFinding
from groups.reconcile import reconcile_all

pytestmark = pytest.mark.django_db


@pytest.fixture
def outsider(org):
    ChatGroup.objects.update(approved_at=timezone.now())
    Membership.objects.create(group=org["sales_group"], nickname="路人甲", platform_id="wx_a")
    reconcile_all(now=timezone.now() - timedelta(hours=30))
    return RosterFinding.objects.get(kind=FindingKind.OUTSIDER)


def job(hr, status, name="名单.csv"):
    return ImportJob.objects.create(kind=ImportKind.EMPLOYEES, status=status, original_name=name, created_by=hr)


def test_hr_cannot_delete_findings(client, hr, outsider):
    client.force_login(hr)
    assert client.get(reverse("admin:groups_rosterfinding_delete", args=[outsider.pk])).status_code == 403
    assert (
        client.post(reverse("admin:groups_rosterfinding_delete", args=[outsider.pk]), {"post": "yes"}).status_code
        == 403
    )
    changelist = client.get(reverse("admin:groups_rosterfinding_changelist"))
    assert "delete_selected" not in changelist.context["action_form"].fields["action"].choices.__repr__()
    bulk = {"action": "delete_selected", "_selected_action": [outsider.pk], "post": "yes"}
    client.post(reverse("admin:groups_rosterfinding_changelist"), bulk)
    assert RosterFinding.objects.filter(pk=outsider.pk).exists()


def test_waived_in_the_admin_then_reconciliation_does_not_reopen(client, hr, outsider):
    client.force_login(hr)
    url = reverse("admin:groups_rosterfinding_changelist")
    data = {"action": "waive", "_selected_action": [outsider.pk]}
    assert client.post(url, {**data, "apply": "1", "reason": ""}).status_code == 200  # the reason is mandatory
    assert RosterFinding.objects.get(pk=outsider.pk).status == "open"
    assert client.post(url, {**data, "apply": "1", "reason": "外部顾问,王总批准"}).status_code == 302
    waived = RosterFinding.objects.get(pk=outsider.pk)
    assert (waived.status, waived.waive_reason, waived.resolved_by) == ("waived", "外部顾问,王总批准", hr)
    assert waived.resolved_at is not None
    entry = LogEntry.objects.get_for_object(waived).latest("timestamp")
    assert entry.actor == hr and entry.changes_dict["status"] == ["open", "waived"]

    reconcile_all()  # the same outsider is still in the group
    reconcile_all(now=timezone.now() + timedelta(days=1))
    same = RosterFinding.objects.filter(kind=FindingKind.OUTSIDER, group=outsider.group)
    assert list(same.values_list("pk", "status")) == [(outsider.pk, "waived")]


def test_finding_page_is_read_only(client, hr, outsider):
    client.force_login(hr)
    page = client.get(reverse("admin:groups_rosterfinding_change", args=[outsider.pk])).content.decode()
    assert "最近发现" in page
    assert 'name="last_seen_at"' not in page and 'name="first_seen_at"' not in page
    client.post(reverse("admin:groups_rosterfinding_change", args=[outsider.pk]), {"last_seen_at_0": "2020-01-01"})
    assert RosterFinding.objects.get(pk=outsider.pk).last_seen_at == outsider.last_seen_at


def test_hr_cannot_delete_import_records(client, hr):
    done = job(hr, ImportStatus.DONE)
    client.force_login(hr)
    assert client.get(reverse("admin:groups_importjob_delete", args=[done.pk])).status_code == 403
    bulk = {"action": "delete_selected", "_selected_action": [done.pk], "post": "yes"}
    client.post(reverse("admin:groups_importjob_changelist"), bulk)
    assert ImportJob.objects.filter(pk=done.pk).exists()


def test_import_cancelled_with_a_reason_unless_applied(client, hr):
    waiting, applied = job(hr, ImportStatus.PREVIEWED, "待确认.csv"), job(hr, ImportStatus.DONE, "已导入.csv")
    client.force_login(hr)
    url = reverse("admin:groups_importjob_changelist")
    data = {"action": "cancel_with_reason", "_selected_action": [waiting.pk, applied.pk]}
    form = client.post(url, data)
    assert form.status_code == 200 and "取消原因" in form.content.decode()
    assert client.post(url, {**data, "apply": "1", "reason": " "}).status_code == 200  # no reason, nothing done
    assert ImportJob.objects.get(pk=waiting.pk).status == ImportStatus.PREVIEWED
    response = client.post(url, {**data, "apply": "1", "reason": "上传了错误的月份"}, follow=True)
    assert "已取消 1 个导入" in response.content.decode() and "不能取消" in response.content.decode()
    waiting.refresh_from_db()
    applied.refresh_from_db()
    assert (waiting.status, waiting.cancel_reason) == (ImportStatus.CANCELLED, "上传了错误的月份")
    assert (applied.status, applied.cancel_reason) == (ImportStatus.DONE, "")
    entry = LogEntry.objects.get_for_object(waiting).get()
    assert entry.actor == hr and entry.additional_data["reason"] == "上传了错误的月份"
    assert entry.changes_dict == {"status": ["previewed", "cancelled"]}
    detail = client.get(reverse("admin:groups_importjob_change", args=[waiting.pk])).content.decode()
    assert "取消原因" in detail and "上传了错误的月份" in detail


def test_group_label_names_the_platform_once(org):
    group = ChatGroup(name="华东区销售群(微信)", platform="wechat", kind="department", department=org["east"])
    assert str(group) == "华东区销售群(微信)"
    assert str(org["sales_group"]) == "销售部工作群(微信)"
