"""The WeCom sync step of the prodlike scenario: the local WeCom server (started by prodlike.sh, the
services pointed at it by WECOM_* variables) stands in for WeCom. HR's roster gets the server's
members (one of them departed in HR); HR presses 立即同步 over HTTP; the real worker runs the sync
and the reconciliation it queues; the run is listed done and the departed member is a finding."""

from __future__ import annotations

import os

from prodlike_http import Browser, check, poll
from prodlike_month import _listed


def wecom_sync(hr: Browser) -> None:
    from groups.models import Department, Employee, WeComSyncRun
    from portal.tests.wecom_api_server import World

    groups = int(os.environ["PRODLIKE_WECOM_GROUPS"])
    world = World(groups=groups, members_per_group=int(os.environ["PRODLIKE_WECOM_MEMBERS"]))
    leaver = world.group_chat(0, need_name=True)["member_list"][1]["userid"]
    root = Department.objects.filter(depth=1).order_by("path").first()
    check(root is not None, "a department exists for the synced employees")
    Employee.objects.bulk_create(
        [
            Employee(employee_no=f"WX{u['userid']}", name=u["name"], department=root, wecom_id=u["userid"],
                     status="departed" if u["userid"] == leaver else "active")
            for u in world.user_rows
        ],
        ignore_conflicts=True,
    )  # fmt: skip
    name = Employee.objects.get(wecom_id=leaver).name
    runs = "/admin/groups/wecomsyncrun/"
    page = hr.get(runs)
    check(page.status_code == 200 and "sync-now/" in page.text, "企业微信同步 admin offers 立即同步")
    queued = hr.post(f"{runs}sync-now/", data={"csrfmiddlewaretoken": hr.csrf()})
    queued = hr.get(queued.headers.get("Location", runs))
    check("已提交企业微信同步任务" in queued.text, "立即同步 queued")
    poll(
        lambda: WeComSyncRun.objects.filter(status="done").first(),
        what="the worker finished the WeCom sync",
        timeout=180,
    )
    run = WeComSyncRun.objects.get(status="done")
    check(run.counts.get("listed") == groups and run.counts.get("failed", 0) == 0, f"sync counts {run.counts}")
    check(_listed(hr, runs, {}, "已完成") is not None, "the run is listed 已完成")
    findings = "/admin/groups/rosterfinding/"
    params = {"q": name, "kind__exact": "departed_member"}
    poll(lambda: _listed(hr, findings, params, name), what="departed member found from the sync", timeout=120)
