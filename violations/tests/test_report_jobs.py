"""The XLSX export job: progress, idempotent runs, reclaiming a dead worker's job, expiry, the task path."""

from __future__ import annotations

import datetime

import pytest
from auditlog.models import LogEntry
from django.conf import settings as django_settings
from django.urls import reverse
from django.utils import timezone

from portal.celery import app
from portal.choices import ExportStatus
from portal.models import ExportJob
from violations import reports, tasks
from violations.models import PerformanceDeduction, Violation
from violations.reports import jobs as export_jobs

from .report_data import OCTOBER, make_october


@pytest.fixture
def october(hr, org, sanction):
    return make_october(hr, org, sanction)


def new_job(user, **params) -> ExportJob:
    data = {**reports.ReportParams(*OCTOBER).to_json(), **params}
    return ExportJob.objects.create(file_format="xlsx", params=data, description="2026-10", created_by=user)


def test_task_builds_the_file_with_progress(hr, october, tmp_path):
    calls: list[int] = []
    qs = reports.report_queryset(Violation.objects.all(), reports.ReportParams(*OCTOBER))
    assert (
        reports.write_xlsx(
            str(tmp_path / "a.xlsx"),
            qs,
            deductions=PerformanceDeduction.objects.all(),
            on_progress=calls.append,
            chunk_size=1,
        )
        == 4
    )
    assert calls == [1, 2, 3, 4]
    job = new_job(hr)
    assert tasks.build_export_task.delay(job.pk).get() == "done"
    job.refresh_from_db()
    assert job.status == ExportStatus.DONE and job.processed_rows == job.total_rows == 4
    assert job.progress_percent == 100 and job.size == job.file.size > 0
    assert job.heartbeat_at >= job.started_at and job.file.name.startswith("exports/")
    hours = (job.expires_at - job.finished_at).total_seconds() / 3600
    assert round(hours) == django_settings.QUNGUI_EXPORT_KEEP_HOURS


def test_a_second_delivery_does_nothing(hr, october):
    job = new_job(hr)
    assert export_jobs.run_export(job.pk) == "done"
    job.refresh_from_db()
    first = job.file.name
    assert export_jobs.run_export(job.pk) == "skipped"
    job.refresh_from_db()
    assert job.file.name == first
    assert LogEntry.objects.filter(action=LogEntry.Action.ACCESS).count() == 1


def test_running_job_is_left_alone_until_its_heartbeat_is_stale(hr, october):
    job = new_job(hr)
    now = timezone.now()
    ExportJob.objects.filter(pk=job.pk).update(status=ExportStatus.RUNNING, started_at=now, heartbeat_at=now)
    assert export_jobs.run_export(job.pk) == "busy"
    stale = now - datetime.timedelta(seconds=django_settings.QUNGUI_EXPORT_STALE_SECONDS + 1)
    ExportJob.objects.filter(pk=job.pk).update(heartbeat_at=stale)
    assert export_jobs.run_export(job.pk) == "done"
    assert ExportJob.objects.get(pk=job.pk).status == ExportStatus.DONE


def test_department_out_of_view_fails_the_job_with_a_reason(head_sales, october, org):
    job = new_job(head_sales, department_id=org["tech"].pk)
    assert export_jobs.run_export(job.pk) == "failed"
    job.refresh_from_db()
    assert job.status == ExportStatus.FAILED and "部门" in job.error and not job.file


def test_expired_files_are_deleted(client, hr, october):
    job = new_job(hr)
    export_jobs.run_export(job.pk)
    job.refresh_from_db()
    storage, name = job.file.storage, job.file.name
    assert storage.exists(name)
    assert export_jobs.expire_exports() == 0  # not yet
    later = job.expires_at + datetime.timedelta(seconds=1)
    assert export_jobs.expire_exports(now=later) == 1
    job.refresh_from_db()
    assert job.status == ExportStatus.EXPIRED and not job.file and not storage.exists(name)
    assert export_jobs.expire_exports(now=later) == 0
    client.force_login(hr)
    assert client.get(reverse("violations:export_download", args=[job.pk])).status_code == 404
    assert client.get(reverse("violations:export_job_status", args=[job.pk])).json()["status"] == "expired"


def test_download_after_expiry_time_is_refused_even_before_cleanup(client, hr, october):
    job = new_job(hr)
    export_jobs.run_export(job.pk)
    ExportJob.objects.filter(pk=job.pk).update(expires_at=timezone.now() - datetime.timedelta(minutes=1))
    client.force_login(hr)
    assert client.get(reverse("violations:export_download", args=[job.pk])).status_code == 404


def test_cleanup_is_scheduled(db):
    entry = django_settings.CELERY_BEAT_SCHEDULE["expire-exports-hourly"]
    assert entry["task"] == tasks.expire_exports_task.name
    assert entry["task"] in app.tasks
    assert tasks.expire_exports_task.delay().get() == 0


def test_job_visibility(hr, head_sales, head_tech, auditor):
    job = new_job(head_sales)
    assert list(ExportJob.objects.visible_to(head_sales)) == [job]
    assert list(ExportJob.objects.visible_to(hr)) == [job]
    assert not ExportJob.objects.visible_to(head_tech).exists()
    assert not ExportJob.objects.visible_to(auditor).exists()  # requester or HR only
