"""API representations of violations, sanctions, appeals and rules; writes are done by services.

The reporter (and whether a report was anonymous) appears only for HR and auditors; an anonymous
report stores no reporter at all, so not even they can see who made it.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from groups.models import ChatGroup, Employee
from portal.api.fields import SaneDateTimeField
from portal.api.serializers import ModelValidatingSerializer, ScopedPrimaryKeyRelatedField
from portal.choices import Channel
from portal.scoping import scope_for

from ..choices import AppealStatus
from ..models import Appeal, PerformanceDeduction, Rule, Sanction, Violation

# Who reported, whether anonymously, and through which channel: null for anyone but HR and auditors.
# report_count too: more than one report of the same thing means it was reported anonymously.
REPORTER_FIELDS = ("reporter", "is_anonymous", "channel", "report_count")


class SanctionSerializer(serializers.ModelSerializer):
    kind_display = serializers.CharField(source="get_kind_display", read_only=True, label=_("处分类型名称"))

    class Meta:
        model = Sanction
        fields = [
            "id",
            "kind",
            "kind_display",
            "amount",
            "points",
            "days",
            "is_derived",
            "ladder_step",
            "explanation",
            "carried_out_at",
            "withdrawn_at",
            "withdrawn_reason",
        ]
        read_only_fields = fields


class AppealSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Appeal
        fields = ["id", "filed_at", "filed_late", "decision_due", "status", "decided_at", "decision_reason"]
        read_only_fields = fields


class SanctionSpecSerializer(serializers.Serializer):
    """One sanction to impose, as in a rule's default sanctions: ``{"kind": "fine", "amount": "200"}``."""

    kind = serializers.CharField(label=_("处分类型"))
    amount = serializers.DecimalField(max_digits=10, decimal_places=2, required=False, label=_("罚款金额(元)"))
    points = serializers.IntegerField(min_value=0, max_value=1000, required=False, label=_("扣绩效分"))
    days = serializers.IntegerField(min_value=1, max_value=3650, required=False, label=_("期限(天)"))

    def to_internal_value(self, data):
        spec = super().to_internal_value(data)
        if "amount" in spec:
            spec["amount"] = str(spec["amount"])
        return spec


class ViolationSerializer(serializers.ModelSerializer):
    """A violation with its sanctions and appeal. HR creates one through ``record_and_sanction``."""

    employee = ScopedPrimaryKeyRelatedField(queryset=Employee.objects.all(), label=_("员工"))
    employee_no = serializers.CharField(source="employee.employee_no", read_only=True, label=_("工号"))
    employee_name = serializers.CharField(source="employee.name", read_only=True, label=_("姓名"))
    department_path = serializers.CharField(source="employee.department.name_path", read_only=True, label=_("部门路径"))
    group = ScopedPrimaryKeyRelatedField(
        queryset=ChatGroup.objects.all(), allow_null=True, required=False, label=_("工作群")
    )
    rule = serializers.PrimaryKeyRelatedField(queryset=Rule.objects.all(), label=_("条款"))
    rule_code = serializers.CharField(source="rule.code", read_only=True, label=_("条款编号"))
    rule_title = serializers.CharField(source="rule.title_zh", read_only=True, label=_("条款名称"))
    sanctions = SanctionSerializer(many=True, read_only=True, label=_("处分"))
    appeal = AppealSummarySerializer(read_only=True, allow_null=True, label=_("申诉"))
    reporter = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, label=_("举报人"), help_text=_("仅人资和审计可见;匿名举报不保存举报人")
    )
    is_anonymous = serializers.BooleanField(
        read_only=True, allow_null=True, label=_("匿名举报"), help_text=_("仅人资和审计可见")
    )
    channel = serializers.ChoiceField(
        choices=Channel.choices, read_only=True, allow_null=True, label=_("来源"), help_text=_("仅人资和审计可见")
    )
    report_count = serializers.IntegerField(
        read_only=True,
        allow_null=True,
        label=_("举报次数"),
        help_text=_("同样内容的匿名举报合并计数;仅人资和审计可见"),
    )
    confirmed = serializers.BooleanField(
        write_only=True, default=False, label=_("直接确认"), help_text=_("人资亲自核实过时为真")
    )
    confirm_duplicate = serializers.BooleanField(
        write_only=True,
        default=False,
        label=_("仍然保存"),
        help_text=_("发现可能重复的记录时请求被拒绝(409,列出这些记录);核对后确认不是重复时为真"),
    )
    impose_sanctions = serializers.BooleanField(
        write_only=True, default=False, label=_("立即处分"), help_text=_("确认并按处分列表(或条款默认处分)处分")
    )
    sanction_specs = SanctionSpecSerializer(
        many=True, write_only=True, required=False, allow_null=True, default=None, label=_("处分列表")
    )

    class Meta:
        model = Violation
        fields = [
            "id",
            "employee",
            "employee_no",
            "employee_name",
            "department_path",
            "group",
            "rule",
            "rule_code",
            "rule_title",
            "occurred_at",
            "description",
            "status",
            "channel",
            "dismissed_reason",
            "notified_at",
            "appeal_deadline",
            "sanctions",
            "appeal",
            "is_anonymous",
            "reporter",
            "report_count",
            "created_at",
            "confirmed",
            "confirm_duplicate",
            "impose_sanctions",
            "sanction_specs",
        ]
        read_only_fields = [
            "status",
            "channel",
            "dismissed_reason",
            "notified_at",
            "appeal_deadline",
            "is_anonymous",
            "reporter",
            "report_count",
            "created_at",
        ]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        request = self.context.get("request")
        if request is None or not scope_for(request.user).everything:
            # Heads, group admins and the reported person never learn who reported (or that it was anonymous).
            for name in REPORTER_FIELDS:
                data[name] = None
        return data


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, label=_("理由"))


class SanctionsRequestSerializer(serializers.Serializer):
    sanctions = SanctionSpecSerializer(
        many=True,
        required=False,
        allow_null=True,
        default=None,
        label=_("处分列表"),
        help_text=_("省略则用条款默认处分"),
    )


class RemovalDoneSerializer(serializers.Serializer):
    sanction = serializers.IntegerField(
        required=False, allow_null=True, default=None, label=_("处分ID"), help_text=_("省略则为唯一待执行的清出群/禁言")
    )
    at = SaneDateTimeField(required=False, allow_null=True, default=None, label=_("执行时间"))


class AppealSerializer(serializers.ModelSerializer):
    """An appeal; the employee files one for their own notified violation within the window."""

    violation = ScopedPrimaryKeyRelatedField(queryset=Violation.objects.all(), label=_("违规记录"))
    employee_no = serializers.CharField(source="violation.employee.employee_no", read_only=True, label=_("工号"))
    employee_name = serializers.CharField(source="violation.employee.name", read_only=True, label=_("姓名"))
    rule_code = serializers.CharField(source="violation.rule.code", read_only=True, label=_("条款编号"))

    class Meta:
        model = Appeal
        fields = [
            "id",
            "violation",
            "employee_no",
            "employee_name",
            "rule_code",
            "statement",
            "on_behalf",
            "filed_at",
            "filed_late",
            "decision_due",
            "status",
            "decided_at",
            "decision_reason",
        ]
        read_only_fields = [
            "on_behalf",
            "filed_at",
            "filed_late",
            "decision_due",
            "status",
            "decided_at",
            "decision_reason",
        ]


class DecisionSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(
        choices=[
            (AppealStatus.UPHELD, AppealStatus.UPHELD.label),
            (AppealStatus.OVERTURNED, AppealStatus.OVERTURNED.label),
        ],
        label=_("裁决结果"),
    )
    reason = serializers.CharField(max_length=2000, label=_("裁决理由"))


class RuleSerializer(ModelValidatingSerializer):
    class Meta:
        model = Rule
        fields = [
            "id",
            "code",
            "title_zh",
            "title_en",
            "category",
            "description",
            "default_sanctions",
            "performance_points",
            "fine_amount",
            "repeat_threshold",
            "repeat_sanctions",
            "is_active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]


class PerformanceDeductionSerializer(serializers.ModelSerializer):
    """One employee's performance deductions for a month, or an adjustment of a closed month."""

    employee_no = serializers.CharField(source="employee.employee_no", read_only=True, label=_("工号"))
    employee_name = serializers.CharField(source="employee.name", read_only=True, label=_("姓名"))
    department_path = serializers.CharField(source="employee.department.name_path", read_only=True, label=_("部门路径"))

    class Meta:
        model = PerformanceDeduction
        fields = [
            "id",
            "employee",
            "employee_no",
            "employee_name",
            "department_path",
            "month",
            "kind",
            "adjusts_month",
            *PerformanceDeduction.SCORE_FIELDS,
            "breakdown",
            "computed_at",
        ]
        read_only_fields = fields
