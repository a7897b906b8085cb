"""The start page and the department-head / HR dashboard. Thin: reads live in ``sections``."""

from __future__ import annotations

import datetime

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone

from groups.choices import FindingKind
from groups.models import ChatGroup, Employee
from portal.admin_lists import ListPaginator
from portal.months import month_bounds
from portal.scoping import scope_for
from violations.choices import SanctionKind, ViolationStatus
from violations.models import Sanction

from . import links, queue
from . import sections as dash


def has_dashboard(user) -> bool:
    scope = scope_for(user)
    return scope.everything or scope.is_department_head


@login_required
def home(request):
    """Start page: heads, HR and auditors go to the dashboard; others see their groups and own record."""
    if has_dashboard(request.user):
        query = request.META.get("QUERY_STRING", "")  # /?month=2026-10 opens the dashboard at that month
        return redirect(f"{reverse('dashboard')}?{query}" if query else reverse("dashboard"))
    scope = scope_for(request.user)
    if scope.is_group_admin:
        return work_queue(request)
    open_ = Q(memberships__left_at__isnull=True)
    my_groups = (
        ChatGroup.objects.visible_to(request.user)
        .filter(pk__in=scope.group_ids)
        .select_related("department")
        .annotate(
            members=Count("memberships", filter=open_, distinct=True),
            departed=Count("memberships", filter=open_ & Q(memberships__employee__status="departed"), distinct=True),
            outsiders=Count("memberships", filter=open_ & Q(memberships__employee__isnull=True), distinct=True),
            open_findings=Count("findings", filter=Q(findings__status="open"), distinct=True),
        )
        .order_by("name")
    )
    context = {
        "employee": Employee.objects.visible_to(request.user).filter(pk=scope.employee_id).first(),
        "my_groups": my_groups,
    }
    return render(request, "portal/home.html", context)


@login_required
def dashboard(request):
    """The department head's (or HR's) monthly dashboard: ?month=YYYY-MM, ?dept=<id>."""
    user = request.user
    if not has_dashboard(user):
        raise PermissionDenied
    try:
        month = dash.parse_month(request.GET.get("month"))
    except ValidationError as error:
        return render(request, "portal/dashboard_error.html", {"errors": error.messages}, status=400)
    area = dash.resolve_area(user, request.GET.get("dept"))
    if area is None:
        raise Http404
    data = links.attach_links(dash.build(user, area, month), area, month)
    this_month = timezone.localdate().replace(day=1)
    context = {
        **data,
        "area": area,
        "month": month,
        "prev_month": dash.shift_month(month, -1),
        "next_month": dash.shift_month(month, 1) if month < this_month else None,
        "is_current_month": month == this_month,
        "departments": dash.department_choices(user),
        "scope": scope_for(user),
        "chart": {"months": data["trend"]["months"], "series": data["trend"]["series"]},
    }
    return render(request, "portal/dashboard.html", context)


# --- a group admin's work queue (their groups' open findings and violations) ----------------------


@login_required
def work_queue(request):
    """待办: a group admin's start page (HR: every group). ``?group=<id>`` shows one group in full."""
    user = request.user
    scope = scope_for(user)
    if not (scope.is_hr or scope.is_group_admin):
        raise PermissionDenied
    context = {
        "employee": Employee.objects.visible_to(user).filter(pk=scope.employee_id).first(),
        # The groups the user owns or administers themselves (HR's full access is not "their" groups).
        "administered": ChatGroup.objects.active().filter(pk__in=scope.group_ids).order_by("name"),
        "single": None,
    }
    group_id = request.GET.get("group")
    if group_id:
        if not group_id.isdigit():
            raise Http404
        group = get_object_or_404(ChatGroup.objects.administered_by(user).select_related("department"), pk=group_id)
        context["single"] = queue.group_page(group, request.GET.get("page"), user)
        context["works"] = [context["single"]]
    else:
        context["page"], context["works"] = queue.queue_page(user, request.GET.get("page"))
    context["query"] = _query_without_page(request)
    return render(request, "portal/work_queue.html", context)


# --- department heads' drill-downs: phone-sized lists behind the dashboard's numbers ---------------

LIST_PER_PAGE = 25


def _query_without_page(request) -> str:
    """The list's other parameters, for the pager's links (``&dept=…&kind=…``)."""
    params = request.GET.copy()
    params.pop("page", None)
    return f"&{params.urlencode()}" if params else ""


AGES = {"1d": 1, "3d": 3, "7d": 7, "30d": 30}


def _list_area(request):
    if not has_dashboard(request.user):
        raise PermissionDenied
    area = dash.resolve_area(request.user, request.GET.get("dept"))
    if area is None:
        raise Http404
    return area


def _choice(value: str | None, choices) -> str | None:
    return value if value in choices else None


@login_required
def findings_list(request):
    """Open roster findings of the area: ``?dept=&kind=&age=1d`` (the dashboard's links)."""
    area = _list_area(request)
    rows = dash.area_findings(request.user, area).open()
    kind = _choice(request.GET.get("kind"), FindingKind.values)
    if kind:
        rows = rows.filter(kind=kind)
    age = AGES.get(request.GET.get("age") or "")
    if age:
        rows = rows.older_than(datetime.timedelta(days=age))
    # the order of the index rosterfinding_first_seen (newest first, ties by id): no sort of every open finding
    rows = rows.select_related("group", "employee", "membership").order_by("-first_seen_at", "pk")
    page = ListPaginator(rows, LIST_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "area": area,
        "page": page,
        "kind_label": FindingKind(kind).label if kind else None,
        "age": age,
        "query": _query_without_page(request),
    }
    return render(request, "portal/findings_list.html", context)


@login_required
def violations_list(request):
    """Violations of the area: ``?dept=&month=YYYY-MM&status=a,b&sanction=fine`` (the dashboard's links)."""
    area = _list_area(request)
    rows = dash.area_violations(request.user, area)
    month = None
    if request.GET.get("month"):
        try:
            month = dash.parse_month(request.GET["month"])
        except ValidationError as error:
            return render(request, "portal/dashboard_error.html", {"errors": error.messages}, status=400)
        start, end = month_bounds(month)
        rows = rows.filter(occurred_at__gte=start, occurred_at__lt=end)
    statuses = [s for s in (request.GET.get("status") or "").split(",") if s in ViolationStatus.values]
    # suspicions (待核实) are listed only when asked for: they are no violations yet
    rows = rows.filter(status__in=statuses) if statuses else rows.counted()
    sanction = _choice(request.GET.get("sanction"), SanctionKind.values)
    if sanction:
        active = Sanction.objects.filter(kind=sanction, withdrawn_at__isnull=True)
        rows = rows.filter(pk__in=active.values("violation_id"))
    rows = rows.select_related("employee__department", "rule", "group").order_by("-occurred_at", "-pk")
    page = ListPaginator(rows, LIST_PER_PAGE).get_page(request.GET.get("page"))
    labels = dict(ViolationStatus.choices)
    context = {
        "area": area,
        "page": page,
        "month": month,
        "status_labels": [labels[s] for s in statuses],
        "sanction_label": SanctionKind(sanction).label if sanction else None,
        "query": _query_without_page(request),
    }
    return render(request, "portal/violations_list.html", context)
