#!/usr/bin/env python
"""Benchmark: the latency of every page and endpoint HR and a department head open, at a real size.

Runs on the company of ``bench/data.py`` (built once, reused). Each page is requested through
Django's test client (signed in as ``bench_hr`` and as ``bench_head``): one warm-up request (its
query count is reported), then the median of ``--repeat`` timed requests, and the HTML/JSON size.

Compared against the same pages before the change, measured on the same data:

    # measure the old commit (its code, its schema) and this tree, print both with ratios
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/bench_pages.py --db qungui_bench_company --baseline-ref eb58d4f

    # or compare against figures recorded earlier (bench/pages_before.json: eb58d4f at scale 1)
    .venv/bin/python bench/bench_pages.py --before bench/pages_before.json

``--baseline-ref`` checks the old commit out in a ``git worktree`` under /tmp, migrates the bench
database back to that commit's migrations (dropping the indexes added since), measures there,
migrates forward again and measures this tree. ``--record FILE`` writes the figures as JSON.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEARCH_NAME = "王芳"  # a common name: hundreds of employees, thousands of memberships
SLOW_S = 8.0  # a page slower than this on warm-up is timed 3 times, not --repeat


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", default="qungui_bench_company", help="bench database (bench/data.py builds it)")
    parser.add_argument("--scale", type=float, default=1.0, help="bench/data.py scale (1.0 = 1M rows)")
    parser.add_argument("--repeat", type=int, default=5, help="timed requests per page (median)")
    parser.add_argument("--only", default="", help="only pages whose label contains this")
    parser.add_argument("--record", help="write the figures to this JSON file")
    parser.add_argument(
        "--serial", action="store_true", help="no parallel query workers: the CPU column is then a request's whole work"
    )
    parser.add_argument("--before", help="JSON of an earlier run (e.g. the old commit) to compare against")
    parser.add_argument("--baseline-ref", help="git commit to measure first, in a git worktree (see above)")
    parser.add_argument("--code-root", help=argparse.SUPPRESS)  # the baseline worktree (internal)
    parser.add_argument("--no-migrate", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args()


def load_data_module():
    spec = importlib.util.spec_from_file_location("bench_data", Path(__file__).with_name("data.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_data"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


# --- the pages -----------------------------------------------------------------------------------------


def pages(ctx: dict) -> list[tuple[str, str]]:
    """(label, url) of each page; ``ctx`` holds ids found in the data (the big group, page counts)."""
    q = SEARCH_NAME
    out = [
        ("admin violations: first page", "/admin/violations/violation/"),
        ("admin violations: status=sanctioned", "/admin/violations/violation/?status__exact=sanctioned"),
        ("admin violations: sanction=fine", "/admin/violations/violation/?sanction=fine"),
        ("admin violations: sort by department", "/admin/violations/violation/?o=3"),
        ("admin violations: page 500", "/admin/violations/violation/?p=500"),
        ("admin violations: name search", f"/admin/violations/violation/?q={q}"),
        ("admin employees: search", f"/admin/groups/employee/?q={q}"),
        ("admin employees: first page", "/admin/groups/employee/"),
        ("admin memberships: first page", "/admin/groups/membership/"),
        ("admin memberships: search", f"/admin/groups/membership/?q={q}"),
        ("admin memberships: sort by nickname", "/admin/groups/membership/?o=1"),
        ("admin findings: first page", "/admin/groups/rosterfinding/"),
        ("admin findings: search", f"/admin/groups/rosterfinding/?q={q}"),
        ("admin chat groups: first page", "/admin/groups/chatgroup/"),
        (f"admin chat group change ({ctx['big_group_size']} members)",
         f"/admin/groups/chatgroup/{ctx['big_group']}/change/"),
        ("api memberships: first page", "/api/v1/memberships/"),
        ("api memberships: last page", "/api/v1/memberships/?page={last}"),
        ("api violations: first page", "/api/v1/violations/"),
        ("api violations: sanction_kind=fine", "/api/v1/violations/?sanction_kind=fine"),
        ("api violations: search", f"/api/v1/violations/?search={q}"),
        ("api violations: last page", "/api/v1/violations/?page={last}"),
        ("api findings: last page", "/api/v1/findings/?page={last}"),
        ("dashboard", "/dashboard/"),
        ("home", "/"),
        ("dashboard violations: all", "/dashboard/violations/"),
        ("dashboard violations: month", f"/dashboard/violations/?month={ctx['month']}"),
        ("dashboard violations: sanction=fine", "/dashboard/violations/?sanction=fine"),
        ("dashboard violations: page 200", "/dashboard/violations/?page=200"),
        ("dashboard findings: all", "/dashboard/findings/"),
        ("dashboard findings: departed, older than 1 day", "/dashboard/findings/?kind=departed_member&age=1d"),
        ("suspicions (待核实)", "/violations/suspected/"),
        ("admin sanctions: first page", "/admin/violations/sanction/"),
        ("admin appeals: first page", "/admin/violations/appeal/"),
    ]  # fmt: skip
    return out


def context_for(user) -> dict:
    """The largest group the user sees (its open members), for the change page."""
    import datetime

    from django.db.models import Count, Q
    from django.utils import timezone

    from groups.models import ChatGroup

    group = (
        ChatGroup.objects.visible_to(user)
        .annotate(n=Count("memberships", filter=Q(memberships__left_at__isnull=True)))
        .order_by("-n", "pk")
        .values_list("pk", "n")
        .first()
    )
    # the last whole month: the data ends on 2026-12-01, so the current month is nearly empty
    month = (timezone.localdate().replace(day=1) - datetime.timedelta(days=1)).strftime("%Y-%m")
    return {"big_group": group[0], "big_group_size": group[1], "month": month}


def resolve_last(client, url: str) -> str | None:
    """``{last}``: the last page number from the first page's count; None if the list has no count."""
    first = client.get(url.replace("page={last}", "page=1"))
    data = first.json() if first.status_code == 200 else {}
    if "count" not in data or not data.get("results"):
        return None
    return url.replace("{last}", str(max(1, math.ceil(data["count"] / len(data["results"])))))


def backend_pid(connection) -> int:
    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        return cur.fetchone()[0]


def cpu_ns(backend: int) -> int:
    """CPU time so far of this process (the view runs in it) and of its PostgreSQL backend, in ns.

    The machine is shared: wall time grows with the load, CPU time hardly does. ``schedstat``'s first
    field is the time a task has run on a CPU; the backend runs as another user, but
    ``/proc/<pid>/schedstat`` is world-readable. Parallel query workers are not counted: ``--serial``
    turns them off so that the CPU figure is the whole of a request's work (an upper bound of its
    time on an idle machine with one CPU per request).
    """
    own = time.process_time_ns()
    with open(f"/proc/{backend}/schedstat") as f:
        return own + int(f.read().split()[0])


def measure(client, url: str, repeat: int) -> dict:
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    reset_queries()  # request_started resets the log too: start capturing from an empty one
    started = time.perf_counter()
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    warm = time.perf_counter() - started
    n = repeat if warm < SLOW_S else min(repeat, 3)
    timings, cpu = [], []
    backend = backend_pid(connection)
    for _ in range(n):
        started, cpu_started = time.perf_counter(), cpu_ns(backend)
        response = client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
        cpu.append((cpu_ns(backend) - cpu_started) / 1e6)
        assert backend_pid(connection) == backend, "the request closed the database connection"
    return {
        "ms": round(statistics.median(timings), 1),
        "cpu_ms": round(statistics.median(cpu), 1),
        "queries": len(captured.captured_queries),
        "bytes": len(response.content),
        "status": response.status_code,
        "n": n,
    }


def run(args: argparse.Namespace) -> dict:
    data = load_data_module()
    if args.code_root:  # the old commit's code (its portal, groups, violations) before this tree's
        sys.path.insert(0, args.code_root)
    info = data.prepare(args.db, args.scale, migrate=not args.no_migrate)
    from django.contrib.auth.models import User
    from django.test import Client

    results: dict = {}
    if args.serial:
        from django.db import connection

        with connection.cursor() as cur:
            cur.execute("SET max_parallel_workers_per_gather = 0")
    for role in ("bench_hr", "bench_head"):
        user = User.objects.get(username=role)
        client = Client()
        client.force_login(user)
        ctx = context_for(user)
        for label, url in pages(ctx):
            if args.only and args.only not in label:
                continue
            label = label.split(" (")[0] if label.startswith("admin chat group change") else label
            if "{last}" in url:
                url = resolve_last(client, url)
                if url is None:
                    continue
            figures = measure(client, url, args.repeat)
            figures["url"] = url
            if label.startswith("admin chat group change"):
                figures["members"] = ctx["big_group_size"]
            results.setdefault(label, {})[role] = figures
            print(
                f"  {role:<11} {label:<42} {figures['ms']:>9.1f} ms {figures['cpu_ms']:>9.1f} cpu ms "
                f"{figures['queries']:>5} q "
                f"{figures['bytes'] / 1024:>8.1f} KB  [{figures['status']}]",
                file=sys.stderr,
                flush=True,
            )
    commit = subprocess.run(
        ["git", "-C", args.code_root or str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    load = [round(x, 1) for x in os.getloadavg()]  # the machine is shared: say how busy it was
    return {
        "commit": commit,
        "db": args.db,
        "scale": args.scale,
        "loadavg": load,
        "counts": info.counts,
        "pages": results,
    }


# --- the old commit ------------------------------------------------------------------------------------


def baseline(args: argparse.Namespace) -> dict:
    """Measure ``--baseline-ref`` on its own schema, then migrate this tree's schema back."""
    ref = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", args.baseline_ref], capture_output=True, text=True, check=True
    ).stdout.strip()
    tree = Path(tempfile.gettempdir()) / f"qungui_pages_base_{ref}"
    if not tree.exists():
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), ref], check=True)
    data = load_data_module()
    env = {**os.environ, "DATABASE_URL": f"{data.admin_url()}/{args.db}", "LOG_LEVEL": "WARNING"}
    env.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    env.pop("REDIS_URL", None)
    # build (or reuse) the data on this tree's schema, then step each app back to the old leaf
    subprocess.run(
        [sys.executable, str(Path(__file__).with_name("data.py")), "--db", args.db, "--scale", str(args.scale)],
        check=True,
        env={**os.environ},
    )
    listing = subprocess.run(
        ["git", "-C", str(ROOT), "ls-tree", "-r", "--name-only", ref], capture_output=True, text=True, check=True
    ).stdout.split()
    leaves: dict[str, str] = {}
    for path in listing:
        parts = path.split("/")
        if len(parts) >= 3 and parts[-2] == "migrations" and parts[-1][:4].isdigit():
            app = parts[-3]
            leaves[app] = max(leaves.get(app, ""), parts[-1].removesuffix(".py"))
    # One executor run, not `migrate <app> <leaf>` per app: that command's post_migrate handlers
    # run this tree's models against the old schema (a column dropped a step earlier) and fail.
    script = (
        "import django, json, sys; django.setup(); from django.db import connection; "
        "from django.db.migrations.executor import MigrationExecutor; "
        "MigrationExecutor(connection).migrate([tuple(t) for t in json.loads(sys.argv[1])])"
    )
    subprocess.run([sys.executable, "-c", script, json.dumps(sorted(leaves.items()))], check=True, env=env, cwd=ROOT)
    out = Path(tempfile.gettempdir()) / f"qungui_pages_before_{ref}_{args.db}.json"
    argv = [sys.executable, __file__, "--db", args.db, "--scale", str(args.scale), "--repeat", str(args.repeat)]
    argv += ["--code-root", str(tree), "--no-migrate", "--record", str(out)]
    if args.only:
        argv += ["--only", args.only]
    if args.serial:  # the same conditions for both halves
        argv += ["--serial"]
    subprocess.run(argv, check=True, cwd=tree, env={**os.environ, "PYTHONPATH": str(tree)})
    return json.loads(out.read_text())


# --- report --------------------------------------------------------------------------------------------


def table(after: dict, before: dict | None) -> str:
    who = {"bench_hr": "HR", "bench_head": "head"}
    head = "| page | who | ms | CPU ms | queries | KB |"
    rule = "|---|---|---:|---:|---:|---:|"
    if before:
        head = "| page | who | before ms | after ms | speed-up | before q | after q | before KB | after KB |"
        rule = "|---|---|---:|---:|---:|---:|---:|---:|---:|"
    lines = [head, rule]
    for label, roles in after["pages"].items():
        for role, fig in roles.items():
            if not before:
                kb = fig["bytes"] / 1024
                cpu = f"{fig['cpu_ms']:.0f}" if "cpu_ms" in fig else "–"
                lines.append(f"| {label} | {who[role]} | {fig['ms']:.0f} | {cpu} | {fig['queries']} | {kb:.0f} |")
                continue
            old = before["pages"].get(label, {}).get(role)
            if old is None:
                lines.append(f"| {label} | {who[role]} | – | {fig['ms']:.0f} | – | – | {fig['queries']} | – | "
                             f"{fig['bytes'] / 1024:.0f} |")  # fmt: skip
                continue
            ratio = old["ms"] / fig["ms"] if fig["ms"] else float("inf")
            # a refused page (the API's 400 beyond 10,000 rows, which names the cursor) is not a speed-up
            status = "" if fig.get("status", 200) == 200 else f" ({fig['status']})"
            lines.append(
                f"| {label} | {who[role]} | {old['ms']:.0f} | {fig['ms']:.0f}{status} | "
                f"{'–' if status else f'{ratio:.1f}×'} | {old['queries']} | "
                f"{fig['queries']} | {old['bytes'] / 1024:.0f} | {fig['bytes'] / 1024:.0f} |"
            )
    return "\n".join(lines)


def main() -> None:
    args = parse_args()
    before = None
    if args.baseline_ref:
        before = baseline(args)
    elif args.before:
        before = json.loads(Path(args.before).read_text())
    after = run(args)
    if args.record:
        Path(args.record).write_text(json.dumps(after, ensure_ascii=False, indent=1) + "\n")
    if args.code_root:
        return  # the baseline child: the parent prints the table
    counts = after["counts"]
    print(
        f"\n{args.db} (scale {args.scale}): {counts['employees']:,} employees, {counts['departments']} departments, "
        f"{counts['groups']:,} groups, {counts['memberships']:,} memberships, {counts['violations']:,} violations, "
        f"{counts['sanctions']:,} sanctions, {counts['findings']:,} findings; median of {args.repeat}"
        + (f"; before = {before['commit']}, after = {after['commit']}" if before else "")
        + f"; load average at the end {after['loadavg']}"
        + (f" (before: {before.get('loadavg', '?')})" if before else "")
        + "\n"
    )
    print(table(after, before))


if __name__ == "__main__":
    main()
