"""Report export pages: the form, the streamed CSV, the XLSX job's progress page, its JSON and its download.

Thin callers. Rows start from ``Violation.objects.visible_to(request.user)``; a department outside
the user's view is a 404. Jobs are visible to their requester and to HR only (ExportJob.visible_to).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from groups.models import Department
from portal.choices import ExportFormat, ExportStatus
from portal.models import ExportJob
from portal.scoping import scope_for

from ..models import Violation
from . import jobs
from .csv import csv_chunks
from .forms import ReportExportForm
from .params import ReportParams, report_queryset

PAGE_CHANNEL = "portal"


def _require_report_access(user) -> None:
    # HR, auditors and department heads export; group admins and employees have no report.
    scope = scope_for(user)
    if not (scope.everything or scope.is_department_head):
        raise PermissionDenied(_("只有人资、审计和部门负责人可以导出违规报表。"))


def csv_response(qs, *, user, filename: str, encoding: str, description: str, filters: dict, channel: str):
    """Stream ``qs`` as the CSV report; the export is audited (with its row count) before any row leaves."""
    rows = qs.count()
    jobs.log_export(user, description=description, file_format="csv", filters=filters, rows=rows, channel=channel)
    response = StreamingHttpResponse(csv_chunks(qs, encoding), content_type=f"text/csv; charset={encoding}")
    response["Content-Disposition"] = content_disposition_header(True, filename)
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
def export_page(request):
    """违规报表导出: choose period, department and format; CSV streams at once, XLSX becomes a job."""
    _require_report_access(request.user)
    form = ReportExportForm(request.POST or None, user=request.user)
    if request.method == "POST":
        if form.has_error("department", "invalid_choice"):
            raise Http404(_("部门不存在或不在您的权限范围内。"))
        if form.is_valid():
            return _export(request, form.cleaned_data)
    jobs = ExportJob.objects.visible_to(request.user).filter(created_by=request.user)[:10]
    return render(request, "violations/report_export.html", {"form": form, "jobs": jobs})


def _export(request, data: dict):
    params: ReportParams = data["params"]
    department: Department | None = data["department"]
    if data["file_format"] == ExportFormat.CSV:
        qs = report_queryset(Violation.objects.visible_to(request.user), params, department)
        description = params.describe(department)
        filename = f"{_('违规报表')}_{params.slug()}.csv"
        return csv_response(
            qs,
            user=request.user,
            filename=filename,
            encoding=data["encoding"],
            description=description,
            filters=params.to_json(),
            channel=PAGE_CHANNEL,
        )
    try:
        job = jobs.request_export(
            params, file_format=ExportFormat.XLSX, acting_user=request.user, department=department
        )
    except jobs.ExportQueueUnavailable as exc:
        messages.error(request, str(exc))
        return redirect("violations:export")
    return redirect("violations:export_job", pk=job.pk)


def _job(request, pk: int) -> ExportJob:
    return get_object_or_404(ExportJob.objects.visible_to(request.user), pk=pk)


@login_required
def export_job(request, pk: int):
    """The job's page: a progress bar kept current by static/violations/report_job.js."""
    job = _job(request, pk)
    return render(request, "violations/report_job.html", {"job": job, "status": job_payload(job)})


def job_payload(job: ExportJob) -> dict:
    downloadable = job.is_downloadable()
    return {
        "id": job.pk,
        "status": job.status,
        "status_label": job.get_status_display(),
        "processed": job.processed_rows,
        "total": job.total_rows,
        "percent": job.progress_percent,
        "error": job.error,
        "finished": job.status in (ExportStatus.DONE, ExportStatus.FAILED, ExportStatus.EXPIRED),
        "download_url": reverse("violations:export_download", args=[job.pk]) if downloadable else None,
        "expires_at": timezone.localtime(job.expires_at).strftime("%Y-%m-%d %H:%M") if job.expires_at else None,
    }


@require_GET
@login_required
def export_job_status(request, pk: int):
    """JSON polled by the progress page."""
    response = JsonResponse(job_payload(_job(request, pk)))
    response["Cache-Control"] = "no-store"
    return response


@login_required
def export_download(request, pk: int):
    """The finished file, to its requester or HR only, until it expires; each download is audited."""
    job = _job(request, pk)
    if not job.is_downloadable():
        raise Http404(_("文件不存在或已过期。"))
    try:
        handle = job.file.open("rb")
    except FileNotFoundError as exc:
        raise Http404(_("文件不存在或已过期。")) from exc
    jobs.log_export(
        request.user,
        description=job.description,
        file_format=job.file_format,
        filters={**job.params, "download": True},
        rows=job.processed_rows,
        channel=PAGE_CHANNEL,
        job_id=job.pk,
    )
    stamp = timezone.localtime(job.finished_at).strftime("%Y%m%d-%H%M")
    filename = f"{_('违规报表')}_{job.pk}_{stamp}.{job.file_format}"
    response = FileResponse(handle, as_attachment=True, filename=filename)
    response["Cache-Control"] = "private, no-store"
    return response
