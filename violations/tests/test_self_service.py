"""Employee self-service: my record, appeal, report (anonymous or not); evidence access."""

from __future__ import annotations

import io

import pytest
from auditlog.models import LogEntry
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from violations import services
from violations.choices import ViolationStatus
from violations.models import Appeal, Evidence, Rule, Violation

from .conftest import at

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def real_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), "white").save(out, "PNG")
    return out.getvalue()


def report_data(org, *, anonymous, **extra):
    return {
        "person": org["east_rep"].employee_no,
        "rule": Rule.objects.get(code="B02").pk,
        "occurred_at": "2026-11-02T22:10",
        "description": "在群里辱骂同事",
        "is_anonymous": "on" if anonymous else "",
        **extra,
    }


@pytest.fixture
def reporter(group_admin):
    return group_admin  # 孙七 of 技术部, admin of the sales group


def test_my_records_lists_own_only_with_deadline(client, hr, employee_user, org, sanction):
    own = services.mark_notified(sanction("C04", at(2026, 11, 2, 10)), acting_user=hr)
    sanction("C05", at(2026, 11, 3, 10), employee=org["tech_dev"])
    client.force_login(employee_user)
    response = client.get(reverse("violations:mine"))
    assert [v.pk for v in response.context["violations"]] == [own.pk]
    html = response.content.decode()
    assert "C04" in html and "C05" not in html
    assert reverse("violations:appeal", args=[own.pk]) in html


def test_employee_appeals_through_page(client, hr, employee_user, org, sanction):
    violation = services.mark_notified(sanction("C04", at(2026, 11, 2, 10)), acting_user=hr)
    client.force_login(employee_user)
    shot = SimpleUploadedFile("聊天记录.png", PNG, content_type="image/png")
    response = client.post(
        reverse("violations:appeal", args=[violation.pk]), {"statement": "那条是转发的通知", "files": [shot]}
    )
    assert response.status_code == 302
    appeal = Appeal.objects.get()
    assert appeal.filed_by == employee_user and not appeal.on_behalf
    assert appeal.evidence.count() == 1
    entry = LogEntry.objects.get_for_object(appeal).get()
    assert entry.additional_data["channel"] == "self_service" and entry.actor == employee_user


def test_cannot_open_someone_elses_appeal_page(client, hr, group_admin, sanction):
    violation = services.mark_notified(sanction("C04", at(2026, 11, 2, 10)), acting_user=hr)
    client.force_login(group_admin)  # admin of the group it happened in, but not the person
    assert client.get(reverse("violations:appeal", args=[violation.pk])).status_code == 404


def test_named_report_lands_reported_and_reporter_hidden_from_employee(client, hr, reporter, employee_user, org):
    client.force_login(reporter)
    response = client.post(reverse("violations:report"), report_data(org, anonymous=False))
    assert response.status_code == 302
    violation = Violation.objects.get()
    assert violation.status == ViolationStatus.REPORTED
    assert violation.reporter == reporter and violation.channel == "self_service"
    client.force_login(employee_user)
    assert "B02" not in client.get(reverse("violations:mine")).content.decode()  # unconfirmed: HR's only
    services.confirm_violation(violation, acting_user=hr)
    services.apply_sanctions(violation, acting_user=hr)
    html = client.get(reverse("violations:mine")).content.decode()
    assert "B02" in html
    for secret in (reporter.username, "孙七", org["tech_dev"].employee_no):
        assert secret not in html


def test_anonymous_report_stores_no_identity_anywhere(client, reporter, org):
    client.force_login(reporter)
    shot = SimpleUploadedFile("截图.png", real_png(), content_type="image/png")  # decoded: metadata stripped
    response = client.post(reverse("violations:report"), report_data(org, anonymous=True, evidence=[shot]))
    assert response.status_code == 302
    violation = Violation.objects.get()
    assert violation.is_anonymous and violation.reporter is None and violation.recorded_by is None
    assert Evidence.objects.get().uploaded_by is None
    entries = LogEntry.objects.filter(additional_data__anonymous=True)
    assert entries.count() == 2  # the violation and its evidence
    assert all(e.actor_id is None and e.remote_addr is None for e in entries)
    assert not LogEntry.objects.filter(actor=reporter).exists()
    assert (
        not LogEntry.objects.filter(changes_text__contains=str(reporter.pk))
        .exclude(content_type__model__in=["employee", "chatgroup"])
        .filter(additional_data__anonymous=True)
        .exists()
    )


def test_anonymous_report_audit_middleware_restored_after(client, reporter, hr, org):
    client.force_login(reporter)
    client.post(reverse("violations:report"), report_data(org, anonymous=True))
    client.force_login(hr)
    rule = Rule.objects.get(code="C04")
    client.post(
        reverse("admin:violations_violation_add"),
        {
            "employee": org["east_rep"].pk,
            "rule": rule.pk,
            "occurred_at_0": "2026-11-03",
            "occurred_at_1": "09:00:00",
            "description": "x",
            "sanction_kinds": ["warning"],
            "apply_now": "on",
        },
    )
    assert LogEntry.objects.filter(actor=hr, content_type__model="violation").exists()


def test_anonymous_reporter_not_in_admin_for_hr(client, reporter, hr, org):
    client.force_login(reporter)
    client.post(reverse("violations:report"), report_data(org, anonymous=True))
    violation = Violation.objects.get()
    client.force_login(hr)
    html = client.get(reverse("admin:violations_violation_change", args=[violation.pk])).content.decode()
    assert "匿名" in html and reporter.username not in html


def test_report_rejects_unknown_person_and_self(client, employee_user, org):
    client.force_login(employee_user)
    response = client.post(reverse("violations:report"), report_data(org, anonymous=False, person="E9999"))
    assert "person" in response.context["form"].errors
    response = client.post(reverse("violations:report"), report_data(org, anonymous=False))
    assert response.status_code == 200 and not Violation.objects.exists()  # reporting oneself


def test_report_by_name(client, reporter, org):
    client.force_login(reporter)
    groups = client.get(reverse("violations:report")).context["form"].fields["group"].queryset
    assert list(groups) == [org["sales_group"]]  # administered, though not a member
    response = client.post(reverse("violations:report"), report_data(org, anonymous=True, person="张三"))
    assert response.status_code == 302
    assert Violation.objects.get().employee == org["east_rep"]


def test_login_required(client, org):
    for name in ("violations:mine", "violations:report"):
        assert client.get(reverse(name)).status_code == 302


def test_evidence_download_scoped(client, hr, employee_user, head_sales, head_tech, group_admin, org):
    violation = services.record_violation(
        org["east_rep"],
        Rule.objects.get(code="C04"),
        at(2026, 11, 2, 10),
        "x",
        acting_user=hr,
        group=org["sales_group"],
        evidence_files=[SimpleUploadedFile("张三的截图.png", PNG)],
    )
    url = reverse("violations:evidence", args=[violation.evidence.get().pk])
    for user, status in ((hr, 200), (employee_user, 200), (head_sales, 200), (group_admin, 200), (head_tech, 404)):
        client.force_login(user)
        response = client.get(url)
        assert response.status_code == status, user
        if status == 200:
            assert response["Content-Type"] == "image/png"
            assert b"".join(response.streaming_content) == PNG
    client.force_login(employee_user)
    assert "张三的截图" not in client.get(url)["Content-Disposition"]  # the original name is HR's only
