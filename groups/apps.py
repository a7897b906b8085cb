from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GroupsConfig(AppConfig):
    name = "groups"
    verbose_name = _("组织与工作群")

    def ready(self) -> None:
        from . import audit  # noqa: F401  registers models with the audit trail
        from .offboarding import connect_signals

        connect_signals()  # a departed employee's login ends with the save that marks them departed
