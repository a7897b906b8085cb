"""WeCom sync benchmark: a full and an incremental sync of generated customer groups against the local
WeCom server (portal/tests/wecom_api_server.py, in its own process), with the API's call limits as
the floor.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/qungui_bench python bench/bench_wecom_sync.py [--scale 1]

Scale 1: 10,000 customer groups × 100 members = 1,000,000 memberships (--scale 0.1: 1,000 groups).
On a throw-away database (<name>_wecom_bench) with an HR roster of the server's company:
(a) baseline, same run: the same calls through the same client with nothing written (list every
    page, get every group): what the sync would cost if the database were free;
(b) the full sync (first run: every group created, every membership written);
(c) incremental syncs after 1 % and then 5 % of the groups changed (``--changed``; ``_control`` touch:
    a member left), each share distinct groups;
(d) the floor the API's own limits set: calls needed ÷ calls allowed per minute.
Prints wall times, calls, ratios (b)/(a), (c)/(b), the peak RSS of each step (VmHWM of this process,
bench/memory.py; the server runs apart) and the load average (the machine is shared).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.memory import peak_mib, reset_peak

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

# WeCom's published frequency limits (developer.work.weixin.qq.com, 开发指南 → 频率限制, doc path
# 90312): per company, one API may be called at most 10,000 times a minute and 150,000 times an
# hour (per IP: 20,000 / minute, 600,000 / hour). Exceeding them answers 45009.
LIMIT_PER_MINUTE = 10_000
LIMIT_PER_HOUR = 150_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(groups: int, members: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "portal.tests.wecom_api_server", "--port", str(port), "--groups", str(groups),
         "--members-per-group", str(members)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}/cgi-bin"
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{base}/gettoken", timeout=1).read()  # noqa: S310  local
            return proc, base
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the local WeCom server did not start")


def control(base: str, body: dict) -> None:
    request = urllib.request.Request(  # noqa: S310  local
        base.replace("/cgi-bin", "") + "/_control", data=json.dumps(body).encode(), method="POST"
    )
    urllib.request.urlopen(request, timeout=30).read()  # noqa: S310


def api(base: str):
    from groups.wecom_sync.client import api_for
    from portal.tests.wecom_api_server import CORP_ID, SECRETS

    secrets = {"customer": SECRETS["customer"], "contacts": SECRETS["contacts"]}
    return api_for(base, CORP_ID, secrets)


def build_roster(world) -> int:
    from groups.models import Employee
    from groups.services import ensure_department_path

    root = ensure_department_path("总公司")
    rows = [Employee(employee_no=f"E{u['userid']}", name=u["name"], department=root, wecom_id=u["userid"])
            for u in world.user_rows]  # fmt: skip
    rows += [Employee(employee_no=f"E{u}", name=f"离职{u}", department=root, wecom_id=u, status="departed")
             for u in world.departed]  # fmt: skip
    Employee.objects.bulk_create(rows, batch_size=2000)
    return len(rows)


def fetch_only(base: str) -> tuple[float, int]:
    """(a): every page and every group through the client, nothing written."""
    from groups.wecom_sync.mapping import parse_group_chat, parse_list_page

    client = api(base)
    start = time.perf_counter()
    cursor, ids = "", []
    while True:
        page = parse_list_page(client.groupchat_list(cursor=cursor, limit=1000))
        ids += [c for c, _s in page.items]
        cursor = page.next_cursor
        if not cursor:
            break
    for chat_id in ids:
        parse_group_chat(client.groupchat_get(chat_id))
    return time.perf_counter() - start, client.calls


def one_sync(base: str):
    from groups.wecom_sync.sync import run_sync, start_sync

    client = api(base)
    start = time.perf_counter()
    run = run_sync(start_sync(), client=client)
    return time.perf_counter() - start, run


def floor_minutes(calls: int) -> float:
    """Minutes the API's limits need for ``calls`` of one API: the per-minute limit, and past one
    hour's allowance the hourly one (each further 150,000 calls wait for the next hour)."""
    if calls <= LIMIT_PER_HOUR:
        return calls / LIMIT_PER_MINUTE
    return calls // LIMIT_PER_HOUR * 60 + (calls % LIMIT_PER_HOUR) / LIMIT_PER_MINUTE


def run(args) -> None:
    from django.db import connection

    import groups.tasks

    groups.tasks.enqueue_reconcile = lambda: True  # the sync alone is timed, not the reconciliation it queues

    from groups.models import Membership
    from portal.tests.wecom_api_server import World

    groups, members = max(10, int(10_000 * args.scale)), 100
    world = World(groups=groups, members_per_group=members)
    proc, base = start_server(groups, members)
    try:
        employees = build_roster(world)
        print(f"{groups:,} customer groups × {members} members on {connection.vendor}; {employees:,} employees; "
              f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")  # fmt: skip
        reset_peak()
        base_s, base_calls = fetch_only(base)
        print(f"(a) calls only, nothing written:  {base_s:8.1f} s  {base_calls:,} calls; peak RSS {peak_mib():.0f} MiB")
        reset_peak()
        full_s, full = one_sync(base)
        memberships = Membership.objects.open().count()
        print(f"(b) full sync:                    {full_s:8.1f} s  {full.counts['calls']:,} calls, "
              f"{memberships:,} open memberships, status {full.status}; (b)/(a) = {full_s / base_s:.2f}; "
              f"peak RSS {peak_mib():.0f} MiB")  # fmt: skip
        incremental = []
        for n, share in enumerate(args.changed):
            # distinct groups each time (offset n), spread over the whole list
            changed = world.chat_ids[n :: max(1, round(1 / share))]
            control(base, {"touch": changed})
            reset_peak()
            inc_s, inc = one_sync(base)
            incremental.append((share, changed, inc))
            print(f"(c) incremental, {share:.0%} changed ({len(changed):,} groups): {inc_s:8.1f} s  "
                  f"{inc.counts['calls']:,} calls, {inc.counts.get('written', 0):,} rewritten, "
                  f"{inc.counts.get('unchanged', 0):,} unchanged; (c)/(b) = {inc_s / full_s:.2f}, "
                  f"(c)/(a) = {inc_s / base_s:.2f}; peak RSS {peak_mib():.0f} MiB")  # fmt: skip
        needed_full = full.counts["calls"]
        print(f"(d) API floor at {LIMIT_PER_MINUTE:,}/min and {LIMIT_PER_HOUR:,}/h per API: full "
              f"{floor_minutes(needed_full):.2f} min ({needed_full:,} calls); incremental without change events "
              f"the same (member_version is only in groupchat/get)")  # fmt: skip
        for share, changed, inc in incremental:
            hinted = 2 + (groups + 999) // 1000 + len(changed)  # with change events: list pages + changed gets
            print(f"    incremental {share:.0%}: {inc.counts['calls']:,} calls now; with change events "
                  f"{floor_minutes(hinted) * 60:.1f} s ({hinted:,} calls)")  # fmt: skip
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0, help="1 = 10,000 groups × 100 members")
    parser.add_argument(
        "--changed",
        type=lambda v: [float(x) for x in v.split(",")],
        default=[0.01, 0.05],
        help="shares of the groups changed before each incremental sync (default 0.01,0.05)",
    )
    parser.add_argument("--db-name", default="", help="the throw-away database (default: <name>_wecom_bench)")
    args = parser.parse_args()
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    # The throw-away database is named after the configured one (qungui_x → qungui_x_wecom_bench), not
    # test_qungui_x: a session's bench databases share its database's prefix.
    connection.settings_dict.setdefault("TEST", {})["NAME"] = args.db_name or f"{old_name}_wecom_bench"
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        run(args)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
