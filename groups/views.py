"""Roster import pages (inside the admin): upload → preview → confirm, and a JSON progress endpoint.

Thin callers of groups.services. Only users with the change permission on Employee (employee
rosters) or Membership (group rosters) may import; a job is visible to whoever created it and to HR.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from portal.scoping import scope_for

from . import services
from .choices import FindingStatus, ImportKind, ImportStatus
from .findings import ReconcileRun
from .forms import RosterUploadForm
from .models import ImportJob

PERMISSION = {ImportKind.EMPLOYEES: "groups.change_employee", ImportKind.GROUP: "groups.change_membership"}
WORKING = {ImportStatus.UPLOADED, ImportStatus.VALIDATING, ImportStatus.QUEUED, ImportStatus.RUNNING}
CHANGELIST = {
    ImportKind.EMPLOYEES: "admin:groups_employee_changelist",
    ImportKind.GROUP: "admin:groups_membership_changelist",
}


def _require(request, kind: str) -> None:
    if kind not in PERMISSION:
        raise Http404
    if not request.user.has_perm(PERMISSION[kind]):
        raise PermissionDenied


def _job(request, pk: int) -> ImportJob:
    jobs = ImportJob.objects.all()
    if not (request.user.is_superuser or scope_for(request.user).is_hr):
        jobs = jobs.filter(created_by=request.user)
    job = get_object_or_404(jobs, pk=pk)
    _require(request, job.kind)
    return job


def _context(request, **extra):
    return {**admin.site.each_context(request), **extra}


def upload(request, kind: str):
    _require(request, kind)
    form = RosterUploadForm(request.POST or None, request.FILES or None, kind=kind, user=request.user)
    if request.method == "POST" and form.is_valid():
        job = services.create_import_job(
            kind=kind,
            acting_user=request.user,
            upload=form.cleaned_data["file"],
            group=form.cleaned_data.get("group"),
        )
        # Parsed in the worker, never here (in-process when tasks run eagerly, bounded by the caps).
        try:
            services.queue_validation(job, acting_user=request.user)
        except services.EnqueueError:
            messages.error(request, _("任务队列暂不可用,文件已保留,请稍后在本页点击“重新校验”。"))
        return redirect("groups:import_job", pk=job.pk)
    title = ImportKind(kind).label
    return render(
        request,
        "groups/import_upload.html",
        _context(request, form=form, kind=kind, title=_("导入%(kind)s") % {"kind": title}, changelist=CHANGELIST[kind]),
    )


def job_detail(request, pk: int):
    job = _job(request, pk)
    return render(
        request,
        "groups/import_job.html",
        _context(
            request,
            job=job,
            title=str(job),
            working=job.status in WORKING,
            may_revalidate=services.may_revalidate(job),
            preview=job.preview or {},
            changelist=CHANGELIST[job.kind],
            progress_url=reverse("groups:import_progress", args=[job.pk]),
            **_reconciliation(job),
        ),
    )


def _reconciliation(job: ImportJob) -> dict:
    """After a finished import: the reconciliation it queued (if it ran yet) and its new findings."""
    if job.status != ImportStatus.DONE:
        return {}
    since = job.started_at or job.created_at
    run = ReconcileRun.objects.filter(finished_at__gte=since).order_by("finished_at").first()
    created = (run.summary or {}).get("created", {}) if run else {}
    url = reverse("admin:groups_rosterfinding_changelist") + "?" + urlencode({"status__exact": FindingStatus.OPEN})
    return {"reconcile_run": run, "reconcile_new": sum(created.values()), "findings_url": url}


@require_POST
def confirm(request, pk: int):
    job = _job(request, pk)
    if job.status != ImportStatus.PREVIEWED:
        messages.warning(request, _("此导入当前不能确认(状态:%(s)s)。") % {"s": job.get_status_display()})
        return redirect("groups:import_job", pk=job.pk)
    create = request.POST.get("create_departments") == "on"
    new = (job.preview or {}).get("new_departments") or []
    if new and not create:
        # The departments are created only by the importer's choice; the file stays for another try.
        messages.error(
            request,
            _("文件中有 %(n)s 个系统里没有的部门:%(list)s。请勾选“新建以上部门”后再确认,或修改文件后重新上传。")
            % {"n": len(new), "list": "、".join(new)},
        )
        return redirect("groups:import_job", pk=job.pk)
    try:
        services.confirm_import(job, acting_user=request.user, create_departments=create)
    except services.EnqueueError:
        messages.error(request, _("任务队列暂不可用,导入未开始,文件已保留。请稍后再确认。"))
    return redirect("groups:import_job", pk=job.pk)


@require_POST
def retry_validation(request, pk: int):
    job = _job(request, pk)
    if services.may_revalidate(job):
        try:
            services.queue_validation(job, acting_user=request.user)
        except services.EnqueueError:
            messages.error(request, _("任务队列暂不可用,文件已保留,请稍后再试。"))
    return redirect("groups:import_job", pk=job.pk)


@require_POST
def cancel(request, pk: int):
    job = _job(request, pk)
    if services.cancel_import(job, acting_user=request.user):
        messages.success(request, _("已取消导入,上传的文件已删除。"))
    return redirect(CHANGELIST[job.kind])


@require_GET
def progress(request, pk: int):
    job = _job(request, pk)
    return JsonResponse(
        {
            "status": job.status,
            "status_display": str(job.get_status_display()),
            "processed": job.processed_rows,
            "total": job.total_rows,
            "percent": job.progress_percent,
            "working": job.status in WORKING,
        }
    )
