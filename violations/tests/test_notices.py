"""The employee is told of a sanction, an appeal's decision and the appeal deadline; the department
head of at-risk employees — each once, by email and WeCom text card."""

from __future__ import annotations

import datetime

import pytest
from django.core import mail

from portal.models import NotificationLog
from violations import notices, services
from violations.models import Violation, WorkdayOverride

from .conftest import at

D = datetime.date


@pytest.fixture
def reachable(org):
    """张三 and his department head have an email address and a WeCom userid."""
    for key, userid in (("east_rep", "zhangsan"), ("sales_head", "lixiaoshou")):
        person = org[key]
        person.email, person.wecom_id = f"{userid}@example.com", userid
        person.save()
    return org


@pytest.fixture
def notified(hr, sanction, reachable, wecom_api, django_capture_on_commit_callbacks):
    violation = sanction("C04", at(2026, 9, 29, 10))
    with django_capture_on_commit_callbacks(execute=True):
        return services.mark_notified(violation, acting_user=hr, at=at(2026, 9, 30, 16))


def test_sanction_notice_names_rule_sanction_and_appeal_deadline(notified, wecom_api, reachable):
    rows = NotificationLog.objects.filter(recipient=reachable["east_rep"]).order_by("channel")
    assert [(r.channel, r.target, r.status) for r in rows] == [
        ("email", "zhangsan@example.com", "sent"),
        ("wecom_app", "zhangsan", "sent"),
    ]
    assert rows[0].event_key == f"sanction-confirmed:{notified.pk}:{reachable['east_rep'].pk}:email"
    (message,) = mail.outbox
    assert message.subject == "【群规】处分通知:C04 宗教、封建迷信内容"
    assert "群:销售部工作群" in message.body and "时间:2026-09-29 10:00" in message.body
    assert "处分:警告" in message.body
    assert "如有异议,请在 2026-10-13 前提出申诉。" in message.body
    (card,) = wecom_api.delivered
    assert card["touser"] == "zhangsan" and card["textcard"]["title"] == message.subject
    assert "2026-10-13" in card["textcard"]["description"]
    assert card["textcard"]["url"] == "https://qungui.example.com/violations/mine/"


def test_sanction_notice_is_sent_once(notified, wecom_api, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert notices.notify_sanctioned(notified) == 0  # the job ran again
    assert NotificationLog.objects.count() == 2 and len(wecom_api.delivered) == 1 and len(mail.outbox) == 1


@pytest.mark.parametrize(("outcome", "text"), [("upheld", "维持原处分"), ("overturned", "撤销处分")])
def test_appeal_decision_is_told(
    outcome, text, hr, employee_user, notified, wecom_api, django_capture_on_commit_callbacks
):
    appeal = services.file_appeal(notified, "不是我发的", acting_user=employee_user, at=at(2026, 10, 9, 9))
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.decide_appeal(appeal, outcome, "聊天记录显示确为本人", acting_user=hr)
    (message,) = mail.outbox
    assert message.subject == f"【群规】申诉结果:{text}"
    assert f"裁决:{text}" in message.body and "理由:聊天记录显示确为本人" in message.body
    assert wecom_api.delivered[-1]["textcard"]["title"] == message.subject
    assert NotificationLog.objects.filter(event_key__startswith=f"appeal-decided:{appeal.pk}:").count() == 2


# --- the deadline, two working days ahead ------------------------------------------------------


def _reminders(day) -> list[str]:
    notices.send_deadline_reminders(day)
    return list(
        NotificationLog.objects.filter(event_key__startswith="appeal-deadline:", channel="email").values_list(
            "subject", flat=True
        )
    )


def test_reminder_two_working_days_ahead_across_national_day(notified, django_capture_on_commit_callbacks):
    # deadline Tue 2026-10-13: Sat 10-10 is a working day (调休), Sun 10-11 is not.
    assert notified.appeal_deadline == D(2026, 10, 13)
    assert _reminders(D(2026, 10, 5)) == []  # holiday: the job does nothing
    assert _reminders(D(2026, 10, 9)) == []  # Fri: two working days ahead is Mon 10-12
    with django_capture_on_commit_callbacks(execute=True):
        assert _reminders(D(2026, 10, 10)) == ["【群规】申诉期即将截止:2026-10-13"]
    assert _reminders(D(2026, 10, 12)) == ["【群规】申诉期即将截止:2026-10-13"]  # once
    assert "将于 2026-10-13 截止" in mail.outbox[-1].body and "C04" in mail.outbox[-1].body


def test_reminder_skips_the_weekend(notified):
    Violation.objects.filter(pk=notified.pk).update(appeal_deadline=D(2026, 11, 17))  # Tuesday
    assert _reminders(D(2026, 11, 12)) == []  # Thu: two working days ahead is Mon 11-16
    assert _reminders(D(2026, 11, 14)) == []  # Saturday
    assert _reminders(D(2026, 11, 13)) == ["【群规】申诉期即将截止:2026-11-17"]  # Fri: Mon and Tue


def test_reminder_follows_hr_overrides(notified):
    Violation.objects.filter(pk=notified.pk).update(appeal_deadline=D(2026, 11, 17))
    WorkdayOverride.objects.create(date=D(2026, 11, 16), is_workday=False, note="公司放假")
    assert _reminders(D(2026, 11, 12)) == ["【群规】申诉期即将截止:2026-11-17"]  # Thu: Fri and Tue


def test_no_reminder_once_appealed_or_past(employee_user, notified):
    assert _reminders(D(2026, 10, 14)) == []  # the deadline has passed
    services.file_appeal(notified, "不是我", acting_user=employee_user, at=at(2026, 10, 9, 9))
    assert _reminders(D(2026, 10, 12)) == []


# --- at-risk employees ---------------------------------------------------------------------------


def _at_risk_rows() -> list[tuple[str, str, str]]:
    return list(
        NotificationLog.objects.filter(event_key__startswith="at-risk-digest:")
        .order_by("pk")
        .values_list("channel", "event_key", "body")
    )


WARNING_TO_DEMERIT = "第3次警告(12个月内)→ 记过一次(记过、扣当月全额绩效、清出群)"


@pytest.fixture
def east_colleague(org):
    from groups.models import Employee

    return Employee.objects.create(employee_no="E0103", name="王五", department=org["east"])


def test_head_gets_one_digest_a_day_listing_all_their_at_risk_employees(
    sanction, reachable, east_colleague, wecom_api, django_capture_on_commit_callbacks
):
    sanction("C04", at(2026, 3, 2, 10))
    assert notices.notify_at_risk(at(2026, 3, 10, 9)) == 0  # one warning of three: not yet
    sanction("C05", at(2026, 3, 5, 10))
    sanction("C04", at(2026, 3, 3, 10), employee=east_colleague)
    sanction("C10", at(2026, 3, 6, 10), employee=east_colleague)
    with django_capture_on_commit_callbacks(execute=True):
        assert notices.notify_at_risk(at(2026, 3, 10, 9)) == 2  # one digest to 李销售: email and WeCom
    head = reachable["sales_head"].pk
    rows = _at_risk_rows()
    assert [(channel, key) for channel, key, _body in rows] == [
        ("email", f"at-risk-digest:{head}:20260310:{head}:email"),
        ("wecom_app", f"at-risk-digest:{head}:20260310:{head}:wecom_app"),
    ]
    assert rows[0][2] == (
        f"- 张三(工号 E0101,华东区)距下一级处分只差一次:{WARNING_TO_DEMERIT}\n"
        f"- 王五(工号 E0103,华东区)距下一级处分只差一次:{WARNING_TO_DEMERIT}"
    )
    (message,) = mail.outbox
    assert message.to == ["lixiaoshou@example.com"] and message.subject == "【群规】2 名员工临近升级处分"
    (card,) = wecom_api.delivered
    assert card["touser"] == "lixiaoshou" and "王五" in card["textcard"]["description"]
    assert notices.notify_at_risk(at(2026, 3, 10, 18)) == 0  # the same day again: recorded already
    assert notices.notify_at_risk(at(2026, 3, 11, 9)) == 2  # the next day's digest
    assert len(_at_risk_rows()) == 4


def test_each_head_gets_their_own_digest(sanction, reachable, org):
    org["tech_head"].email = "chenjishu@example.com"
    org["tech_head"].save()
    for employee in (org["east_rep"], org["tech_dev"]):
        sanction("C04", at(2026, 3, 2, 10), employee=employee)
        sanction("C05", at(2026, 3, 5, 10), employee=employee)
    assert notices.notify_at_risk(at(2026, 3, 10, 9)) == 2  # no WeCom corp configured: one email each
    by_recipient = dict(
        NotificationLog.objects.filter(event_key__startswith="at-risk-digest:", channel="email").values_list(
            "recipient__name", "body"
        )
    )
    assert set(by_recipient) == {"李销售", "陈技术"}
    assert "张三" in by_recipient["李销售"] and "孙七" not in by_recipient["李销售"]
    assert "孙七" in by_recipient["陈技术"] and "张三" not in by_recipient["陈技术"]


def test_at_risk_digest_counts_what_it_does_not_list(sanction, reachable, org, monkeypatch):
    from groups.models import Employee

    monkeypatch.setattr(notices, "AT_RISK_LINES", 2)
    for n in range(4):
        person = Employee.objects.create(employee_no=f"E03{n:02d}", name=f"员工{n}", department=org["east"])
        sanction("C04", at(2026, 3, 2, 10), employee=person)
        sanction("C05", at(2026, 3, 5, 10), employee=person)
    assert notices.notify_at_risk(at(2026, 3, 10, 9)) == 1
    ((subject, body),) = NotificationLog.objects.filter(event_key__startswith="at-risk-digest:").values_list(
        "subject", "body"
    )
    assert subject == "【群规】4 名员工临近升级处分"
    assert body.splitlines()[-1] == "……另有 2 人,请登录门户查看" and len(body.splitlines()) == 3


def test_at_risk_digest_follows_the_ladder(sanction, reachable):
    sanction("C04", at(2026, 3, 2, 10))
    sanction("C05", at(2026, 3, 5, 10))
    assert notices.notify_at_risk(at(2026, 3, 10, 9)) == 1  # no WeCom corp configured: email only
    sanction("C10", at(2026, 3, 12, 10))  # the third warning: a demerit, counting starts again
    assert notices.notify_at_risk(at(2026, 3, 13, 9)) == 0  # nobody at risk: no digest
    sanction("C04", at(2026, 4, 1, 10))
    sanction("C05", at(2026, 4, 2, 10))
    assert notices.notify_at_risk(at(2026, 4, 3, 9)) == 1  # at risk again: in that day's digest
    assert len(_at_risk_rows()) == 2
