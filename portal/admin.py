"""Read-only admins: notification deliveries (what was sent, where, attempts, last error) and the audit log;
the WeCom connection (write-only secrets, 测试连接)."""

from auditlog.models import LogEntry
from django import forms
from django.contrib import admin, messages
from django.contrib.contenttypes.models import ContentType
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from . import audit_display
from .admin_mixins import ReadOnlyAdminMixin
from .models import NotificationLog, WeComApp, WeComConnection
from .scoping import scope_for


@admin.register(NotificationLog)
class NotificationLogAdmin(admin.ModelAdmin):
    list_display = [
        "subject",
        "channel",
        "target",
        "recipient",
        "status",
        "attempts",
        "last_error",
        "created_at",
        "sent_at",
    ]
    list_filter = ["channel", "status"]
    search_fields = ["subject", "target", "recipient__name", "event_key"]
    list_select_related = ["recipient"]
    readonly_fields = [f.name for f in NotificationLog._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


# --- The audit trail: readable by HR and auditors only, never editable or deletable -------------------


class ResourceTypeFilter(admin.SimpleListFilter):
    """By the kind of record, named as the admin names it (违规记录, not ``violation``)."""

    title = _("记录类型")
    parameter_name = "resource_type"

    def lookups(self, request, model_admin):
        ids = model_admin.get_queryset(request).order_by().values_list("content_type_id", flat=True).distinct()
        types = ContentType.objects.filter(pk__in=ids)
        named = [(ct.pk, _type_name(ct)) for ct in types]
        return sorted(named, key=lambda item: item[1])

    def queryset(self, request, queryset):
        return queryset.filter(content_type_id=self.value()) if self.value() else queryset


def _type_name(content_type: ContentType) -> str:
    model = content_type.model_class()
    return str(model._meta.verbose_name) if model else content_type.model


class CorrelationFilter(admin.SimpleListFilter):
    """?cid=… from the correlation id links (no choices of its own)."""

    title = _("关联ID")
    parameter_name = "cid"

    def lookups(self, request, model_admin):
        return []

    def has_output(self):
        return False

    def queryset(self, request, queryset):
        return queryset.filter(cid=self.value()) if self.value() else queryset


admin.site.unregister(LogEntry)


@admin.register(LogEntry)
class AuditLogAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The audit log in Chinese: local time, the record's kind, field labels and readable values."""

    date_hierarchy = "timestamp"
    list_select_related = ["content_type", "actor"]
    list_display = ["created", "resource", "action", "summary", "actor_name", "channel"]
    list_filter = ["action", ResourceTypeFilter, CorrelationFilter]
    search_fields = ["object_repr", "actor__username", "actor__first_name", "actor__last_name"]
    fields = ["created", "actor_name", "resource", "action", "channel", "changes_table", "extra_table", "cid"]
    readonly_fields = fields
    actions = None

    def has_module_permission(self, request):
        return scope_for(request.user).everything

    def has_view_permission(self, request, obj=None):
        return scope_for(request.user).everything and super().has_view_permission(request, obj)

    @admin.display(description=_("时间"), ordering="timestamp")
    def created(self, obj):
        return audit_display.local_time(obj.timestamp)

    @admin.display(description=_("记录"))
    def resource(self, obj):
        label = (
            f"{_type_name(obj.content_type)} · {obj.object_repr}" if obj.object_repr else _type_name(obj.content_type)
        )
        ct = obj.content_type
        try:
            url = reverse(f"admin:{ct.app_label}_{ct.model}_change", args=[obj.object_id or obj.object_pk])
        except NoReverseMatch:
            return label
        return format_html('<a href="{}">{}</a>', url, label) if (obj.object_id or obj.object_pk) else label

    @admin.display(description=_("变更"))
    def summary(self, obj):
        if obj.action == LogEntry.Action.ACCESS:
            return str(audit_display.ACCESS_KINDS.get((obj.additional_data or {}).get("access"), "")) or "—"
        if obj.action == LogEntry.Action.DELETE:
            return "—"
        labels = audit_display.changed_labels(obj)
        shown = "、".join(labels[:6]) + ("…" if len(labels) > 6 else "")
        return _("%(n)d 项:%(fields)s") % {"n": len(labels), "fields": shown} if labels else "—"

    @admin.display(description=_("操作人"))
    def actor_name(self, obj):
        if obj.actor_id:
            return obj.actor.get_full_name() or obj.actor.get_username()
        return _("系统") if not (obj.additional_data or {}).get("anonymous") else _("匿名")

    @admin.display(description=_("来源"))
    def channel(self, obj):
        return audit_display.channel_label((obj.additional_data or {}).get("channel"))

    @admin.display(description=_("变更内容"))
    def changes_table(self, obj):
        rows = audit_display.readable_changes(obj)
        if not rows:
            return "—"
        return render_to_string("admin/auditlog/changes_table.html", {"rows": rows})

    @admin.display(description=_("附加信息"))
    def extra_table(self, obj):
        rows = audit_display.readable_extra(obj)
        if not rows:
            return "—"
        return format_html("<table>{}</table>", format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows))


# --- The WeCom connection (企业微信连接): one row, secrets write-only ----------------------------------


def _secret_field(label) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )


class WeComConnectionForm(forms.ModelForm):
    """The plain fields, and one write-only field per secret: a value replaces the stored secret,
    blank keeps it; the stored value is never rendered (not even masked)."""

    contacts_secret = _secret_field(_("通讯录同步 Secret"))
    customer_secret = _secret_field(_("客户联系 Secret"))
    archive_secret = _secret_field(_("会话内容存档 Secret"))
    app_secret = _secret_field(_("自建应用 Secret"))
    contacts_clear = forms.BooleanField(label=_("清除通讯录同步 Secret"), required=False)
    customer_clear = forms.BooleanField(label=_("清除客户联系 Secret"), required=False)
    archive_clear = forms.BooleanField(label=_("清除会话内容存档 Secret"), required=False)
    app_clear = forms.BooleanField(label=_("清除自建应用 Secret"), required=False)

    class Meta:
        model = WeComConnection
        fields = [
            "enabled",
            "corp_id",
            "base_url",
            "agent_id",
            "contacts_enabled",
            "customer_enabled",
            "archive_enabled",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for app in WeComApp.values:
            stored = bool(self.instance.pk) and self.instance.has_secret(app)
            self.fields[f"{app}_secret"].help_text = (
                _("已设置。留空则保持不变,填写则替换。") if stored else _("未设置。")
            )

    def secrets(self) -> dict[str, str]:
        return {app: self.cleaned_data.get(f"{app}_secret") or "" for app in WeComApp.values}

    def cleared(self) -> list[str]:
        return [app for app in WeComApp.values if self.cleaned_data.get(f"{app}_clear")]


@admin.register(WeComConnection)
class WeComConnectionAdmin(admin.ModelAdmin):
    """HR / IT enter the corp id and the secrets here; 测试连接 calls gettoken with each secret."""

    form = WeComConnectionForm
    change_form_template = "admin/portal/wecomconnection/change_form.html"
    list_display = ["__str__", "enabled", "corp_id", "last_test_at", "last_sync_at", "last_sync_status"]
    readonly_fields = ["secrets_status", "last_test_at", "last_test_result", "last_sync_at", "last_sync_status"]
    readonly_fields += ["last_sync_message", "updated_at"]

    def get_fieldsets(self, request, obj=None):
        secret_fields = [f"{app}_secret" for app in WeComApp.values]
        secret_fields += [f"{app}_clear" for app in WeComApp.values if obj is not None and obj.has_secret(app)]
        return [
            (None, {"fields": ["enabled", "corp_id", "base_url", "agent_id"]}),
            (_("Secret(只写:保存后不再显示)"), {"fields": ["secrets_status", *secret_fields]}),
            (_("同步"), {"fields": ["contacts_enabled", "customer_enabled", "archive_enabled"]}),
            (_("状态"), {"fields": ["last_test_at", "last_test_result", "last_sync_at", "last_sync_status"]}),
            (None, {"fields": ["last_sync_message", "updated_at"]}),
        ]

    @admin.display(description=_("已保存的 Secret"))
    def secrets_status(self, obj):
        return format_html_join(
            "",
            "<div>{}: {}</div>",
            ((label, _("已设置") if obj.has_secret(app) else _("未设置")) for app, label in WeComApp.choices),
        )

    def _may_edit(self, request) -> bool:
        return scope_for(request.user).is_hr

    def has_add_permission(self, request):
        return False  # the one row: load() creates it

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return self._may_edit(request) and super().has_change_permission(request, obj)

    def changelist_view(self, request, extra_context=None):
        WeComConnection.load()  # the one row, listed (and linked) like the other settings
        return super().changelist_view(request, extra_context)

    def save_model(self, request, obj, form, change):
        from .wecom_connection import clear_secret, save_connection

        save_connection(obj, acting_user=request.user, secrets=form.secrets())
        for app in form.cleared():
            clear_secret(obj, app, acting_user=request.user)

    def response_change(self, request, obj):
        if "_test_connection" in request.POST:
            from .wecom_connection import test_connection

            ok, lines = test_connection(obj, acting_user=request.user)
            report = messages.success if ok else messages.error
            report(request, format_html_join("", "<div>{}</div>", ((line,) for line in lines)))
            return redirect(request.path)
        return super().response_change(request, obj)
