"""Rebuild the dashboard rollups (trend cells, ladder standings) from scratch."""

from django.core.management.base import BaseCommand

from portal.dashboard.rollups import refresh_all


class Command(BaseCommand):
    help = "重建看板汇总数据(违规趋势、升级阶梯状态)"

    def handle(self, *args, **options):
        for key, count in refresh_all().items():
            self.stdout.write(f"{key}: {count}")
