"""HR admin screens for the organisation: departments, employees, chat groups, memberships."""

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from import_export.admin import ExportMixin
from treebeard.admin import TreeAdmin
from treebeard.forms import movenodeform_factory

from portal.admin_lists import EstimatedCountPaginator, IndexedSearchMixin
from portal.admin_mixins import ReadOnlyAdminMixin, ScopedAdminMixin
from portal.audit import log_access
from portal.scoping import scope_for

from . import reconcile, services, tasks
from .admin_filters import DepartmentSubtreeListFilter, subtree_filter
from .models import (
    ChatGroup,
    Department,
    Employee,
    ImportJob,
    MemberRestriction,
    Membership,
    ReconcileRun,
    RosterFinding,
    RosterSettings,
    WeComTransfer,
)
from .people import DepartedHeaderMixin, departed_badge, employee_html, user_html
from .resources import ChatGroupExportResource, EmployeeExportResource, MembershipExportResource


class ServiceWriteMixin:
    """Admin saves and deletes go through the app's services, as every other caller's do.

    The form validates; the service writes (its validation, side effects such as ``dissolved_at``,
    and the audit actor). ``service_m2m`` names many-to-many fields the update service takes.
    """

    create_service = update_service = delete_service = None
    service_m2m: tuple[str, ...] = ()

    def _service_fields(self, form) -> dict:
        concrete = {f.name for f in self.model._meta.concrete_fields}
        return {name: value for name, value in form.cleaned_data.items() if name in concrete}

    def save_model(self, request, obj, form, change):
        fields = self._service_fields(form)
        if change:
            current = self.model._default_manager.get(pk=obj.pk)
            saved = self.update_service(current, acting_user=request.user, **fields)
        else:
            saved = self.create_service(acting_user=request.user, **fields)
        obj.pk = saved.pk
        obj.refresh_from_db()

    def save_related(self, request, form, formsets, change):
        m2m = {name: form.cleaned_data[name] for name in self.service_m2m if name in form.cleaned_data}
        if m2m:
            self.update_service(form.instance, acting_user=request.user, **m2m)
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def delete_model(self, request, obj):
        self.delete_service(obj, acting_user=request.user)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_service(obj, acting_user=request.user)


@admin.register(Department)
class DepartmentAdmin(ScopedAdminMixin, TreeAdmin):
    form = movenodeform_factory(Department, fields=["name", "code", "head", "wecom_webhook_url"])
    list_display = ["name", "name_path", "head_display", "employee_count"]
    search_fields = ["name", "name_path", "code"]
    autocomplete_fields = ["head"]

    def get_queryset(self, request):
        if self._at_top_of_tree(request) and not scope_for(request.user).everything:
            # Instead of TreeAdmin's root nodes (which such a user cannot see).
            request._treebeard_parent = None
            qs = Department.objects.filter(pk__in=self._visible_tops(request.user))
        else:
            qs = super().get_queryset(request)
        return qs.select_related("head").annotate(_employees=Count("employees", filter=Q(employees__status="active")))

    def _at_top_of_tree(self, request) -> bool:
        # TreeAdmin lists the root nodes first (``_treebeard_parent_id`` None, no search or filter).
        return (
            hasattr(request, "_treebeard_parent_id")
            and request._treebeard_parent_id is None
            and not getattr(request, "_ignore_treebeard_filters", False)
            and not self.is_filtered(request)
        )

    @staticmethod
    def _visible_tops(user) -> list[int]:
        """A department head's tree starts at the departments they head, not at the company root
        (which they may not see): the visible departments whose parent is not visible."""
        visible = dict(Department.objects.visible_to(user).order_by().values_list("path", "pk"))
        step = Department.steplen
        return [pk for path, pk in visible.items() if path[:-step] not in visible]

    @admin.display(description=_("在职人数"), ordering="_employees")
    def employee_count(self, obj):
        return obj._employees

    @admin.display(description=_("负责人"), ordering="head__name")
    def head_display(self, obj):
        return employee_html(obj.head) if obj.head_id else "—"

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        # A move changes the tree path but not name_path: recompute it for the node and below.
        obj.refresh_from_db()
        obj.save()


@admin.register(Employee)
class EmployeeAdmin(
    IndexedSearchMixin, ServiceWriteMixin, ScopedAdminMixin, DepartedHeaderMixin, ExportMixin, admin.ModelAdmin
):
    create_service = staticmethod(services.create_employee)
    update_service = staticmethod(services.update_employee)
    delete_service = staticmethod(services.delete_employee)
    resource_classes = [EmployeeExportResource]
    change_list_template = "groups/admin/change_list_import.html"  # adds the roster import button
    list_display = ["employee_no", "name_display", "department", "title", "status", "hire_date", "departure_date"]
    # hire_date: the date filter's fixed ranges, not a date hierarchy (a DISTINCT over the table per load)
    list_filter = [DepartmentSubtreeListFilter, "status", "hire_date"]
    # IndexedSearchMixin: memberships__nickname is a semi-join (no join into the list, no DISTINCT)
    search_fields = ["employee_no", "name", "wechat_id", "wecom_id", "memberships__nickname"]
    search_help_text = _("按工号、姓名、微信号或群昵称搜索")
    autocomplete_fields = ["department", "user"]
    list_select_related = ["department"]
    readonly_fields = ["anonymized_at", "created_at", "updated_at"]
    list_per_page = 50
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    fieldsets = [
        (None, {"fields": ["employee_no", "name", "department", "title", "status"]}),
        (_("日期"), {"fields": ["hire_date", "departure_date"]}),
        (_("账号"), {"fields": ["wechat_id", "wecom_id", "qq_id", "dingtalk_id", "email", "user"]}),
        (_("记录"), {"fields": ["anonymized_at", "created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("department")  # the pickers' label names it

    def header_employee(self, obj):
        return obj

    @admin.display(description=_("姓名"), ordering="name")
    def name_display(self, obj):
        return format_html("{} {}", obj.name, departed_badge()) if obj.is_departed else obj.name

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        # PIPL: opening a person's record is an access to personal data; record it once per GET
        # (a POST is a write, which django-auditlog records on its own).
        if request.method == "GET" and getattr(response, "status_code", None) == 200:
            employee = (getattr(response, "context_data", None) or {}).get("original")
            if employee is not None:
                log_access(request.user, employee, "view", detail="admin")
        return response


@admin.register(ChatGroup)
class ChatGroupAdmin(ServiceWriteMixin, ScopedAdminMixin, ExportMixin, admin.ModelAdmin):
    create_service = staticmethod(services.create_chat_group)
    update_service = staticmethod(services.update_chat_group)
    delete_service = staticmethod(services.delete_chat_group)
    service_m2m = ("admins",)
    resource_classes = [ChatGroupExportResource]
    change_list_template = "groups/admin/change_list_import.html"  # adds the roster import button
    list_display = [
        "name",
        "platform",
        "kind",
        "department",
        "owner_display",
        "member_count",
        "outsider_count",
        "status",
        "approved",
    ]
    list_filter = [DepartmentSubtreeListFilter, "platform", "kind", "status", "admits_outsiders"]
    search_fields = ["name", "external_id", "owner__name", "department__name"]
    autocomplete_fields = ["department", "owner", "admins", "approved_by"]
    list_select_related = ["department", "owner"]
    # The member-count annotations drop Meta.ordering; the autocomplete (violation form) pages this queryset.
    ordering = ["name", "pk"]
    list_per_page = 50
    paginator = EstimatedCountPaginator
    # The change page shows a bounded preview of the members and links to the membership list (a
    # 500-member group as an inline was 964 queries and megabytes of HTML).
    readonly_fields = ["members_preview"]
    MEMBER_PREVIEW = 20
    fieldsets = [
        (None, {"fields": ["name", "platform", "kind", "external_id", "wecom_chat_type", "department", "purpose"]}),
        (_("管理"), {"fields": ["owner", "admins", "nickname_convention", "admits_outsiders", "wecom_webhook_url"]}),
        (
            _("审批与状态"),
            {"fields": ["approved_by", "approved_at", "filing_ref", "status", "end_date", "dissolved_at"]},
        ),
    ]

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        return [*fieldsets, (_("成员"), {"fields": ["members_preview"]})] if obj is not None else fieldsets

    def get_queryset(self, request):
        # Counted per listed row (a correlated subquery on the group's open rows), not by joining
        # every membership and grouping the whole table before the page is cut.
        def open_count(**extra):
            rows = Membership.objects.filter(group=OuterRef("pk"), left_at__isnull=True, **extra).order_by()
            return Coalesce(Subquery(rows.values("group").annotate(n=Count("pk")).values("n")), 0)

        return super().get_queryset(request).annotate(_members=open_count(), _outsiders=open_count(employee=None))

    @admin.display(description=_("成员"))
    def members_preview(self, obj):
        members = obj.memberships.filter(left_at__isnull=True)
        total = members.count()
        shown = list(members.select_related("employee").order_by("group_id", "nickname", "-id")[: self.MEMBER_PREVIEW])
        url = reverse("admin:groups_membership_changelist") + f"?group__id__exact={obj.pk}&open=yes"
        return render_to_string("groups/admin/members_preview.html", {"members": shown, "total": total, "url": url})

    @admin.display(description=_("群主"), ordering="owner__name")
    def owner_display(self, obj):
        return employee_html(obj.owner) if obj.owner_id else "—"

    @admin.display(description=_("成员数"), ordering="_members")
    def member_count(self, obj):
        return obj._members

    @admin.display(description=_("外部人员"), ordering="_outsiders")
    def outsider_count(self, obj):
        return obj._outsiders

    @admin.display(description=_("已审批"), boolean=True, ordering="approved_at")
    def approved(self, obj):
        return obj.is_approved


class OpenFilter(admin.SimpleListFilter):
    title = _("在群状态")
    parameter_name = "open"

    def lookups(self, request, model_admin):
        return [("yes", _("在群")), ("no", _("已退群"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(left_at__isnull=True)
        if self.value() == "no":
            return queryset.filter(left_at__isnull=False)
        return queryset


class MatchFilter(admin.SimpleListFilter):
    title = _("人员")
    parameter_name = "who"

    def lookups(self, request, model_admin):
        return [("outsider", _("非本公司人员")), ("departed", _("离职员工")), ("active", _("在职员工"))]

    def queryset(self, request, queryset):
        if self.value() == "outsider":
            return queryset.filter(employee__isnull=True)
        if self.value() == "departed":
            return queryset.filter(employee__status="departed")
        if self.value() == "active":
            return queryset.filter(employee__status="active")
        return queryset


@admin.register(Membership)
class MembershipAdmin(IndexedSearchMixin, ScopedAdminMixin, DepartedHeaderMixin, ExportMixin, admin.ModelAdmin):
    resource_classes = [MembershipExportResource]
    change_list_template = "groups/admin/change_list_import.html"  # adds the roster import button
    list_display = ["nickname", "group", "employee_display", "platform_id", "is_admin", "joined_at", "left_at"]
    list_filter = [
        OpenFilter,
        MatchFilter,
        subtree_filter("group__department__path", _("群所属部门(含下级)")),
        "group__platform",
        "is_admin",
    ]
    search_fields = ["nickname", "platform_id", "employee__name", "employee__employee_no", "group__name"]
    autocomplete_fields = ["group", "employee", "invited_by"]
    list_select_related = ["group", "employee"]
    list_per_page = 50
    paginator = EstimatedCountPaginator
    show_full_result_count = False

    def header_employee(self, obj):
        return obj.employee

    @admin.display(description=_("员工"), ordering="employee__name")
    def employee_display(self, obj):
        return employee_html(obj.employee) if obj.employee_id else _("非本公司人员")


# An import record is the record: cancelled with a reason (action), never deleted.
@admin.register(ImportJob)
class ImportJobAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["original_name", "kind", "status", "total_rows", "created_by", "created_at", "finished_at"]
    list_filter = ["kind", "status"]
    # The JSON columns are shown as the import pages show them (tables with Chinese labels), never raw.
    readonly_fields = [
        {
            "preview": "preview_table",
            "summary": "summary_table",
            "errors": "errors_list",
            "create_departments": "create_departments_text",
        }.get(f.name, f.name)
        for f in ImportJob._meta.fields
    ]
    fields = readonly_fields  # not the raw JSON columns the form would add
    list_select_related = ["created_by"]
    actions = ["cancel_with_reason"]

    @admin.display(description=_("结果"))
    def summary_table(self, obj):
        summary = obj.summary or (obj.preview or {}).get("summary")
        if not summary:
            return "-"
        return render_to_string("groups/_import_summary.html", {"job": obj, "summary": summary})

    @admin.display(description=_("预览"))
    def preview_table(self, obj):
        if not obj.preview:
            return "-"
        return render_to_string("groups/_import_preview.html", {"job": obj, "preview": obj.preview, "record": True})

    @admin.display(description=_("新建部门"))
    def create_departments_text(self, obj):
        return _("是") if obj.create_departments else _("否")

    @admin.display(description=_("错误"))
    def errors_list(self, obj):
        if not obj.errors:
            return "-"
        items = format_html_join("", "<li>{}</li>", ((e,) for e in obj.errors))
        return format_html('<ul class="errorlist">{}</ul>', items)

    def has_cancel_permission(self, request):
        return request.user.has_perm("groups.change_importjob")

    @admin.action(description=_("取消导入(需填写原因)"), permissions=["cancel"])
    def cancel_with_reason(self, request, queryset):
        form = CancelImportForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            reason = form.cleaned_data["reason"]
            cancelled = sum(
                services.cancel_import(job, acting_user=request.user, reason=reason) for job in queryset.order_by("pk")
            )
            self.message_user(request, _("已取消 %(n)d 个导入。") % {"n": cancelled}, messages.SUCCESS)
            if cancelled < len(queryset):
                self.message_user(request, _("已导入或已结束的导入不能取消。"), messages.WARNING)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": _("取消导入"),
            "opts": self.model._meta,
            "form": form,
            "jobs": queryset,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/groups/importjob/cancel.html", context)


class CancelImportForm(forms.Form):
    reason = forms.CharField(label=_("取消原因"), widget=forms.Textarea(attrs={"rows": 3}), max_length=1000)


class FindingAgeFilter(admin.SimpleListFilter):
    """How long a finding has been known (首次发现至今)."""

    title = _("发现时长")
    parameter_name = "age"
    AGES = {"1d": 1, "3d": 3, "7d": 7, "30d": 30}

    def lookups(self, request, model_admin):
        return [
            ("1d", _("超过1天")),
            ("3d", _("超过3天")),
            ("7d", _("超过7天")),
            ("30d", _("超过30天")),
        ]

    def queryset(self, request, queryset):
        days = self.AGES.get(self.value() or "")
        return queryset.older_than(timedelta(days=days)) if days else queryset


class WaiveForm(forms.Form):
    reason = forms.CharField(label=_("豁免原因"), widget=forms.Textarea(attrs={"rows": 3}), max_length=1000)


# A finding's page shows every column read-only; people as 姓名(工号) (marked 离职), not login names,
# and 最近发现 as the latest run that saw it.
_FINDING_DISPLAY = {"employee": "employee_display", "resolved_by": "resolved_by_display", "last_seen_at": "last_seen"}


class WeComTransferInline(admin.TabularInline):
    """What WeCom answered each time this finding's group was handed over by API (离职继承)."""

    model = WeComTransfer
    extra = 0
    can_delete = False
    fields = ["attempted_at", "new_owner_userid", "status", "errcode", "explanation", "errmsg", "attempted_by"]
    readonly_fields = fields
    verbose_name = _("企业微信群主转让")
    verbose_name_plural = _("企业微信群主转让记录")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("说明"))
    def explanation(self, obj):
        return obj.explanation


@admin.register(RosterFinding)
class RosterFindingAdmin(IndexedSearchMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = [
        "kind",
        "group",
        "subject",
        "detail",
        "status",
        "first_seen_at",
        "last_seen",
        "escalated_at",
        "resolved_by_display",
    ]
    list_filter = [
        "kind",
        "status",
        subtree_filter("group__department__path", _("群所属部门(含下级)")),
        "group__platform",
        FindingAgeFilter,
    ]
    search_fields = ["group__name", "employee__name", "employee__employee_no", "membership__nickname"]
    list_select_related = ["group", "employee", "membership", "resolved_by__employee"]
    # Every column is the record of what reconciliation found: none is edited by hand (最近发现 included).
    readonly_fields = [_FINDING_DISPLAY.get(f.name, f.name) for f in RosterFinding._meta.fields]
    fields = readonly_fields
    actions = ["mark_removed", "waive"]
    inlines = [WeComTransferInline]
    list_per_page = 50
    paginator = EstimatedCountPaginator
    show_full_result_count = False

    def get_queryset(self, request):
        return super().get_queryset(request).with_last_seen()

    @admin.display(description=_("最近发现"), ordering="seen_at")
    def last_seen(self, obj):
        return obj.seen_at

    def has_add_permission(self, request):
        return False  # findings come from reconciliation only

    def has_delete_permission(self, request, obj=None):
        return False  # the record: HR waives a finding with a reason instead

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_reconcile": self.has_change_permission(request),
            "last_reconcile": ReconcileRun.latest_at(),
        }
        return super().changelist_view(request, extra_context)

    def get_urls(self):
        view = self.admin_site.admin_view(self.reconcile_now_view)
        return [path("reconcile-now/", view, name="groups_rosterfinding_reconcile_now"), *super().get_urls()]

    def reconcile_now_view(self, request):
        """POST: queue a reconciliation now. With the broker down, say so instead of failing."""
        if request.method != "POST" or not self.has_change_permission(request):
            raise PermissionDenied
        if tasks.enqueue_reconcile():
            self.message_user(request, _("已提交核查任务,稍后刷新查看结果。"), messages.SUCCESS)
        else:
            self.message_user(request, _("任务队列暂时不可用,核查将在每日定时任务中自动进行。"), messages.WARNING)
        return redirect("admin:groups_rosterfinding_changelist")

    @admin.display(description=_("人员"))
    def subject(self, obj):
        if obj.membership_id and obj.employee_id:
            return format_html("{} · {}", obj.membership.nickname, employee_html(obj.employee))
        if obj.membership_id:
            return obj.membership.nickname
        return employee_html(obj.employee) if obj.employee_id else "—"

    @admin.display(description=_("员工"))
    def employee_display(self, obj):
        return employee_html(obj.employee) if obj.employee_id else "—"

    @admin.display(description=_("处理人"))
    def resolved_by_display(self, obj):
        return user_html(obj.resolved_by) if obj.resolved_by_id else "—"

    @admin.action(description=_("标记为已移出群"), permissions=["change"])
    def mark_removed(self, request, queryset):
        closed = reconcile.mark_removed(queryset.values_list("pk", flat=True), acting_user=request.user)
        self.message_user(request, _("已记录 %(n)d 名成员退群。") % {"n": closed}, messages.SUCCESS)

    @admin.action(description=_("豁免(需填写原因)"), permissions=["change"])
    def waive(self, request, queryset):
        form = WaiveForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            ids = queryset.values_list("pk", flat=True)
            count = reconcile.waive_findings(ids, reason=form.cleaned_data["reason"], acting_user=request.user)
            self.message_user(request, _("已豁免 %(n)d 条核查结果。") % {"n": count}, messages.SUCCESS)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": _("豁免核查结果"),
            "opts": self.model._meta,
            "form": form,
            "findings": queryset.select_related("group", "employee", "membership"),
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/groups/rosterfinding/waive.html", context)


@admin.register(RosterSettings)
class RosterSettingsAdmin(admin.ModelAdmin):
    """One row: the departed-member deadline that reconciliation and the dashboard both read."""

    list_display = ["__str__", "departed_finding_overdue_hours", "chat_retention_days", "updated_at"]
    readonly_fields = ["updated_at"]

    def has_add_permission(self, request):
        return False  # the one row exists from the migration on (and after a flush: GroupsConfig)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        services.save_roster_settings(obj, acting_user=request.user)


# Written when a sanction is carried out (violations.services.record_removal_done).
@admin.register(MemberRestriction)
class MemberRestrictionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """禁止再入群 / 禁言 left by carried-out sanctions (violations writes them): read-only, HR and auditors."""

    list_display = ["kind", "group", "employee", "starts_at", "until", "reason"]
    list_filter = ["kind", "group__platform"]
    search_fields = ["group__name", "employee__name", "employee__employee_no"]
    list_select_related = ["group", "employee"]
    readonly_fields = ["kind", "group", "employee", "starts_at", "until", "reason", "source", "created_at"]
    fields = readonly_fields


from .chat import admin as _chat_admin  # noqa: E402, F401  the message store's admin pages
from .wecom_sync import admin as _wecom_sync_admin  # noqa: E402, F401  the WeCom sync's admin pages
