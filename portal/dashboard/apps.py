from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DashboardConfig(AppConfig):
    name = "portal.dashboard"
    label = "dashboard"
    verbose_name = _("仪表盘")

    def ready(self) -> None:
        from .signals import connect_signals

        connect_signals()
