"""After scripts/prodlike.sh stops the services: their logs are structured as production needs.

web.log: every line is a JSON object; request lines carry a request id.
worker.log: the task run by the scenario logged JSON lines carrying its task id and name, and the
request id of the sender (a message header, portal/celery.py). The month's work ran on the worker:
each task of MONTH_TASKS succeeded there at least the given number of times, with the request id of
a web request in web.log (the page that queued it).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def json_lines(path: Path) -> tuple[list[dict], list[str]]:
    parsed, other = [], []
    for line in path.read_text(errors="replace").splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            other.append(line)
            continue
        (parsed if isinstance(item, dict) else other).append(item if isinstance(item, dict) else line)
    return parsed, other


# Task name -> successful runs the month of scripts/prodlike_month.py needs on the worker.
MONTH_TASKS = {
    "groups.tasks.validate_import_task": 2,  # employee roster, group roster (both above the async threshold)
    "groups.tasks.run_import_task": 2,
    "groups.tasks.reconcile_groups_task": 3,  # after each roster import, and 立即核查
    "violations.tasks.compute_deductions_task": 1,  # 计算月份
    "violations.tasks.build_export_task": 1,  # the XLSX report
}


def month_problems(worker: list[dict], web_request_ids: set[str]) -> list[str]:
    problems = []
    for name, runs in MONTH_TASKS.items():
        done = [
            line
            for line in worker
            if line.get("task_name") == name
            and line.get("logger") == "celery.app.trace"
            and "succeeded" in line["message"]
        ]
        if len(done) < runs:
            problems.append(f"worker.log: {name} succeeded {len(done)} time(s), the month needs {runs}")
        elif not all(line.get("task_id") and line.get("request_id") in web_request_ids for line in done):
            problems.append(f"worker.log: {name} lines lack their task id or the request id of the page that queued it")
    return problems


def main(logs: Path) -> int:
    problems = []
    web, web_other = json_lines(logs / "web.log")
    if web_other:
        problems.append(f"web.log: {len(web_other)} non-JSON line(s), first: {web_other[0][:200]!r}")
    requests_logged = [line for line in web if line.get("logger") == "qungui.request"]
    if not requests_logged or not all(line.get("request_id") for line in requests_logged):
        problems.append("web.log: request lines missing or without request_id")
    worker, _ = json_lines(logs / "worker.log")
    task_lines = [line for line in worker if line.get("task_name") == "portal.anonymize_departed"]
    if not task_lines or not all(line.get("task_id") for line in task_lines):
        problems.append("worker.log: no JSON line with task_id for portal.anonymize_departed")
    if not any(line.get("request_id") == "prodlike-scenario-0001" for line in task_lines):
        problems.append("worker.log: the task's lines lack the request id of the code that sent it")
    problems += month_problems(worker, {line["request_id"] for line in requests_logged if line.get("request_id")})
    for problem in problems:
        print(f"FAIL: {problem}", file=sys.stderr)
    print(f"logs: {len(requests_logged)} request line(s), {len(task_lines)} task line(s) with ids")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
