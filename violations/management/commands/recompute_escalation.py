"""Recompute the escalation ladder (e.g. after HR changed the ladder settings). Idempotent."""

from django.core.management.base import BaseCommand

from groups.models import Employee
from violations.services import recompute_escalation


class Command(BaseCommand):
    help = "按当前设置重新计算升级处分(可重复执行)。"

    def add_arguments(self, parser):
        parser.add_argument("--employee", action="append", default=[], help="工号(可重复);默认全部有违规记录的员工")

    def handle(self, *args, employee: list[str], **options):
        people = Employee.objects.filter(violations__isnull=False).distinct().order_by("pk")
        if employee:
            people = people.filter(employee_no__in=employee)
        created = withdrawn = 0
        for person in people.iterator():
            result = recompute_escalation(person, acting_user=None, channel="system")
            created += len(result.created)
            withdrawn += len(result.withdrawn)
        self.stdout.write(f"employees={people.count()} created={created} withdrawn={withdrawn}")
