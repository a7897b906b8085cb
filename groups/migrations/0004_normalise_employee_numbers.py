"""Stored 工号 in the one spelling the portal now reads (groups.identifiers.normalize_employee_no).

Before this release a number could be stored full-width or with an invisible character (pasted
from a chat), so that the same person's next roster created a second employee. Each stored number
is normalised unless its normalised spelling already belongs to another employee: those pairs are
the same person twice and need HR's decision (merge or delete one); they are left as they are and
listed in the migration's output (and the log) so HR can resolve them.
"""

import logging

from django.db import migrations

logger = logging.getLogger(__name__)


def normalise_employee_numbers(apps, schema_editor):
    from groups.identifiers import normalize_employee_no

    Employee = apps.get_model("groups", "Employee")
    taken = set(Employee.objects.values_list("employee_no", flat=True))
    conflicts = []
    for pk, number in Employee.objects.values_list("pk", "employee_no").iterator(5000):
        normal = normalize_employee_no(number)
        if normal == number:
            continue
        if not normal or normal in taken:
            conflicts.append((pk, number, normal))
            continue
        Employee.objects.filter(pk=pk).update(employee_no=normal)
        taken.discard(number)
        taken.add(normal)
    for pk, number, normal in conflicts:
        message = f"employee {pk}: 工号 {number!r} not normalised: {normal!r} belongs to another employee"
        logger.warning(message)
        print(f"\n  {message}", end="")  # noqa: T201  shown by manage.py migrate
    return conflicts


class Migration(migrations.Migration):
    dependencies = [("groups", "0003_reconcile_runs")]

    operations = [migrations.RunPython(normalise_employee_numbers, migrations.RunPython.noop, elidable=True)]
