"""PIPL retention: anonymising departed employees, and the access audit."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from auditlog.models import LogEntry
from django.core.management import CommandError, call_command
from django.db.models import Count
from django.utils import timezone

from groups.models import Employee, Membership
from groups.privacy import anonymize_departed, due_for_anonymization
from portal.audit import log_access


@pytest.fixture
def departed(org, django_user_model):
    """赵六 left 4 years ago and is still listed in the sales group (open) and was in the tech group (closed)."""
    person = org["east_departed"]
    person.hire_date = timezone.localdate() - timedelta(days=3000)
    person.departure_date = timezone.localdate() - timedelta(days=4 * 365)
    person.qq_id = "778899123"
    person.email = "zhaoliu@example.com"
    person.user = django_user_model.objects.create_user(
        "zhaoliu", email="zhaoliu@example.com", first_name="六", last_name="赵"
    )
    person.save()
    Membership.objects.create(
        group=org["sales_group"], employee=person, nickname="华东区-赵六", platform_id="wx_zhaoliu"
    )
    Membership.objects.create(
        group=org["tech_group"],
        employee=person,
        nickname="赵六",
        platform_id="zl@wecom",
        joined_at=timezone.now() - timedelta(days=2000),
        left_at=timezone.now() - timedelta(days=1500),
    )
    return person


@pytest.fixture
def recent(org):
    person = Employee.objects.create(
        employee_no="E0103",
        name="钱八",
        department=org["east"],
        status="departed",
        departure_date=timezone.localdate() - timedelta(days=30),
        wechat_id="wx_qianba",
    )
    Membership.objects.create(
        group=org["sales_group"], employee=person, nickname="华东区-钱八", platform_id="wx_qianba"
    )
    return person


def test_anonymises_personal_fields_and_keeps_rows(departed, recent, org, hr):
    before_depts = dict(Employee.objects.values_list("department").annotate(n=Count("pk")))
    before_memberships = dict(Membership.objects.values_list("group").annotate(n=Count("pk")))

    result = anonymize_departed(acting_user=hr)

    assert (result.employees, result.memberships) == (1, 2)
    departed.refresh_from_db()
    assert departed.name == f"已匿名-{departed.pk}"
    assert departed.employee_no == f"ANON-{departed.pk}"
    assert [departed.wechat_id, departed.wecom_id, departed.qq_id, departed.dingtalk_id, departed.email] == [""] * 5
    assert departed.anonymized_at is not None
    assert departed.status == "departed" and departed.department == org["east"]  # statistics still count them
    assert departed.departure_date is not None
    for membership in Membership.objects.filter(employee=departed):
        assert membership.nickname == f"已匿名-{departed.pk}"
        assert membership.platform_id == ""
    user = departed.user
    user.refresh_from_db()
    assert (user.username, user.first_name, user.last_name, user.email) == (f"anon-{departed.pk}", "", "", "")
    assert not user.is_active and not user.has_usable_password()
    assert dict(Employee.objects.values_list("department").annotate(n=Count("pk"))) == before_depts
    assert dict(Membership.objects.values_list("group").annotate(n=Count("pk"))) == before_memberships
    recent.refresh_from_db()
    assert (recent.name, recent.wechat_id, recent.anonymized_at) == ("钱八", "wx_qianba", None)
    assert Employee.objects.get(employee_no="E0101").name == "张三"  # active staff untouched


def test_audit_trail_keeps_no_trace_of_the_old_values(departed, hr):
    departed.name = "赵小六"
    departed.save()  # an auditlog UPDATE entry holding both names
    log_access(hr, departed, "view", detail="员工详情")
    assert LogEntry.objects.filter(object_repr__contains="赵").exists()

    anonymize_departed(acting_user=hr)

    dump = json.dumps(list(LogEntry.objects.values()), default=str, ensure_ascii=False)
    for secret in ("赵六", "赵小六", "E0102", "wx_zhaoliu", "zl@wecom", "778899123", "zhaoliu@example.com"):
        assert secret not in dump, secret
    summary = LogEntry.objects.filter(object_pk=str(departed.pk), additional_data__reason="pipl_retention").get()
    assert summary.actor == hr
    assert summary.action == LogEntry.Action.UPDATE
    assert summary.changes["name"] == ["[已匿名]", f"已匿名-{departed.pk}"]
    # the history still shows that the record changed, and who looked at it
    assert LogEntry.objects.filter(object_pk=str(departed.pk), action=LogEntry.Action.ACCESS).count() == 1


def test_idempotent(departed, hr):
    first = anonymize_departed(acting_user=hr)
    entries = LogEntry.objects.count()
    snapshot = list(Employee.objects.order_by("pk").values())
    second = anonymize_departed(acting_user=hr)
    assert (first.employees, second.employees, second.memberships) == (1, 0, 0)
    assert list(Employee.objects.order_by("pk").values()) == snapshot
    assert LogEntry.objects.count() == entries


def test_retention_boundary_and_setting(departed, settings):
    days_ago = (timezone.localdate() - departed.departure_date).days
    settings.QUNGUI_RETENTION_DAYS = days_ago  # departed exactly at the cutoff: kept one more day
    assert not due_for_anonymization().exists()
    settings.QUNGUI_RETENTION_DAYS = days_ago - 1
    assert list(due_for_anonymization()) == [departed]
    assert anonymize_departed(older_than_days=days_ago + 10).employees == 0
    with pytest.raises(ValueError, match="older_than_days"):
        anonymize_departed(older_than_days=-1)


def test_departed_without_date_is_reported_not_touched(org):
    result = anonymize_departed()
    assert result.employees == 0
    assert result.departed_without_date == 1
    assert Employee.objects.get(pk=org["east_departed"].pk).name == "赵六"


def test_command_dry_run_and_actor(departed, hr, capsys):
    call_command("anonymize_departed", "--dry-run")
    assert "would anonymise 1" in capsys.readouterr().out
    assert Employee.objects.get(pk=departed.pk).anonymized_at is None
    call_command("anonymize_departed", "--actor", "hr")
    assert "anonymised 1 employee(s), 2 membership(s)" in capsys.readouterr().out
    assert LogEntry.objects.filter(additional_data__reason="pipl_retention", actor=hr).count() == 1
    with pytest.raises(CommandError, match="nobody"):
        call_command("anonymize_departed", "--actor", "nobody")
    with pytest.raises(CommandError, match="older-than-days"):
        call_command("anonymize_departed", "--older-than-days", "-5")


def test_task_calls_the_service(departed):
    from groups.tasks import anonymize_departed_task

    outcome = anonymize_departed_task.delay().get()
    assert outcome["employees"] == 1
    assert anonymize_departed_task.delay().get()["employees"] == 0  # second run is harmless


def test_nightly_schedule_registered():
    from portal.celery import app

    app.loader.import_default_modules()
    entry = app.conf.beat_schedule["portal.anonymize_departed"]
    assert entry["task"] == "portal.anonymize_departed"
    assert entry["task"] in app.tasks


# --- access audit -----------------------------------------------------------------------------


def test_log_access_for_an_object(hr, org):
    entry = log_access(hr, org["east_rep"], "view", detail="员工详情页")
    assert entry.action == LogEntry.Action.ACCESS
    assert entry.actor == hr
    assert entry.object_pk == str(org["east_rep"].pk)
    assert entry.object_repr == "张三(E0101)"
    assert entry.additional_data == {"access": "view", "detail": "员工详情页"}


def test_log_access_for_an_export_queryset_and_a_label(hr, org):
    entry = log_access(hr, Employee.objects.filter(status="active"), "export", detail="员工名单 xlsx")
    assert entry.content_type.model == "employee"
    assert entry.additional_data == {"access": "export", "detail": "员工名单 xlsx", "rows": 5}
    label = log_access(hr, "违规月报 2026-05", "export")
    assert label.object_repr == "违规月报 2026-05"
    assert label.content_type.model == "logentry"


def test_log_access_rejects_bad_input(hr, org):
    with pytest.raises(ValueError, match="action"):
        log_access(hr, org["east_rep"], "delete")
    with pytest.raises(ValueError, match="label"):
        log_access(hr, "  ")


def test_log_access_in_a_request_records_the_request_id(client, hr, org, monkeypatch):
    from django.http import HttpResponse
    from django.urls import path

    import portal.urls

    def employee_view(request):
        log_access(request.user, org["east_rep"], "view")
        return HttpResponse("ok")

    monkeypatch.setattr(portal.urls, "urlpatterns", [*portal.urls.urlpatterns, path("t/emp", employee_view)])
    from django.urls import clear_url_caches

    clear_url_caches()
    client.force_login(hr)
    response = client.get("/t/emp", HTTP_X_REQUEST_ID="req-audit-00042", REMOTE_ADDR="10.1.2.3")
    clear_url_caches()
    assert response.status_code == 200
    entry = LogEntry.objects.get(action=LogEntry.Action.ACCESS)
    assert entry.cid == "req-audit-00042"
    assert entry.remote_addr == "10.1.2.3"


def test_reported_removal_keeps_no_platform_id_after_anonymisation(departed, hr):
    from groups.models import ReportedRemoval
    from groups.services import record_reported_removals

    closed = Membership.objects.get(group__name="技术部工作群", employee=departed)
    record_reported_removals([closed], acting_user=hr, source="confirmed")
    assert ReportedRemoval.objects.get().member_key == "id:zl@wecom"
    anonymize_departed(acting_user=hr)
    report = ReportedRemoval.objects.get()
    assert report.member_key == f"nick:已匿名-{departed.pk}"
    assert "zl@wecom" not in json.dumps(list(LogEntry.objects.values_list("changes", flat=True)), ensure_ascii=False)
