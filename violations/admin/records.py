"""HR admin screens: record violations fast, decide, and read the audit trail (never edit it)."""

from __future__ import annotations

import datetime

from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Prefetch, Q
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from groups.admin_filters import subtree_filter
from groups.models import ChatGroup, ChatMessage
from groups.people import DepartedHeaderMixin, employee_html, user_html
from portal.admin_lists import EstimatedCountPaginator, IndexedSearchMixin, ListPaginator
from portal.admin_mixins import ReadOnlyAdminMixin, ScopedAdminMixin, UnfilterableFieldsMixin
from portal.audit import audit_context, log_access
from portal.choices import Channel
from portal.months import month_bounds
from portal.scoping import scope_for

from .. import services
from ..choices import AppealStatus, SanctionKind, ViolationStatus
from ..forms import AddEvidenceForm, DecisionForm, ReasonForm, RecordViolationForm
from ..models import (
    Appeal,
    ChunkStatus,
    CompanySettings,
    Detection,
    DetectionChunk,
    DetectionRun,
    Evidence,
    GroupDetectionSettings,
    Rule,
    Sanction,
    Violation,
    WorkdayOverride,
)
from ..querysets import visible_departments
from .rule_form import RuleAdminForm


class AdminChannelMixin:
    """Every write made from these admin pages is stamped with the admin channel in the audit trail."""

    def changeform_view(self, request, *args, **kwargs):
        with audit_context(request.user, Channel.ADMIN):
            return super().changeform_view(request, *args, **kwargs)

    def changelist_view(self, request, *args, **kwargs):  # admin actions run here
        with audit_context(request.user, Channel.ADMIN):
            return super().changelist_view(request, *args, **kwargs)

    def delete_view(self, request, *args, **kwargs):
        with audit_context(request.user, Channel.ADMIN):
            return super().delete_view(request, *args, **kwargs)


@admin.register(Rule)
class RuleAdmin(AdminChannelMixin, admin.ModelAdmin):
    form = RuleAdminForm  # the sanction lists as rows (处分类型, 扣绩效分, 罚款金额, 期限), not JSON
    list_display = [
        "code",
        "title_zh",
        "title_en",
        "category",
        "defaults",
        "performance_points",
        "fine_amount",
        "repeat_threshold",
        "is_active",
    ]
    list_filter = ["category", "is_active"]
    search_fields = ["code", "title_zh", "title_en"]
    actions = ["deactivate", "activate"]

    class Media:
        css = {"all": ["violations/rule_form.css"]}

    def has_delete_permission(self, request, obj=None):
        return False  # a rule in use is deactivated, never deleted

    def save_model(self, request, obj, form, change):
        services.save_rule(obj, acting_user=request.user)

    @admin.display(description=_("默认处分"))
    def defaults(self, obj):
        return str(_("、")).join(str(SanctionKind(s["kind"]).label) for s in obj.default_sanctions)

    @admin.action(description=_("停用所选条款"), permissions=["change"])
    def deactivate(self, request, queryset):
        for rule in queryset.filter(is_active=True):
            rule.is_active = False
            rule.save(update_fields=["is_active", "updated_at"])  # one audit entry per rule

    @admin.action(description=_("启用所选条款"), permissions=["change"])
    def activate(self, request, queryset):
        for rule in queryset.filter(is_active=False):
            rule.is_active = True
            rule.save(update_fields=["is_active", "updated_at"])


@admin.register(CompanySettings)
class CompanySettingsAdmin(AdminChannelMixin, admin.ModelAdmin):
    list_display = [
        "__str__",
        "warnings_per_demerit",
        "demerits_for_dismissal",
        "window_months",
        "appeal_window_workdays",
        "decision_window_workdays",
        "updated_at",
    ]

    def has_add_permission(self, request):
        return not CompanySettings.objects.exists()

    def save_model(self, request, obj, form, change):
        if services.save_company_settings(obj, acting_user=request.user):
            self.message_user(request, _("升级规则已变更,正在为相关员工重新计算升级处分。"), messages.INFO)

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(WorkdayOverride)
class WorkdayOverrideAdmin(AdminChannelMixin, admin.ModelAdmin):
    list_display = ["date", "is_workday", "note"]
    list_filter = ["is_workday"]
    date_hierarchy = "date"


class SanctionInline(admin.TabularInline):
    model = Sanction
    fk_name = "violation"
    extra = 0
    can_delete = False
    fields = [
        "kind",
        "amount",
        "points",
        "days",
        "is_derived",
        "explanation",
        "carried_out_at",
        "withdrawn_at",
        "withdrawn_reason",
    ]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class EvidenceInline(admin.TabularInline):
    model = Evidence
    fk_name = "violation"
    extra = 0
    can_delete = False
    fields = ["download", "file_type", "size", "appeal", "uploaded_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False  # added through the change form's "补充证据" field (checked, audited)

    @admin.display(description=_("文件"))
    def download(self, obj):
        return evidence_links([obj])


def evidence_links(items) -> str:
    """Links that download each file through the scoped evidence view (never a public URL)."""
    return format_html_join(
        mark_safe("<br>"),
        '<a href="{}">{}</a>',
        ((reverse("violations:evidence", args=[e.pk]), e.original_name) for e in items),
    )


class MonthFilter(admin.SimpleListFilter):
    title = _("月份")
    parameter_name = "month"

    def lookups(self, request, model_admin):
        today = timezone.localdate().replace(day=1)
        months = []
        for _i in range(15):
            months.append((today.strftime("%Y-%m"), today.strftime("%Y-%m")))
            today = (today - datetime.timedelta(days=1)).replace(day=1)
        return months

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        try:
            month = datetime.datetime.strptime(self.value(), "%Y-%m").date()
        except ValueError:
            return queryset.none()
        start, end = month_bounds(month)
        return queryset.filter(occurred_at__gte=start, occurred_at__lt=end)


class SanctionKindFilter(admin.SimpleListFilter):
    title = _("处分类型")
    parameter_name = "sanction"

    def lookups(self, request, model_admin):
        return SanctionKind.choices

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        return queryset.with_active_sanction(self.value())


def deadline_with_mark(deadline, provisional: bool):
    """A deadline, with 暂定 when it was computed on a year without the official holiday schedule."""
    if deadline is None:
        return "—"
    if not provisional:
        return deadline.isoformat()
    return format_html(
        '{} <span class="provisional" title="{}">{}</span>',
        deadline.isoformat(),
        _("该年的国家法定放假安排尚未公布,此期限暂按周一至周五计算,公布后可能调整(申诉期限只会延长)。"),
        _("暂定"),
    )


DEPARTMENT_ORDER = "employee__department__name_path"


class ViolationChangeList(ChangeList):
    """Sorted by department, a head's list is bounded to their departments first (visible_departments)."""

    def get_queryset(self, request, exclude_parameters=None):
        qs = super().get_queryset(request, exclude_parameters)
        if any(isinstance(o, str) and o.lstrip("-") == DEPARTMENT_ORDER for o in qs.query.order_by):
            departments = visible_departments(request.user)
            if departments is not None:
                qs = qs.filter(employee__department_id__in=departments)
        return qs


@admin.register(Violation)
class ViolationAdmin(IndexedSearchMixin, AdminChannelMixin, ScopedAdminMixin, DepartedHeaderMixin, admin.ModelAdmin):
    """List, record (add) and act; existing records change only through the actions (services)."""

    list_display = [
        "occurred_at",
        "employee_display",
        "department",
        "rule",
        "group",
        "status",
        "sanction_summary",
        "appeal_deadline_display",
    ]
    list_filter = [
        subtree_filter("employee__department__path"),
        "rule",
        "rule__category",
        "status",
        MonthFilter,
        SanctionKindFilter,
    ]
    list_select_related = ["employee__department", "rule", "group"]
    search_fields = ["employee__name", "employee__employee_no", "rule__code", "description"]
    autocomplete_fields = ["employee", "group"]
    # No date_hierarchy: it ran SELECT DISTINCT date_trunc(…) over the table on every load; the
    # month filter (MonthFilter) is an indexed range. Counts: exact up to 10,000, then estimated.
    list_per_page = 50
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    actions = ["confirm_selected", "confirm_and_sanction", "dismiss_selected", "notify_selected", "removal_done"]

    class Media:
        js = ["violations/record.js"]
        css = {"all": ["violations/record.css"]}

    def get_queryset(self, request):
        active = Sanction.objects.filter(withdrawn_at__isnull=True)
        return super().get_queryset(request).prefetch_related(Prefetch("sanctions", queryset=active, to_attr="active"))

    def header_employee(self, obj):
        return obj.employee

    def get_changelist(self, request, **kwargs):
        return ViolationChangeList

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = AddEvidenceForm if obj is not None else RecordViolationForm
        if obj is not None:
            kwargs["fields"] = ["add_evidence"]
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is None:
            form.acting_user = request.user  # the duplicate warning names the records this user may see
        return form

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [
                (None, {"fields": ["employee", "group", "rule", "occurred_at", "description", "confirm_duplicate"]}),
                (_("处分"), {"fields": ["sanction_kinds", "fine_amount", "removal_days", "apply_now"]}),
                (_("证据"), {"fields": ["evidence"]}),
            ]
        fieldsets = [(None, {"fields": self.get_readonly_fields(request, obj)})]
        if self.has_change_permission(request, obj):  # a view-only user gets no upload field (nor its label)
            fieldsets.append((_("补充证据"), {"fields": ["add_evidence"]}))
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        fields = [
            "employee_display",
            "group",
            "rule",
            "occurred_at",
            "description",
            "status",
            "dismissed_reason",
            "notified_at",
            "appeal_deadline_display",
            "channel",
            "created_at",
        ]
        if scope_for(request.user).everything:
            # never for heads, group admins or the employee
            fields += ["reporter_display", "recorded_by_display", "report_count_display", "duplicates_display"]
        if request.user.has_perm("violations.view_appeal") and Appeal.objects.filter(violation=obj).exists():
            fields.append("appeal_link")
        if Detection.objects.filter(violation=obj).exists():
            fields.append("detection_evidence")
        return fields

    @admin.display(description=_("检测证据"))
    def detection_evidence(self, obj):
        """The messages that fired the detection, with context, as saved when detected (kept after
        the bodies are purged); links to the live messages while they exist (opening one is audited)."""
        detection = Detection.objects.get(violation=obj)
        viewer = getattr(obj, "_evidence_viewer", None)
        readable = viewer is None or ChatGroup.objects.visible_to(viewer).filter(pk=detection.group_id).exists()
        if not readable:
            # A head sees their employee's violation in a group outside their scope: the employee's own
            # lines only, not the other members' messages they may not read (the message scope).
            detection.excerpt = [_own_line_or_masked(line, detection.sender_platform_id) for line in detection.excerpt]
        html = render_to_string("violations/_detection_evidence.html", {"detection": detection})
        if not readable:
            return mark_safe(html)  # the template escaped it; no links to messages they cannot open
        live = list(
            ChatMessage.objects.filter(pk__in=detection.message_ids)
            .order_by("sent_at", "pk")
            .values_list("pk", flat=True)[:20]
        )
        links = format_html_join(
            " ",
            '<a href="{}">#{}</a>',
            ((reverse("admin:groups_chatmessage_change", args=[pk]), pk) for pk in live),
        )
        if live:
            html += format_html('<p class="small">{} {}</p>', _("原始消息:"), links)
        return mark_safe(html)

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is not None:
            obj._evidence_viewer = request.user  # whose message scope the evidence follows
        return obj

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        if request.method == "GET" and getattr(response, "status_code", 0) == 200:
            detection = Detection.objects.filter(violation_id=object_id).first() if str(object_id).isdigit() else None
            if detection is not None:  # the excerpt is message content: reading it is an audited access
                log_access(request.user, detection, "view", detail="检测证据")
        return response

    def get_list_display(self, request):
        if scope_for(request.user).everything:  # ×N says it was reported anonymously: HR and auditors only
            return [*self.list_display, "report_count_display"]
        return self.list_display

    @admin.display(description=_("可能重复"))
    def duplicates_display(self, obj):
        """Other records that look like the same incident (HR and auditors only: the scope is everything)."""
        from ..services.records import duplicate_summary, duplicate_window

        found = Violation.objects.exclude(pk=obj.pk).likely_duplicates(
            employee=obj.employee,
            rule=obj.rule,
            group=obj.group,
            occurred_at=obj.occurred_at,
            description=obj.description,
            window=duplicate_window(),
        )
        if not found:
            return "—"
        return format_html_join(
            mark_safe("<br>"),
            '<a href="{}">{}</a>',
            ((reverse("admin:violations_violation_change", args=[v.pk]), duplicate_summary(v)) for v in found),
        )

    @admin.display(description=_("举报次数"), ordering="report_count")
    def report_count_display(self, obj):
        if obj.report_count <= 1:
            return "—"
        return format_html(
            '<span class="report-count" title="{}">{}</span>',
            _("同样内容的匿名举报已合并为这一条,不记录举报人"),
            _("同一举报 ×%(n)s") % {"n": obj.report_count},
        )

    def get_inlines(self, request, obj):
        return [SanctionInline, EvidenceInline] if obj is not None else []

    @admin.display(description=_("申诉截止日"), ordering="appeal_deadline")
    def appeal_deadline_display(self, obj):
        return deadline_with_mark(obj.appeal_deadline, obj.appeal_deadline_provisional)

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return scope_for(request.user).is_hr and super().has_change_permission(request, obj)

    @admin.display(description=_("员工"), ordering="employee__name")
    def employee_display(self, obj):
        return employee_html(obj.employee)

    @admin.display(description=_("申诉"))
    def appeal_link(self, obj):
        appeal = obj.appeal
        url = reverse("admin:violations_appeal_decide", args=[appeal.pk])
        label = _("裁决申诉") if appeal.status == AppealStatus.PENDING else _("查看裁决")
        return format_html('{} · <a href="{}">{}</a>', appeal.get_status_display(), url, label)

    @admin.display(description=_("举报人"))
    def reporter_display(self, obj):
        if obj.is_anonymous:
            return _("匿名")
        return user_html(obj.reporter)

    @admin.display(description=_("记录人"))
    def recorded_by_display(self, obj):
        return user_html(obj.recorded_by)

    @admin.display(description=_("部门"), ordering=DEPARTMENT_ORDER)
    def department(self, obj):
        return obj.employee.department

    @admin.display(description=_("处分"))
    def sanction_summary(self, obj):
        return format_html_join(_("、"), "{}", ((str(s),) for s in obj.active)) or "—"

    def save_model(self, request, obj, form, change):
        if change:
            services.add_evidence(obj, form.cleaned_data["add_evidence"], acting_user=request.user)
            return
        data = form.cleaned_data
        created = services.record_violation(
            data["employee"],
            data["rule"],
            data["occurred_at"],
            data["description"],
            acting_user=request.user,
            group=data["group"],
            evidence_files=data["evidence"],
            confirmed=data["apply_now"],
        )
        if data["apply_now"]:
            services.apply_sanctions(created, form.sanction_specs(), acting_user=request.user)
        obj.pk, obj._state.adding = created.pk, False

    def save_related(self, request, form, formsets, change):
        # Everything was written by the services in save_model; the inlines are read-only. Saving
        # without commit only fills the lists the admin's change message reads.
        for formset in formsets:
            formset.save(commit=False)

    def _each(self, request, queryset, label, call) -> None:
        done, errors = 0, []
        for violation in queryset:
            try:
                call(violation)
                done += 1
            except (ValidationError, PermissionDenied) as exc:
                errors.append(f"{violation}: {'; '.join(getattr(exc, 'messages', [str(exc)]))}")
        if done:
            self.message_user(request, _("%(label)s: %(n)s 条") % {"label": label, "n": done}, messages.SUCCESS)
        for error in errors:
            self.message_user(request, error, messages.ERROR)

    @admin.action(description=_("确认(已举报/待核实 → 已确认)"), permissions=["change"])
    def confirm_selected(self, request, queryset):
        self._each(request, queryset, _("已确认"), lambda v: services.confirm_violation(v, acting_user=request.user))

    @admin.action(description=_("确认并按条款默认处分"), permissions=["change"])
    def confirm_and_sanction(self, request, queryset):
        def call(violation):
            if violation.status in (ViolationStatus.REPORTED, ViolationStatus.SUSPECTED):
                services.confirm_violation(violation, acting_user=request.user)
            services.apply_sanctions(violation, acting_user=request.user)

        self._each(request, queryset, _("已确认并处分"), call)

    @admin.action(description=_("不予处理(需填写理由)"), permissions=["change"])
    def dismiss_selected(self, request, queryset):
        form = ReasonForm(request.POST if "reason" in request.POST else None)
        if form.is_valid():
            reason = form.cleaned_data["reason"]
            self._each(
                request,
                queryset,
                _("不予处理"),
                lambda v: services.dismiss_violation(v, reason, acting_user=request.user),
            )
            return None
        return self._reason_page(request, queryset, form, "dismiss_selected", _("不予处理"))

    def _reason_page(self, request, queryset, form, action, title):
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "form": form,
            "objects": queryset,
            "action": action,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/violations/reason_form.html", context)

    @admin.action(description=_("已通知员工(开始申诉期)"), permissions=["change"])
    def notify_selected(self, request, queryset):
        self._each(request, queryset, _("已通知"), lambda v: services.mark_notified(v, acting_user=request.user))

    @admin.action(description=_("登记已清出群/已禁言"), permissions=["change"])
    def removal_done(self, request, queryset):
        def call(violation):
            pending = violation.sanctions.filter(
                kind__in=[SanctionKind.REMOVAL, SanctionKind.MUTE],
                withdrawn_at__isnull=True,
                carried_out_at__isnull=True,
            )
            if not pending.exists():
                raise ValidationError(_("没有待执行的清出群或禁言。"))
            for sanction in pending:
                services.record_removal_done(sanction, acting_user=request.user)

        self._each(request, queryset, _("已登记执行"), call)


@admin.register(Sanction)
class SanctionAdmin(IndexedSearchMixin, AdminChannelMixin, ScopedAdminMixin, DepartedHeaderMixin, admin.ModelAdmin):
    """All sanctions: e.g. the removals still to carry out. Read-only; decisions go through violations."""

    list_display = [
        "violation",
        "employee_display",
        "kind",
        "amount",
        "points",
        "is_derived",
        "carried_out_at",
        "withdrawn_at",
    ]
    PEOPLE = {
        "employee": "employee_display",
        "carried_out_by": "carried_out_by_display",
        "created_by": "created_by_display",
    }
    list_filter = [
        subtree_filter("employee__department__path"),
        "kind",
        "is_derived",
        ("carried_out_at", admin.EmptyFieldListFilter),
        ("withdrawn_at", admin.EmptyFieldListFilter),
    ]
    list_select_related = ["violation__rule", "violation__employee", "employee"]
    search_fields = ["employee__name", "employee__employee_no", "ladder_step"]
    actions = ["removal_done"]
    paginator = EstimatedCountPaginator
    show_full_result_count = False

    def header_employee(self, obj):
        return obj.employee

    @admin.display(description=_("员工"), ordering="employee__name")
    def employee_display(self, obj):
        return employee_html(obj.employee)

    @admin.display(description=_("执行人"))
    def carried_out_by_display(self, obj):
        return user_html(obj.carried_out_by) if obj.carried_out_by_id else "—"

    @admin.display(description=_("创建人"))
    def created_by_display(self, obj):
        return user_html(obj.created_by) if obj.created_by_id else "—"

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        return [self.PEOPLE.get(f.name, f.name) for f in Sanction._meta.fields] + ["caused_by"]

    @admin.action(description=_("登记已清出群/已禁言"), permissions=["change"])
    def removal_done(self, request, queryset):
        for sanction in queryset:
            try:
                services.record_removal_done(sanction, acting_user=request.user)
            except (ValidationError, PermissionDenied) as exc:
                self.message_user(request, f"{sanction}: {'; '.join(exc.messages)}", messages.ERROR)


class OverdueFilter(admin.SimpleListFilter):
    title = _("逾期")
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return [("yes", _("裁决已逾期")), ("late", _("逾期提交"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.overdue()
        if self.value() == "late":
            return queryset.filter(filed_late=True)
        return queryset


@admin.register(Appeal)
class AppealAdmin(AdminChannelMixin, ScopedAdminMixin, DepartedHeaderMixin, admin.ModelAdmin):
    """Appeals are decided on their decision page (the facts, both outcomes, the buttons), one at a time."""

    list_display = [
        "violation",
        "employee",
        "filed_at",
        "on_behalf",
        "filed_late",
        "decision_due_display",
        "overdue",
        "status",
        "decision_link",
    ]
    list_filter = [subtree_filter("violation__employee__department__path"), "status", OverdueFilter]
    list_select_related = ["violation__employee", "violation__rule"]
    search_fields = ["violation__employee__name", "violation__employee__employee_no", "statement"]
    # Each page's ids first, from the appeals alone (joined, the planner scanned all 1M violations
    # to sort 22k appeals: 0.5 s), and one bounded count, not a second one of the whole table.
    paginator = ListPaginator
    show_full_result_count = False
    PEOPLE = {"filed_by": "filed_by_display", "decided_by": "decided_by_display"}

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        names = {"decision_due": "decision_due_display", **self.PEOPLE}
        fields = [names.get(f.name, f.name) for f in Appeal._meta.fields]
        return [fields[0], "employee", *fields[1:], "attachments"]

    def header_employee(self, obj):
        return obj.violation.employee

    def get_urls(self):
        view = self.admin_site.admin_view(self.decide_view)
        return [path("<path:object_id>/decide/", view, name="violations_appeal_decide"), *super().get_urls()]

    @admin.display(description=_("员工"), ordering="violation__employee__name")
    def employee(self, obj):
        return employee_html(obj.violation.employee)

    @admin.display(description=_("提交人"))
    def filed_by_display(self, obj):
        return user_html(obj.filed_by)

    @admin.display(description=_("裁决人"))
    def decided_by_display(self, obj):
        return user_html(obj.decided_by) if obj.decided_by_id else "—"

    @admin.display(description=_("申诉附件"))
    def attachments(self, obj):
        return evidence_links(obj.evidence.all()) or _("无附件")

    @admin.display(description=_("裁决截止日"), ordering="decision_due")
    def decision_due_display(self, obj):
        return deadline_with_mark(obj.decision_due, obj.decision_due_provisional)

    @admin.display(description=_("裁决逾期"), boolean=True)
    def overdue(self, obj):
        return obj.is_overdue()

    @admin.display(description=_("裁决"))
    def decision_link(self, obj):
        label = _("裁决") if obj.status == AppealStatus.PENDING else _("查看")
        url = reverse("admin:violations_appeal_decide", args=[obj.pk])
        return format_html('<a class="button" href="{}">{}</a>', url, label)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra = {"decide_url": reverse("admin:violations_appeal_decide", args=[object_id])}
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    def decide_view(self, request, object_id):
        """裁决申诉: the statement, its attachments, the violation and its evidence, what upholding and
        overturning would do, and (HR, pending) the decision buttons. Read-only for auditors and heads."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        appeal = self.get_object(request, object_id)  # 404 outside the user's scope
        can_decide = appeal.status == AppealStatus.PENDING and self.has_change_permission(request, appeal)
        can_decide = can_decide and scope_for(request.user).is_hr
        form = DecisionForm(request.POST or None)
        if request.method == "POST":
            if not can_decide:
                raise PermissionDenied
            if form.is_valid():
                try:
                    services.decide_appeal(
                        appeal,
                        form.cleaned_data["outcome"],
                        form.cleaned_data["reason"],
                        acting_user=request.user,
                        channel=Channel.ADMIN,
                    )
                except ValidationError as exc:
                    form.add_error(None, exc.messages)
                else:
                    appeal.refresh_from_db()
                    self.message_user(
                        request, _("申诉已裁决:%(s)s") % {"s": appeal.get_status_display()}, messages.SUCCESS
                    )
                    return redirect("admin:violations_appeal_decide", appeal.pk)
        violation = (
            Violation.objects.select_related("employee__department", "rule", "group", "recorded_by__employee")
            .prefetch_related(Prefetch("sanctions", queryset=Sanction.objects.order_by("pk")))
            .get(pk=appeal.violation_id)
        )
        evidence = list(Evidence.objects.filter(violation=violation).order_by("uploaded_at", "pk"))
        context = {
            **self.admin_site.each_context(request),
            "title": _("裁决申诉"),
            "subtitle": str(violation.employee),
            "opts": self.model._meta,
            "appeal": appeal,
            "violation": violation,
            "attachments": [e for e in evidence if e.appeal_id == appeal.pk],
            "evidence": [e for e in evidence if e.appeal_id != appeal.pk],
            "consequences": services.appeal_consequences(appeal) if appeal.status == AppealStatus.PENDING else None,
            "form": form,
            "can_decide": can_decide,
            "has_view_permission": True,
        }
        return TemplateResponse(request, "admin/violations/appeal/decide.html", context)


# --- Report export from the violation list (the selection, or every row of the filtered list) ------


@admin.action(description=_("导出所选违规记录(CSV)"), permissions=["view"])
def export_selected_csv(modeladmin, request, queryset):
    """Stream the selection (scoped by the admin's queryset) as the CSV report; audited."""
    from ..reports import ReportParams
    from ..reports.views import csv_response

    ids = tuple(queryset.values_list("pk", flat=True))
    params = ReportParams(ids=ids)
    filters = {"admin_filters": request.GET.dict(), "selected": len(ids)}
    return csv_response(
        queryset,
        user=request.user,
        filename=f"{_('违规报表')}_{params.slug()}.csv",
        encoding="utf-8-sig",
        description=params.describe(),
        filters=filters,
        channel=Channel.ADMIN,
    )


@admin.action(description=_("导出所选违规记录(Excel,后台生成)"), permissions=["view"])
def export_selected_xlsx(modeladmin, request, queryset):
    """Build the selection's XLSX in the background and open its progress page."""
    from django.conf import settings
    from django.shortcuts import redirect

    from ..reports import ReportParams
    from ..reports.jobs import ExportQueueUnavailable, request_export

    ids = tuple(queryset.values_list("pk", flat=True)[: settings.QUNGUI_EXPORT_ADMIN_MAX_IDS + 1])
    if len(ids) > settings.QUNGUI_EXPORT_ADMIN_MAX_IDS:
        message = _("所选记录超过 %(n)s 条,请在“导出违规报表”页面按月份导出。")
        modeladmin.message_user(request, message % {"n": settings.QUNGUI_EXPORT_ADMIN_MAX_IDS}, messages.ERROR)
        return None
    try:
        job = request_export(ReportParams(ids=ids), file_format="xlsx", acting_user=request.user)
    except ExportQueueUnavailable as exc:
        modeladmin.message_user(request, str(exc), messages.ERROR)
        return None
    return redirect("violations:export_job", pk=job.pk)


ViolationAdmin.actions = [*ViolationAdmin.actions, export_selected_csv, export_selected_xlsx]


@admin.register(GroupDetectionSettings)
class GroupDetectionSettingsAdmin(AdminChannelMixin, admin.ModelAdmin):
    """A group's own quiet hours for detection (B06); HR's (audited: django-auditlog)."""

    list_display = ["group", "quiet_hours_start", "quiet_hours_end", "quiet_hours_off", "updated_at"]
    list_select_related = ["group"]
    autocomplete_fields = ["group"]
    search_fields = ["group__name"]

    def has_view_permission(self, request, obj=None):
        return scope_for(request.user).everything and super().has_view_permission(request, obj)


class DetectionChunkInline(admin.TabularInline):
    """The run's chunks of groups: which ran where, how often, with what result."""

    model = DetectionChunk
    extra = 0
    can_delete = False
    fields = ["index", "status", "group_count", "worker", "attempts", "started_at", "finished_at", "errors"]
    readonly_fields = fields

    @admin.display(description=_("群数"))
    def group_count(self, obj):
        return len(obj.group_ids or [])

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(DetectionRun)
class DetectionRunAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    """The record of each detection run: window, counts per detector, status, errors, its chunks."""

    list_display = ["pk", "trigger", "status", "chunk_progress", "since", "until", "started_at", "finished_at",
                    "total_new"]  # fmt: skip
    list_filter = ["status", "trigger"]
    readonly_fields = ["since", "until", "group_ids", "trigger", "status", "chunk_progress", "detectors", "as_of",
                       "started_at", "finished_at", "counts", "errors", "created_by"]  # fmt: skip
    fields = readonly_fields
    inlines = [DetectionChunkInline]

    def get_queryset(self, request):
        ended = Q(chunks__status__in=[ChunkStatus.DONE, ChunkStatus.FAILED])
        return (
            super()
            .get_queryset(request)
            .annotate(chunks_total=Count("chunks"), chunks_ended=Count("chunks", filter=ended))
        )

    @admin.display(description=_("分块进度"))
    def chunk_progress(self, obj):
        total, ended = getattr(obj, "chunks_total", 0), getattr(obj, "chunks_ended", 0)
        if not total:
            return "—"
        return format_html('<progress max="{}" value="{}"></progress> {} / {}', total, ended, ended, total)


def _own_line_or_masked(line: dict, sender_id: str) -> dict:
    if line.get("sender_id") == sender_id and sender_id:
        return line
    return {**line, "sender": str(_("其他成员")), "text": "", "kind_label": str(_("无权查看的消息")), "recalled": False}


@admin.register(Detection)
class DetectionAdmin(UnfilterableFieldsMixin, ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    """Every hit, with or without a suspicion (an unmatched sender makes none): scoped, read-only."""

    unfilterable_fields = ("excerpt", "details", "messages")

    list_display = ["occurred_at", "detector", "rule", "group", "sender", "violation_link"]
    list_filter = ["detector", "rule"]
    list_select_related = ["rule", "group", "employee", "violation"]
    search_fields = ["sender_platform_id", "sender_name", "employee__name"]
    readonly_fields = ["detector", "rule", "group", "employee", "sender_platform_id", "sender_name", "occurred_at",
                       "reason", "details", "evidence", "violation_link", "run", "created_at",
                       "excerpt_purged_at"]  # fmt: skip
    fields = readonly_fields

    @admin.display(description=_("发送人"))
    def sender(self, obj):
        return str(obj.employee) if obj.employee_id else (obj.sender_name or obj.sender_platform_id)

    @admin.display(description=_("违规记录"))
    def violation_link(self, obj):
        if obj.violation_id is None:
            return _("未匹配到员工")
        url = reverse("admin:violations_violation_change", args=[obj.violation_id])
        return format_html('<a href="{}">#{}</a>', url, obj.violation_id)

    @admin.display(description=_("证据摘录"))
    def evidence(self, obj):
        return render_to_string("violations/_detection_evidence.html", {"detection": obj})

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        if request.method == "GET" and getattr(response, "status_code", 0) == 200:
            obj = self.get_object(request, object_id)
            if obj is not None:
                log_access(request.user, obj, "view", detail="检测证据")
        return response
