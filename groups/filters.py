"""django-filter FilterSets for the organisation models (API lists; reusable by pages).

``DepartmentSubtreeFilter`` is the one "department and everything below it" filter: other apps use
it over their own relation, e.g. ``DepartmentSubtreeFilter(field_path="employee__department__path")``.
"""

from __future__ import annotations

import django_filters
from django.utils.translation import gettext_lazy as _

from .choices import (
    EmployeeStatus,
    FindingKind,
    FindingStatus,
    GroupKind,
    GroupStatus,
    ImportKind,
    ImportStatus,
    Platform,
)
from .identifiers import normalize_employee_no
from .models import ChatGroup, Department, Employee, ImportJob, Membership, RosterFinding


class ScopedModelChoiceFilter(django_filters.ModelChoiceFilter):
    """An id the requesting user may see; any other id is "not a valid choice" (400), never a leak."""

    def get_queryset(self, request):
        return super().get_queryset(request).visible_to(getattr(request, "user", None))


class DepartmentSubtreeFilter(ScopedModelChoiceFilter):
    """``?department=<id>``: rows of that department and all its sub-departments."""

    def __init__(self, *args, field_path: str = "department__path", **kwargs):
        kwargs.setdefault("queryset", Department.objects.all())
        kwargs.setdefault("label", _("部门(含下级)"))
        super().__init__(*args, **kwargs)
        self.field_path = field_path

    def filter(self, qs, value):
        if value is None:
            return qs
        return qs.filter(**{f"{self.field_path}__startswith": value.path})


class DepartmentFilterSet(django_filters.FilterSet):
    within = DepartmentSubtreeFilter(field_name="id", field_path="path", label=_("部门及其下级"))
    depth = django_filters.NumberFilter(label=_("层级"))
    head = ScopedModelChoiceFilter(queryset=Employee.objects.all(), label=_("负责人"))

    class Meta:
        model = Department
        fields = ["within", "depth", "head"]


class EmployeeFilterSet(django_filters.FilterSet):
    department = DepartmentSubtreeFilter()
    status = django_filters.ChoiceFilter(choices=EmployeeStatus.choices, label=_("状态"))
    employee_no = django_filters.CharFilter(label=_("工号"), method="filter_employee_no")

    class Meta:
        model = Employee
        fields = ["department", "status", "employee_no"]

    def filter_employee_no(self, queryset, name, value):
        return queryset.filter(employee_no=normalize_employee_no(value))


class ChatGroupFilterSet(django_filters.FilterSet):
    department = DepartmentSubtreeFilter()
    platform = django_filters.ChoiceFilter(choices=Platform.choices, label=_("平台"))
    kind = django_filters.ChoiceFilter(choices=GroupKind.choices, label=_("类型"))
    status = django_filters.ChoiceFilter(choices=GroupStatus.choices, label=_("状态"))
    owner = ScopedModelChoiceFilter(queryset=Employee.objects.all(), label=_("群主"))

    class Meta:
        model = ChatGroup
        fields = ["department", "platform", "kind", "status", "owner"]


class MembershipFilterSet(django_filters.FilterSet):
    group = ScopedModelChoiceFilter(queryset=ChatGroup.objects.all(), label=_("群"))
    employee = ScopedModelChoiceFilter(queryset=Employee.objects.all(), label=_("员工"))
    open = django_filters.BooleanFilter(field_name="left_at", lookup_expr="isnull", label=_("仍在群中"))
    outsider = django_filters.BooleanFilter(field_name="employee", lookup_expr="isnull", label=_("非本公司人员"))

    class Meta:
        model = Membership
        fields = ["group", "employee", "open", "outsider"]


class RosterFindingFilterSet(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=FindingKind.choices, label=_("类型"))
    status = django_filters.ChoiceFilter(choices=FindingStatus.choices, label=_("状态"))
    group = ScopedModelChoiceFilter(queryset=ChatGroup.objects.all(), label=_("群"))
    employee = ScopedModelChoiceFilter(queryset=Employee.objects.all(), label=_("员工"))
    department = DepartmentSubtreeFilter(field_name="group__department", field_path="group__department__path")

    class Meta:
        model = RosterFinding
        fields = ["kind", "status", "group", "employee", "department"]


class ImportJobFilterSet(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=ImportKind.choices, label=_("类型"))
    status = django_filters.ChoiceFilter(choices=ImportStatus.choices, label=_("状态"))

    class Meta:
        model = ImportJob
        fields = ["kind", "status"]
