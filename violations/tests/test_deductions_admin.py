"""Admin screens for deductions: read-only lists with filters, compute and close with confirmation."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse

from violations import tasks
from violations.choices import MonthStatus
from violations.deductions import compute_month
from violations.models import PerformanceDeduction, PerformanceMonth

from .conftest import at

OCT = datetime.date(2026, 10, 1)
COMPUTE = "admin:violations_performancemonth_compute"
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _eager(monkeypatch):
    """Run tasks in-process even when REDIS_URL is set (the CI run that also starts a real worker)."""
    from portal.celery import app

    monkeypatch.setattr(app.conf, "task_always_eager", True)


def close_url(period):
    return reverse("admin:violations_performancemonth_close", args=[period.pk])


def test_hr_computes_a_month_after_confirming(client, hr, org, sanction, django_capture_on_commit_callbacks):
    sanction("C06", at(2026, 10, 5, 10, 0))
    client.force_login(hr)
    page = client.get(reverse(COMPUTE), {"month": "2026-10"})
    assert page.status_code == 200 and "重新计算该月全部员工" in page.text
    assert not PerformanceDeduction.objects.exists()  # the GET only asks for confirmation
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(reverse(COMPUTE), {"month": "2026-10"})
    assert response.status_code == 302 and len(callbacks) == 1  # queued after commit
    assert PerformanceDeduction.objects.filter(month=OCT).count() == 5


def test_compute_form_names_the_bad_month(client, hr, org):
    client.force_login(hr)
    response = client.post(reverse(COMPUTE), {"month": "2026-13"})
    assert response.status_code == 200 and "YYYY-MM" in response.text
    assert not PerformanceMonth.objects.exists()


def test_hr_closes_a_month_only_with_the_confirmation_ticked(client, hr, org, django_capture_on_commit_callbacks):
    compute_month(OCT, acting_user=hr)
    period = PerformanceMonth.objects.get(month=OCT)
    client.force_login(hr)
    assert client.get(close_url(period)).status_code == 200
    unticked = client.post(close_url(period), {})
    assert unticked.status_code == 200
    period.refresh_from_db()
    assert period.status == MonthStatus.OPEN
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(close_url(period), {"confirm": "on"})
    assert response.status_code == 302
    period.refresh_from_db()
    assert period.status == MonthStatus.CLOSED and period.closed_by == hr
    again = client.post(reverse(COMPUTE), {"month": "2026-10"})
    assert again.status_code == 200 and "已关账" in again.text


def test_auditor_may_look_but_not_run(client, auditor, hr, org):
    compute_month(OCT, acting_user=hr)
    period = PerformanceMonth.objects.get(month=OCT)
    client.force_login(auditor)
    listing = client.get(reverse("admin:violations_performancededuction_changelist"))
    assert listing.context["cl"].result_count == PerformanceDeduction.objects.filter(month=OCT).count() > 0
    page = client.get(reverse("admin:violations_performancemonth_change", args=[period.pk]))
    assert page.status_code == 200 and "关账" not in page.text.split("object-tools")[1][:400]
    assert client.get(reverse(COMPUTE)).status_code == 403
    assert client.post(reverse(COMPUTE), {"month": "2026-10"}).status_code == 403
    assert client.post(close_url(period), {"confirm": "on"}).status_code == 403
    period.refresh_from_db()
    assert period.status == MonthStatus.OPEN


def test_rows_are_read_only_and_filtered(client, hr, org, sanction):
    sanction("C06", at(2026, 10, 5, 10, 0))
    compute_month(OCT, acting_user=hr)
    client.force_login(hr)
    url = reverse("admin:violations_performancededuction_changelist")
    sales = client.get(url, {"month": "2026-10", "employee_department": org["sales"].pk, "kind": "regular"})
    assert sales.status_code == 200
    assert [row.employee.employee_no for row in sales.context["cl"].result_list] == ["E0100", "E0101"]
    assert client.get(url, {"month": "2025-01"}).context["cl"].result_count == 0
    row = PerformanceDeduction.objects.get(employee=org["east_rep"])
    detail = client.get(reverse("admin:violations_performancededuction_change", args=[row.pk]))
    assert detail.status_code == 200 and "C06" in detail.text and "警告" in detail.text
    assert client.post(reverse("admin:violations_performancededuction_change", args=[row.pk]), {}).status_code == 403
    assert client.get(reverse("admin:violations_performancededuction_add")).status_code == 403


def test_list_query_count_does_not_grow_with_rows(client, hr, org):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from groups.models import Employee

    url = reverse("admin:violations_performancededuction_changelist")
    client.force_login(hr)
    compute_month(OCT, acting_user=hr)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).context["cl"].result_count == 5
    for n in range(30):
        Employee.objects.create(employee_no=f"E9{n:03}", name=f"员工{n}", department=org["east"])
    compute_month(OCT, acting_user=hr)
    with CaptureQueriesContext(connection) as many:
        assert client.get(url).context["cl"].result_count == 35
    assert len(many) == len(few)


def test_broker_down_answers_with_a_message(client, hr, org, monkeypatch):
    monkeypatch.setattr(tasks, "enqueue_deductions", lambda *a, **k: False)
    monkeypatch.setattr("violations.admin.deductions.enqueue_deductions", lambda *a, **k: False)
    client.force_login(hr)
    response = client.post(reverse(COMPUTE), {"month": "2026-10"})
    assert response.status_code == 200 and "任务队列暂时不可用" in response.text
