from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PortalConfig(AppConfig):
    """The core: settings, scoping, locks, staging, exports, audit, API base, notification delivery."""

    name = "portal"
    verbose_name = _("门户")

    def ready(self) -> None:
        from . import audit  # noqa: F401  connects the stamp of actor and channel on every audit entry
        from .outbox import connect_signals

        connect_signals()  # work deferred past the response (outbox.send_after_response)
        self._read_timestamps_fast()
        self._audit_wecom_connection()

    @staticmethod
    def _read_timestamps_fast() -> None:
        from django.db.backends.signals import connection_created

        from .postgres import iso_timestamps

        connection_created.connect(iso_timestamps, dispatch_uid="portal.iso_timestamps")

    @staticmethod
    def _audit_wecom_connection() -> None:
        from auditlog.registry import auditlog

        from .models import WeComConnection

        # The encrypted secrets never enter a diff: portal.wecom_connection logs "已更换" instead.
        hidden = [*WeComConnection.SECRET_FIELDS.values(), "updated_at", "last_test_at", "last_test_result"]
        hidden += ["last_sync_at", "last_sync_status", "last_sync_message"]
        if not auditlog.contains(WeComConnection):
            auditlog.register(WeComConnection, exclude_fields=hidden)
