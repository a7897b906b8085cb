"""Report pages: who may export what, the streamed CSV, the XLSX job page, its JSON and download, audit."""

from __future__ import annotations

import openpyxl
import pytest
from auditlog.models import LogEntry
from django.http import StreamingHttpResponse
from django.urls import reverse
from kombu.exceptions import OperationalError

from portal.choices import ExportStatus
from portal.models import ExportJob
from violations import tasks
from violations.models import Violation
from violations.reports import jobs as export_jobs

from .report_data import csv_rows, make_october

EXPORT = reverse("violations:export")


@pytest.fixture
def october(hr, org, sanction):
    return make_october(hr, org, sanction)


def post(client, **data):
    form = {"month": "2026-10", "file_format": "csv", "encoding": "utf-8-sig", **data}
    return client.post(EXPORT, form)


def exports() -> list[LogEntry]:
    return list(LogEntry.objects.filter(action=LogEntry.Action.ACCESS).order_by("pk"))


def test_hr_streams_the_csv_and_the_export_is_audited(client, hr, october):
    client.force_login(hr)
    assert client.get(EXPORT).status_code == 200
    response = post(client)
    assert isinstance(response, StreamingHttpResponse) and response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8-sig"
    assert "attachment" in response["Content-Disposition"] and "2026-10.csv" in response["Content-Disposition"]
    rows = csv_rows(b"".join(response.streaming_content))
    assert len(rows) == 1 + 4
    (entry,) = exports()
    assert entry.actor == hr and entry.additional_data["rows"] == 4
    assert entry.additional_data["format"] == "csv" and entry.additional_data["access"] == "export"
    assert entry.additional_data["filters"]["start"] == "2026-10-01"
    assert entry.content_type.model_class() is Violation


def test_gbk_option(client, hr, october):
    client.force_login(hr)
    response = post(client, encoding="gbk")
    content = b"".join(response.streaming_content)
    assert not content.startswith(b"\xef\xbb\xbf") and content.decode("gbk").startswith("日期,工号")


def test_head_exports_only_own_subtree(client, head_sales, october, org):
    client.force_login(head_sales)
    page = client.get(EXPORT)
    choices = {str(d) for d in page.context["form"].fields["department"].queryset}
    assert choices == {"总公司/销售部", "总公司/销售部/华东区"}
    rows = csv_rows(b"".join(post(client).streaming_content))[1:]
    assert {r[1] for r in rows} == {"E0101", "E0100"}
    rows = csv_rows(b"".join(post(client, department=org["east"].pk).streaming_content))[1:]
    assert {r[1] for r in rows} == {"E0101"}


def test_head_cannot_export_another_department_by_id(client, head_sales, october, org):
    client.force_login(head_sales)
    assert post(client, department=org["tech"].pk).status_code == 404
    assert post(client, department=org["tech"].pk, file_format="xlsx").status_code == 404
    assert not exports() and not ExportJob.objects.exists()


@pytest.mark.parametrize("who", ["group_admin", "employee_user", "outsider_user"])
def test_people_without_a_report_are_refused(client, who, request, october):
    client.force_login(request.getfixturevalue(who))
    assert client.get(EXPORT).status_code == 403
    assert post(client).status_code == 403


def test_anonymous_is_sent_to_login(client, october):
    response = client.get(EXPORT)
    assert response.status_code == 302 and reverse("login") in response["Location"]


def test_form_errors_name_the_field(client, hr, october):
    client.force_login(hr)
    response = post(client, month="2026-13")
    assert response.status_code == 200 and "month" in response.context["form"].errors
    response = post(client, month="", start="2026-10-09", end="2026-10-01")
    assert "end" in response.context["form"].errors
    response = post(client, month="")
    assert response.context["form"].non_field_errors()
    response = post(client, month="2026-10", start="2026-10-01")
    assert "month" in response.context["form"].errors


def test_xlsx_job_runs_and_is_downloaded_by_its_requester(
    client, hr, head_sales, head_tech, october, django_capture_on_commit_callbacks
):
    client.force_login(head_sales)
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, file_format="xlsx")
    job = ExportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("violations:export_job", args=[job.pk])
    assert job.status == ExportStatus.DONE and job.created_by == head_sales
    assert job.total_rows == job.processed_rows == 3 and job.expires_at > job.finished_at
    page = client.get(response["Location"])
    assert page.status_code == 200 and b"report_job.js" in page.content
    status = client.get(reverse("violations:export_job_status", args=[job.pk])).json()
    assert status["finished"] and status["percent"] == 100 and status["download_url"]
    download = client.get(status["download_url"])
    assert download.status_code == 200 and download["Cache-Control"] == "private, no-store"
    path = job.file.path
    book = openpyxl.load_workbook(path)
    numbers = {r[1] for r in book["违规明细"].iter_rows(min_row=2, values_only=True)}
    assert numbers == {"E0101", "E0100"}  # built from the requester's view
    assert [e.additional_data["channel"] for e in exports()] == ["task", "portal"]  # built, then downloaded
    # Another department head cannot see the job, its progress or its file; HR can.
    client.force_login(head_tech)
    for name in ("violations:export_job", "violations:export_job_status", "violations:export_download"):
        assert client.get(reverse(name, args=[job.pk])).status_code == 404
    client.force_login(hr)
    assert client.get(status["download_url"]).status_code == 200


def test_queue_down_gives_a_message_not_a_500(client, hr, monkeypatch):
    def down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6399. Connection refused.")

    monkeypatch.setattr(tasks.build_export_task, "delay", down)
    # As in production (no transaction around the view): the enqueue runs as soon as the job commits.
    # (A transactional test would do the same but flushes content types under the other tests.)
    monkeypatch.setattr(export_jobs.transaction, "on_commit", lambda func, using=None, robust=False: func())
    client.force_login(hr)
    response = post(client, file_format="xlsx")
    assert response.status_code == 302 and response["Location"] == EXPORT
    job = ExportJob.objects.get()
    assert job.status == ExportStatus.FAILED and "任务队列" in job.error
    messages = [str(m) for m in client.get(EXPORT).context["messages"]]
    assert any("任务队列" in m for m in messages)


def test_admin_actions_export_the_selection(client, hr, october, django_capture_on_commit_callbacks):
    client.force_login(hr)
    url = reverse("admin:violations_violation_changelist")
    chosen = [october["ad"].pk, october["fine"].pk]
    response = client.post(url, {"action": "export_selected_csv", "_selected_action": chosen})
    assert response.streaming
    rows = csv_rows(b"".join(response.streaming_content))[1:]
    assert sorted(r[1] for r in rows) == ["E0101", "E0201"]
    assert exports()[-1].additional_data["channel"] == "admin"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"action": "export_selected_xlsx", "_selected_action": chosen})
    job = ExportJob.objects.get()
    assert response.status_code == 302 and job.status == ExportStatus.DONE and job.processed_rows == 2


def test_admin_xlsx_refuses_huge_selections(client, hr, october, settings):
    settings.QUNGUI_EXPORT_ADMIN_MAX_IDS = 1
    client.force_login(hr)
    url = reverse("admin:violations_violation_changelist")
    chosen = [october["ad"].pk, october["fine"].pk]
    response = client.post(url, {"action": "export_selected_xlsx", "_selected_action": chosen}, follow=True)
    assert not ExportJob.objects.exists()
    assert any("超过" in str(m) for m in response.context["messages"])
