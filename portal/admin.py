"""Read-only admin for notification deliveries (what was sent, where, how many attempts, last error)."""

from django.contrib import admin

from .models import NotificationLog


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
