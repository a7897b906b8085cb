"""Writes around report exports: the audit entry of every export, background export jobs, cleanup.

- ``log_export``: one django-auditlog ACCESS entry per export (who, what, filters, row count) —
  the report carries personal data (PIPL).
- ``request_export``: create an ExportJob and enqueue its build after commit; if the queue is down
  the job is marked failed and ``ExportQueueUnavailable`` tells the caller (a message, not a 500).
- ``run_export``: what the Celery task calls. Claims the job with a conditional update (a second
  delivery of the same task finds it claimed and stops); a job whose worker died is reclaimed once
  its heartbeat is older than QUNGUI_EXPORT_STALE_SECONDS.
- ``expire_exports``: deletes the files of jobs past ``expires_at`` (periodic task).
"""

from __future__ import annotations

import datetime
import functools
import logging
import os
import tempfile

from auditlog.models import LogEntry
from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from kombu.exceptions import KombuError

from groups.models import Department
from portal.audit import log_access
from portal.choices import ExportFormat, ExportStatus
from portal.models import ExportJob

from ..models import PerformanceDeduction, Violation
from .csv import ENCODINGS, write_csv
from .params import ReportError, ReportParams, report_queryset, resolve_department
from .xlsx import write_xlsx

logger = logging.getLogger(__name__)


class ExportQueueUnavailable(RuntimeError):
    """The task queue (Redis) could not take the job; the job is marked failed."""


def log_export(
    user, *, description: str, file_format: str, filters: dict, rows: int, channel: str, job_id: int | None = None
) -> LogEntry:
    """Record one export in the audit trail (ACCESS entry against the violation model).

    ``filters`` holds the report's parameters; ``rows`` the number of detail rows that left.
    """
    detail = _("导出违规报表 %(d)s(%(f)s,%(n)s 行)") % {"d": description, "f": file_format, "n": rows}
    data = {"format": file_format, "filters": filters, "rows": rows, "channel": channel}
    if job_id is not None:
        data["export_job"] = job_id
    return log_access(user, Violation, "export", detail, data=data, label=str(_("违规报表")) + " " + description)


def request_export(
    params: ReportParams,
    *,
    file_format: str,
    acting_user,
    encoding: str = "utf-8-sig",
    department: Department | None = None,
) -> ExportJob:
    """Create a background export for ``acting_user`` and enqueue it once the row is committed.

    Raises ExportQueueUnavailable (job marked failed) when the queue does not answer.
    """
    if file_format not in ExportFormat.values:
        raise ReportError("format", _("格式只能是 csv 或 xlsx。"))
    if encoding not in ENCODINGS:
        raise ReportError("encoding", _("编码只能是 %(c)s。") % {"c": " / ".join(ENCODINGS)})
    job = _create_job(params, file_format, encoding, department, acting_user)
    # Registered outside _create_job's atomic block: without an outer transaction (a web request)
    # it runs at once, after the commit, so a queue failure reaches the caller with the row saved.
    transaction.on_commit(functools.partial(enqueue_export, job.pk))
    return job


@transaction.atomic
def _create_job(params, file_format: str, encoding: str, department, acting_user) -> ExportJob:
    filters = {**params.to_json(), "language": translation.get_language()}
    job = ExportJob.objects.create(
        file_format=file_format,
        encoding=encoding,
        params=filters,
        description=params.describe(department)[:300],
        created_by=acting_user,
    )
    return job


def enqueue_export(job_id: int) -> None:
    """Send the build task; a broker that is down or does not answer marks the job failed."""
    from ..tasks import build_export_task

    try:
        result = build_export_task.delay(job_id)
    except (KombuError, OSError, RuntimeError) as exc:  # RuntimeError: celery's backend reconnect limit
        logger.warning("export job %s not enqueued: %s", job_id, exc)
        message = _("任务队列暂不可用,请稍后重试。")
        ExportJob.objects.filter(pk=job_id, status=ExportStatus.PENDING).update(
            status=ExportStatus.FAILED, error=message, finished_at=timezone.now()
        )
        raise ExportQueueUnavailable(message) from exc
    ExportJob.objects.filter(pk=job_id, task_id="").update(task_id=result.id or "")


def _claim(job_id: int) -> ExportJob | None:
    now = timezone.now()
    stale = now - datetime.timedelta(seconds=settings.QUNGUI_EXPORT_STALE_SECONDS)
    claimable = Q(status=ExportStatus.PENDING) | Q(status=ExportStatus.RUNNING, heartbeat_at__lt=stale)
    claimed = ExportJob.objects.filter(claimable, pk=job_id).update(
        status=ExportStatus.RUNNING, started_at=now, heartbeat_at=now, processed_rows=0
    )
    return ExportJob.objects.select_related("created_by").get(pk=job_id) if claimed else None


def run_export(job_id: int) -> str:
    """Build the job's file. Returns "done", "failed", "busy" (another run holds it) or "skipped"."""
    job = _claim(job_id)
    if job is None:
        status = ExportJob.objects.filter(pk=job_id).values_list("status", flat=True).first()
        return "busy" if status == ExportStatus.RUNNING else "skipped"
    try:
        with translation.override(job.params.get("language") or settings.LANGUAGE_CODE):
            _build(job)
    except Exception as exc:  # the job row must say why, whatever went wrong (incl. SoftTimeLimitExceeded)
        logger.exception("export job %s failed", job_id)
        _fail(job, exc)
        return "failed"
    return "done"


def _fail(job: ExportJob, exc: Exception) -> None:
    if isinstance(exc, Department.DoesNotExist):
        message = _("部门不存在或已不在您的权限范围内。")
    elif isinstance(exc, ReportError):
        message = exc.message
    else:
        message = _("生成失败:%(e)s") % {"e": exc.__class__.__name__}
    ExportJob.objects.filter(pk=job.pk, started_at=job.started_at).update(
        status=ExportStatus.FAILED, error=message, finished_at=timezone.now()
    )


def _build(job: ExportJob) -> None:
    user = job.created_by
    params = ReportParams.from_json(job.params)
    department = resolve_department(user, params.department_id)
    qs = report_queryset(Violation.objects.visible_to(user), params, department)
    ExportJob.objects.filter(pk=job.pk).update(total_rows=qs.count())

    def progress(done: int) -> None:
        ExportJob.objects.filter(pk=job.pk, started_at=job.started_at).update(
            processed_rows=done, heartbeat_at=timezone.now()
        )

    with tempfile.TemporaryDirectory(prefix="qungui-export-") as tmp:
        path = os.path.join(tmp, f"report.{job.file_format}")
        if job.file_format == ExportFormat.XLSX:
            rows = write_xlsx(path, qs, deductions=PerformanceDeduction.objects.visible_to(user), on_progress=progress)
        else:
            rows = write_csv(path, qs, encoding=job.encoding, on_progress=progress)
        with open(path, "rb") as handle:
            job.file.save(f"report.{job.file_format}", File(handle), save=False)
    _finish(job, rows)


@transaction.atomic
def _finish(job: ExportJob, rows: int) -> None:
    now = timezone.now()
    expires = now + datetime.timedelta(hours=settings.QUNGUI_EXPORT_KEEP_HOURS)
    done = ExportJob.objects.filter(pk=job.pk, status=ExportStatus.RUNNING, started_at=job.started_at).update(
        status=ExportStatus.DONE,
        file=job.file.name,
        size=job.file.size,
        processed_rows=rows,
        finished_at=now,
        expires_at=expires,
    )
    if not done:  # reclaimed by another run meanwhile: that run's file wins
        job.file.delete(save=False)
        return
    log_export(
        job.created_by,
        description=job.description,
        file_format=job.file_format,
        filters=job.params,
        rows=rows,
        channel="task",
        job_id=job.pk,
    )


def expire_exports(now: datetime.datetime | None = None) -> int:
    """Delete the files of finished exports past their download time; returns how many expired."""
    now = now or timezone.now()
    expired = 0
    for job in ExportJob.objects.filter(status=ExportStatus.DONE, expires_at__lte=now).only("pk", "file"):
        # Claimed one by one: two cleanup runs never delete the same file twice.
        if ExportJob.objects.filter(pk=job.pk, status=ExportStatus.DONE).update(status=ExportStatus.EXPIRED, file=""):
            if job.file.name:
                job.file.storage.delete(job.file.name)
            expired += 1
    return expired
