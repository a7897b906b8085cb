"""HR decides an appeal on one page: statement, attachments, the violation's evidence, what upholding
and overturning would do (the escalation ladder, points and fines), and the decision buttons."""

from __future__ import annotations

import datetime

import pytest
from auditlog.models import LogEntry
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from violations import services
from violations.choices import AppealStatus, ViolationStatus
from violations.models import Appeal, Rule, Sanction

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n%..."


def record(hr, org, when, *, evidence=()):
    violation = services.record_violation(
        org["east_rep"],
        Rule.objects.get(code="C04"),
        when,
        "在部门群发布算命广告",
        acting_user=hr,
        group=org["sales_group"],
        confirmed=True,
        evidence_files=list(evidence),
    )
    services.apply_sanctions(violation, acting_user=hr)  # C04: a warning, 2 points
    return violation


@pytest.fixture
def third_warning(hr, org, employee_user):
    return appeal_of_third_warning(hr, org, employee_user)


def appeal_of_third_warning(hr, org, employee_user):
    """张三's third warning within 12 months (it made a demerit), notified and appealed with a PDF."""
    start = timezone.now().replace(microsecond=0) - datetime.timedelta(days=40)
    record(hr, org, start)
    record(hr, org, start + datetime.timedelta(days=1))
    shot = SimpleUploadedFile("群聊截图.png", PNG, content_type="image/png")
    third = record(hr, org, start + datetime.timedelta(days=2), evidence=[shot])
    notified_at = start + datetime.timedelta(days=2, hours=3)
    services.mark_notified(third, acting_user=hr, at=notified_at)
    attachment = SimpleUploadedFile("出差证明.pdf", PDF, content_type="application/pdf")
    return services.file_appeal(
        third,
        "当天我在外地出差,群里发广告的是同名同事。",
        acting_user=employee_user,
        files=[attachment],
        at=notified_at + datetime.timedelta(hours=1),
    )


def decide_url(appeal):
    return reverse("admin:violations_appeal_decide", args=[appeal.pk])


def test_decision_page_shows_the_facts_and_both_outcomes(client, hr, third_warning):
    client.force_login(hr)
    page = client.get(decide_url(third_warning)).content.decode()
    assert "当天我在外地出差,群里发广告的是同名同事。" in page  # the statement
    attachment, shot = third_warning.evidence.get(), third_warning.violation.evidence.get(appeal=None)
    assert f'href="{reverse("violations:evidence", args=[attachment.pk])}">出差证明.pdf' in page
    assert "在部门群发布算命广告" in page and f'href="{reverse("violations:evidence", args=[shot.pk])}"' in page
    assert "群聊截图.png" in page
    assert "张三(E0101) · 销售部/华东区" in page  # 姓名(工号), never the login name
    consequences = services.appeal_consequences(third_warning)
    assert consequences.upheld.ladder[:2] == [
        "这是12个月内第3次警告",
        "升级维持:第3次警告(12个月内)→ 记过一次(记过、扣当月全额绩效、清出群)",
    ]
    assert consequences.overturned.ladder[0] == "12个月内警告次数从3次回到2次"
    assert consequences.overturned.ladder[1].startswith("升级撤回:第3次警告(12个月内)→ 记过一次")
    month = f"{timezone.localtime(third_warning.violation.occurred_at):%Y-%m}"
    assert consequences.upheld.performance == [f"{month}绩效:扣12分、扣当月全额绩效"]  # warning 2 + demerit 10
    assert consequences.overturned.performance == [f"{month}绩效:不再扣12分、扣当月全额绩效"]
    for line in consequences.upheld.ladder + consequences.overturned.ladder + consequences.overturned.performance:
        assert line in page
    assert 'name="outcome" value="upheld"' in page and 'name="outcome" value="overturned"' in page


def test_a_first_warning_changes_no_rung(hr, org, employee_user):
    violation = record(hr, org, timezone.now() - datetime.timedelta(days=3))
    services.mark_notified(violation, acting_user=hr)
    appeal = services.file_appeal(violation, "不是我", acting_user=employee_user)
    consequences = services.appeal_consequences(appeal)
    assert consequences.upheld.ladder == ["这是12个月内第1次警告", "不触发升级。"]
    assert consequences.overturned.ladder == ["12个月内警告次数从1次回到0次", "不影响已有的升级。"]
    assert consequences.overturned.sanctions == ["处分撤回:警告(扣2分)"]


def test_hr_overturns_on_the_page_audited(client, hr, third_warning):
    client.force_login(hr)
    response = client.post(decide_url(third_warning), {"outcome": "overturned", "reason": "核实为同名同事"})
    assert response.status_code == 302 and response.url == decide_url(third_warning)
    third_warning.refresh_from_db()
    assert third_warning.status == AppealStatus.OVERTURNED and third_warning.decided_by == hr
    assert third_warning.violation.status == ViolationStatus.OVERTURNED
    assert not Sanction.objects.filter(violation=third_warning.violation, withdrawn_at__isnull=True).exists()
    entry = LogEntry.objects.get_for_object(third_warning).order_by("pk").last()
    assert entry.actor == hr and entry.additional_data["channel"] == "admin"
    assert entry.changes_dict["status"] == ["pending", "overturned"]
    page = client.get(decide_url(third_warning)).content.decode()
    assert "核实为同名同事" in page and 'name="outcome"' not in page  # decided: no buttons


def test_decision_needs_a_reason(client, hr, third_warning):
    client.force_login(hr)
    response = client.post(decide_url(third_warning), {"outcome": "upheld", "reason": "  "})
    assert response.status_code == 200 and "errorlist" in response.content.decode()
    assert Appeal.objects.get(pk=third_warning.pk).status == AppealStatus.PENDING


def test_auditor_and_head_read_only_other_head_404(client, auditor, head_sales, head_tech, third_warning):
    from groups.roles import sync_derived_roles

    sync_derived_roles(acting_user=None)  # heads become staff with the view permissions of their role
    for user in (auditor, head_sales):
        client.force_login(user)
        page = client.get(decide_url(third_warning))
        assert page.status_code == 200 and "出差证明.pdf" in page.content.decode()
        assert 'name="outcome"' not in page.content.decode()
        assert client.post(decide_url(third_warning), {"outcome": "upheld", "reason": "x"}).status_code == 403
    client.force_login(head_tech)
    assert client.get(decide_url(third_warning)).status_code == 404
    assert Appeal.objects.get(pk=third_warning.pk).status == AppealStatus.PENDING


def test_change_page_lists_attachments_and_links_the_decision(client, hr, third_warning):
    client.force_login(hr)
    page = client.get(reverse("admin:violations_appeal_change", args=[third_warning.pk])).content.decode()
    attachment = third_warning.evidence.get()
    assert f'href="{reverse("violations:evidence", args=[attachment.pk])}">出差证明.pdf' in page
    assert decide_url(third_warning) in page
    assert "张三(E0101)" in page  # filed by: the employee behind the login, not "employee_user"
    assert ">employee_user<" not in page
    listing = client.get(reverse("admin:violations_appeal_changelist")).content.decode()
    assert decide_url(third_warning) in listing
    violation_page = client.get(reverse("admin:violations_violation_change", args=[third_warning.violation_id]))
    assert decide_url(third_warning) in violation_page.content.decode()


def test_attachment_downloads_through_the_scoped_view(client, head_tech, hr, third_warning):
    url = reverse("violations:evidence", args=[third_warning.evidence.get().pk])
    client.force_login(hr)
    assert client.get(url).status_code == 200
    client.force_login(head_tech)
    assert client.get(url).status_code == 404


def test_employee_page_lists_the_appeal_attachments(client, employee_user, third_warning):
    client.force_login(employee_user)
    page = client.get(reverse("violations:mine")).content.decode()
    attachment = third_warning.evidence.get()
    assert f'href="{reverse("violations:evidence", args=[attachment.pk])}" data-testid="appeal-attachment"' in page
    assert "申诉附件: 出差证明.pdf" in page
    assert "群聊截图.png" not in page  # the violation's evidence stays numbered (证据1), never named


def test_overturning_an_early_warning_regroups_the_later_ones(hr, org, employee_user):
    start = timezone.now().replace(microsecond=0) - datetime.timedelta(days=40)
    first = record(hr, org, start)
    for day in (1, 2, 3):
        record(hr, org, start + datetime.timedelta(days=day))
    services.mark_notified(first, acting_user=hr, at=start + datetime.timedelta(days=3, hours=1))
    appeal = services.file_appeal(
        first, "不是我", acting_user=employee_user, at=start + datetime.timedelta(days=3, hours=2)
    )
    consequences = services.appeal_consequences(appeal)
    assert consequences.upheld.ladder[0] == "这是12个月内第1次警告"
    assert consequences.overturned.ladder == [
        "12个月内警告次数从4次回到3次",
        "升级撤回:第3次警告(12个月内)→ 记过一次(记过、扣当月全额绩效、清出群)",
        "重新计算后新增:第3次警告(12个月内)→ 记过一次(记过、扣当月全额绩效、清出群)",
    ]
    assert consequences.overturned.performance[-1] == "新增的升级处分按重新计算的结果计入绩效。"
    services.decide_appeal(appeal, AppealStatus.OVERTURNED, "核实", acting_user=hr)
    demerits = Sanction.objects.filter(employee=org["east_rep"], kind="demerit", withdrawn_at__isnull=True)
    assert demerits.count() == 1  # what the page announced: the demerit now stands on the 4th warning
