#!/usr/bin/env python
"""Benchmark: the dashboard on PostgreSQL on a company shaped like a real one (bench/data.py).

The data is ``bench/data.py``'s (at ``--scale 1``: 100,000 employees in ~290 departments, 10,000
groups, 1M memberships, 1M violations, ~890k sanctions, the reconciliation's findings), built once
into ``--db`` and reused by every later run. Times the dashboard view through Django's test client
for a department head (a region of about a tenth of the company) and for HR: the median of
``--repeat`` requests after a warm-up, with the query count. The baseline, measured in the same
run on the same data, is the naive way: one set of count queries per sub-department (what a
per-department loop does).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/bench_dashboard.py [--scale 0.1] [--repeat 15] [--rebuild]

``--scale`` shrinks everything (0.01 → 10,000 violations, 1,000 employees) for a quick run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_MS = 300


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 1M violations, 100k employees")
    parser.add_argument("--repeat", type=int, default=15, help="timed requests per user")
    parser.add_argument("--db", default="qungui_bench_company", help="bench database (bench/data.py builds it)")
    parser.add_argument("--rebuild", action="store_true", help="build the data again")
    parser.add_argument(
        "--rebuild-rollups", action="store_true", help="empty the dashboard rollup tables and refill them"
    )
    return parser.parse_args()


def rebuild_rollups() -> None:
    """Empty the dashboard's rollup tables and refill them (what the nightly refresh does)."""
    from django.apps import apps
    from django.db import connection

    from portal.dashboard.rollups import refresh_all

    tables = [m._meta.db_table for m in apps.get_app_config("dashboard").get_models()]
    with connection.cursor() as cur:
        cur.execute(f"TRUNCATE {', '.join(tables)}")
    started = time.perf_counter()
    counts = refresh_all()
    print(f"  {'rollups (refresh_dashboard)':<32} {time.perf_counter() - started:6.1f} s  {counts}", flush=True)
    with connection.cursor() as cur:
        for table in tables:
            cur.execute(f"ANALYZE {table}")


# --- timing ---------------------------------------------------------------------------------------------


def time_dashboard(client, user, repeat: int) -> tuple[float, int, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(user)
    client.get("/dashboard/")  # warm-up: caches, connection
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get("/dashboard/")
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
    with CaptureQueriesContext(connection) as ctx:
        client.get("/dashboard/")
    return statistics.median(timings), len(ctx.captured_queries), len(response.content)


def time_baseline(user, repeat: int) -> tuple[float, int]:
    """The naive dashboard: per sub-department, separate counts (as a loop over departments does)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from portal.dashboard import sections as dash

    def naive():
        area = dash.resolve_area(user, None)
        month = dash.parse_month(None)
        for unit in dash.breakdown_units(area)[0]:
            sub = dash.Area(roots=(unit.department,))
            dash.area_employees(user, sub).active().count()
            dash.area_violations(user, sub).for_month(month).count()
            dash.area_violations(user, sub).for_month(month).filter(status="reported").count()
            dash.area_findings(user, sub).filter(status="open").count()
            dash.area_sanctions(user, sub).active().filter(kind="fine").count()
            for category in ("content", "conduct", "confidentiality", "membership", "responsiveness"):
                dash.area_violations(user, sub).filter(rule__category=category).count()

    naive()
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        naive()
        timings.append((time.perf_counter() - started) * 1000)
    with CaptureQueriesContext(connection) as ctx:
        naive()
    return statistics.median(timings), len(ctx.captured_queries)


def main() -> None:
    args = parse_args()
    from bench import data

    info = data.prepare(args.db, args.scale, rebuild=args.rebuild)
    if args.rebuild_rollups:
        rebuild_rollups()
    from django.contrib.auth.models import User
    from django.test import Client

    counts = info.counts
    print(
        f"data ({args.db}, scale {args.scale}): {counts['violations']:,} violations, {counts['employees']:,} "
        f"employees, {counts['departments']} departments, {counts['memberships']:,} memberships, "
        f"{counts['findings']:,} findings"
    )
    client = Client()
    print(f"{'who':<28}{'median ms':>10}{'queries':>9}{'baseline ms':>13}{'queries':>9}{'speed-up':>10}")
    for label, username in (("HR (whole company)", "bench_hr"), ("department head (1/10)", "bench_head")):
        user = User.objects.get(username=username)
        median, queries, _ = time_dashboard(client, user, args.repeat)
        base_median, base_queries = time_baseline(user, max(3, args.repeat // 3))
        flag = "OK" if median < TARGET_MS else f"over {TARGET_MS} ms"
        print(
            f"{label:<28}{median:>10.0f}{queries:>9}{base_median:>13.0f}{base_queries:>9}"
            f"{base_median / median:>9.1f}x  {flag}",
            flush=True,
        )


if __name__ == "__main__":
    main()
