"""Benchmark: cost of the escalation ladder for one employee with many sanctions.

Creates a throw-away test database (SQLite by default, PostgreSQL with DATABASE_URL), records
--rows sanctioned warnings for one employee through the services, then times, in the same run:
  baseline   reading the employee's sanctions with one plain query (list of rows)
  recompute  recompute_escalation (no change: the idempotent path run after every decision)
  preview    preview_escalation (what the admin form calls on each change)
and prints each as a ratio to the baseline.

    python bench/violations_ladder.py --rows 300
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
os.environ.setdefault("AXES_ENABLED", "0")


def timed(func, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300, help="warnings recorded for the employee")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0)
    try:
        run(args)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def run(args) -> None:
    from django.utils import timezone

    from groups.models import Employee
    from groups.services import create_department
    from violations import services
    from violations.models import Rule, Sanction

    dept = create_department("总公司")
    person = Employee.objects.create(employee_no="B0001", name="压测", department=dept)
    rule = Rule.objects.get(code="C04")
    start = timezone.now() - datetime.timedelta(days=3 * 365)
    step = (timezone.now() - start) / (args.rows + 1)
    t0 = time.perf_counter()
    for index in range(args.rows):
        violation = services.record_violation(
            person, rule, start + step * index, "bench", acting_user=None, channel="system", confirmed=True
        )
        services.apply_sanctions(violation, acting_user=None, channel="system")
    setup = time.perf_counter() - t0
    derived = Sanction.objects.filter(is_derived=True, withdrawn_at__isnull=True).count()

    def baseline():
        list(Sanction.objects.filter(employee=person).values_list("pk", "kind", "violation__occurred_at"))

    base = timed(baseline, args.repeat)
    recompute = timed(lambda: services.recompute_escalation(person, acting_user=None), args.repeat)
    preview = timed(lambda: services.preview_escalation(person, rule, timezone.now()), args.repeat)
    print(f"database={connection_vendor()} rows={args.rows} derived_sanctions={derived}")
    print(f"setup: {setup:.1f}s ({setup / args.rows * 1000:.1f} ms per record+sanction incl. recompute)")
    print(f"baseline (one query)  {base * 1000:8.2f} ms  1.0x")
    print(f"recompute (no change) {recompute * 1000:8.2f} ms  {recompute / base:.1f}x")
    print(f"preview               {preview * 1000:8.2f} ms  {preview / base:.1f}x")


def connection_vendor() -> str:
    from django.db import connection

    return connection.vendor


if __name__ == "__main__":
    main()
