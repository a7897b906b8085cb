"""How a person is shown to HR on every screen: 姓名(工号), marked 离职 when the person has left.

One helper for the admin columns and detail headers of groups and violations, the portal's pages
(template filters in ``groups.templatetags.people``) and the pickers (``Employee.picker_label``):
a login is shown as the employee behind it, never as the bare login name.
"""

from __future__ import annotations

from django.core.exceptions import ObjectDoesNotExist
from django.utils.html import format_html
from django.utils.safestring import SafeString

from .choices import EmployeeStatus


def departed_badge() -> SafeString:
    return format_html('<span class="badge-departed">{}</span>', EmployeeStatus.DEPARTED.label)


def employee_html(employee, *, department: bool = False) -> SafeString | str:
    """张三(E0102), with the 离职 badge when departed; ``department`` adds 销售部/华东区 (load it)."""
    if employee is None:
        return "—"
    text = f"{employee} · {employee.department.short_path}" if department else str(employee)
    if employee.status == EmployeeStatus.DEPARTED:
        return format_html("{} {}", text, departed_badge())
    return text


def user_employee(user):
    """The employee linked to a login, or None (``select_related("<user>__employee")`` avoids a query)."""
    if user is None:
        return None
    try:
        return user.employee
    except ObjectDoesNotExist:
        return None


def user_text(user) -> str:
    """A login as plain text: the employee's 姓名(工号) when linked, else the account's full name or login."""
    if user is None:
        return "—"
    employee = user_employee(user)
    if employee is not None:
        return str(employee)
    return user.get_full_name() or user.get_username()


def user_html(user) -> SafeString | str:
    """A login for an admin column or page: the linked employee with the 离职 badge, else the account."""
    employee = user_employee(user)
    return employee_html(employee) if employee is not None else user_text(user)


class DepartedHeaderMixin:
    """A ModelAdmin mixin: the change page's header names the record with the 离职 badge when the
    person it concerns has left. ``header_employee(obj)`` says who that is (default: none)."""

    def header_employee(self, obj):
        return None

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        employee = self.header_employee(obj) if obj is not None else None
        if employee is not None and employee.status == EmployeeStatus.DEPARTED:
            context["subtitle"] = format_html("{} {}", str(obj), departed_badge())
        return super().render_change_form(request, context, add, change, form_url, obj)
