"""What people and jobs do with findings: escalation, mark removed, waive, scoping, admin, command."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from groups.choices import FindingKind
from groups.models import ChatGroup, Membership, RosterFinding, RosterSettings
from groups.reconcile import escalate_overdue, mark_removed, reconcile_all, waive_findings
from portal.models import NotificationLog

K = FindingKind


@pytest.fixture
def found(org):
    """Findings in both departments: a departed member and an outsider in sales, an outsider in tech."""
    ChatGroup.objects.update(approved_at=timezone.now())
    sales, tech = org["sales_group"], org["tech_group"]
    Membership.objects.create(group=sales, nickname="华东区-赵六", employee=org["east_departed"])
    Membership.objects.create(group=sales, nickname="路人甲", platform_id="wx_a")
    Membership.objects.create(group=tech, nickname="路人乙", platform_id="wx_b")
    reconcile_all(now=timezone.now() - timedelta(hours=30))
    return {
        "departed": RosterFinding.objects.get(kind=K.DEPARTED_MEMBER),
        "sales_outsider": RosterFinding.objects.get(kind=K.OUTSIDER, group=sales),
        "tech_outsider": RosterFinding.objects.get(kind=K.OUTSIDER, group=tech),
    }


def visible(user):
    return set(RosterFinding.objects.visible_to(user).values_list("pk", flat=True))


def test_scoping(org, found, hr, auditor, head_sales, head_tech, group_admin, employee_user, outsider_user):
    sales = {found["departed"].pk, found["sales_outsider"].pk}
    tech = {found["tech_outsider"].pk}
    assert visible(hr) == visible(auditor) == sales | tech
    assert visible(head_sales) == sales
    assert visible(head_tech) == tech
    assert visible(group_admin) == sales  # 孙七 administers the sales group only
    assert visible(employee_user) == visible(outsider_user) == set()


def test_escalation_notifies_the_head_once(org, found, django_capture_on_commit_callbacks):
    RosterSettings.objects.update_or_create(singleton=True, defaults={"departed_finding_overdue_hours": 24})
    org["sales_head"].email = "li@example.com"
    org["sales_head"].save()
    with django_capture_on_commit_callbacks() as callbacks:
        claimed = escalate_overdue()
    assert claimed == [found["departed"].pk]
    assert len(callbacks) == 1  # one delivery enqueued after commit
    log = NotificationLog.objects.get()
    assert (log.channel, log.target, log.recipient) == ("email", "li@example.com", org["sales_head"])
    assert "赵六" in log.body and "销售部工作群" in log.body
    assert RosterFinding.objects.get(pk=found["departed"].pk).escalated_at is not None
    assert escalate_overdue() == []
    assert NotificationLog.objects.count() == 1


def test_escalation_waits_for_the_configured_time(org, found):
    RosterSettings.objects.update_or_create(singleton=True, defaults={"departed_finding_overdue_hours": 48})
    assert escalate_overdue() == []
    assert escalate_overdue(hours=12) == [found["departed"].pk]


def test_escalation_posts_to_the_department_webhook(org, found):
    org["sales"].wecom_webhook_url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"
    org["sales"].save()
    escalate_overdue()
    assert list(NotificationLog.objects.values_list("channel", "target")) == [("wecom", org["sales"].wecom_webhook_url)]


def test_mark_removed_records_left_and_resolves(org, found, hr):
    finding = found["departed"]
    assert mark_removed([finding.pk, found["tech_outsider"].pk], acting_user=hr) == 2
    finding.refresh_from_db()
    assert finding.status == "resolved" and finding.resolved_by == hr
    assert finding.membership.left_at is not None
    entry = LogEntry.objects.get_for_object(finding.membership).latest("timestamp")
    assert entry.actor == hr and "left_at" in entry.changes_dict
    assert reconcile_all().resolved == {}
    assert RosterFinding.objects.get(pk=finding.pk).status == "resolved"


def test_mark_removed_stays_within_scope(org, found, head_sales, auditor):
    assert mark_removed([found["tech_outsider"].pk], acting_user=head_sales) == 0
    assert Membership.objects.get(pk=found["tech_outsider"].membership_id).left_at is None
    with pytest.raises(PermissionDenied):
        mark_removed([found["departed"].pk], acting_user=auditor)


def test_waive_needs_a_reason_and_survives_reruns(org, found, group_admin):
    with pytest.raises(ValidationError):
        waive_findings([found["sales_outsider"].pk], reason="  ", acting_user=group_admin)
    assert waive_findings([found["sales_outsider"].pk], reason="外部顾问,王总批准", acting_user=group_admin) == 1
    reconcile_all()
    finding = RosterFinding.objects.get(pk=found["sales_outsider"].pk)
    assert (finding.status, finding.waive_reason, finding.resolved_by) == ("waived", "外部顾问,王总批准", group_admin)


def test_admin_changelist_with_filters(client, hr, found):
    client.force_login(hr)
    url = reverse("admin:groups_rosterfinding_changelist")
    response = client.get(url, {"kind": "outsider", "status": "open", "age": "1d", "group__platform": "wecom"})
    assert response.status_code == 200
    assert list(response.context["cl"].queryset) == [found["tech_outsider"]]
    dept = client.get(url, {"group_department": found["departed"].group.department_id})
    assert set(dept.context["cl"].queryset) == {found["departed"], found["sales_outsider"]}


def test_admin_waive_action_asks_for_a_reason(client, hr, found):
    client.force_login(hr)
    url = reverse("admin:groups_rosterfinding_changelist")
    data = {"action": "waive", "_selected_action": [found["sales_outsider"].pk]}
    form = client.post(url, data)
    assert form.status_code == 200 and "豁免原因" in form.content.decode()
    assert RosterFinding.objects.get(pk=found["sales_outsider"].pk).status == "open"
    done = client.post(url, {**data, "apply": "1", "reason": "客户代表"})
    assert done.status_code == 302
    assert RosterFinding.objects.get(pk=found["sales_outsider"].pk).waive_reason == "客户代表"


def test_admin_mark_removed_action(client, hr, found):
    client.force_login(hr)
    url = reverse("admin:groups_rosterfinding_changelist")
    response = client.post(url, {"action": "mark_removed", "_selected_action": [found["departed"].pk]})
    assert response.status_code == 302
    assert Membership.objects.get(pk=found["departed"].membership_id).left_at is not None


def test_auditor_sees_findings_but_no_actions(client, auditor, found):
    client.force_login(auditor)
    response = client.get(reverse("admin:groups_rosterfinding_changelist"))
    assert response.status_code == 200
    assert response.context["cl"].result_count == 3
    assert "mark_removed" not in response.content.decode()


def test_command_prints_a_summary(org, found):
    left = Membership.objects.get(pk=found["sales_outsider"].membership_id)
    left.left_at = timezone.now()
    left.save()  # marks the group: the command's incremental run rescans it
    out = StringIO()
    call_command("reconcile_groups", "--escalate", stdout=out)
    text = out.getvalue()
    assert "非本公司人员在群" in text and "升级通知 1" in text
    outsider_line = next(line for line in text.splitlines() if line.startswith("非本公司人员在群"))
    assert outsider_line.split()[1:] == ["1", "0", "1"]  # seen, new, resolved


def test_reconcile_now_button_queues_a_run_after_commit(client, hr, org, found, django_capture_on_commit_callbacks):
    """The button really enqueues the task (run eagerly here once the request's transaction commits)."""
    from groups.models import ReconcileRun

    runs = ReconcileRun.objects.count()
    newcomer = Membership.objects.create(group=org["tech_group"], nickname="路人丙", platform_id="wx_c")
    client.force_login(hr)
    changelist = client.get(reverse("admin:groups_rosterfinding_changelist"))
    assert "立即核查" in changelist.content.decode()
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = client.post(reverse("admin:groups_rosterfinding_reconcile_now"))
    assert response.status_code == 302
    assert ReconcileRun.objects.count() == runs  # nothing runs before the commit
    assert len(queued) == 1
    queued[0]()  # the commit: with eager tasks it is recorded, to run once the response is sent
    assert ReconcileRun.objects.count() == runs
    from portal import outbox

    outbox.flush()  # what runs after the response (portal.outbox.send_after_response)
    assert ReconcileRun.objects.count() == runs + 1
    assert RosterFinding.objects.open().filter(kind=K.OUTSIDER, membership=newcomer).exists()
    page = client.get(response["Location"])
    assert "已提交核查任务" in page.content.decode()


def test_reconcile_now_with_redis_down_answers_with_a_message(client, hr, org, monkeypatch):
    from portal.celery import app

    monkeypatch.setattr(app.conf, "task_always_eager", False)
    monkeypatch.setattr(app.conf, "broker_url", "redis://127.0.0.1:1/0")
    client.force_login(hr)
    response = client.post(reverse("admin:groups_rosterfinding_reconcile_now"), follow=True)
    assert response.status_code == 200
    assert "任务队列暂时不可用" in response.content.decode()


def test_reconcile_now_is_refused_to_auditors(client, auditor):
    client.force_login(auditor)
    assert client.post(reverse("admin:groups_rosterfinding_reconcile_now")).status_code == 403
    assert "立即核查" not in client.get(reverse("admin:groups_rosterfinding_changelist")).content.decode()


def test_findings_list_says_when_the_last_check_ran(client, hr, org):
    client.force_login(hr)
    url = reverse("admin:groups_rosterfinding_changelist")
    assert "尚未运行过核查" in client.get(url).content.decode()
    when = timezone.now().replace(second=0, microsecond=0)
    reconcile_all(now=when)
    page = client.get(url).content.decode()
    assert f"最近一次核查:{timezone.localtime(when):%Y-%m-%d %H:%M}" in page
