"""Admin screens for monthly deductions: read-only rows, months with "compute" and "close" buttons.

Imported by violations/admin/__init__.py (admin autodiscovery loads the package). Computing and closing
run as Celery tasks (in-process in the embedded default); both ask for confirmation first, and only
HR admins may run them — an auditor gets 403.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from groups.admin_filters import subtree_filter
from portal.admin_mixins import ReadOnlyAdminMixin, ScopedAdminMixin
from portal.choices import Channel
from portal.months import month_bounds, parse_month, previous_month
from portal.scoping import scope_for

from ..choices import SanctionKind
from ..deductions import export
from ..deductions.wording import closed_month_message, correction_note
from ..models import PerformanceDeduction, PerformanceMonth
from ..tasks import enqueue_deductions


class ComputeMonthForm(forms.Form):
    month = forms.CharField(label=_("月份"), max_length=7, help_text=_("格式 YYYY-MM,例如 2026-10"))

    def clean_month(self):
        try:
            month = parse_month(self.cleaned_data["month"])
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["month"]) from exc
        if month > timezone.localdate().replace(day=1):
            raise ValidationError(_("不能计算未来的月份。"))
        if PerformanceMonth.objects.closed().filter(month=month).exists():
            raise ValidationError(closed_month_message(month))
        return month


class CloseMonthForm(forms.Form):
    confirm = forms.BooleanField(label=_("我已核对该月扣分,确认关账(关账后不能再重新计算)"))


EXPORT_NAME = "violations_performancemonth_export"


def export_note(period) -> str:
    """Above the deductions list: the month's status and where corrections of a closed month go."""
    if period is None:
        return ""
    if period.is_closed:
        return closed_month_message(period)
    return _("%(m)s 未关账,导出的数据为暂定。") % {"m": period} + correction_note()


class DeductionMonthFilter(admin.SimpleListFilter):
    title = _("月份")
    parameter_name = "month"

    def lookups(self, request, model_admin):
        months = PerformanceMonth.objects.visible_to(request.user).values_list("month", flat=True)
        return [(f"{m:%Y-%m}", f"{m:%Y-%m}") for m in months]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        try:
            return queryset.filter(month=parse_month(self.value()))
        except ValidationError:
            return queryset.none()


@admin.register(PerformanceDeduction)
class PerformanceDeductionAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    """Rows are written only by the computation: viewable (scoped), never edited by hand."""

    list_display = [
        "employee_name",
        "employee_no",
        "department",
        "month_display",
        "kind",
        "adjusts_display",
        *PerformanceDeduction.SCORE_FIELDS,
    ]
    list_filter = [DeductionMonthFilter, subtree_filter("employee__department__path"), "kind", "forfeit"]
    search_fields = ["employee__name", "employee__employee_no"]
    list_select_related = ["employee", "employee__department"]
    exclude = ["breakdown"]
    readonly_fields = ["breakdown_table"]
    list_per_page = 100
    change_list_template = "admin/violations/performancededuction/change_list.html"

    def changelist_view(self, request, extra_context=None):
        """The list, with the export buttons of the month filtered on (else the latest month)."""
        months = PerformanceMonth.objects.visible_to(request.user)
        try:
            chosen = parse_month(request.GET["month"]) if request.GET.get("month") else None
        except ValidationError:
            chosen = None
        period = months.filter(month=chosen).first() if chosen else months.order_by("-month").first()
        context = {**(extra_context or {}), "export_month": period, "export_note": export_note(period)}
        return super().changelist_view(request, context)

    @admin.display(description=_("姓名"), ordering="employee__name")
    def employee_name(self, obj):
        return obj.employee.name

    @admin.display(description=_("工号"), ordering="employee__employee_no")
    def employee_no(self, obj):
        return obj.employee.employee_no

    @admin.display(description=_("部门"))
    def department(self, obj):
        return obj.employee.department.name_path

    @admin.display(description=_("月份"), ordering="month")
    def month_display(self, obj):
        return f"{obj.month:%Y-%m}"

    @admin.display(description=_("调整月份"), ordering="adjusts_month")
    def adjusts_display(self, obj):
        return f"{obj.adjusts_month:%Y-%m}" if obj.adjusts_month else "—"

    @admin.display(description=_("明细"))
    def breakdown_table(self, obj):
        data = obj.breakdown or {}
        sections = [("", data.get("sanctions"))] if not obj.is_adjustment else []
        sections += [(_("补扣"), data.get("added")), (_("退还"), data.get("removed"))] if obj.is_adjustment else []
        rows = [(label, entry) for label, entries in sections for entry in entries or []]
        if not rows:
            return _("无处分")
        return format_html(
            "<table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>{}</table>",
            _("调整"),
            _("发生时间"),
            _("条款"),
            _("处分"),
            _("扣分"),
            _("罚款(元)"),
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{} {}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                (
                    (
                        label,
                        entry["occurred_at"][:19].replace("T", " "),
                        entry["rule"],
                        entry.get("rule_title", ""),
                        SanctionKind(entry["kind"]).label if entry["kind"] in SanctionKind.values else entry["kind"],
                        entry["points"],
                        entry["amount"] or "",
                    )
                    for label, entry in rows
                ),
            ),
        )


@admin.register(PerformanceMonth)
class PerformanceMonthAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Months of deductions with the two operations HR runs on them: compute and close."""

    list_display = [
        "__str__",
        "status",
        "computed_at",
        "computed_by",
        "closed_at",
        "closed_by",
        "rows_link",
        "export_links",
    ]
    list_filter = ["status"]
    change_list_template = "admin/violations/performancemonth/change_list.html"
    change_form_template = "admin/violations/performancemonth/change_form.html"

    def get_queryset(self, request):
        return super().get_queryset(request).visible_to(request.user)

    @admin.display(description=_("扣分记录"))
    def rows_link(self, obj):
        url = reverse("admin:violations_performancededuction_changelist") + f"?month={obj.month:%Y-%m}"
        return format_html('<a href="{}">{}</a>', url, _("查看"))

    @admin.display(description=_("导出"))
    def export_links(self, obj):
        url = reverse(f"admin:{EXPORT_NAME}", args=[obj.pk])
        return format_html('<a href="{}?format=xlsx">XLSX</a> · <a href="{}?format=csv">CSV</a>', url, url)

    def get_urls(self):
        extra = [
            path("<int:pk>/export/", self.admin_site.admin_view(self.export_view), name=EXPORT_NAME),
            path("compute/", self.admin_site.admin_view(self.compute_view), name="violations_performancemonth_compute"),
            path(
                "<int:pk>/close/", self.admin_site.admin_view(self.close_view), name="violations_performancemonth_close"
            ),
        ]
        return extra + super().get_urls()

    @staticmethod
    def may_run(request) -> bool:
        return scope_for(request.user).is_hr

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, {**(extra_context or {}), "may_run": self.may_run(request)})

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra = {**(extra_context or {}), "may_run": self.may_run(request)}
        return super().change_view(request, object_id, form_url, extra)

    def export_view(self, request, pk: int):
        """The month's deductions as XLSX or CSV (?format=xlsx|csv&encoding=gbk), scoped and audited."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        period = get_object_or_404(self.get_queryset(request), pk=pk)
        try:
            return export.export_response(
                request.user,
                period,
                file_format=request.GET.get("format", "xlsx"),
                encoding=request.GET.get("encoding"),
                channel=Channel.ADMIN,
            )
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return HttpResponseRedirect(reverse("admin:violations_performancemonth_changelist"))

    def compute_view(self, request):
        if not self.may_run(request):
            raise PermissionDenied
        initial = {"month": f"{previous_month():%Y-%m}"}
        form = ComputeMonthForm(request.POST or None, initial={**initial, **request.GET.dict()})
        if request.method == "POST" and form.is_valid():
            month = f"{form.cleaned_data['month']:%Y-%m}"
            if self._enqueue(request, month, close=False):
                self.message_user(request, _("已提交计算 %(m)s 的绩效扣分。") % {"m": month}, messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:violations_performancemonth_changelist"))
        message = _("将按当前数据重新计算该月全部员工的绩效扣分。") + correction_note()
        return self._confirm_page(request, form, _("计算月度绩效扣分"), message)

    def close_view(self, request, pk: int):
        if not self.may_run(request):
            raise PermissionDenied
        period = get_object_or_404(self.get_queryset(request), pk=pk)
        form = CloseMonthForm(request.POST or None)
        if period.is_closed:
            form.add_error(None, _("该月已关账。"))
        elif month_bounds(period.month)[1] > timezone.now():
            form.add_error(None, _("该月尚未结束,不能关账。"))
        elif request.method == "POST" and form.is_valid() and self._enqueue(request, str(period), close=True):
            self.message_user(request, _("已提交关账 %(m)s。") % {"m": period}, messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:violations_performancemonth_change", args=[period.pk]))
        message = _("关账将最后计算一次 %(m)s。") % {"m": period} + correction_note()
        return self._confirm_page(request, form, _("关账"), message)

    def _enqueue(self, request, month: str, *, close: bool) -> bool:
        if enqueue_deductions(month, user_id=request.user.pk, close=close):
            return True
        self.message_user(request, _("任务队列暂时不可用,未做任何更改,请稍后重试。"), messages.ERROR)
        return False

    def _confirm_page(self, request, form, title, message):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "message": message,
            "form": form,
            "cancel_url": reverse("admin:violations_performancemonth_changelist"),
        }
        return TemplateResponse(request, "admin/violations/deductions_confirm.html", context)
