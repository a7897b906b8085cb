"""Violations, appeals and the rule catalog under /api/v1/ (all scoped; writes through services)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.reverse import reverse

from portal.api.exceptions import Conflict
from portal.api.viewsets import ScopedModelViewSet, ScopedReadOnlyViewSet
from portal.choices import Channel

from .. import services
from ..choices import SanctionKind
from ..deductions import export as payroll_export
from ..filters import AppealFilterSet, PerformanceDeductionFilterSet, RuleFilterSet, ViolationFilterSet
from ..models import Appeal, PerformanceDeduction, Rule, Sanction, Violation
from .serializers import (
    AppealSerializer,
    DecisionSerializer,
    PerformanceDeductionSerializer,
    ReasonSerializer,
    RemovalDoneSerializer,
    RuleSerializer,
    SanctionsRequestSerializer,
    ViolationSerializer,
)


class ViolationViewSet(mixins.CreateModelMixin, ScopedReadOnlyViewSet):
    """Violations with their sanctions; HR records them and moves them through their life cycle.

    The reporter is shown to HR and auditors only (and is never stored for an anonymous report).
    """

    queryset = Violation.objects.all()
    serializer_class = ViolationSerializer
    filterset_class = ViolationFilterSet
    select_related_fields = ("employee__department", "rule", "appeal")
    prefetch_related_fields = (Prefetch("sanctions", queryset=Sanction.objects.order_by("pk")),)
    search_fields = ["description", "employee__name", "employee__employee_no", "rule__code", "rule__title_zh"]
    ordering_fields = ["occurred_at", "created_at", "status", "employee__employee_no", "rule__code", "id"]
    ordering = ["-occurred_at", "-id"]

    def get_permissions(self):
        if self.action == "removal_done":
            return [IsAuthenticated()]  # HR or the group's owner/admins: the service decides
        return super().get_permissions()

    def perform_create(self, serializer) -> None:
        data = dict(serializer.validated_data)
        employee, rule = data.pop("employee"), data.pop("rule")
        if not data.pop("confirm_duplicate"):
            self._refuse_duplicates(employee, rule, data)
        violation = services.record_and_sanction(
            employee,
            rule,
            data.pop("occurred_at"),
            data.pop("description"),
            acting_user=self.request.user,
            channel=Channel.API,
            impose=data.pop("impose_sanctions"),
            sanctions=data.pop("sanction_specs"),
            **data,
        )
        serializer.instance = self.get_queryset().get(pk=violation.pk)

    def _refuse_duplicates(self, employee, rule, data: dict) -> None:
        """409 naming the likely duplicates (the same check as the admin form and the report page)."""
        found = services.likely_duplicates(
            employee, rule, data.get("group"), data["occurred_at"], data["description"], user=self.request.user
        )
        if not found:
            return
        message = _("可能与已有记录重复:%(list)s。核对后如确认不是重复,请带 confirm_duplicate=true 重新提交。")
        duplicates = [
            {
                "id": v.pk,
                "url": reverse("api:violation-detail", args=[v.pk], request=self.request),
                "occurred_at": v.occurred_at.isoformat(),
                "rule_code": v.rule.code,
                "status": v.status,
                "reasons": v.duplicate_reasons,
                "summary": services.duplicate_summary(v),
            }
            for v in found
        ]
        summaries = _(";").join(d["summary"] for d in duplicates)
        raise Conflict(message % {"list": summaries}, code="duplicate", extra={"duplicates": duplicates})

    def _answer(self, violation: Violation) -> Response:
        return Response(self.get_serializer(self.get_queryset().get(pk=violation.pk)).data)

    @extend_schema(request=None, responses=ViolationSerializer)
    @action(detail=True, methods=["post"])
    def confirm(self, request, pk=None):
        """Reported → confirmed."""
        violation = services.confirm_violation(self.get_object(), acting_user=request.user, channel=Channel.API)
        return self._answer(violation)

    @extend_schema(request=ReasonSerializer, responses=ViolationSerializer)
    @action(detail=True, methods=["post"])
    def dismiss(self, request, pk=None):
        """Not a violation (不予处理): its sanctions and what the ladder derived from them are withdrawn."""
        given = ReasonSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        violation = services.dismiss_violation(
            self.get_object(), given.validated_data["reason"], acting_user=request.user, channel=Channel.API
        )
        return self._answer(violation)

    @extend_schema(request=SanctionsRequestSerializer, responses=ViolationSerializer)
    @action(detail=True, methods=["post"])
    def sanction(self, request, pk=None):
        """Impose sanctions on a confirmed violation (the rule's defaults when none are given)."""
        given = SanctionsRequestSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        violation = self.get_object()
        services.apply_sanctions(
            violation, given.validated_data["sanctions"], acting_user=request.user, channel=Channel.API
        )
        return self._answer(violation)

    @extend_schema(request=None, responses=ViolationSerializer)
    @action(detail=True, methods=["post"])
    def notify(self, request, pk=None):
        """The employee was told: starts the appeal window."""
        violation = services.mark_notified(self.get_object(), acting_user=request.user, channel=Channel.API)
        return self._answer(violation)

    @extend_schema(request=RemovalDoneSerializer, responses=ViolationSerializer)
    @action(detail=True, methods=["post"], url_path="removal-done")
    def removal_done(self, request, pk=None):
        """Record that a removal from the group (or a mute) was carried out (HR or the group's admins)."""
        given = RemovalDoneSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        violation = self.get_object()
        sanction = _pending_removal(violation, given.validated_data["sanction"])
        services.record_removal_done(
            sanction, acting_user=request.user, channel=Channel.API, at=given.validated_data["at"]
        )
        return self._answer(violation)


def _pending_removal(violation: Violation, sanction_id: int | None) -> Sanction:
    """The violation's removal/mute sanction to mark done: the one named, or the only one pending."""
    pending = violation.sanctions.filter(
        kind__in=[SanctionKind.REMOVAL, SanctionKind.MUTE], withdrawn_at__isnull=True, carried_out_at__isnull=True
    )
    if sanction_id is not None:
        found = violation.sanctions.filter(pk=sanction_id).first()
        if found is None:
            raise ValidationError({"sanction": _("该违规记录没有这项处分。")})
        return found
    candidates = list(pending[:2])
    if len(candidates) != 1:
        raise ValidationError({"sanction": _("请指定要登记执行的处分(待执行的清出群/禁言不是恰好一项)。")})
    return candidates[0]


class AppealViewSet(mixins.CreateModelMixin, ScopedReadOnlyViewSet):
    """Appeals. An employee files one for their own notified violation; HR decides."""

    queryset = Appeal.objects.all()
    serializer_class = AppealSerializer
    filterset_class = AppealFilterSet
    select_related_fields = ("violation__employee", "violation__rule")
    search_fields = ["statement", "violation__employee__name", "violation__employee__employee_no"]
    ordering_fields = ["filed_at", "decision_due", "decided_at", "status", "id"]
    ordering = ["-filed_at", "-id"]

    def get_permissions(self):
        if self.action == "create":
            return [IsAuthenticated()]  # the employee concerned (or HR on their behalf): the service decides
        return super().get_permissions()

    def perform_create(self, serializer) -> None:
        data = serializer.validated_data
        appeal = services.file_appeal(
            data["violation"], data["statement"], acting_user=self.request.user, channel=Channel.API
        )
        serializer.instance = self.get_queryset().get(pk=appeal.pk)

    @extend_schema(request=DecisionSerializer, responses=AppealSerializer)
    @action(detail=True, methods=["post"])
    def decide(self, request, pk=None):
        """HR decides: upheld keeps the sanctions, overturned withdraws them."""
        given = DecisionSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        appeal = services.decide_appeal(
            self.get_object(), **given.validated_data, acting_user=request.user, channel=Channel.API
        )
        return Response(self.get_serializer(self.get_queryset().get(pk=appeal.pk)).data, status=status.HTTP_200_OK)


class RuleViewSet(ScopedModelViewSet):
    """The rule catalog: readable by everyone signed in; HR adds and edits (deactivate, never delete)."""

    queryset = Rule.objects.all()
    serializer_class = RuleSerializer
    filterset_class = RuleFilterSet
    search_fields = ["code", "title_zh", "title_en", "description"]
    ordering_fields = ["code", "category", "created_at", "updated_at"]
    ordering = ["code"]
    http_method_names = ["get", "post", "put", "patch", "head", "options"]
    create_service = services.create_rule
    update_service = services.update_rule


class FormatIsTheFileFormat(DefaultContentNegotiation):
    """For file downloads ``?format=`` names the file (csv/xlsx), not a DRF renderer; errors stay JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class PerformanceDeductionViewSet(ScopedReadOnlyViewSet):
    """Monthly performance deductions (computed by the deductions job; read-only here)."""

    queryset = PerformanceDeduction.objects.all()
    serializer_class = PerformanceDeductionSerializer
    filterset_class = PerformanceDeductionFilterSet
    select_related_fields = ("employee__department",)
    search_fields = ["employee__name", "employee__employee_no"]
    ordering_fields = ["month", "final_score", "points_deducted", "fines_total", "employee__employee_no", "id"]
    ordering = ["-month", "employee__employee_no", "id"]

    @extend_schema(
        parameters=[
            OpenApiParameter("month", str, required=True, description="YYYY-MM, e.g. 2026-10"),
            OpenApiParameter("format", str, enum=list(payroll_export.FORMATS), description="xlsx (default) or csv"),
            OpenApiParameter("encoding", str, enum=list(payroll_export.ENCODINGS), description="CSV only"),
        ],
        responses={
            (200, "text/csv"): OpenApiTypes.BINARY,
            (200, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"): OpenApiTypes.BINARY,
        },
    )
    @action(detail=False, methods=["get"], content_negotiation_class=FormatIsTheFileFormat, filterset_class=None)
    def export(self, request, format=None):  # format: the router's suffix (export.csv)
        """The month's deductions for payroll as XLSX or CSV (HR/audit all, a head their subtree); audited."""
        return payroll_export.export_response(
            request.user,
            request.query_params.get("month", ""),
            file_format=request.query_params.get("format") or format or "xlsx",
            encoding=request.query_params.get("encoding"),
            channel=Channel.API,
        )
