"""Admin pages of the message store: imports (HR, read-only records) and messages (scoped, read-only).

A message list shows no bodies; opening a message shows its body and is an audited access
(``portal.audit.log_access``). Imports happen on ``groups:chat_import_upload``.
"""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _

from portal.admin_mixins import ReadOnlyAdminMixin, ScopedAdminMixin, UnfilterableFieldsMixin
from portal.audit import log_access

from .models import ChatImport, ChatMessage


# Uploads go through the import page (preview, confirm); the job row is the record of what was imported.
@admin.register(ChatImport)
class ChatImportAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    change_list_template = "groups/admin/change_list_chat_import.html"  # adds the upload button
    list_display = [
        "original_name", "group", "platform", "status", "message_count", "created_count",
        "first_sent_at", "last_sent_at", "unmatched_senders", "created_by", "created_at",
    ]  # fmt: skip
    list_filter = ["platform", "status"]
    list_select_related = ["group", "created_by"]
    readonly_fields = [
        "original_name", "group", "platform", "status", "encoding", "size", "message_count", "created_count",
        "first_sent_at", "last_sent_at", "matched_senders", "unmatched_senders", "errors_list",
        "created_by", "created_at", "finished_at",
    ]  # fmt: skip
    fields = readonly_fields

    @admin.display(description=_("错误"))
    def errors_list(self, obj):
        if not obj.errors:
            return "-"
        return format_html_join("", "<div>{}</div>", ((e,) for e in obj.errors))


# Messages come from imports only and are kept as evidence; bodies are purged by the retention job.
@admin.register(ChatMessage)
class ChatMessageAdmin(UnfilterableFieldsMixin, ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    unfilterable_fields = ("text", "link_title", "link_url", "mentions", "extra")
    list_display = ["sent_at", "group", "sender", "kind", "recalled", "purged_at"]
    list_filter = ["platform", "kind", "recalled"]
    list_select_related = ["group", "employee"]
    search_fields = ["sender_platform_id", "sender_name", "employee__name", "employee__employee_no"]
    date_hierarchy = "sent_at"
    readonly_fields = [
        "group", "platform", "natural_key", "sent_at", "kind", "sender_platform_id", "sender_name",
        "employee", "membership", "text", "link_title", "link_url", "mentions", "mentions_all",
        "recalled", "recalled_at", "recalls", "extra", "purged_at", "chat_import", "imported_at",
    ]  # fmt: skip
    fields = readonly_fields

    @admin.display(description=_("发送人"), ordering="sender_platform_id")
    def sender(self, obj):
        if obj.employee_id:
            return str(obj.employee)
        return obj.sender_name or obj.sender_platform_id or _("系统")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        if response.status_code == 200 and request.method == "GET":
            obj = self.get_object(request, object_id)
            if obj is not None:
                log_access(request.user, obj, "view", detail="聊天消息内容")
        return response
