"""Benchmark: a month's performance-score deductions for many employees, set-based vs. a per-employee loop.

Needs PostgreSQL and a database of its own, whose name contains "bench" (the script empties the
deductions, violations and employee tables there):

    createdb -h 127.0.0.1 -U postgres qungui_ded_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/qungui_ded_bench \\
        .venv/bin/python bench/bench_deductions.py --employees 100000

Generates employees, violations and sanctions with generate_series (a closed previous month and the
month under test), then times ``compute_month`` (first run, unchanged rerun, rerun after changes that
also book adjustments of the closed month) and a naive per-employee ORM loop on a sample measured
in the same run, extrapolated to all employees. Prints the figures and the ratios.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models import Model  # noqa: E402
from django.utils import timezone  # noqa: E402

from groups.models import Department, Employee  # noqa: E402
from groups.services import create_department  # noqa: E402
from portal.months import month_bounds  # noqa: E402
from violations.choices import DeductionKind  # noqa: E402
from violations.deductions import close_month, compute_month, final_score  # noqa: E402
from violations.deductions.rows import totals  # noqa: E402
from violations.models import (  # noqa: E402
    Appeal,
    CompanySettings,
    PerformanceDeduction,
    PerformanceMonth,
    Rule,
    Sanction,
    Violation,
)

TABLES = [PerformanceDeduction, PerformanceMonth, Appeal, Sanction, Violation, Employee]


def insert_select(model: type[Model], exprs: dict[str, str], source: str, params: list) -> int:
    """INSERT INTO model SELECT … FROM source: given expressions per field, defaults for the rest.

    Expressions take no parameters (the defaults' come first); ``source`` may, as ``params``.
    """
    quote, columns, values, defaults = connection.ops.quote_name, [], [], []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(quote(field.column))
        if field.attname in exprs:
            values.append(exprs[field.attname])
        elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            values.append("now()")
        else:
            values.append("%s")
            defaults.append(field.get_db_prep_save(field.get_default(), connection))
    sql = f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(columns)}) SELECT {', '.join(values)} FROM {source}"
    with connection.cursor() as cursor:
        cursor.execute(sql, defaults + params)
        return cursor.rowcount


def reset() -> None:
    tables = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in TABLES)
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")


def departments(count: int) -> list[int]:
    root = Department.objects.filter(name_path="基准公司").first() or create_department("基准公司")
    existing = {d.name: d.pk for d in Department.objects.filter(name_path__startswith="基准公司/")}
    for n in range(count):
        if f"部门{n:02}" not in existing:
            root.refresh_from_db()
            existing[f"部门{n:02}"] = create_department(f"部门{n:02}", parent=root).pk
    return sorted(existing.values())


def generate(employees: int, month: datetime.date, rate: float, dept_ids: list[int]) -> dict:
    """Employees (once) and ``rate`` violations per employee in ``month``, each with its sanctions."""
    if not Employee.objects.exists():
        insert_select(
            Employee,
            {
                "employee_no": "'B' || lpad(g::text, 7, '0')",
                "name": "'员工' || g",
                "department_id": "p.depts[1 + g %% p.n]",
                "status": "'active'",
            },
            "generate_series(1, %s) AS g, (SELECT %s::bigint[] AS depts, %s AS n) AS p",
            [employees, dept_ids, len(dept_ids)],
        )
    first_emp = Employee.objects.order_by("pk").values_list("pk", flat=True).first()
    rules = list(Rule.objects.order_by("pk").values_list("pk", flat=True))
    start, end = month_bounds(month)
    seconds = int((end - start).total_seconds())
    count = int(employees * rate)
    base_pk = Violation.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    insert_select(
        Violation,
        {
            "employee_id": "p.first_emp + (g::bigint * 7919) %% p.n",
            "rule_id": "p.rules[1 + g %% p.nrules]",
            "occurred_at": "p.start + make_interval(secs => (g::bigint * 104729) %% p.seconds)",
            "description": "'基准违规 ' || g",
            "channel": "'system'",
            # every 97th violation is under a pending appeal: its sanctions must not count
            "status": "CASE WHEN g %% 97 = 0 THEN 'appealed' ELSE 'sanctioned' END",
        },
        "generate_series(1, %s) AS g, (SELECT %s::bigint AS first_emp, %s::bigint AS n, %s::bigint[] AS rules,"
        " %s::int AS nrules, %s::timestamptz AS start, %s::bigint AS seconds) AS p",
        [count, first_emp, employees, rules, len(rules), start, seconds],
    )
    sanctions = [
        ("'warning'", "2", "NULL", "true"),
        ("'fine'", "0", "100", "g %% 10 = 0"),  # a fine on every 10th
        ("'demerit'", "10", "NULL", "g %% 50 = 0"),  # demerit + forfeit on every 50th
        ("'forfeit_month'", "0", "NULL", "g %% 50 = 0"),
    ]
    made = 0
    for kind, points, amount, where in sanctions:
        made += insert_select(
            Sanction,
            {
                "violation_id": "v.id",
                "employee_id": "v.employee_id",
                "kind": kind,
                "points": points,
                "amount": amount,
            },
            f"(SELECT id, employee_id, id - %s AS g FROM violations_violation WHERE id > %s) v WHERE {where}",
            [base_pk, base_pk],
        )
    return {"violations": count, "sanctions": made}


def naive_employee(employee_id: int, month: datetime.date, base: int, now) -> None:
    """What a straightforward implementation does: per employee, query its sanctions and update_or_create."""
    entries = []
    for s in Sanction.objects.effective_for_month(month).filter(employee_id=employee_id).select_related("violation"):
        entries.append(
            {
                "sanction": s.pk,
                "violation": s.violation_id,
                "rule": Rule.objects.get(pk=s.violation.rule_id).code,
                "kind": s.kind,
                "points": s.points,
                "amount": None if s.amount is None else str(s.amount),
            }
        )
    total = totals(entries)
    PerformanceDeduction.objects.update_or_create(
        employee_id=employee_id,
        month=month,
        kind=DeductionKind.REGULAR,
        defaults={
            "base_score": base,
            "points_deducted": total.points,
            "forfeit": total.forfeit,
            "fines_total": total.fines,
            "final_score": final_score(base, total.points, total.forfeit),
            "sanction_count": len(entries),
            "breakdown": {"sanctions": entries},
            "computed_at": now,
        },
    )


def time_naive(month: datetime.date, sample: int) -> float:
    """Seconds per employee of the naive loop, on ``sample`` employees (rolled back afterwards)."""
    ids = list(Employee.objects.order_by("?").values_list("pk", flat=True)[:sample])
    base, now = CompanySettings.load().base_monthly_score, timezone.now()
    with transaction.atomic():
        started = time.perf_counter()
        for employee_id in ids:
            naive_employee(employee_id, month, base, now)
        elapsed = time.perf_counter() - started
        transaction.set_rollback(True)
    return elapsed / len(ids)


def timed(label: str, func, *args, **kwargs):
    started = time.perf_counter()
    result = func(*args, **kwargs)
    elapsed = time.perf_counter() - started
    print(f"  {label:<52} {elapsed:8.2f} s   {result.as_dict() if hasattr(result, 'as_dict') else result}")
    return elapsed, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--employees", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=0.3, help="violations per employee per month")
    parser.add_argument("--sample", type=int, default=500, help="employees in the naive loop's sample")
    parser.add_argument("--month", default="2026-10")
    args = parser.parse_args()
    name = connection.settings_dict["NAME"]
    if connection.vendor != "postgresql" or "bench" not in name:
        sys.exit("Needs PostgreSQL and a database whose name contains 'bench' (it is emptied).")
    call_command("migrate", verbosity=0)
    month = datetime.date.fromisoformat(args.month + "-01")
    previous = (month - datetime.timedelta(days=1)).replace(day=1)

    print(f"PostgreSQL {name}: {args.employees} employees, {args.rate} violations per employee per month")
    print(f"  load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (timings are wall-clock)")
    started = time.perf_counter()
    reset()
    dept_ids = departments(50)
    made_prev = generate(args.employees, previous, args.rate, dept_ids)
    made = generate(args.employees, month, args.rate, dept_ids)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    elapsed = time.perf_counter() - started
    print(f"  generated {made_prev} in {previous:%Y-%m} and {made} in {month:%Y-%m}: {elapsed:.1f} s")

    timed(f"close {previous:%Y-%m} (compute + freeze)", close_month, previous, acting_user=None)
    first, _ = timed(f"compute {month:%Y-%m}, first run", compute_month, month)
    rerun, _ = timed(f"compute {month:%Y-%m}, unchanged rerun", compute_month, month)
    # Changes: 1% of the closed month's sanctions withdrawn (→ adjustments), 1% of this month's too.
    for m in (previous, month):
        start, end = month_bounds(m)
        ids = Sanction.objects.filter(violation__occurred_at__gte=start, violation__occurred_at__lt=end)
        chosen = list(ids.order_by("pk").values_list("pk", flat=True)[::100])
        Sanction.objects.filter(pk__in=chosen).update(withdrawn_at=timezone.now(), withdrawn_reason="基准撤回")
    changed, result = timed(f"compute {month:%Y-%m}, after 1% withdrawals", compute_month, month)
    again, _ = timed(f"compute {month:%Y-%m}, rerun (adjustments unchanged)", compute_month, month)

    per_employee = time_naive(month, args.sample)
    naive_total = per_employee * args.employees
    print(f"  naive per-employee ORM loop: {per_employee * 1000:.2f} ms/employee on {args.sample} sampled")
    print(f"    → extrapolated to {args.employees} employees: {naive_total:.1f} s")
    print("Ratios (naive loop extrapolated / set-based, same run):")
    for label, seconds in (("first run", first), ("unchanged rerun", rerun), ("after changes", changed)):
        print(f"  {label:<18} {naive_total / seconds:6.1f}×   ({seconds:.2f} s vs {naive_total:.1f} s)")
    verdict = "met" if max(first, changed) < 60 else "MISSED"
    print(f"Target: a month of {args.employees} employees in under 60 s: {verdict}")
    print(f"  load average at end: {os.getloadavg()[0]:.1f}")
    print(f"  rows: {PerformanceDeduction.objects.filter(month=month).count()}, adjustments: {result.adjustments}")
    del again


if __name__ == "__main__":
    main()
