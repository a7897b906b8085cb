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
        connect_signals()
        connect_offboarding()  # a departed employee's login ends with the save that marks them departed
