"""Chat evidence as a curious user or an attacker would reach it: the message list's filters, the
evidence of a violation in a group outside a head's scope, a refused dismissal, the work queue of a
group admin with a suspicion about herself, the import preview's sender labels."""

from __future__ import annotations

import pytest
from auditlog.models import LogEntry
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from groups.chat.models import ChatImport
from groups.models import Employee
from groups.roles import sync_derived_roles
from violations.choices import ViolationStatus
from violations.detection import quiet_hours
from violations.models import Violation
from violations.services.detection import detect_chat

from .detection_helpers import at, msg

pytestmark = pytest.mark.django_db

XSS_TEXT = '<script>alert("xss")</script>'
XSS_NAME = "<img src=x onerror=alert(1)>"


def accesses(obj=None):
    qs = LogEntry.objects.filter(action=LogEntry.Action.ACCESS)
    if obj is not None:
        qs = qs.filter(object_pk=str(obj.pk))
    return qs


@pytest.fixture
def world(org):
    """Two groups with a night message each (B06 quiet hours), detection run once."""
    sales, tech = org["sales_group"], org["tech_group"]
    tech_worker = Employee.objects.create(employee_no="E0203", name="周八", department=org["tech"], wechat_id="wx_zb")
    # sales group: context + east_rep's late message with hostile text/name
    msg(sales, "wx_li", at(2026, 11, 3, 23, 20), text="前一条", employee=org["sales_head"])
    late_sales = msg(
        sales, "wx_zhangsan", at(2026, 11, 3, 23, 45), employee=org["east_rep"], text=XSS_TEXT, name=XSS_NAME
    )
    # sales group: a suspicion about the group admin herself (tech_dev administers the sales group)
    msg(sales, "wx_sun", at(2026, 11, 4, 0, 10), employee=org["tech_dev"], text="半夜")
    # tech group: a tech employee's night message, preceded by a tech-only secret
    secret = msg(
        tech, "tech_head", at(2026, 11, 3, 23, 30), employee=org["tech_head"], text="技术部机密:服务器密码 P@ss"
    )
    late_tech = msg(tech, "zb", at(2026, 11, 3, 23, 50), employee=tech_worker, text="还在调试")
    # tech group: a sales employee posting in the tech group at night
    msg(tech, "wx_zhangsan2", at(2026, 11, 3, 23, 40), employee=org["east_rep"], text="借问一下")
    # an unmatched sender at night in the tech group
    msg(tech, "stranger", at(2026, 11, 3, 23, 35), text="路人甲的私事")
    detect_chat(detectors=[quiet_hours.DETECTOR], trigger="test")
    v = lambda emp, group: Violation.objects.get(employee=emp, group=group)  # noqa: E731
    return {
        "tech_worker": tech_worker,
        "late_sales": late_sales,
        "late_tech": late_tech,
        "secret": secret,
        "sales_susp": v(org["east_rep"], sales),
        "self_susp": v(org["tech_dev"], sales),
        "tech_susp": v(tech_worker, tech),
        "rep_in_tech": v(org["east_rep"], tech),
    }


from portal.api.testing import api_for  # noqa: E402


def test_the_message_list_cannot_filter_on_bodies(client, org, world, head_sales, group_admin):
    """?text__icontains= on the message list would read bodies letter by letter, unaudited."""
    sync_derived_roles()
    base = reverse("admin:groups_chatmessage_changelist")
    for user in (head_sales, group_admin):
        client.force_login(user)
        assert client.get(base).status_code == 200
        for query in ("?text__icontains=script", "?text__startswith=%3Cscript", "?text__regex=^%3Cscript",
                      "?link_url__contains=http", "?extra__isnull=False", "?mentions__contains=a"):  # fmt: skip
            assert client.get(base + query).status_code == 400, query
    client.force_login(head_sales)
    assert client.get(base + "?kind__exact=text").status_code == 200  # the list's own filters still work


def test_the_detection_list_cannot_filter_on_excerpts(client, org, world, hr):
    client.force_login(hr)
    base = reverse("admin:violations_detection_changelist")
    assert client.get(base + "?excerpt__icontains=%E5%89%8D").status_code == 400
    assert client.get(base + "?detector__exact=quiet_hours").status_code == 200


def test_evidence_in_a_group_outside_the_heads_scope_shows_only_her_employees_lines(client, org, world, head_sales):
    """head_sales may see east_rep's violation in the tech group, not the tech group's messages."""
    sync_derived_roles()
    client.force_login(head_sales)
    assert api_for(head_sales).get(f"/api/v1/chat-messages/{world['secret'].pk}/").status_code == 404
    page = client.get(reverse("admin:violations_violation_change", args=[world["rep_in_tech"].pk])).content.decode()
    assert "借问一下" in page  # her employee's own message
    assert "技术部机密" not in page and "路人甲的私事" not in page and "无权查看的消息" in page
    assert reverse("admin:groups_chatmessage_change", args=[world["secret"].pk]) not in page
    # in her own department's group the evidence is whole
    page = client.get(reverse("admin:violations_violation_change", args=[world["sales_susp"].pk])).content.decode()
    assert "前一条" in page and "无权查看的消息" not in page
    # with a link to the triggering message while it exists (from the detection's message ids)
    assert reverse("admin:groups_chatmessage_change", args=[world["late_sales"].pk]) in page


def test_a_refused_dismissal_shows_the_evidence_audited(client, org, world, group_admin):
    sales = world["sales_susp"]
    client.force_login(group_admin)
    before = accesses(sales.detection).count()
    response = client.post(reverse("violations:suspicion_dismiss", args=[sales.pk]), {"reason": "  "})
    assert response.status_code == 400 and "前一条" in response.content.decode()
    sales.refresh_from_db()
    assert sales.status == ViolationStatus.SUSPECTED
    assert accesses(sales.detection).count() == before + 1


def test_the_work_queue_does_not_show_a_suspicion_about_the_admin_herself(client, org, group_admin):
    from violations.models import Rule

    client.force_login(group_admin)
    assert 'data-testid="queue-empty"' in client.get(reverse("work_queue")).content.decode()
    Violation.objects.create(employee=org["tech_dev"], group=org["sales_group"], rule=Rule.objects.get(code="B06"),
                             occurred_at=at(2026, 11, 3, 23, 45), description="B06 系统检测",
                             status=ViolationStatus.SUSPECTED, channel="detection")  # fmt: skip
    after = client.get(reverse("work_queue")).content.decode()
    assert 'data-testid="queue-empty"' in after and f'data-group="{org["sales_group"].pk}"' not in after


def _wechat_csv(rows):
    head = "localId,TalkerId,Type,SubType,IsSender,CreateTime,Status,StrContent,StrTime,Remark,NickName,Sender\n"
    body = "".join(
        f"{i},7,1,0,0,{1793581205 + i},3,hi,2026-11-02 09:00:05,{s},{s},{s}\n" for i, s in enumerate(rows, 1)
    )
    return ("\ufeff" + head + body).encode("utf-8")


def test_the_preview_names_every_listed_matched_sender(client, org, hr):
    """500 matched employees: the 200 busiest are listed, each named as the employee it is."""
    Employee.objects.bulk_create(
        Employee(employee_no=f"M{i:04d}", name=f"员工{i}", department=org["east"], wechat_id=f"w{i:03d}")
        for i in range(500)
    )
    senders = [f"w{i:03d}" for i in range(500)] + [f"w{i:03d}" for i in range(300, 500)]  # the last 200 busiest
    client.force_login(hr)
    upload = SimpleUploadedFile("big_utf8.csv", _wechat_csv(senders))
    client.post(reverse("groups:chat_import_upload"), {"file": upload, "group": org["sales_group"].pk})
    job = ChatImport.objects.get()
    assert job.status == "previewed", job.errors
    listed = job.preview["senders"]
    assert len(listed) == 200 and all(s["matched"] for s in listed)
    assert [s["id"] for s in listed if not s["employee"]] == []
    assert {s["employee"] for s in listed} == {str(e) for e in Employee.objects.filter(employee_no__gte="M0300")}
