"""A group admin's own pages (phone-sized, the portal's, not the admin): act on a finding of one of
their groups, import that group's member roster.

Thin callers of ``groups.services``. Every finding and group is looked up among those the user
administers (``ChatGroup.objects.administered_by``: HR every group): anything else is 404, the same
as an id that does not exist. Changes are POSTs (CSRF); removals and owner changes are confirmed on
a page of their own first.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from portal.choices import Channel

from . import services
from .choices import FindingKind, ImportKind, ImportStatus
from .forms import RosterUploadForm
from .models import ChatGroup, Employee, ImportJob, RosterFinding

CHANNEL = Channel.SELF_SERVICE
WORKING = {ImportStatus.UPLOADED, ImportStatus.VALIDATING, ImportStatus.QUEUED, ImportStatus.RUNNING}


def _next(request, group_id: int | None = None) -> str:
    """Back to where the action was clicked (the work queue), never to another site."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return reverse("home")


def _finding(request, pk: int, kinds=None) -> RosterFinding:
    findings = RosterFinding.objects.open().filter(group__in=ChatGroup.objects.administered_by(request.user))
    if kinds:
        findings = findings.filter(kind__in=kinds)
    return get_object_or_404(findings.select_related("group", "membership", "employee", "suggested_successor"), pk=pk)


def _call(request, action, *args, **kwargs):
    """Run a service; a finding that vanished meanwhile (closed, or not the user's) is 404."""
    try:
        return action(*args, acting_user=request.user, channel=CHANNEL, **kwargs)
    except services.NotYourGroup as exc:
        raise Http404 from exc


@login_required
def finding_removed(request, pk: int):
    """已移出群: confirm (GET shows what will be recorded), then close the membership (POST)."""
    finding = _finding(request, pk, services.MEMBER_KINDS)
    if request.method == "POST":
        _call(request, services.confirm_member_removed, finding.pk)
        who = finding.membership.nickname if finding.membership_id else ""
        messages.success(request, _("已记录 %(who)s 已移出 %(group)s。") % {"who": who, "group": finding.group.name})
        return redirect(_next(request))
    return render(request, "groups/work/confirm_removed.html", {"finding": finding, "next": _next(request)})


@require_POST
@login_required
def finding_nickname_fixed(request, pk: int):
    """The member fixed their nickname (to the expected one, or to what the admin typed)."""
    finding = _finding(request, pk, [FindingKind.BAD_NICKNAME])
    try:
        _call(request, services.mark_nickname_fixed, finding.pk, nickname=request.POST.get("nickname", ""))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("已记录群昵称已改正。"))
    return redirect(_next(request))


@require_POST
@login_required
def finding_chase(request, pk: int):
    """催改: remind the member (a notification when they have a channel; the chase is recorded)."""
    finding = _finding(request, pk, [FindingKind.BAD_NICKNAME])
    sent = _call(request, services.chase_nickname, finding.pk)
    if sent:
        messages.success(request, _("已发送催改提醒。"))
    else:
        messages.warning(request, _("该成员没有可用的通知渠道,已记录催改,请在群内直接提醒。"))
    return redirect(_next(request))


class SuccessorForm(forms.Form):
    successor = forms.ModelChoiceField(label=gettext_lazy("继任群主"), queryset=Employee.objects.none())

    def __init__(self, *args, finding: RosterFinding, **kwargs):
        super().__init__(*args, **kwargs)
        choices = services.successor_choices(finding.group, suggested_id=finding.suggested_successor_id)
        self.fields["successor"].queryset = choices
        self.fields["successor"].initial = finding.suggested_successor_id


@login_required
def finding_successor(request, pk: int):
    """离职继承: apply the suggested successor or choose another active employee of the group."""
    finding = _finding(request, pk, [FindingKind.OWNER_DEPARTED])
    form = SuccessorForm(request.POST or None, finding=finding)
    if request.method == "POST" and form.is_valid():
        successor = form.cleaned_data["successor"]
        try:
            _call(request, services.apply_successor, finding.pk, successor)
        except ValidationError as exc:
            form.add_error("successor", exc.messages)
        else:
            done = _("%(group)s 的群主已改为 %(name)s。") % {"group": finding.group.name, "name": successor.name}
            if finding.wecom_transfers.filter(status="transferred").exists():
                done = f"{done} {_('企业微信已完成转让。')}"
            messages.success(request, done)
            return redirect(_next(request))
    from .succession import api_transfer_refusal

    context = {
        "finding": finding,
        "form": form,
        "next": _next(request),
        "api_refusal": api_transfer_refusal(finding.group),
    }
    context["transfers"] = finding.wecom_transfers.select_related("new_owner")[:20]
    return render(request, "groups/work/successor.html", context)


# --- importing one's own group's roster (preview + confirm) -----------------------------------------


def _own_group(request, pk: int) -> ChatGroup:
    return get_object_or_404(ChatGroup.objects.administered_by(request.user).active(), pk=pk)


def _own_job(request, pk: int) -> ImportJob:
    groups = ChatGroup.objects.administered_by(request.user)
    jobs = ImportJob.objects.filter(kind=ImportKind.GROUP, group__in=groups, created_by=request.user)
    return get_object_or_404(jobs.select_related("group"), pk=pk)


@login_required
def roster_upload(request, pk: int):
    """Upload the group's current member list (exported from the chat app); a preview follows."""
    group = _own_group(request, pk)
    form = RosterUploadForm(request.POST or None, request.FILES or None, kind=ImportKind.GROUP, user=request.user)
    del form.fields["group"]  # the group is this page's
    if request.method == "POST" and form.is_valid():
        job = services.create_import_job(
            kind=ImportKind.GROUP, acting_user=request.user, upload=form.cleaned_data["file"], group=group
        )
        try:
            services.queue_validation(job, acting_user=request.user)
        except services.EnqueueError:
            messages.error(request, _("任务队列暂不可用,文件已保留,请稍后再试。"))
        return redirect("groups:work_roster_job", pk=job.pk)
    return render(request, "groups/work/roster_upload.html", {"group": group, "form": form})


@login_required
def roster_job(request, pk: int):
    job = _own_job(request, pk)
    context = {"job": job, "group": job.group, "preview": job.preview or {}, "working": job.status in WORKING}
    return render(request, "groups/work/roster_job.html", context)


@require_POST
@login_required
def roster_confirm(request, pk: int):
    job = _own_job(request, pk)
    if job.status != ImportStatus.PREVIEWED:
        messages.warning(request, _("此导入当前不能确认(状态:%(s)s)。") % {"s": job.get_status_display()})
    else:
        try:
            services.confirm_import(job, acting_user=request.user)
        except services.EnqueueError:
            messages.error(request, _("任务队列暂不可用,导入未开始,文件已保留。请稍后再确认。"))
    return redirect("groups:work_roster_job", pk=job.pk)


@require_POST
@login_required
def roster_cancel(request, pk: int):
    job = _own_job(request, pk)
    if services.cancel_import(job, acting_user=request.user):
        messages.success(request, _("已取消导入,上传的文件已删除。"))
    return redirect("home")
