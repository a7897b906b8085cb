"""Violation report export benchmark: Qungui's streamed CSV against a naive export and the COPY floor.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/qungui_exp python bench/bench_export.py [--rows 1000000]

Creates its own throw-away database (<name>_bench; --keep leaves it, and its rows, for the next run),
generates ``--rows`` violations with their sanctions and appeals in SQL, then measures in one run,
each method in a child process of its own so that its peak RSS (VmHWM of that process, bench/memory.py) is its own:

(a) floor: ``COPY (the same SELECT) TO STDOUT`` — no labels, no neutralisation;
(b) Qungui: ``violations.reports.csv_chunks`` (labels, formula neutralisation, UTF-8 BOM), all rows;
(c) naive: load every violation with select_related/prefetch_related, then write the CSV — on a
    ``--naive-rows`` sample, time and memory extrapolated linearly (labelled as such);
(d) optionally (--xlsx-rows) the XLSX builder of the export task, on a sample.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

EMPLOYEES = 20_000
GROUPS = 300
PERIOD_START = "2026-01-01 00:00+08"


def _setup(db_name: str | None = None) -> None:
    import django
    from django.conf import settings

    django.setup()
    if db_name:
        settings.DATABASES["default"]["NAME"] = db_name
        from django.db import connections

        connections["default"].settings_dict["NAME"] = db_name


def populate(rows: int) -> None:
    """Departments, employees (a few with formula-like names), groups, then violations in SQL."""
    from django.db import connection

    from groups.models import ChatGroup, Employee
    from groups.services import ensure_department_path

    cache: dict = {}
    depts = [
        ensure_department_path(f"总公司/{d}/{r}", cache=cache)
        for d in ("销售部", "技术部", "财务部", "市场部", "客服部", "采购部")
        for r in ("华东区", "华南区", "华北区", "西南区", "东北区")
    ]
    people = [
        Employee(
            employee_no=f"E{i:06d}",
            name=('=HYPERLINK("http://x")' if i % 997 == 0 else "张三李四王五"[i % 6] + "伟芳娜敏静丽强"[i % 7]),
            department=depts[i % len(depts)],
        )
        for i in range(EMPLOYEES)
    ]
    Employee.objects.bulk_create(people, batch_size=5000)
    groups = [
        ChatGroup(
            name=f"{depts[i % len(depts)].name}工作群{i}",
            platform=("wechat", "wecom", "qq", "dingtalk")[i % 4],
            kind="department",
            department=depts[i % len(depts)],
        )
        for i in range(GROUPS)
    ]
    ChatGroup.objects.bulk_create(groups)
    with connection.cursor() as cursor:
        cursor.execute(VIOLATIONS_SQL, {"rows": rows, "start": PERIOD_START})
        cursor.execute(SANCTIONS_SQL, [])
        cursor.execute(APPEALS_SQL)
        cursor.execute("ANALYZE")


VIOLATIONS_SQL = """
WITH e AS (SELECT array_agg(id ORDER BY id) a FROM groups_employee),
     g AS (SELECT array_agg(id ORDER BY id) a FROM groups_chatgroup),
     r AS (SELECT array_agg(id ORDER BY id) a FROM violations_rule)
INSERT INTO violations_violation (employee_id, group_id, rule_id, occurred_at, description, is_anonymous, channel,
    status, dismissed_reason, created_at, updated_at)
SELECT e.a[1 + (s * 7919) %% cardinality(e.a)],
       CASE WHEN s %% 20 = 0 THEN NULL ELSE g.a[1 + (s * 31) %% cardinality(g.a)] END,
       r.a[1 + (s * 13) %% cardinality(r.a)],
       %(start)s::timestamptz + (s %% 300) * interval '1 day' + (s %% 86400) * interval '1 second',
       'bench', false, 'admin',
       CASE WHEN s %% 20 = 1 THEN 'dismissed' WHEN s %% 50 = 2 THEN 'appealed' WHEN s %% 50 = 3 THEN 'upheld'
            WHEN s %% 50 = 4 THEN 'overturned' ELSE 'sanctioned' END,
       CASE WHEN s %% 20 = 1 THEN '证据不足' ELSE '' END, now(), now()
FROM generate_series(1::bigint, %(rows)s) s, e, g, r
"""

SANCTIONS_SQL = """
INSERT INTO violations_sanction (violation_id, employee_id, kind, amount, points, is_derived, ladder_step,
    explanation, withdrawn_at, withdrawn_reason, created_at)
SELECT v.id, v.employee_id, k.kind, CASE WHEN k.kind = 'fine' THEN 100 END,
       CASE k.kind WHEN 'warning' THEN 2 WHEN 'demerit' THEN 10 ELSE 0 END, false, '', '',
       CASE WHEN v.status = 'overturned' THEN now() END, CASE WHEN v.status = 'overturned' THEN '申诉成立' ELSE '' END,
       now()
FROM violations_violation v
CROSS JOIN LATERAL (VALUES (CASE v.id %% 4 WHEN 0 THEN 'warning' WHEN 1 THEN 'fine' WHEN 2 THEN 'demerit'
                                  ELSE 'reminder' END),
                           (CASE WHEN v.id %% 3 = 0 THEN 'forfeit_month' END)) k(kind)
WHERE v.status <> 'dismissed' AND v.status <> 'reported' AND k.kind IS NOT NULL
"""

APPEALS_SQL = """
INSERT INTO violations_appeal (violation_id, statement, on_behalf, filed_at, filed_late, decision_due, status,
    decided_at, decision_reason)
SELECT id, '不服', false, now(), false, current_date,
       CASE status WHEN 'appealed' THEN 'pending' ELSE status END,
       CASE WHEN status = 'appealed' THEN NULL ELSE now() END,
       CASE WHEN status = 'appealed' THEN '' ELSE '已裁决' END
FROM violations_violation WHERE status IN ('appealed', 'upheld', 'overturned')
"""


def report_qs():
    from violations.models import Violation

    return Violation.objects.all()


def run_stream(out) -> int:
    from violations.reports import csv_chunks

    written = 0
    for chunk in csv_chunks(report_qs()):
        written += len(chunk)
        out.write(chunk)
    return written


def run_copy(out) -> int:
    from django.db import connection, transaction

    from violations.reports import detail_query

    sql, params = detail_query(report_qs(), as_text=True)
    written = 0
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")  # as for Qungui's export: fair floor
        with cursor.cursor.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", params) as cp:
            for block in cp:
                written += len(block)
                out.write(block)
    return written


def run_naive(out, rows: int) -> int:
    """What a first version does: load the objects (and their sanctions), build the rows, write."""
    import csv
    import io

    from django.utils import timezone

    qs = (
        report_qs()
        .select_related("employee__department", "group", "rule")
        .prefetch_related("sanctions")
        .order_by("occurred_at", "pk")[:rows]
    )
    violations = list(qs)
    table = []
    for v in violations:
        active = [s for s in v.sanctions.all() if s.withdrawn_at is None]
        table.append(
            [
                timezone.localtime(v.occurred_at).date().isoformat(),
                v.employee.employee_no,
                v.employee.name,
                v.employee.department.name_path,
                v.group.name if v.group else "",
                v.group.get_platform_display() if v.group else "",
                v.rule.code,
                v.rule.title_zh,
                "、".join(str(s.get_kind_display()) for s in active),
                sum((s.amount or 0) for s in active),
                sum(s.points for s in active),
                v.get_status_display(),
            ]
        )
    buffer = io.StringIO()
    csv.writer(buffer).writerows(table)
    data = buffer.getvalue().encode("utf-8-sig")
    out.write(data)
    return len(data)


def run_xlsx(path: str, rows: int) -> int:
    from violations.models import PerformanceDeduction, Violation
    from violations.reports import write_xlsx

    ids = Violation.objects.order_by("pk").values_list("pk", flat=True)[rows - 1 : rows]
    qs = report_qs().filter(pk__lte=ids[0]) if ids else report_qs()
    write_xlsx(path, qs, deductions=PerformanceDeduction.objects.all())
    return os.path.getsize(path)


def child(method: str, sample: int) -> None:
    _setup(os.environ["BENCH_DB"])
    from memory import peak_mib, reset_peak, rss_mib

    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = usage.ru_utime + usage.ru_stime
    base = rss_mib()
    reset_peak()  # VmHWM from here: ru_maxrss would include the parent's peak across exec
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        target = os.path.join(tmp, "out")
        if method == "xlsx":
            written = run_xlsx(target + ".xlsx", sample)
        else:
            with open(target, "wb") as out:
                written = (
                    {"stream": run_stream, "copy": run_copy}[method](out)
                    if method != "naive"
                    else run_naive(out, sample)
                )
    seconds = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime - cpu_before
    result = {"seconds": seconds, "bytes": written, "peak_mib": peak_mib(), "base_mib": base}
    print(json.dumps({**result, "cpu": cpu}))


def measure(method: str, db_name: str, sample: int = 0) -> dict:
    env = {**os.environ, "BENCH_DB": db_name}
    cmd = [sys.executable, __file__, "--child", method, "--sample", str(sample)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if out.returncode:
        raise SystemExit(f"{method} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def prepare(rows: int, keep: bool) -> str:
    from django.db import connection

    if connection.vendor != "postgresql":
        raise SystemExit("DATABASE_URL must point to PostgreSQL (the COPY floor and server-side cursors).")
    connection.settings_dict.setdefault("TEST", {})["NAME"] = connection.settings_dict["NAME"] + "_bench"
    db_name = connection.creation.create_test_db(verbosity=0, keepdb=keep, serialize=False)
    from violations.models import Violation

    have = Violation.objects.count()
    if have != rows:
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(
                "TRUNCATE violations_appeal, violations_sanction_caused_by, violations_sanction, violations_evidence,"
                " violations_violation, groups_membership, groups_chatgroup_admins, groups_chatgroup,"
                " groups_employee CASCADE"
            )
        populate(rows)
        print(f"generated {rows} violations in {time.perf_counter() - started:.1f} s")
    return db_name


def report(args, db_name: str) -> None:
    rows = args.rows
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    floor = measure("copy", db_name)
    ours = measure("stream", db_name)
    sample = min(args.naive_rows, rows)
    naive = measure("naive", db_name, sample)
    scale = rows / sample
    print(f"rows: {rows} joined violation rows (sanctions, appeal, employee, department, group, rule)")
    print(
        f"(a) COPY (SELECT …) TO STDOUT floor:  {floor['seconds']:7.2f} s  {rows / floor['seconds']:9.0f} rows/s"
        f"  peak RSS {floor['peak_mib']:6.1f} MiB  ({floor['bytes'] / 1e6:.0f} MB)"
    )
    print(
        f"(b) Qungui streamed CSV:              {ours['seconds']:7.2f} s  {rows / ours['seconds']:9.0f} rows/s"
        f"  peak RSS {ours['peak_mib']:6.1f} MiB  ({ours['bytes'] / 1e6:.0f} MB, neutralised, labelled)"
    )
    naive_mem = naive["base_mib"] + (naive["peak_mib"] - naive["base_mib"]) * scale
    print(
        f"(c) naive load-all-then-write, {sample} rows measured: {naive['seconds']:.2f} s, peak RSS "
        f"{naive['peak_mib']:.1f} MiB; EXTRAPOLATED to {rows}: ≈{naive['seconds'] * scale:.1f} s, ≈{naive_mem:.0f} MiB"
    )
    print(
        f"ratios: Qungui/floor time {ours['seconds'] / floor['seconds']:.2f}×; "
        f"naive(extrapolated)/Qungui time {naive['seconds'] * scale / ours['seconds']:.1f}×, "
        f"memory {naive_mem / ours['peak_mib']:.1f}×"
    )
    print(
        f"    CPU of the exporting process: floor {floor['cpu']:.2f} s, Qungui {ours['cpu']:.2f} s "
        f"({rows / ours['cpu']:.0f} rows per CPU-second; the database's own CPU is not included)"
    )
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    target = rows / ours["seconds"] >= 100_000 and ours["peak_mib"] < 150
    print(f"target ≥100,000 rows/s and <150 MiB: {'met' if target else 'NOT met'}")
    if args.xlsx_rows:
        sample = min(args.xlsx_rows, rows)
        xlsx = measure("xlsx", db_name, sample)
        print(
            f"(d) XLSX (task builder, constant_memory), {sample} rows: {xlsx['seconds']:.2f} s, "
            f"{sample / xlsx['seconds']:.0f} rows/s, peak RSS {xlsx['peak_mib']:.1f} MiB"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--naive-rows", type=int, default=100_000)
    parser.add_argument("--xlsx-rows", type=int, default=0)
    parser.add_argument("--keep", action="store_true", help="keep the bench database (and reuse its rows)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--sample", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.sample)
    _setup()
    from django.db import connection

    old_name = connection.settings_dict["NAME"]
    db_name = prepare(args.rows, args.keep)
    try:
        report(args, db_name)
    finally:
        if not args.keep:
            connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
