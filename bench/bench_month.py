#!/usr/bin/env python
"""The month, simulated: departures found, told and removed, on PostgreSQL with a real Celery worker.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/7 \\
        .venv/bin/python bench/bench_month.py [--scale 0.02] [--days 30] [--json out.json]

The company is ``bench/data.py``'s, with 50,000 employees, 10,000 groups and 1,000,000 memberships at
``--scale 1`` (built once into ``--db``; each run works on a fresh copy, ``<db>_run``). The portal
runs as in production (``scripts/prodlike.sh``): gunicorn, a Celery worker and beat on Redis,
DEBUG=0. WeCom application messages go to the local WeCom API of the tests
(``portal/tests/wecom_server.py``, in this process), email to Django's file backend.

Each simulated day:
  1. HR signs in and uploads the whole employee roster (CSV, UTF-8) on the import page, waits for
     the worker's preview, confirms; the worker writes it. That day's departures (2 % of the staff
     over the month, ``--departures``) are 离职 in the file. HR's requests are counted.
  2. The import queues the reconciliation (worker), which opens the findings and records the group
     owners' and admins' notices; the worker delivers them (WeCom, email).
  3. Simulated group admins act on their queue with a random delay: open /queue/, press 已移出群
     (POST /groups/work/findings/<id>/removed/), over HTTP, signed in (their sessions are made
     directly: a phone stays signed in, and PBKDF2 logins would only measure the hasher).

Times of steps 1–2 are real (wall clock, from the database rows: the import job's ``finished_at``,
the finding's ``first_seen_at``, the notice's ``sent_at``); the admins' delays are simulated (drawn,
see ``admin_delay``) and added to the real time of the notice. Reported per departure: import →
finding, import → notice (the last of their groups' admins told), import → membership closed, the
share of departed members still in a group 24 h after the import, and HR's HTTP requests in the month.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import csv
import datetime as dt
import heapq
import io
import json
import os
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench import data  # noqa: E402

TARGET_SECONDS = 15 * 60
SAMPLED: set[int] = set()  # departures whose admins are simulated (--admin-share)
DAY_TIMEOUT = 30 * 60  # a day whose notices are not all out after this is reported as such
TZ = dt.timezone(dt.timedelta(hours=8))
MONTH_START = dt.datetime(2026, 12, 1, tzinfo=TZ)
IMPORT_AT = dt.timedelta(hours=9, minutes=30)  # HR uploads the roster at 09:30 each simulated day


# --- the simulated people ------------------------------------------------------------------------


def admin_delay(rng: random.Random) -> float | None:
    """Seconds a group admin takes to act on a notice (None: on leave, never within the month).

    Most act within hours during the day, some the next morning, a few after days, some never: the
    shape, not the numbers, is the point (the share still in a group after 24 h depends on it).
    """
    roll = rng.random()
    if roll < 0.65:
        return min(8 * 3600, rng.lognormvariate(7.9, 1.0))  # median ~45 min
    if roll < 0.88:
        return rng.uniform(8, 22) * 3600  # that evening or the next morning
    if roll < 0.97:
        return rng.uniform(1, 4) * 86400
    return None


@dataclass
class Action:
    at_sim: dt.datetime
    finding_id: int
    membership_id: int
    group_id: int
    departure: int


@dataclass
class Stats:
    hr_requests: int = 0  # pages HR opens and forms HR submits
    hr_polls: int = 0  # the import page's progress polling (its script, not HR)
    admin_requests: int = 0
    admin_failures: list[str] = field(default_factory=list)
    days: list[dict] = field(default_factory=list)


# --- the portal's processes ------------------------------------------------------------------------


class Portal:
    """gunicorn + Celery worker + beat on the run database, as scripts/prodlike.sh starts them."""

    def __init__(self, env: dict[str, str], work: Path) -> None:
        self.env, self.work, self.procs = env, work, {}

    def start(self) -> None:
        bin_dir = Path(sys.executable).parent
        self._run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], "collectstatic")
        commands = {
            "web": [str(bin_dir / "gunicorn"), "--config", "python:portal.gunicorn_conf", "portal.wsgi"],
            "worker": [sys.executable, "-m", "celery", "-A", "portal", "worker", "--loglevel", "WARNING",
                       "-n", "sim-worker@%h", "--without-gossip", "--without-mingle"],
            "beat": [sys.executable, "-m", "celery", "-A", "portal", "beat", "--loglevel", "WARNING",
                     "--schedule", str(self.work / "beat-schedule")],
        }  # fmt: skip
        for name, command in commands.items():
            with (self.work / f"{name}.log").open("w") as log:
                self.procs[name] = subprocess.Popen(
                    command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
        base = self.env["PRODLIKE_BASE_URL"]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited: {(self.work / f'{name}.log').read_text()[-3000:]}")
            try:
                if urllib.request.urlopen(f"{base}/readyz", timeout=2).status == 200:  # noqa: S310
                    return
            except OSError:
                pass
            time.sleep(1)
        raise RuntimeError("the portal was not ready within 120 s")

    def _run(self, command: list[str], name: str) -> None:
        done = subprocess.run(command, cwd=ROOT, env=self.env, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"{name} failed: {done.stderr[-2000:]}")

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for name, proc in self.procs.items():
            try:
                proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                print(f"  {name} still running 40 s after SIGTERM: killed", flush=True)
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def start_wecom() -> tuple[object, str]:
    """The tests' local WeCom API, knowing every userid (the roster's 企业微信 column)."""
    from http.server import ThreadingHTTPServer

    from portal.tests.wecom_server import AGENT_ID, CORP_ID, SECRET, FakeWeCom

    class Everyone:
        def __contains__(self, userid: str) -> bool:
            return True

    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeWeCom)
    server.requests, server.delivered, server.script = [], [], []  # type: ignore[attr-defined]
    server.users, server.tokens, server.valid_token, server.expires_in = Everyone(), 0, None, 7200  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {"WECOM_CORP_ID": CORP_ID, "WECOM_AGENT_ID": AGENT_ID, "WECOM_APP_SECRET": SECRET}
    env["WECOM_API_BASE"] = f"http://127.0.0.1:{server.server_port}/cgi-bin"
    return server, json.dumps(env)


# --- the run database ------------------------------------------------------------------------------


def fresh_copy(template: str) -> str:
    """CREATE DATABASE <template>_run TEMPLATE <template>: every run starts from the same company."""
    import psycopg
    from django.db import connection

    connection.close()
    run_db = f"{template}_run"
    with psycopg.connect(f"{data.admin_url()}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{run_db}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{run_db}" TEMPLATE "{template}"')
    connection.settings_dict["NAME"] = run_db
    with connection.cursor() as cur:
        # Notices the company's build recorded (data.py runs a reconciliation, in-process) belong to
        # before the month: delivered then, not work for this month's worker.
        cur.execute(
            "UPDATE portal_notificationlog SET status = 'sent', sent_at = created_at"
            " WHERE status IN ('pending', 'retrying')"
        )
        if cur.rowcount:
            print(f"  {cur.rowcount} notices from building the company marked delivered before the month")
        cur.execute("UPDATE auth_user SET email = 'hr@example.cn' WHERE username = 'bench_hr' AND email = ''")
    return run_db


def roster_csv(departures: dict[int, dt.date]) -> bytes:
    """The HR system's export: every employee, the day's departures already 离职."""
    from django.db import connection

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["工号", "姓名", "部门", "职位", "状态", "入职日期", "离职日期", "微信号", "企业微信", "邮箱"])
    with connection.cursor() as cur:
        cur.execute(
            "SELECT e.id, e.employee_no, e.name, d.name_path, e.title, e.status, e.hire_date, e.departure_date,"
            " e.wechat_id, e.wecom_id, e.email FROM groups_employee e JOIN groups_department d"
            " ON d.id = e.department_id ORDER BY e.id"
        )
        for pk, no, name, dept, title, status, hired, left, wechat, wecom, email in cur:
            if pk in departures:
                status, left = "departed", departures[pk]
            writer.writerow(
                [no, name, dept, title, "离职" if status == "departed" else "在职", hired, left or "", wechat, wecom,
                 email]
            )  # fmt: skip
    return ("\ufeff" + out.getvalue()).encode()


# --- HR over HTTP -----------------------------------------------------------------------------------


def wait_for(probe, what: str, timeout: float, every: float = 1.0):
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {timeout:.0f} s")
        time.sleep(every)


def hr_imports(stats: Stats, content: bytes, day: int) -> int:
    """HR's morning: sign in, upload the roster, open the preview, confirm. Returns the job id."""
    from prodlike_http import Browser

    hr = Browser()

    def counted(method: str, url: str, **kwargs):
        stats.hr_requests += 1
        response = hr.request(method, url, **kwargs)
        if response.status_code >= 400:
            raise RuntimeError(f"HR {method} {url}: {response.status_code}")
        return response

    counted("GET", "/login/")
    credentials = {"username": "bench_hr", "password": data.PASSWORD, "csrfmiddlewaretoken": hr.csrf()}
    if counted("POST", "/login/", data=credentials).status_code != 302:
        raise RuntimeError("HR login refused")
    counted("GET", "/groups/import/employees/")
    upload = counted(
        "POST",
        "/groups/import/employees/",
        data={"csrfmiddlewaretoken": hr.csrf(), "group": ""},
        files={"file": (f"花名册-{day + 1:02d}.csv", content, "text/csv")},
        timeout=120,
    )
    job = re.fullmatch(r"/groups/import/job/(\d+)/", upload.headers.get("Location", ""))
    if upload.status_code != 302 or job is None:
        raise RuntimeError(f"upload not accepted ({upload.status_code})")
    job_id = int(job.group(1))

    def state() -> dict | None:
        stats.hr_polls += 1
        answer = hr.get(f"/groups/import/job/{job_id}/progress/").json()
        return None if answer["working"] else answer

    previewed = wait_for(state, f"day {day + 1}: preview of job {job_id}", DAY_TIMEOUT)
    if previewed["status"] != "previewed":
        raise RuntimeError(f"day {day + 1}: job {job_id} {previewed}")
    preview = counted("GET", f"/groups/import/job/{job_id}/")
    if "确认导入" not in preview.text:
        raise RuntimeError(f"day {day + 1}: no 确认导入 on the preview")
    counted("POST", f"/groups/import/job/{job_id}/confirm/", data={"csrfmiddlewaretoken": hr.csrf()})
    done = wait_for(state, f"day {day + 1}: import of job {job_id}", DAY_TIMEOUT)
    if done["status"] != "done":
        raise RuntimeError(f"day {day + 1}: job {job_id} ended {done}")
    return job_id


# --- group admins over HTTP ------------------------------------------------------------------------


class Admins:
    """Signed-in sessions of the group admins who act (made on first use) and their HTTP actions."""

    def __init__(self, stats: Stats, threads: int) -> None:
        self.stats, self.threads, self.sessions = stats, threads, {}
        self.lock = threading.Lock()

    def session_for(self, employee_id: int) -> str:
        """A session cookie for the employee's login (created, with no usable password, if missing)."""
        from django.contrib.auth import get_user_model
        from django.test import Client

        from groups.models import Employee

        if employee_id in self.sessions:
            return self.sessions[employee_id]
        employee = Employee.objects.select_related("user").get(pk=employee_id)
        user = employee.user
        if user is None:
            user = get_user_model().objects.create_user(f"sim_{employee.employee_no.lower()}")
            Employee.objects.filter(pk=employee_id).update(user=user)
        client = Client()
        client.force_login(user, backend="groups.accounts.EmployedModelBackend")
        from django.conf import settings

        self.sessions[employee_id] = client.cookies[settings.SESSION_COOKIE_NAME].value
        return self.sessions[employee_id]

    def act(self, by_actor: dict[int, list[Action]]) -> list[int]:
        """Each admin opens the queue once and presses 已移出群 for each of their findings; returns the
        memberships whose POST was answered 302."""
        from django.conf import settings

        cookies = {actor: self.session_for(actor) for actor in by_actor}

        def one(actor: int) -> list[int]:
            from prodlike_http import Browser

            browser = Browser()
            browser.cookies.set(settings.SESSION_COOKIE_NAME, cookies[actor])
            done = []
            queue = browser.get("/queue/")
            requests = 1
            if queue.status_code != 200:
                with self.lock:
                    self.stats.admin_requests += requests
                    self.stats.admin_failures.append(f"queue of {actor}: {queue.status_code}")
                return done
            for action in by_actor[actor]:
                url = f"/groups/work/findings/{action.finding_id}/removed/"
                answer = browser.post(url, data={"csrfmiddlewaretoken": browser.csrf(), "next": "/queue/"})
                requests += 1
                if answer.status_code == 302:
                    done.append(action.membership_id)
                else:
                    with self.lock:
                        self.stats.admin_failures.append(f"{url}: {answer.status_code}")
            with self.lock:
                self.stats.admin_requests += requests
            return done

        closed: list[int] = []
        with concurrent.futures.ThreadPoolExecutor(self.threads) as pool:
            for result in pool.map(one, list(by_actor)):
                closed += result
        return closed


# --- the month -------------------------------------------------------------------------------------


@dataclass(eq=False)
class Departure:
    employee_id: int
    day: int
    t0_real: dt.datetime | None = None  # the import job's finished_at
    t0_sim: dt.datetime | None = None
    uploaded_real: dt.datetime | None = None
    memberships: set[int] = field(default_factory=set)
    found: dict[int, dt.datetime] = field(default_factory=dict)  # membership -> first_seen_at
    told: dict[int, dt.datetime] = field(default_factory=dict)  # group -> first notice sent_at
    groups: set[int] = field(default_factory=set)
    closed_sim: dict[int, dt.datetime] = field(default_factory=dict)  # membership -> simulated close


def pick_departures(rng: random.Random, share: float, days: int) -> dict[int, list[int]]:
    from django.conf import settings

    from groups.models import Department, Employee

    keep = set(Department.objects.exclude(head=None).values_list("head_id", flat=True))
    keep |= set(Employee.objects.filter(user__groups__name=settings.ROLE_HR_ADMIN).values_list("pk", flat=True))
    active = [pk for pk in Employee.objects.active().order_by("pk").values_list("pk", flat=True) if pk not in keep]
    chosen = rng.sample(active, round(len(active) * share))
    by_day: dict[int, list[int]] = defaultdict(list)
    for pk in chosen:
        by_day[rng.randrange(days)].append(pk)
    return by_day


def wait_for_notices(since: dt.datetime, timeout: float) -> dt.datetime:
    """Until a reconciliation has run after the upload and no notice is waiting for delivery."""
    from groups.findings import ReconcileRun
    from portal.models import NotificationLog

    def settled():
        run = ReconcileRun.objects.filter(finished_at__gte=since).order_by("finished_at").first()
        if run is None:
            return None
        waiting = NotificationLog.objects.filter(status__in=["pending", "retrying"], created_at__gte=since)
        return None if waiting.exists() else run.finished_at

    return wait_for(settled, "reconciliation and delivery of the notices", timeout, every=2)


def measure_day(people: list[Departure], since: dt.datetime) -> None:
    from groups.models import RosterFinding
    from portal.models import NotificationLog

    by_membership = {m: d for d in people for m in d.memberships}
    for membership_id, group_id, seen in RosterFinding.objects.filter(
        membership_id__in=list(by_membership), kind="departed_member", first_seen_at__gte=since
    ).values_list("membership_id", "group_id", "first_seen_at"):
        person = by_membership[membership_id]
        person.found[membership_id] = seen
        person.groups.add(group_id)
    groups = {g for d in people for g in d.groups}
    sent: dict[int, dt.datetime] = {}
    for key, at in NotificationLog.objects.filter(
        event_key__startswith="findings-new:", created_at__gte=since, status="sent"
    ).values_list("event_key", "sent_at"):
        group_id = int(key.split(":")[1])
        if group_id in groups and (group_id not in sent or at < sent[group_id]):
            sent[group_id] = at
    for person in people:
        person.told = {g: sent[g] for g in person.groups if g in sent}


def plan_actions(people: list[Departure], rng: random.Random, actions: list) -> None:
    """Each finding is acted on by one of its group's active owner/admins, after a drawn delay."""
    from groups.models import ChatGroup, Employee, RosterFinding

    group_ids = {g for d in people for g in d.told}
    active = set(Employee.objects.active().values_list("pk", flat=True))
    staff: dict[int, list[int]] = defaultdict(list)
    for group_id, owner in ChatGroup.objects.filter(pk__in=group_ids).values_list("pk", "owner_id"):
        if owner in active:
            staff[group_id].append(owner)
    for group_id, admin in ChatGroup.admins.through.objects.filter(chatgroup_id__in=group_ids).values_list(
        "chatgroup_id", "employee_id"
    ):
        if admin in active:
            staff[group_id].append(admin)
    findings = {
        membership_id: (pk, group_id)
        for membership_id, pk, group_id in RosterFinding.objects.open()
        .filter(kind="departed_member", membership_id__in=[m for d in people for m in d.found])
        .values_list("membership_id", "pk", "group_id")
    }
    for person in people:
        for membership_id in person.found:
            finding_id, group_id = findings.get(membership_id, (None, None))
            if finding_id is None or group_id not in person.told or not staff.get(group_id):
                continue  # closed already, nobody was told, or nobody can act
            delay = admin_delay(rng)
            if delay is None:
                continue
            told_sim = person.t0_sim + (person.told[group_id] - person.t0_real)
            at_sim = told_sim + dt.timedelta(seconds=delay)
            actor = sorted(staff[group_id])[rng.randrange(len(staff[group_id]))]
            heapq.heappush(
                actions,
                (at_sim, membership_id, actor, Action(at_sim, finding_id, membership_id, group_id, person.employee_id)),
            )  # fmt: skip


def run_actions(admins: Admins, actions: list, until: dt.datetime | None, people: dict[int, Departure]) -> int:
    """The admins act on everything due before ``until`` (None: all that is left)."""
    from groups.models import Employee

    due: list[tuple[int, Action]] = []
    while actions and (until is None or actions[0][0] < until):
        _at, _m, actor, action = heapq.heappop(actions)
        due.append((actor, action))
    if not due:
        return 0
    active = set(Employee.objects.active().filter(pk__in={a for a, _ in due}).values_list("pk", flat=True))
    by_actor: dict[int, list[Action]] = defaultdict(list)
    for actor, action in due:
        if actor in active:  # an admin who departed meanwhile does not act
            by_actor[actor].append(action)
    closed = set(admins.act(by_actor))
    from groups.models import Membership

    really = set(Membership.objects.filter(pk__in=closed, left_at__isnull=False).values_list("pk", flat=True))
    for _actor, action in due:
        if action.membership_id in really:
            people[action.departure].closed_sim[action.membership_id] = action.at_sim
    if closed - really:
        admins.stats.admin_failures.append(f"{len(closed - really)} memberships answered 302 but still open")
    return len(really)


# --- report ----------------------------------------------------------------------------------------


def quantiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    values = sorted(values)

    def q(p: float) -> float:
        return values[min(len(values) - 1, int(p * len(values)))]

    return {"p50": q(0.5), "p90": q(0.9), "p99": q(0.99), "max": values[-1]}


def _worst(moments, since: dt.datetime, scale: float = 1.0) -> float:
    return max((t - since).total_seconds() for t in moments) / scale


def report(people: list[Departure], stats: Stats, extra: dict) -> dict:
    """Per departure: the worst of their groups (the last finding, the last group's admins told)."""
    in_groups = [d for d in people if d.memberships]
    found_all = [d for d in in_groups if len(d.found) == len(d.memberships)]
    told_all = [d for d in found_all if len(d.told) == len(d.groups)]
    to_finding = [_worst(d.found.values(), d.t0_real) for d in found_all]
    to_notice = [_worst(d.told.values(), d.t0_real) for d in told_all]
    from_upload = [_worst(d.told.values(), d.uploaded_real) for d in told_all]
    within = [d for d in told_all if max(_worst(d.found.values(), d.t0_real), _worst(d.told.values(), d.t0_real))
              <= TARGET_SECONDS]  # fmt: skip
    closed_all = [d for d in in_groups if len(d.closed_sim) == len(d.memberships)]
    to_close = [_worst(d.closed_sim.values(), d.t0_sim, 3600) for d in closed_all]
    memberships = sum(len(d.memberships) for d in in_groups)
    day = dt.timedelta(hours=24)
    still = sum(
        1 for d in in_groups for m in d.memberships if m not in d.closed_sim or d.closed_sim[m] - d.t0_sim > day
    )
    return {
        **extra,
        "departures": len(people),
        "departures_in_groups": len(in_groups),
        "departed_memberships": memberships,
        "finding_s": quantiles(to_finding),
        "notice_s": quantiles(to_notice),
        "notice_from_upload_s": quantiles(from_upload),
        "departures_not_all_found": len(in_groups) - len(found_all),
        "departures_not_all_told": len(found_all) - len(told_all),
        "within_15_min_share": len(within) / len(in_groups) if in_groups else None,
        "closed_h": quantiles(to_close),
        "departures_all_closed": len(closed_all),
        "memberships_still_in_after_24h_share": still / memberships if memberships else None,
        "hr_requests": stats.hr_requests,
        "hr_progress_polls": stats.hr_polls,
        "admin_requests": stats.admin_requests,
        "admin_failure_count": len(stats.admin_failures),
        "admin_failures": stats.admin_failures[:20],
        "days": stats.days,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default="qungui_sim_bench_month", help="bench database (built by bench/data.py)")
    parser.add_argument("--scale", type=float, default=1.0, help="1 = 50k employees, 10k groups, 1M memberships")
    parser.add_argument("--days", type=int, default=30, help="days of the month (departures spread over them)")
    parser.add_argument("--run-days", type=int, help="simulate only the first N days (a long month on a slow machine)")
    parser.add_argument(
        "--admin-share",
        type=float,
        default=1.0,
        help="share of the departures whose group admins are simulated over HTTP (the rest stay untouched)",
    )
    parser.add_argument("--departures", type=float, default=0.02, help="share of the staff leaving in the month")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--port", type=int, default=18087)
    parser.add_argument("--admin-threads", type=int, default=3)
    parser.add_argument("--json", type=Path, help="write the figures here too")
    parser.add_argument("--keep", action="store_true", help="keep the logs and the run database")
    args = parser.parse_args()
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        sys.exit("set REDIS_URL (the worker's broker; its database is flushed)")
    if "bench" not in args.db:
        sys.exit("refusing a database whose name lacks 'bench'")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the portal's processes on the way out
    os.environ["SECRET_KEY"] = secrets.token_urlsafe(50)  # shared with gunicorn: sessions made here hold there
    started = time.monotonic()
    load_before = os.getloadavg()
    info = data.prepare(args.db, args.scale, employees_at_1=50_000)
    print(f"{args.db}: {info.counts['employees']} employees, {info.counts['groups']} groups, "
          f"{info.counts['memberships']} memberships ({time.monotonic() - started:.0f} s)", flush=True)  # fmt: skip
    run_db = fresh_copy(args.db)
    from django.db import connection

    work = Path(tempfile.mkdtemp(prefix="qungui-month."))
    wecom, wecom_env = start_wecom()
    base = f"http://127.0.0.1:{args.port}"
    env = {
        **os.environ,
        **json.loads(wecom_env),
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": f"{data.admin_url()}/{run_db}",
        "REDIS_URL": redis_url,
        "QUNGUI_VAR_DIR": str(work / "var"),
        "MEDIA_ROOT": str(work / "media"),
        "STATIC_ROOT": str(work / "static"),
        "GUNICORN_BIND": f"127.0.0.1:{args.port}",
        "WEB_CONCURRENCY": "2",
        "CELERY_WORKER_CONCURRENCY": "2",
        "LOG_LEVEL": "WARNING",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",  # sent: the row says so
        "PORTAL_BASE_URL": "https://qungui.example.com",
        "PRODLIKE_BASE_URL": base,
        "PYTHONPATH": str(ROOT),
    }
    os.environ["PRODLIKE_BASE_URL"] = base
    import redis
    from django.db.models import Count

    redis.Redis.from_url(redis_url).flushdb()
    portal = Portal(env, work)
    stats = Stats()
    rng = random.Random(args.seed)
    people: dict[int, Departure] = {}
    actions: list = []
    try:
        portal.start()
        print(f"portal up ({work}); simulating {args.run_days or args.days} of {args.days} days", flush=True)
        month(args, stats, rng, people, actions)
    except SystemExit:  # SIGTERM: report the days simulated so far
        print("stopped: the figures cover the days simulated so far", flush=True)
        extra_note = "stopped early"
    else:
        extra_note = ""
    finally:
        portal.stop()
    from portal.models import NotificationLog

    sent = dict(NotificationLog.objects.filter(status="sent").values_list("channel").annotate(n=Count("pk")).order_by())
    failed = NotificationLog.objects.exclude(status="sent").count()
    extra = {
        "scale": args.scale,
        "note": extra_note,
        "month_days": args.days,
        "run_days": args.run_days or args.days,
        "admin_share": args.admin_share,
        "counts": {k: v for k, v in info.counts.items() if k != "finding_kinds"},
        "wall_s": round(time.monotonic() - started),
        "load_before": [round(x, 1) for x in load_before],
        "load_after": [round(x, 1) for x in os.getloadavg()],
        "wecom_cards_delivered": len(wecom.delivered),  # type: ignore[attr-defined]
        "notifications_sent": sent,
        "notifications_not_sent": failed,
    }
    result = report(list(people.values()), stats, extra)
    if args.admin_share < 1:  # removals only where admins were simulated
        sample = [p for p in people.values() if p.employee_id in SAMPLED]
        closing = report(sample, stats, {})
        closing_keys = ("closed_h", "departures_all_closed", "memberships_still_in_after_24h_share")
        for key in (*closing_keys, "departures_in_groups"):
            result[f"sample_{key}"] = closing[key]
        for key in closing_keys:
            result.pop(key)
    print(json.dumps({k: v for k, v in result.items() if k != "days"}, ensure_ascii=False, indent=1, default=str))
    if args.json:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=1, default=str))
    connection.close()
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


def month(args, stats: Stats, rng: random.Random, people: dict[int, Departure], actions: list) -> None:
    from django.db.models import Count, Max

    from groups.models import ImportJob, Membership
    from portal.models import NotificationLog

    by_day = pick_departures(rng, args.departures, args.days)
    admins = Admins(stats, args.admin_threads)
    sampled = {pk for pks in by_day.values() for pk in pks if rng.random() < args.admin_share}
    SAMPLED.update(sampled)
    for day in range(args.run_days or args.days):
        t0_sim = MONTH_START + dt.timedelta(days=day) + IMPORT_AT
        run_actions(admins, actions, t0_sim, people)  # what the admins did since yesterday's import
        leaving = {pk: (MONTH_START + dt.timedelta(days=day)).date() for pk in by_day.get(day, [])}
        today = {pk: Departure(pk, day) for pk in leaving}
        open_memberships = Membership.objects.open().filter(employee_id__in=list(leaving))
        for employee_id, membership_id in open_memberships.values_list("employee_id", "pk"):
            today[employee_id].memberships.add(membership_id)
        content = roster_csv(leaving)
        began = time.monotonic()
        uploaded = dt.datetime.now(dt.UTC)
        job_id = hr_imports(stats, content, day)
        job = ImportJob.objects.get(pk=job_id)
        settled = wait_for_notices(uploaded, DAY_TIMEOUT)
        for person in today.values():
            person.t0_real, person.t0_sim, person.uploaded_real = job.finished_at, t0_sim, uploaded
        measure_day(list(today.values()), uploaded)
        plan_actions([p for p in today.values() if p.employee_id in sampled], rng, actions)
        import_s = (job.finished_at - uploaded).total_seconds()
        notices_s = (settled - job.finished_at).total_seconds()
        told = NotificationLog.objects.filter(created_at__gte=uploaded).aggregate(n=Count("pk"), last=Max("sent_at"))
        delivered_s = (told["last"] - job.finished_at).total_seconds() if told["last"] else None
        people.update(today)  # in the figures once their day is measured
        stats.days.append(
            {"day": day + 1, "departures": len(today), "memberships": sum(len(p.memberships) for p in today.values()),
             "upload_to_imported_s": round(import_s, 1), "imported_to_run_s": round(notices_s, 1),
             "notices": told["n"], "imported_to_last_delivery_s": delivered_s and round(delivered_s, 1),
             "wall_s": round(time.monotonic() - began, 1)}
        )  # fmt: skip
        print(f"day {day + 1:2d}: {len(today):3d} departures, {stats.days[-1]['memberships']:5d} memberships;"
              f" upload→imported {import_s:6.1f} s, →reconciled {notices_s:6.1f} s,"
              f" {told['n']:5d} notices, all out {delivered_s or 0:6.1f} s,"
              f" day {time.monotonic() - began:6.1f} s", flush=True)  # fmt: skip
    closed = run_actions(admins, actions, None, people)  # the rest of the month and after
    print(f"after the month: {closed} more removals confirmed", flush=True)


if __name__ == "__main__":
    main()
