"""The start page and the department-head / HR dashboard. Thin: reads live in ``sections``."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from groups.models import ChatGroup, Employee
from portal.scoping import scope_for

from . import links
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
