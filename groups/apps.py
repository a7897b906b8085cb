from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class GroupsConfig(AppConfig):
    name = "groups"
    verbose_name = _("组织与工作群")

    def ready(self) -> None:
        from portal.scoping import register_resolver

        from . import audit  # noqa: F401  registers models with the audit trail
        from .offboarding import connect_signals as connect_offboarding
        from .roles import connect_signals, ensure_roles
        from .scoping import resolve_scope

        register_resolver(resolve_scope)
        post_migrate.connect(ensure_roles, dispatch_uid="qungui_ensure_roles")
        post_migrate.connect(restore_settings_row, sender=self, dispatch_uid="groups_restore_settings")
        connect_signals()
        connect_offboarding()  # a departed employee's login ends with the save that marks them departed


def restore_settings_row(sender=None, **kwargs) -> None:
    """post_migrate: put back the roster-settings row that a ``flush`` removed (HR's value is kept)."""
    from .models import RosterSettings

    RosterSettings.objects.get_or_create(singleton=True)
