"""Chat-export import pages (inside the admin, HR only): upload → preview → confirm.

Thin callers of ``groups.chat.store``. Imports are HR's: anyone else gets 403 on the upload page
and 404 for a job.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from portal.audit import audit_context
from portal.choices import Channel
from portal.scoping import scope_for

from ..choices import ImportStatus
from . import jobs, store
from .forms import ChatUploadForm
from .models import ChatImport

CHANGELIST = "admin:groups_chatimport_changelist"


def _require_hr(request) -> None:
    if not scope_for(request.user).is_hr:
        raise PermissionDenied


def _job(request, pk: int) -> ChatImport:
    if not scope_for(request.user).is_hr:
        raise Http404
    return get_object_or_404(ChatImport.objects.select_related("group"), pk=pk)


def upload(request):
    _require_hr(request)
    form = ChatUploadForm(request.POST or None, request.FILES or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        with audit_context(request.user, Channel.ADMIN):
            job = store.create_chat_import(
                group=data["group"], acting_user=request.user, platform=data["platform"], upload=data["file"]
            )
            if jobs.is_large(job):  # read by a worker; the job page shows its progress
                jobs.queue_preview(job, detect=not data["platform"])
            else:
                store.preview_chat_import(job, detect=not data["platform"])
        return redirect("groups:chat_import_job", pk=job.pk)
    context = {
        **admin.site.each_context(request),
        "form": form,
        "kind": "chat",
        "title": _("导入聊天记录"),
        "changelist": CHANGELIST,
    }
    return render(request, "groups/import_upload.html", context)


def _recovered(job: ChatImport) -> ChatImport:
    """A job whose worker died is sent again as its page is looked at (groups.chat.jobs)."""
    if job.status in (ImportStatus.VALIDATING, ImportStatus.RUNNING) and jobs.recover(job):
        job.refresh_from_db()
    return job


def job_detail(request, pk: int):
    job = _recovered(_job(request, pk))
    context = {
        **admin.site.each_context(request),
        "job": job,
        "preview": job.preview or {},
        "title": str(job),
        "working": job.status in jobs.WORKING,
        "progress_url": reverse("groups:chat_import_progress", args=[job.pk]),
    }
    return render(request, "groups/chat_import_job.html", context)


@require_GET
def progress(request, pk: int):
    job = _recovered(_job(request, pk))
    reading = job.status in (ImportStatus.UPLOADED, ImportStatus.VALIDATING)
    return JsonResponse(
        {
            "status": job.status,
            "status_display": str(job.get_status_display()),
            "processed": job.processed_lines,
            "total": job.total_lines,
            # the write is one statement: no count to show, the bar runs without a value
            "percent": job.progress_percent if reading or job.status == ImportStatus.DONE else None,
            "working": job.status in jobs.WORKING,
        }
    )


@require_POST
def confirm(request, pk: int):
    job = _job(request, pk)
    if job.status != ImportStatus.PREVIEWED:
        messages.warning(request, _("此导入当前不能确认(状态:%(s)s)。") % {"s": job.get_status_display()})
        return redirect("groups:chat_import_job", pk=job.pk)
    try:
        done = jobs.confirm(job, acting_user=request.user, channel=Channel.ADMIN)
    except store.ChatImportError as exc:
        messages.error(request, "；".join(exc.messages))
        return redirect("groups:chat_import_job", pk=job.pk)
    job = done or ChatImport.objects.get(pk=job.pk)
    if job.status != ImportStatus.DONE:  # queued for a worker (tasks run in-process: already done)
        messages.info(request, _("文件较大,已在后台导入;本页显示进度,完成后显示结果。"))
        return redirect("groups:chat_import_job", pk=job.pk)
    messages.success(
        request,
        _("已导入 %(n)s 条新消息(重复的 %(d)s 条未再导入)。")
        % {"n": job.created_count, "d": job.preview.get("duplicates", 0)},
    )
    return redirect("groups:chat_import_job", pk=job.pk)


@require_POST
def cancel(request, pk: int):
    job = _job(request, pk)
    if store.cancel_chat_import(job, acting_user=request.user):
        messages.success(request, _("已取消导入,上传的文件已删除。"))
    return redirect(CHANGELIST)
