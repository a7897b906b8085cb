"""Self-service pages (my record, appeal, report), private evidence downloads, and the admin preview JSON.

Thin callers: reads start from ``visible_to(request.user)``, writes go through services.
"""

from __future__ import annotations

import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from groups.models import ChatGroup, Employee
from portal.choices import Channel
from portal.middleware import unlinked
from portal.scoping import scope_for

from . import services
from .choices import EvidenceType, SanctionKind, ViolationStatus
from .forms import AppealForm, ReportForm
from .models import Evidence, Rule, Sanction, Violation

CONTENT_TYPES = {
    EvidenceType.PNG: "image/png",
    EvidenceType.JPEG: "image/jpeg",
    EvidenceType.GIF: "image/gif",
    EvidenceType.WEBP: "image/webp",
    EvidenceType.PDF: "application/pdf",
}


def _own_violations(user):
    scope = scope_for(user)
    if not scope.employee_id:
        return Violation.objects.none()
    return Violation.objects.visible_to(user).filter(employee_id=scope.employee_id)


@login_required
def my_records(request):
    """我的记录: own violations, their sanctions (withdrawn ones marked) and the appeal deadlines."""
    # Unconfirmed reports stay with HR: showing them would tell the person that someone reported them.
    violations = (
        _own_violations(request.user)
        .exclude(status__in=[ViolationStatus.REPORTED, ViolationStatus.SUSPECTED])
        .select_related("rule", "group", "appeal")
        .prefetch_related(Prefetch("sanctions", queryset=Sanction.objects.order_by("pk")), "evidence")
    )
    today = timezone.localdate()
    rows = list(violations)
    for violation in rows:
        violation.can_appeal = appealable(violation, today)
    context = {"violations": rows, "today": today, "has_employee": bool(scope_for(request.user).employee_id)}
    return render(request, "violations/my_records.html", context)


@login_required
def appeal(request, pk: int):
    """申诉: the employee appeals a notified sanction with a statement and files."""
    violation = get_object_or_404(_own_violations(request.user).select_related("rule"), pk=pk)
    form = AppealForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.file_appeal(
                violation,
                form.cleaned_data["statement"],
                files=form.cleaned_data["files"],
                acting_user=request.user,
                channel=Channel.SELF_SERVICE,
            )
        except ValidationError as exc:
            form.add_error(None, exc.messages)
        else:
            messages.success(request, _("申诉已提交。"))
            return redirect("violations:mine")
    return render(request, "violations/appeal_form.html", {"form": form, "violation": violation})


@unlinked
@login_required
def report(request):
    """举报: anyone with an account reports a suspected violation, optionally anonymously.

    ``unlinked``: this page's requests (named or anonymous alike, so the logs cannot tell which)
    carry no request id, and the request log names no user (portal.middleware).
    """
    form = ReportForm(request.POST or None, request.FILES or None, user=request.user)
    preset = request.GET.get("group")
    if preset:
        # 举报本群违规 from a group admin's work queue: the group preselected, only one's own groups.
        if not preset.isdigit() or not form.fields["group"].queryset.filter(pk=preset).exists():
            raise Http404
        form.initial["group"] = int(preset)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.report_violation(
                data["person"],
                data["rule"],
                data["occurred_at"],
                data["description"],
                group=data["group"],
                is_anonymous=data["is_anonymous"],
                evidence_files=data["evidence"],
                acting_user=request.user,
                channel=Channel.SELF_SERVICE,
            )
        except ValidationError as exc:
            form.add_error(None, exc.messages)
        else:
            messages.success(request, _("举报已提交,人资部门将进行核实。"))
            return redirect("violations:report")
    return render(request, "violations/report_form.html", {"form": form})


@login_required
def evidence(request, pk: int):
    """Serve an evidence file to those who may see its violation; never from a public URL."""
    item = get_object_or_404(Evidence.objects.visible_to(request.user), pk=pk)
    try:
        handle = item.file.open("rb")
    except FileNotFoundError as exc:
        raise Http404(_("文件不存在")) from exc
    name = item.original_name if scope_for(request.user).everything else f"evidence-{item.pk}.{item.file_type}"
    response = FileResponse(handle, content_type=CONTENT_TYPES[item.file_type], as_attachment=True, filename=name)
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
@login_required
def preview(request):
    """JSON for the admin record form: the rule's default sanctions and what the ladder would add."""
    if not scope_for(request.user).is_hr:
        raise PermissionDenied
    rule = Rule.objects.filter(pk=request.GET.get("rule") or None).first()
    if rule is None:
        return JsonResponse({"error": _("请选择条款"), "field": "rule"}, status=400)
    defaults = [s["kind"] for s in rule.default_sanctions]
    payload = {"rule": rule.code, "defaults": defaults, "fine_amount": str(rule.fine_amount), "sentences": []}
    employee = Employee.objects.visible_to(request.user).filter(pk=request.GET.get("employee") or None).first()
    if employee is None:
        return JsonResponse(payload)
    occurred_at = _parse_moment(request.GET.get("occurred_at", ""))
    kinds = [k for k in request.GET.get("kinds", "").split(",") if k in SanctionKind.values]
    specs = [{"kind": k} for k in kinds] if "kinds" in request.GET else None
    payload["sentences"] = services.preview_escalation(employee, rule, occurred_at, specs)
    # The likely duplicates, shown while typing: saving would ask for 仍然保存 (and evidence files be re-chosen).
    group = ChatGroup.objects.visible_to(request.user).filter(pk=request.GET.get("group") or None).first()
    found = services.likely_duplicates(
        employee, rule, group, occurred_at, request.GET.get("description", ""), user=request.user
    )
    payload["duplicates"] = [
        {"url": reverse("admin:violations_violation_change", args=[v.pk]), "text": services.duplicate_summary(v)}
        for v in found
    ]
    return JsonResponse(payload)


def _parse_moment(value: str) -> datetime.datetime:
    """Admin split date/time ("2026-11-20 10:30"), ISO, or now."""
    moment = parse_datetime(value.strip().replace("T", " ")) if value.strip() else None
    if moment is None:
        return timezone.now()
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


def appealable(violation: Violation, today: datetime.date) -> bool:
    return (
        violation.status == ViolationStatus.SANCTIONED
        and violation.appeal_deadline is not None
        and today <= violation.appeal_deadline
    )
