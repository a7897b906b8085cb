"""HR's pages of the WeCom sync: the runs (progress, counts, errors) with 立即同步, the chats it knows,
the directory as WeCom shows it and the directory's mismatches with the roster. All read-only: the
sync writes them."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.urls import path
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from portal.admin_mixins import ReadOnlyAdminMixin

from ..choices import SyncTrigger
from ..models import DirectoryFinding, WeComChat, WeComSyncRun, WeComUser

# The run's counts as HR reads them (the keys the sync writes), in this order.
COUNT_LABELS = [
    ("listed", _("列出的客户群")),
    ("fetched", _("读取成员的群")),
    ("written", _("名单有变化的群")),
    ("unchanged", _("成员版本未变的群")),
    ("failed", _("读取失败的群(保留上次名单)")),
    ("groups_created", _("新建的工作群")),
    ("members", _("成员数")),
    ("joined", _("入群")),
    ("left", _("退群")),
    ("rooms", _("内部群(会话存档)")),
    ("archive_messages", _("会话存档消息")),
    ("archive_created", _("新增消息")),
    ("directory_users", _("通讯录成员")),
    ("directory_open", _("通讯录核查结果(未处理)")),
    ("calls", _("接口调用次数")),
    ("rate_limited", _("频率限制次数")),
    ("interruptions", _("中断次数")),
]


@admin.register(WeComSyncRun)
class WeComSyncRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["__str__", "status", "trigger", "phase", "progress", "failed_count", "started_at", "finished_at"]
    list_filter = ["status", "trigger"]
    readonly_fields = [
        "status",
        "trigger",
        "phase",
        "progress",
        "created_by",
        "import_job",
        "counts_table",
        "errors_list",
        "started_at",
        "heartbeat_at",
        "finished_at",
    ]
    fields = readonly_fields

    def get_queryset(self, request):
        return super().get_queryset(request).visible_to(request.user)

    @admin.display(description=_("进度"))
    def progress(self, obj):
        return format_html(
            '<progress max="100" value="{}"></progress> {}/{}', obj.progress_percent, obj.done_groups, obj.total_groups
        )

    @admin.display(description=_("失败的群"))
    def failed_count(self, obj):
        return (obj.counts or {}).get("failed", 0)

    @admin.display(description=_("计数"))
    def counts_table(self, obj):
        counts = obj.counts or {}
        rows = [(label, counts[key]) for key, label in COUNT_LABELS if key in counts]
        if not rows:
            return "-"
        body = format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows)
        return format_html('<table class="wecom-sync-counts">{}</table>', body)

    @admin.display(description=_("错误"))
    def errors_list(self, obj):
        if not obj.errors:
            return "-"
        return format_html(
            '<ul class="errorlist">{}</ul>', format_html_join("", "<li>{}</li>", ((e,) for e in obj.errors))
        )

    def has_sync_permission(self, request) -> bool:
        return request.user.has_perm("groups.change_importjob")

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_sync": self.has_sync_permission(request)}
        return super().changelist_view(request, extra_context)

    def get_urls(self):
        view = self.admin_site.admin_view(self.sync_now_view)
        return [path("sync-now/", view, name="groups_wecomsyncrun_sync_now"), *super().get_urls()]

    def sync_now_view(self, request):
        """POST: queue a sync now (立即同步); resumes an unfinished run rather than starting a second."""
        from portal import outbox

        from ..tasks import wecom_sync_task
        from .client import configured_api

        if request.method != "POST" or not self.has_sync_permission(request):
            raise PermissionDenied
        if configured_api() is None:
            self.message_user(request, _("企业微信连接未配置或未启用客户群同步,无法同步。"), messages.ERROR)
        elif outbox.broker_available():
            outbox.send_after_response(wecom_sync_task, SyncTrigger.MANUAL, request.user.pk)
            self.message_user(request, _("已提交企业微信同步任务,稍后刷新查看进度。"), messages.SUCCESS)
        else:
            outbox.record(wecom_sync_task.name, [SyncTrigger.MANUAL, request.user.pk], error="broker unavailable")
            self.message_user(request, _("任务队列暂时不可用,同步将在队列恢复后自动进行。"), messages.WARNING)
        return redirect("admin:groups_wecomsyncrun_changelist")


@admin.register(WeComChat)
class WeComChatAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["chat_id", "kind", "group", "list_status", "synced_at", "failed_at", "last_error"]
    list_filter = ["kind", "list_status"]
    search_fields = ["chat_id", "group__name"]
    list_select_related = ["group"]
    readonly_fields = ["chat_id", "kind", "group", "list_status", "synced_at", "failed_at", "last_error"]
    fields = readonly_fields

    def get_queryset(self, request):
        return super().get_queryset(request).filter(pk__in=_hr_only(request, WeComChat))


@admin.register(WeComUser)
class WeComUserAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["userid", "name", "status", "department_path", "employee", "seen_at"]
    list_filter = ["status"]
    search_fields = ["userid", "name"]
    list_select_related = ["employee"]
    readonly_fields = ["userid", "name", "status", "department_path", "employee", "seen_at"]
    fields = readonly_fields

    def get_queryset(self, request):
        return super().get_queryset(request).filter(pk__in=_hr_only(request, WeComUser))


@admin.register(DirectoryFinding)
class DirectoryFindingAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["kind", "userid", "employee", "detail", "status", "first_seen_at", "last_seen_at"]
    list_filter = ["kind", "status"]
    search_fields = ["userid", "employee__name", "employee__employee_no", "detail"]
    list_select_related = ["employee"]
    readonly_fields = ["kind", "userid", "employee", "detail", "status", "first_seen_at", "last_seen_at", "resolved_at"]
    fields = readonly_fields

    def get_queryset(self, request):
        return super().get_queryset(request).filter(pk__in=_hr_only(request, DirectoryFinding))


def _hr_only(request, model):
    """The whole company's WeCom data: HR and auditors only (a department head sees none of it)."""
    from portal.scoping import scope_for

    rows = model.objects.all() if scope_for(request.user).everything else model.objects.none()
    return rows.values("pk")
