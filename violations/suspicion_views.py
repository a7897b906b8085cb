"""待核实: suspicions of chat detection, on the phone, for the people who decide them.

HR sees every group's; a group's owner or admin sees their own groups' only (``ChatGroup.objects.
administered_by``), never a suspicion naming themselves (HR decides those) — anything else is 404.
Confirm makes it an ordinary violation (已确认, then HR sanctions it); dismiss needs a reason. Both
go through ``violations.services`` and are audited. Showing the evidence is an audited access.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from groups.models import ChatGroup
from portal.admin_lists import ListPaginator
from portal.audit import log_access
from portal.choices import Channel
from portal.scoping import scope_for

from . import services
from .forms import ReasonForm
from .models import Violation

PER_PAGE = 25
CHANNEL = Channel.SELF_SERVICE


def suspicions_for(user):
    """The suspicions ``user`` may decide: in the groups they administer (HR: all), not their own."""
    scope = scope_for(user)
    qs = Violation.objects.suspected().filter(group__in=ChatGroup.objects.administered_by(user).values("pk"))
    if scope.employee_id and not scope.is_hr:
        qs = qs.exclude(employee_id=scope.employee_id)
    return qs


def _decidable_or_404(request, pk: int) -> Violation:
    if not (scope_for(request.user).is_hr or scope_for(request.user).group_ids):
        raise Http404
    return get_object_or_404(
        suspicions_for(request.user).select_related("employee__department", "rule", "group", "detection"), pk=pk
    )


@login_required
def suspicion_list(request):
    """待核实列表: newest first, the group's name, the person, the rule and why it fired."""
    if not (scope_for(request.user).is_hr or scope_for(request.user).group_ids):
        raise Http404
    rows = suspicions_for(request.user).select_related("employee", "rule", "group", "detection")
    group = request.GET.get("group")
    if group and group.isdigit():
        rows = rows.filter(group_id=int(group))
    page = ListPaginator(rows.order_by("-occurred_at", "-pk"), PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "violations/suspicions.html", {"page": page})


@login_required
def suspicion_detail(request, pk: int):
    """One suspicion with its evidence (the excerpt kept at detection) and the two decisions."""
    violation = _decidable_or_404(request, pk)
    return _detail(request, violation, ReasonForm())


def _detail(request, violation: Violation, form: ReasonForm, status: int = 200):
    """The suspicion page: showing its evidence is an audited access, whichever request shows it."""
    detection = getattr(violation, "detection", None)
    if detection is not None:
        log_access(request.user, detection, "view", detail="检测证据")
    context = {"v": violation, "detection": detection, "form": form}
    return render(request, "violations/suspicion_detail.html", context, status=status)


def _decide(request, violation: Violation, call) -> bool:
    try:
        call()
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, "；".join(getattr(exc, "messages", [str(exc)])))
        return False
    return True


@login_required
@require_POST
def suspicion_confirm(request, pk: int):
    violation = _decidable_or_404(request, pk)
    if _decide(
        request, violation, lambda: services.confirm_violation(violation, acting_user=request.user, channel=CHANNEL)
    ):
        messages.success(request, _("已确认:%(who)s · %(rule)s,转入正常处理。") % {
            "who": violation.employee.name, "rule": violation.rule.code})  # fmt: skip
        return redirect("violations:suspicions")
    return redirect("violations:suspicion", pk=pk)


@login_required
@require_POST
def suspicion_dismiss(request, pk: int):
    violation = _decidable_or_404(request, pk)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        return _detail(request, violation, form, status=400)  # the page again, its evidence audited again
    reason = form.cleaned_data["reason"]
    call = lambda: services.dismiss_violation(violation, reason, acting_user=request.user, channel=CHANNEL)  # noqa: E731
    if _decide(request, violation, call):
        messages.success(request, _("已不予处理:%(who)s · %(rule)s。") % {
            "who": violation.employee.name, "rule": violation.rule.code})  # fmt: skip
        return redirect("violations:suspicions")
    return redirect("violations:suspicion", pk=pk)
