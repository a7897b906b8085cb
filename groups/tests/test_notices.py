"""Group owners and admins hear of new findings in their groups, department heads of overdue departed
members: each finding once, by email and WeCom text card."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from groups import notices
from groups.models import ChatGroup, Membership, RosterFinding
from groups.reconcile import escalate_overdue, reconcile_all
from portal.models import NotificationLog


@pytest.fixture
def admins(org):
    """销售部工作群: owner 李销售 (email, WeCom), admin 孙七 (WeCom only)."""
    ChatGroup.objects.update(approved_at=timezone.now())
    owner, admin = org["sales_head"], org["tech_dev"]
    owner.email, owner.wecom_id = "li@example.com", "lixiaoshou"
    owner.save()
    admin.wecom_id = "sunqi"
    admin.save()
    return org


def _new_findings_rows():
    return list(
        NotificationLog.objects.filter(event_key__startswith="findings-new:")
        .order_by("pk")
        .values_list("channel", "target", "subject", "body")
    )


def test_owner_and_admins_told_of_new_findings_once(admins, wecom_api, django_capture_on_commit_callbacks):
    group = admins["sales_group"]
    Membership.objects.create(group=group, nickname="华东区-赵六", employee=admins["east_departed"])
    Membership.objects.create(group=group, nickname="路人甲", platform_id="wx_a")
    with django_capture_on_commit_callbacks(execute=True):
        reconcile_all()
    rows = _new_findings_rows()
    assert sorted((channel, target) for channel, target, _s, _b in rows) == [
        ("email", "li@example.com"),
        ("wecom_app", "lixiaoshou"),
        ("wecom_app", "sunqi"),
    ]
    subject, body = rows[0][2], rows[0][3]
    assert subject == "【群规】销售部工作群 新发现 2 条核查结果"
    assert body.splitlines() == ["- 离职员工仍在群: 赵六", "- 非本公司人员在群: 路人甲"]
    assert sorted(card["touser"] for card in wecom_api.delivered) == ["lixiaoshou", "sunqi"]
    assert mail.outbox[0].subject == subject
    with django_capture_on_commit_callbacks(execute=True):
        reconcile_all()  # the findings are still open: nothing new to tell
    assert len(_new_findings_rows()) == 3 and len(wecom_api.delivered) == 2


def test_only_the_new_finding_is_told_the_next_day(admins):
    group = admins["sales_group"]
    Membership.objects.create(group=group, nickname="华东区-赵六", employee=admins["east_departed"])
    reconcile_all()
    Membership.objects.create(group=group, nickname="路人乙", platform_id="wx_b")
    reconcile_all(now=timezone.now() + timedelta(days=1))
    bodies = [body for channel, _t, _s, body in _new_findings_rows() if channel == "email"]
    assert bodies == ["- 离职员工仍在群: 赵六", "- 非本公司人员在群: 路人乙"]


@pytest.fixture
def orphan(org):
    """技术部工作群 without an active owner or admin: its owner 孙七 has departed."""
    group = org["tech_group"]
    org["tech_dev"].status = "departed"
    org["tech_dev"].save()
    group.owner, group.approved_at = org["tech_dev"], timezone.now()
    group.save()
    group.admins.clear()
    Membership.objects.create(group=group, nickname="路人丙", platform_id="wx_c")
    return group


def test_a_group_without_active_owner_or_admin_tells_its_department_head(org, orphan):
    org["tech_head"].email = "chen@example.com"
    org["tech_head"].save()
    reconcile_all()
    assert RosterFinding.objects.filter(group=orphan, kind="outsider").exists()
    rows = [(channel, target, body) for channel, target, _s, body in _new_findings_rows()]
    assert [(channel, target) for channel, target, _b in rows] == [("email", "chen@example.com")]
    assert rows[0][2].splitlines() == [
        "该群没有在职的群主或群管理员,请处理以下结果并指定新群主:",
        "- 非本公司人员在群: 路人丙",
        "- 群主已离职: 孙七(陈技术)",
    ]
    notices.send_findings_digest()  # the daily digest goes to the head too
    digest = NotificationLog.objects.filter(event_key__startswith=f"findings-digest:{orphan.pk}:")
    assert list(digest.values_list("target", flat=True)) == ["chen@example.com"]


def test_a_group_without_active_owner_admin_or_head_tells_hr(org, orphan, django_user_model):
    from django.conf import settings
    from django.contrib.auth.models import Group

    org["tech"].head = None
    org["tech"].save()
    user = django_user_model.objects.create_user("hr_wang", password="pw-Qungui-2026!")
    user.groups.add(Group.objects.get_or_create(name=settings.ROLE_HR_ADMIN)[0])
    org["ceo"].user, org["ceo"].email = user, "wang@example.com"
    org["ceo"].save()
    reconcile_all()
    assert [(channel, target) for channel, target, _s, _b in _new_findings_rows()] == [("email", "wang@example.com")]


def test_long_lists_are_cut_and_counted(admins, monkeypatch):
    monkeypatch.setattr(notices, "NEW_FINDINGS_LINES", 1)
    group = admins["sales_group"]
    Membership.objects.create(group=group, nickname="路人甲", platform_id="wx_a")
    Membership.objects.create(group=group, nickname="路人乙", platform_id="wx_b")
    reconcile_all()
    (body,) = [body for channel, _t, _s, body in _new_findings_rows() if channel == "email"]
    assert body.splitlines()[-1] == "……另有 1 条,请登录门户查看"


def test_overdue_notice_once_per_event(admins, django_capture_on_commit_callbacks):
    Membership.objects.create(group=admins["sales_group"], nickname="华东区-赵六", employee=admins["east_departed"])
    reconcile_all(now=timezone.now() - timedelta(days=3))
    claimed = escalate_overdue()
    assert len(claimed) == 1
    assert notices.notify_overdue_findings(claimed) == 0  # told already: a rerun of the notice writes nothing
    rows = NotificationLog.objects.filter(event_key__startswith="departed-overdue:")
    assert list(rows.values_list("channel", "target")) == [("email", "li@example.com")]  # no WeCom corp here


def test_daily_digest_once_a_day(admins):
    Membership.objects.create(group=admins["sales_group"], nickname="路人甲", platform_id="wx_a")
    reconcile_all()
    assert notices.send_findings_digest() == 1  # 李销售's email (WeCom not configured here)
    assert notices.send_findings_digest() == 0


def test_hr_logins_without_an_employee_record_are_told_by_their_email(org, orphan, django_user_model):
    from django.conf import settings
    from django.contrib.auth.models import Group

    org["tech"].head = None
    org["tech"].save()
    hr = Group.objects.get_or_create(name=settings.ROLE_HR_ADMIN)[0]
    for name, email in (("hr_zhao", "zhao@example.com"), ("hr_none", ""), ("hr_off", "off@example.com")):
        user = django_user_model.objects.create_user(name, email=email, is_active=name != "hr_off")
        user.groups.add(hr)
    reconcile_all()
    rows = NotificationLog.objects.filter(event_key__startswith=f"findings-new:{orphan.pk}:")
    assert list(rows.values_list("channel", "target", "recipient")) == [("email", "zhao@example.com", None)]
    reconcile_all()  # nothing new: told once
    assert rows.count() == 1
