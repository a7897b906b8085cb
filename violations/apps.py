from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class ViolationsConfig(AppConfig):
    name = "violations"
    verbose_name = _("违规与处分")

    def ready(self) -> None:
        from . import audit  # noqa: F401  registers models with the audit trail, stamps the channel
        from .catalog_seed import restore_missing

        post_migrate.connect(restore_missing, sender=self, dispatch_uid="violations_restore_catalog")

        from groups.signals import chat_imported

        from .tasks import on_chat_imported

        chat_imported.connect(on_chat_imported, dispatch_uid="violations_detect_after_chat_import")

        from groups.signals import chat_bodies_purged

        from .services.detection import on_chat_bodies_purged

        chat_bodies_purged.connect(on_chat_bodies_purged, dispatch_uid="violations_purge_undecided_excerpts")
