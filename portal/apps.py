from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = _("门户")

    def ready(self) -> None:
        from . import rollups
        from .roles import connect_signals, ensure_roles

        post_migrate.connect(ensure_roles, dispatch_uid="qungui_ensure_roles")
        connect_signals()
        rollups.connect_signals()
