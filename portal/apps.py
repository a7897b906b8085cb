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
