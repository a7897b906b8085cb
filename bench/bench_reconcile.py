"""Benchmark: set-based roster reconciliation vs a per-group ORM loop, on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/qungui_bench \\
        .venv/bin/python bench/bench_reconcile.py [--scale 0.1] [--rows N --groups G --employees E]

Defaults: 1,000,000 memberships over 10,000 groups and 50,000 employees (the issue's figures).
The database named in DATABASE_URL is migrated and its groups tables are EMPTIED: the script
refuses a database whose name lacks "bench" unless --force. Data is generated with
INSERT … SELECT generate_series (seconds, not minutes). Reported, all measured in this run:
  baseline  the issue's per-group ORM loop finding departed members: each group's open roster is
            loaded through the ORM (select_related employee) and every member checked; this is the
            loop the issue timed at about 56 s next to 0.2 s for one query (here ~52 s vs 0.15 s)
  tight loop a stricter variant: one query per group that filters departed members in SQL
            (about 3x faster than the baseline); ratios are reported against it too
  one-query all departed members in one query (the issue's 0.2 s reference)
  full #1   reconcile_all on a fresh database: every kind found and all findings inserted
  full #2   reconcile_all after changes: some members left (auto-resolved), some new departures
  full #3   reconcile_all with nothing changed (idempotent rerun)
  write floor  only inserting run #1's findings (same rows, indexes, FK checks), rolled back
Each run's peak RSS is this process's VmHWM, reset before the run (bench/memory.py; ru_maxrss is
wrong across fork/exec). ``--no-baseline`` skips the per-group loops (minutes at 3M memberships).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="memberships")
    parser.add_argument("--groups", type=int, default=10_000)
    parser.add_argument("--employees", type=int, default=50_000)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply all three sizes (e.g. 0.1)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the per-group loops (large sizes)")
    parser.add_argument("--force", action="store_true", help="allow a database whose name lacks 'bench'")
    args = parser.parse_args()
    sizes = (args.rows, args.groups, args.employees)
    args.rows, args.groups, args.employees = (max(10, int(n * args.scale)) for n in sizes)
    if args.rows // args.groups > args.employees // 5:
        parser.error("too many members per group for the number of employees")
    return args


DEPARTMENTS = ["销售部", "技术部", "财务部", "人力资源部", "市场部", "客服部", "采购部", "法务部"]


def generate(args: argparse.Namespace) -> None:
    from django.db import connection

    from groups.services import create_department

    with connection.cursor() as cur:
        cur.execute(
            "TRUNCATE groups_rosterfinding, groups_membership, groups_chatgroup_admins, groups_chatgroup,"
            " groups_employee, groups_department, portal_notificationlog RESTART IDENTITY CASCADE"
        )
    root = create_department("总公司")
    dept_ids = [create_department(name, parent=root).pk for name in DEPARTMENTS]
    ids = "ARRAY[" + ",".join(map(str, dept_ids)) + "]"
    e, g, n = args.employees, args.groups, args.rows
    per_group = n // g
    stride = e // per_group  # distinct employees within a group
    statements = [
        # 5% of employees departed
        f"""INSERT INTO groups_employee (employee_no, name, department_id, title, status, wechat_id, wecom_id, qq_id,
            dingtalk_id, email, created_at, updated_at)
            SELECT 'E' || i, '员工' || i, ({ids})[1 + i % {len(dept_ids)}], '', CASE WHEN i % 20 = 0 THEN 'departed'
            ELSE 'active' END, 'wx' || i, '', '', '', '', now(), now() FROM generate_series(1, {e}) AS i""",
        # 10% project groups (two thirds past their end date), 2% unapproved, 4% admit outsiders
        f"""INSERT INTO groups_chatgroup (name, platform, kind, external_id, department_id, owner_id, purpose,
            approved_at, filing_ref, status, end_date, nickname_convention, admits_outsiders, wecom_webhook_url,
            created_at, updated_at, wecom_chat_type, wecom_member_version)
            SELECT '群' || i, 'wechat', CASE WHEN i % 10 = 0 THEN 'project' ELSE 'department' END, '',
            ({ids})[1 + i % {len(dept_ids)}], 1 + (i * 7) % {e}, '', CASE WHEN i % 50 = 0 THEN NULL ELSE now() END,
            '', 'active', CASE WHEN i % 10 = 0 THEN current_date + (i % 3 - 2) END, '{{department}}-{{name}}',
            i % 25 = 0, '', now(), now(), '', '' FROM generate_series(1, {g}) AS i""",
        f"""INSERT INTO groups_chatgroup_admins (chatgroup_id, employee_id)
            SELECT i, 1 + (i * 7 + 1) % {e} FROM generate_series(1, {g}) AS i""",
        # members: 1% outsiders, 3% nicknames breaking the convention, the rest 部门-姓名
        f"""INSERT INTO groups_membership (group_id, employee_id, nickname, platform_id, member_key, joined_at,
            is_admin, created_at, updated_at, nickname_set)
            SELECT m.grp, m.emp, CASE WHEN m.emp IS NULL THEN '外部' || m.i WHEN m.i % 100 < 3 THEN emp.name
            ELSE d.name || '-' || emp.name END, 'wx' || m.i, 'id:wx' || m.i, now() - interval '30 days', false,
            now(), now(), true
            FROM (SELECT i, 1 + i % {g} AS grp, CASE WHEN i % 100 = 7 THEN NULL
                  ELSE 1 + ((i % {g}) * 13 + (i / {g}) * {stride}) % {e} END AS emp
                  FROM generate_series(0, {per_group * g - 1}) AS i) m
            LEFT JOIN groups_employee emp ON emp.id = m.emp LEFT JOIN groups_department d ON d.id = emp.department_id
            ORDER BY m.i""",
        "ANALYZE",
    ]
    with connection.cursor() as cur:
        for sql in statements:
            cur.execute(sql)


def timed(label: str, fn):
    start = time.perf_counter()
    result = fn()
    elapsed = time.perf_counter() - start
    print(f"{label:<58} {elapsed:8.2f} s", flush=True)
    return elapsed, result


def per_group_loop() -> int:
    """The issue's baseline: for each group, its open roster through the ORM, each member checked."""
    from groups.models import ChatGroup

    found = 0
    for group in ChatGroup.objects.filter(status="active").iterator():
        for member in group.memberships.filter(left_at__isnull=True).select_related("employee"):
            if member.employee is not None and member.employee.status == "departed":
                found += 1
    return found


def tight_loop() -> int:
    """A stricter baseline: still one query per group, but the departed filter runs in SQL."""
    from groups.models import ChatGroup

    found = 0
    for group in ChatGroup.objects.filter(status="active").iterator():
        found += len(group.memberships.filter(left_at__isnull=True, employee__status="departed").values_list("pk"))
    return found


def one_query() -> int:
    from groups.models import Membership

    return Membership.objects.filter(left_at__isnull=True, employee__status="departed").count()


def change_some_rows(args) -> None:
    """Between runs: 10% of departed members are removed; 1% more employees depart."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "UPDATE groups_membership SET left_at = now() WHERE id IN (SELECT m.id FROM groups_membership m"
            " JOIN groups_employee e ON e.id = m.employee_id WHERE e.status = 'departed' AND m.id % 10 = 0)"
        )
        cur.execute("UPDATE groups_employee SET status = 'departed' WHERE id % 100 = 1 AND status = 'active'")


def a_daily_change() -> None:
    """An ordinary day, through the writers' marks: 0.1 % of employees depart (as an import writes
    them: the row and its mark), 0.1 % of memberships end (a roster import: rows, then the groups'
    marks)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "UPDATE groups_employee SET status = 'departed', employment_changed_at = now()"
            " WHERE id % 1000 = 7 AND status = 'active'"
        )
        cur.execute("UPDATE groups_membership SET left_at = now() WHERE id % 1000 = 3 AND left_at IS NULL")
        cur.execute(
            "UPDATE groups_chatgroup SET roster_changed_at = now()"
            " WHERE id IN (SELECT group_id FROM groups_membership WHERE id % 1000 = 3)"
        )


def write_floor() -> tuple[float, int]:
    """The cost of only storing run #1's findings: a bare INSERT … SELECT of the same rows (from a
    temporary copy) into the findings table with its indexes, FK checks forced, then rolled back."""
    from django.db import connection, transaction

    cols = (
        "kind, group_id, membership_id, employee_id, detail, suggested_successor_id,"
        " first_seen_at, last_seen_at, status, waive_reason"
    )
    with connection.cursor() as cur:
        cur.execute(f"CREATE TEMP TABLE floor_rows AS SELECT {cols} FROM groups_rosterfinding")
        rows = cur.rowcount
    try:
        with transaction.atomic():
            with connection.cursor() as cur:
                cur.execute("TRUNCATE groups_rosterfinding CASCADE")  # rolled back: tables referencing it too
                start = time.perf_counter()
                cur.execute(f"INSERT INTO groups_rosterfinding ({cols}) SELECT {cols} FROM floor_rows")
                cur.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the deferred FK checks, as at commit
                elapsed = time.perf_counter() - start
            transaction.set_rollback(True)
    finally:
        with connection.cursor() as cur:
            cur.execute("DROP TABLE floor_rows")
    return elapsed, rows


def main() -> None:
    args = parse_args()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from groups.models import RosterFinding
    from groups.reconcile import reconcile_all

    if connection.vendor != "postgresql":
        sys.exit("this benchmark needs PostgreSQL: set DATABASE_URL")
    if "bench" not in connection.settings_dict["NAME"] and not args.force:
        sys.exit(f"refusing to empty database {connection.settings_dict['NAME']!r}: use a *bench* database or --force")
    call_command("migrate", verbosity=0)
    print(f"{args.rows:,} memberships, {args.groups:,} groups, {args.employees:,} employees (PostgreSQL)")
    timed("generate data (INSERT … SELECT generate_series)", lambda: generate(args))
    ref, count = timed("reference: one query, departed members", one_query)
    if args.no_baseline:
        base = tight = float("nan")
    else:
        base, found = timed("baseline: per-group ORM loop over each roster (issue's)", per_group_loop)
        tight, tight_found = timed("tight loop: one filtered query per group", tight_loop)
        assert found == tight_found == count, (found, tight_found, count)
    from memory import peak_mib, reset_peak, rss_mib

    runs, peaks = [], []
    for label, before, full in [
        ("full #1: reconcile_all, all findings new", None, True),
        ("full #2: after changes (auto-resolve + new)", lambda: change_some_rows(args), True),
        ("full #3: nothing changed (idempotent rerun)", None, True),
        ("incremental #4: an unchanged day", None, False),
        ("incremental #5: a day's changes (0.1 % each)", a_daily_change, False),
    ]:
        if before:
            before()
        resting = rss_mib()
        reset_peak()
        elapsed, summary = timed(label, lambda full=full: reconcile_all(full=full))
        runs.append(elapsed)
        peaks.append(peak_mib())
        print(f"    peak RSS (VmHWM of this process) {peaks[-1]:.0f} MiB (at rest before the run {resting:.0f} MiB)")
        print(f"    seen={sum(summary.seen.values()):,} created={sum(summary.created.values()):,} "
              f"resolved={sum(summary.resolved.values()):,} still_open={summary.still_open:,} "
              f"scope={summary.scope}")  # fmt: skip
        if before is None and not runs[1:]:
            floor, rows = write_floor()
            label = f"    write floor: INSERT of the same {rows:,} rows + FK checks"
            print(f"{label:<58} {floor:8.2f} s")
    print(f"findings stored: {RosterFinding.objects.count():,}; departed members found: {count:,}")
    print("PEAK RSS MiB: " + ", ".join(f"#{i + 1} {p:.0f}" for i, p in enumerate(peaks))
          + "; TIME s: " + ", ".join(f"#{i + 1} {t:.2f}" for i, t in enumerate(runs)))  # fmt: skip
    runs = runs[:3]
    worst = max(runs)
    print(f"RESULT full reconcile worst {worst:.2f} s (target < 10 s); per-group loop {base:.2f} s; "
          f"ratio loop/full = {base / worst:.1f}x (target >= 10x); one-query reference {ref:.2f} s")  # fmt: skip
    print(f"       per run: #1 {base / runs[0]:.1f}x (first run, {floor / runs[0]:.0%} of it the write floor), "
          f"#2 {base / runs[1]:.1f}x, #3 {base / runs[2]:.1f}x")  # fmt: skip
    print(f"       against the tight loop ({tight:.2f} s): #1 {tight / runs[0]:.1f}x, #2 {tight / runs[1]:.1f}x, "
          f"#3 {tight / runs[2]:.1f}x")  # fmt: skip


if __name__ == "__main__":
    main()
