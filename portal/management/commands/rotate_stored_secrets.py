"""Re-encrypt the WeCom connection's stored secrets under the first key of WECOM_SECRET_KEY.

Rotation: set WECOM_SECRET_KEY="NEW,OLD" (or "NEW" while the old one was derived from SECRET_KEY:
then give the derived key explicitly, see docs/wecom.md), run this command, then drop OLD.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from portal.audit import audit_context, log_summary
from portal.models import WeComConnection
from portal.secrets import SecretUnreadable, rotate


class Command(BaseCommand):
    help = "Re-encrypt stored WeCom secrets under the first WECOM_SECRET_KEY key."

    @transaction.atomic
    def handle(self, *args, **options):
        row = WeComConnection.objects.select_for_update().filter(singleton=True).first()
        if row is None:
            self.stdout.write("no WeCom connection stored")
            return
        fields = [f for f in WeComConnection.SECRET_FIELDS.values() if getattr(row, f)]
        try:
            for name in fields:
                setattr(row, name, rotate(getattr(row, name)))
        except SecretUnreadable as exc:
            raise CommandError(f"{exc}: keep the old key in WECOM_SECRET_KEY (after the new one)") from None
        with audit_context(None, "system"):
            row.save(update_fields=[*fields, "updated_at"])
            log_summary(row, label=str(row), changes={"secrets": ["", "已重新加密"]}, data={"count": len(fields)})
        self.stdout.write(f"re-encrypted {len(fields)} secret(s)")
