"""A group admin's own actions on their groups' findings (groups/work_views.py, groups/services.py).

Each action as the group's admin (works, audited with their name and the self-service channel), as
another group's admin (404), as HR (works) and as a plain employee or auditor (404).
"""

from __future__ import annotations

import io

import pytest
from auditlog.models import LogEntry
from django.urls import reverse

from groups import services
from groups.choices import ImportStatus
from groups.models import ChatGroup, ImportJob, Membership, RosterFinding
from groups.reconcile import reconcile_all
from portal.models import NotificationLog

from .work_data import build_work

pytestmark = pytest.mark.django_db


@pytest.fixture
def work(org, django_user_model, group_admin):
    return build_work(org, django_user_model)


def status(finding) -> str:
    return RosterFinding.objects.get(pk=finding.pk).status


def last_entry(obj) -> LogEntry:
    return LogEntry.objects.get_for_object(obj).latest("pk")


def post(client, name, finding, **data):
    return client.post(reverse(f"groups:{name}", args=[finding.pk]), data)


# --- 已移出群 -----------------------------------------------------------------------------------------


def test_mark_removed_asks_first_then_closes_the_membership(client, work, group_admin):
    finding = work["departed"]
    client.force_login(group_admin)
    url = reverse("groups:work_removed", args=[finding.pk])
    page = client.get(url, {"next": "/queue/"})
    assert page.status_code == 200
    assert "确认已移出群" in page.content.decode() and "华东区-赵六" in page.content.decode()
    assert status(finding) == "open"  # a GET changes nothing
    response = client.post(url, {"next": "/queue/"})
    assert response.status_code == 302 and response.url == "/queue/"
    membership = Membership.objects.get(pk=finding.membership_id)
    assert membership.left_at is not None
    assert status(finding) == "resolved"
    assert RosterFinding.objects.get(pk=finding.pk).resolved_by == group_admin
    entry = last_entry(membership)
    assert entry.actor == group_admin and "left_at" in entry.changes_dict
    assert entry.additional_data["channel"] == "self_service"
    reconcile_all()  # the closed membership is not found again
    assert not RosterFinding.objects.open().filter(membership=membership).exists()


def test_mark_removed_never_leaves_to_another_site(client, work, group_admin):
    client.force_login(group_admin)
    response = post(client, "work_removed", work["outsider"], next="https://evil.example/")
    assert response.status_code == 302 and response.url == "/"


def test_another_groups_admin_gets_404_everywhere(client, work):
    client.force_login(work["other_admin"])
    for name, finding in [
        ("work_removed", work["departed"]),
        ("work_nickname_fixed", work["nickname"]),
        ("work_chase", work["nickname"]),
        ("work_successor", work["owner"]),
    ]:
        assert post(client, name, finding).status_code == 404, name
    assert client.get(reverse("groups:work_removed", args=[work["departed"].pk])).status_code == 404
    assert client.get(reverse("groups:work_successor", args=[work["owner"].pk])).status_code == 404
    assert client.get(reverse("groups:work_roster_upload", args=[work["departed"].group_id])).status_code == 404
    assert all(status(work[key]) == "open" for key in ("departed", "nickname", "owner"))
    assert Membership.objects.get(pk=work["departed"].membership_id).left_at is None
    # Their own group's finding works.
    assert post(client, "work_removed", work["tech_outsider"]).status_code == 302
    assert status(work["tech_outsider"]) == "resolved"


@pytest.mark.parametrize("role", ["employee_user", "auditor", "head_tech"])
def test_people_who_do_not_administer_the_group_get_404(client, work, role, request):
    user = request.getfixturevalue(role)
    client.force_login(user)
    assert post(client, "work_removed", work["departed"]).status_code == 404
    assert post(client, "work_nickname_fixed", work["nickname"]).status_code == 404
    assert status(work["departed"]) == status(work["nickname"]) == "open"


def test_a_head_sees_but_does_not_act_for_a_group_they_do_not_administer(client, work, head_tech):
    """技术部工作群 lies in 陈技术's department (he sees its findings) but 周八 administers it."""
    assert RosterFinding.objects.visible_to(head_tech).filter(pk=work["tech_outsider"].pk).exists()
    client.force_login(head_tech)
    assert client.get(reverse("groups:work_removed", args=[work["tech_outsider"].pk])).status_code == 404
    assert post(client, "work_removed", work["tech_outsider"]).status_code == 404
    assert status(work["tech_outsider"]) == "open"


def test_an_owner_who_heads_a_department_acts_for_their_group(client, work, head_sales):
    """李销售 heads 销售部 and owns 销售部工作群: the owner's work is theirs."""
    client.force_login(head_sales)
    assert post(client, "work_removed", work["departed"]).status_code == 302
    assert status(work["departed"]) == "resolved"


def test_hr_may_act_on_any_group(client, work, hr):
    client.force_login(hr)
    assert post(client, "work_removed", work["tech_outsider"]).status_code == 302
    assert status(work["tech_outsider"]) == "resolved"
    assert last_entry(Membership.objects.get(pk=work["tech_outsider"].membership_id)).actor == hr


def test_action_on_a_closed_finding_is_404(client, work, group_admin):
    client.force_login(group_admin)
    assert post(client, "work_removed", work["outsider"]).status_code == 302
    assert post(client, "work_removed", work["outsider"]).status_code == 404


def test_service_refuses_another_group(work, group_admin):
    with pytest.raises(services.NotYourGroup):
        services.confirm_member_removed(work["tech_outsider"].pk, acting_user=group_admin)


# --- nickname: fixed / 催改 ----------------------------------------------------------------------------


def test_nickname_fixed_sets_the_expected_nickname_and_resolves(client, work, group_admin):
    finding = work["nickname"]
    client.force_login(group_admin)
    assert post(client, "work_nickname_fixed", finding).status_code == 302
    membership = Membership.objects.get(pk=finding.membership_id)
    assert membership.nickname == "华东区-张三" and membership.left_at is None
    assert status(finding) == "resolved"
    entry = last_entry(membership)
    assert entry.actor == group_admin and entry.changes_dict["nickname"] == ["张三", "华东区-张三"]
    reconcile_all()
    assert not RosterFinding.objects.open().filter(membership=membership).exists()


def test_nickname_fixed_only_for_nickname_findings(client, work, group_admin):
    client.force_login(group_admin)
    assert post(client, "work_nickname_fixed", work["outsider"]).status_code == 404
    assert client.get(reverse("groups:work_nickname_fixed", args=[work["nickname"].pk])).status_code == 405


def test_chase_notifies_a_member_with_a_channel(client, work, group_admin, org):
    org["east_rep"].email = "zhangsan@example.com"
    org["east_rep"].save()
    client.force_login(group_admin)
    assert post(client, "work_chase", work["nickname"]).status_code == 302
    log = NotificationLog.objects.get()
    assert (log.channel, log.target, log.recipient) == ("email", "zhangsan@example.com", org["east_rep"])
    assert "华东区-张三" in log.body and "销售部工作群" in log.subject
    entry = last_entry(work["nickname"])
    assert entry.actor == group_admin and entry.additional_data["notifications"] == [log.pk]
    assert status(work["nickname"]) == "open"  # a reminder does not settle it


def test_chase_without_a_channel_is_recorded(client, work, group_admin):
    client.force_login(group_admin)
    response = client.post(reverse("groups:work_chase", args=[work["nickname"].pk]), follow=True)
    assert "没有可用的通知渠道" in response.content.decode()
    assert NotificationLog.objects.count() == 0
    entry = last_entry(work["nickname"])
    assert entry.actor == group_admin and entry.additional_data["chase"] is True
    assert entry.additional_data["notifications"] == []


# --- 离职继承 ------------------------------------------------------------------------------------------


def test_apply_the_suggested_successor(client, work, group_admin, org):
    finding = work["owner"]
    assert finding.suggested_successor == org["tech_dev"]
    client.force_login(group_admin)
    url = reverse("groups:work_successor", args=[finding.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert page.context["form"].fields["successor"].initial == org["tech_dev"].pk
    response = client.post(url, {"successor": org["tech_dev"].pk})
    assert response.status_code == 302
    project = ChatGroup.objects.get(pk=work["project"].pk)
    assert project.owner == org["tech_dev"]
    assert status(finding) == "resolved"
    entry = last_entry(project)
    assert entry.actor == group_admin and "owner" in entry.changes_dict
    reconcile_all()
    assert not RosterFinding.objects.open().filter(group=project, kind="owner_departed").exists()


def test_pick_another_active_member_but_not_an_outsider_of_the_group(client, work, hr, org):
    finding = work["owner"]
    Membership.objects.create(group=work["project"], nickname="华东区-张三", employee=org["east_rep"])
    client.force_login(hr)
    url = reverse("groups:work_successor", args=[finding.pk])
    refused = client.post(url, {"successor": org["ceo"].pk})  # active, but not in this group
    assert refused.status_code == 200 and refused.context["form"].errors
    assert ChatGroup.objects.get(pk=work["project"].pk).owner == org["east_departed"]
    assert client.post(url, {"successor": org["east_rep"].pk}).status_code == 302
    assert ChatGroup.objects.get(pk=work["project"].pk).owner == org["east_rep"]
    assert last_entry(work["project"]).actor == hr


def test_successor_refused_for_employee(client, work, employee_user, org):
    client.force_login(employee_user)
    response = post(client, "work_successor", work["owner"], successor=org["east_rep"].pk)
    assert response.status_code == 404
    assert ChatGroup.objects.get(pk=work["project"].pk).owner == org["east_departed"]


# --- importing one's own group's roster -----------------------------------------------------------


def upload(client, group, text: str):
    data = io.BytesIO(text.encode())
    data.name = "members.csv"
    return client.post(reverse("groups:work_roster_upload", args=[group.pk]), {"file": data})


def test_group_admin_imports_their_groups_roster_with_preview_and_confirm(client, work, group_admin, org):
    group = org["sales_group"]
    client.force_login(group_admin)
    assert client.get(reverse("groups:work_roster_upload", args=[group.pk])).status_code == 200
    response = upload(client, group, "群昵称,平台账号\n华东区-张三,wx_zhangsan\n路人甲,wx_a\n")
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response.url == reverse("groups:work_roster_job", args=[job.pk])
    assert (job.status, job.group, job.created_by) == (ImportStatus.PREVIEWED, group, group_admin)
    page = client.get(response.url)
    assert page.status_code == 200 and "确认导入" in page.content.decode()
    assert Membership.objects.get(group=group, employee=org["east_departed"]).left_at is None  # not yet
    client.post(reverse("groups:work_roster_confirm", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE, job.errors
    assert Membership.objects.get(group=group, employee=org["east_departed"]).left_at is not None
    assert LogEntry.objects.get_for_object(job).latest("pk").actor == group_admin


def test_roster_cannot_reach_another_group_through_its_group_column(client, work, group_admin, org):
    client.force_login(group_admin)
    upload(client, org["sales_group"], "群名称,群昵称\n销售项目群,技术部-孙七\n")
    job = ImportJob.objects.get()
    assert job.status == ImportStatus.INVALID
    assert any("销售项目群" in error for error in job.errors)


def test_roster_pages_of_another_admin_are_404(client, work, group_admin, org):
    client.force_login(group_admin)
    upload(client, org["sales_group"], "群昵称\n华东区-张三\n")
    job = ImportJob.objects.get()
    client.force_login(work["other_admin"])
    assert client.get(reverse("groups:work_roster_job", args=[job.pk])).status_code == 404
    assert client.post(reverse("groups:work_roster_confirm", args=[job.pk])).status_code == 404
    assert client.post(reverse("groups:work_roster_cancel", args=[job.pk])).status_code == 404
    assert upload(client, org["sales_group"], "群昵称\n华东区-张三\n").status_code == 404
    assert ImportJob.objects.get().status == ImportStatus.PREVIEWED


def test_roster_cancel_deletes_the_upload(client, work, group_admin, org):
    client.force_login(group_admin)
    upload(client, org["sales_group"], "群昵称\n华东区-张三\n")
    job = ImportJob.objects.get()
    assert client.post(reverse("groups:work_roster_cancel", args=[job.pk])).status_code == 302
    job.refresh_from_db()
    assert job.status == ImportStatus.CANCELLED and not job.file
