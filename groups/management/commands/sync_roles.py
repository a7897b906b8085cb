"""Put department heads and group admins into their role groups (staff, scoped read-only admin)."""

from django.core.management.base import BaseCommand

from groups.roles import ensure_roles, sync_derived_roles


class Command(BaseCommand):
    help = "同步部门负责人/群管理员角色(由部门负责人、群主和群管理员推导)"

    def handle(self, *args, **options):
        ensure_roles()
        result = sync_derived_roles(acting_user=None)
        for key, ids in vars(result).items():
            self.stdout.write(f"{key}: {len(ids)}")
