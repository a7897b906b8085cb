"""django-filter FilterSets for violations, appeals and rules (API lists; reusable by pages)."""

from __future__ import annotations

import datetime

import django_filters
from django import forms
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from groups.filters import DepartmentSubtreeFilter, ScopedModelChoiceFilter
from groups.models import ChatGroup, Employee

from .choices import AppealStatus, DeductionKind, RuleCategory, SanctionKind, ViolationStatus
from .models import Appeal, PerformanceDeduction, Rule, Violation


class MonthField(forms.CharField):
    """``YYYY-MM`` → the first day of that month."""

    def to_python(self, value):
        value = super().to_python(value)
        if not value:
            return None
        try:
            return datetime.datetime.strptime(value, "%Y-%m").date()
        except ValueError as exc:
            raise forms.ValidationError(_("月份格式应为 YYYY-MM。"), code="invalid") from exc


@extend_schema_field(OpenApiTypes.STR)
class MonthFilter(django_filters.Filter):
    """``?month=2026-11``: violations that happened in that month (company time zone)."""

    field_class = MonthField

    def filter(self, qs, value):
        return qs if value is None else qs.for_month(value)


class ViolationFilterSet(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=ViolationStatus.choices, label=_("状态"))
    rule = ScopedModelChoiceFilter(queryset=Rule.objects.all(), label=_("条款"))
    category = django_filters.ChoiceFilter(field_name="rule__category", choices=RuleCategory.choices, label=_("类别"))
    month = MonthFilter(label=_("月份(YYYY-MM)"))
    department = DepartmentSubtreeFilter(field_name="employee__department", field_path="employee__department__path")
    group = ScopedModelChoiceFilter(queryset=ChatGroup.objects.all(), label=_("工作群"))
    employee = ScopedModelChoiceFilter(queryset=Employee.objects.all(), label=_("员工"))
    sanction_kind = django_filters.ChoiceFilter(
        choices=SanctionKind.choices, method="filter_sanction_kind", label=_("处分类型")
    )

    class Meta:
        model = Violation
        fields = ["status", "rule", "category", "month", "department", "group", "employee", "sanction_kind"]

    def filter_sanction_kind(self, queryset, name, value):
        """Violations with a sanction of this kind that is not withdrawn (as the admin's filter)."""
        return queryset.with_active_sanction(value)


class AppealFilterSet(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=AppealStatus.choices, label=_("状态"))
    violation = ScopedModelChoiceFilter(queryset=Violation.objects.all(), label=_("违规记录"))
    employee = ScopedModelChoiceFilter(
        field_name="violation__employee", queryset=Employee.objects.all(), label=_("员工")
    )
    department = DepartmentSubtreeFilter(
        field_name="violation__employee__department", field_path="violation__employee__department__path"
    )
    filed_late = django_filters.BooleanFilter(label=_("逾期提交"))

    class Meta:
        model = Appeal
        fields = ["status", "violation", "employee", "department", "filed_late"]


class RuleFilterSet(django_filters.FilterSet):
    category = django_filters.ChoiceFilter(choices=RuleCategory.choices, label=_("类别"))
    is_active = django_filters.BooleanFilter(label=_("启用"))

    class Meta:
        model = Rule
        fields = ["category", "is_active"]


@extend_schema_field(OpenApiTypes.STR)
class DeductionMonthFilter(MonthFilter):
    """``?month=2026-11``: the deductions booked in that month (regular rows and adjustments)."""

    def filter(self, qs, value):
        return qs if value is None else qs.for_month(value)


class PerformanceDeductionFilterSet(django_filters.FilterSet):
    month = DeductionMonthFilter(label=_("月份(YYYY-MM)"))
    department = DepartmentSubtreeFilter(field_name="employee__department", field_path="employee__department__path")
    employee = ScopedModelChoiceFilter(queryset=Employee.objects.all(), label=_("员工"))
    kind = django_filters.ChoiceFilter(choices=DeductionKind.choices, label=_("类型"))

    class Meta:
        model = PerformanceDeduction
        fields = ["month", "department", "employee", "kind"]
