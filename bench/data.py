#!/usr/bin/env python
"""A company shaped like a real one, for the benchmarks: built once with COPY into a bench database.

At ``--scale 1``: 100,000 employees in a department tree of ~220 departments (company → regions →
functions → teams, uneven sizes), 10,000 chat groups (many small, some of 500 members), 1,000,000
memberships (employees in several groups; some left, some departed but still in, outsiders, nicknames
breaking 部门-姓名), 1,000,000 violations over 15 months, ~880,000 sanctions, appeals, and the
findings of the portal's own reconciliation (``groups.reconcile.reconcile_all``) run on that data.
Users: ``bench_hr`` (HR管理员) and ``bench_head`` (head of a region holding about a tenth of the
company), both staff, password ``bench-pass``.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/data.py --db qungui_bench_company [--scale 0.01] [--rebuild]

Idempotent and resumable: each step commits on its own and is recorded in the table
``bench_meta``; a rerun skips the steps already done for the same scale (a different scale, or
``--rebuild``, drops and recreates the database). From another bench::

    from bench import data
    info = data.prepare("qungui_bench_company", scale=0.1)   # sets up Django on that database
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PASSWORD = "bench-pass"  # noqa: S105  bench users on a throw-away database
SHAPE_VERSION = 1  # bump when the generated shape changes: older bench databases are rebuilt

# --- sizes ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    employees: int
    groups: int
    memberships: int
    violations: int
    regions: int
    max_group: int

    @classmethod
    def for_scale(cls, scale: float, employees_at_1: int = 100_000) -> Sizes:
        employees = max(300, int(employees_at_1 * scale))
        groups = max(20, int(10_000 * scale))
        return cls(
            employees=employees,
            groups=groups,
            memberships=max(groups * 10, int(1_000_000 * scale)),
            violations=max(1000, int(1_000_000 * scale)),
            regions=6 if scale >= 0.05 else 3,
            max_group=min(500, employees // 2),
        )


# --- names ---------------------------------------------------------------------------------------------

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉兰萍鹏辉建华飞鑫波斌"
    "宇浩凯健俊帆帅旭宁龙林欣佳雪婷颖琳晨阳晓梦思雨嘉怡子轩梓涵一诺浩然欣怡宇轩雨桐"
)
REGIONS = ["华东区", "华南区", "华北区", "西南区", "华中区", "海外事业部"]
FUNCTIONS = ["销售部", "技术部", "财务部", "人力资源部", "市场部", "客服部", "运营部", "采购部"]
TEAM_NAMES = ["一组", "二组", "三组", "四组", "五组", "六组", "七组", "八组", "九组", "十组"]
TITLES = ["专员", "主管", "经理", "工程师", "高级工程师", "助理", "总监", "实习生", ""]
GROUP_SUFFIX = ["工作群", "通知群", "项目群", "周会群", "值班群", "客户对接群", "交流群"]
DESCRIPTIONS = [
    "在{g}发布与工作无关的广告链接",
    "工作时间在{g}刷屏发表情包",
    "在{g}转发未经核实的消息",
    "在{g}泄露客户联系方式",
    "在{g}与同事发生争执,言语不当",
    "未按要求修改群昵称,提醒后仍未改正",
    "在{g}发布公司内部报价单截图",
    "拉非本公司人员进入{g}",
    "工作时间未回复{g}内的紧急通知",
    "在{g}发布与工作无关的投票链接",
]
TZ = dt.timezone(dt.timedelta(hours=8))


def _person_name(rng: random.Random) -> str:
    given = rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.7 else "")
    return rng.choice(SURNAMES[:30] if rng.random() < 0.6 else SURNAMES) + given


def _bad_nickname(rng: random.Random, dept: str, name: str) -> str:
    """A nickname that breaks 部门-姓名 as people break it."""
    return rng.choice(
        [
            name,  # just the name
            f"{name}-{dept}",  # the wrong way round
            f"{dept}{name}",  # no dash
            f"{name}(请假中)",
            f"{rng.choice(['小', '阿', '老'])}{name[-1]}",
            rng.choice(["Tom", "Lucy", "Kevin", "Amy", "🌸", "一路向北", "快乐每一天", "A~"]),
        ]
    )


# --- database ------------------------------------------------------------------------------------------


def admin_url() -> str:
    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    if not url.startswith("postgres"):
        sys.exit("the bench data needs PostgreSQL: set DATABASE_URL=postgres://…")
    return url.rsplit("/", 1)[0]


def _state(db: str) -> dict | None:
    import psycopg

    with psycopg.connect(f"{admin_url()}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db]).fetchone():
            return None
    with psycopg.connect(f"{admin_url()}/{db}", autocommit=True) as conn:
        if not conn.execute("SELECT to_regclass('bench_meta')").fetchone()[0]:
            return {}
        return dict(conn.execute("SELECT key, value FROM bench_meta").fetchall())


def _create(db: str, *, drop: bool) -> None:
    import psycopg

    with psycopg.connect(f"{admin_url()}/postgres", autocommit=True) as conn:
        if drop:
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db]).fetchone():
            conn.execute(f'CREATE DATABASE "{db}"')


def setup_django(db: str, *, redis_url: str = "") -> None:
    """Django on database ``db``; tasks in-process unless ``redis_url`` (a broker for real workers)."""
    os.environ["DATABASE_URL"] = f"{admin_url()}/{db}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    # The reconcile step's notices (tens of thousands of emails) are rows either way; printing them
    # to the console backend was most of that step's time.
    os.environ.setdefault("EMAIL_BACKEND", "django.core.mail.backends.dummy.EmailBackend")
    if redis_url:
        os.environ["REDIS_URL"] = redis_url
    else:
        os.environ.pop("REDIS_URL", None)
    import django

    django.setup()


def _copy(table: str, columns: list[str], rows) -> int:
    """COPY rows (tuples; None → NULL) into table, in chunks of text."""
    from django.db import connection

    def cell(value) -> str:
        if value is None:
            return r"\N"
        if isinstance(value, bool):
            return "t" if value else "f"
        text = str(value)
        return text.replace("\\", "\\\\").replace("\t", " ").replace("\n", " ")

    count = 0
    with connection.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        buffer = io.StringIO()
        for row in rows:
            buffer.write("\t".join(cell(v) for v in row))
            buffer.write("\n")
            count += 1
            if count % 50_000 == 0:
                copy.write(buffer.getvalue())
                buffer = io.StringIO()
        copy.write(buffer.getvalue())
    return count


def _reset_sequence(cur, table: str) -> None:
    cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT coalesce(max(id), 1) FROM {table}))")


# --- the steps -----------------------------------------------------------------------------------------


@dataclass
class World:
    """What the later steps need to know of the earlier ones (recomputed from the DB on resume)."""

    sizes: Sizes
    rng: random.Random
    depts: list[tuple[int, str, int, str]]  # (id, name, depth, path)
    staff_depts: list[int]
    dept_weights: list[float]


def _tree(sizes: Sizes, rng: random.Random) -> list[dict]:
    """Company → regions → functions → teams; uneven: some functions have no teams, some ten."""
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

    def step(i: int) -> str:
        out = ""
        for _ in range(4):
            i, r = divmod(i, 36)
            out = alphabet[r] + out
        return out

    nodes: list[dict] = []

    def add(name: str, parent: dict | None, children: list[str]) -> dict:
        node = {"name": name, "parent": parent, "children": []}
        nodes.append(node)
        if parent:
            parent["children"].append(node)
        return node

    root = add("总公司", None, [])
    for region in REGIONS[: sizes.regions]:
        r = add(region, root, [])
        functions = FUNCTIONS if sizes.regions > 3 else FUNCTIONS[:4]
        for function in functions:
            f = add(function, r, [])
            teams = rng.choice([0, 2, 3, 4, 5, 6, 8, 10]) if sizes.regions > 3 else rng.choice([0, 2, 3])
            for team in TEAM_NAMES[:teams]:
                add(team, f, [])

    # treebeard paths: siblings in name order (node_order_by = ["name"])
    def assign(node: dict, path: str, name_path: str) -> None:
        node["path"], node["name_path"], node["depth"] = path, name_path, len(path) // 4
        for i, child in enumerate(sorted(node["children"], key=lambda n: n["name"]), start=1):
            assign(child, path + step(i), f"{name_path}/{child['name']}")

    assign(root, step(1), root["name"])
    nodes.sort(key=lambda n: n["path"])
    for i, node in enumerate(nodes, start=1):
        node["id"] = i
    return nodes


def step_departments(world: World) -> None:
    from django.db import connection

    nodes = _tree(world.sizes, world.rng)
    now = dt.datetime.now(TZ)
    _copy(
        "groups_department",
        ["id", "path", "depth", "numchild", "name", "code", "name_path", "wecom_webhook_url", "created_at"],
        (
            (n["id"], n["path"], n["depth"], len(n["children"]), n["name"], f"D{n['id']:04d}", n["name_path"], "", now)
            for n in nodes
        ),
    )
    with connection.cursor() as cur:
        _reset_sequence(cur, "groups_department")


def _load_depts(world: World) -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT id, name, depth, path, numchild FROM groups_department ORDER BY path")
        rows = cur.fetchall()
    world.depts = [(r[0], r[1], r[2], r[3]) for r in rows]
    # Staff sit in teams and in functions without teams (and a few at region level): uneven sizes,
    # a long tail (Zipf-like weights over a shuffled order, fixed by the seed).
    staff = [r[0] for r in rows if r[4] == 0 or r[2] == 2]
    order = random.Random(7).sample(staff, len(staff))
    weights = {dept: 1.0 / (1 + rank) ** 0.8 for rank, dept in enumerate(order)}
    world.staff_depts = staff
    world.dept_weights = [weights[d] for d in staff]


def step_employees(world: World) -> None:
    from django.db import connection

    rng = random.Random(11)
    n = world.sizes.employees
    depts = rng.choices(world.staff_depts, weights=world.dept_weights, k=n)
    today = dt.date(2026, 12, 1)
    now = dt.datetime.now(TZ)

    def rows():
        for i in range(1, n + 1):
            departed = rng.random() < 0.06
            hire = today - dt.timedelta(days=rng.randint(30, 3650))
            departure = hire + dt.timedelta(days=rng.randint(1, (today - hire).days)) if departed else None
            yield (
                i, f"E{i:07d}", _person_name(rng), depts[i - 1], rng.choice(TITLES),
                "departed" if departed else "active", hire, departure, f"wx_{i:07d}",
                f"wecom{i}" if i % 3 == 0 else "", "", "", f"e{i}@example.cn", now, now,
            )  # fmt: skip

    _copy(
        "groups_employee",
        [
            "id", "employee_no", "name", "department_id", "title", "status", "hire_date", "departure_date",
            "wechat_id", "wecom_id", "qq_id", "dingtalk_id", "email", "created_at", "updated_at",
        ],
        rows(),
    )  # fmt: skip
    with connection.cursor() as cur:
        _reset_sequence(cur, "groups_employee")


def _group_sizes(sizes: Sizes, rng: random.Random) -> list[int]:
    """Many small groups, a tail of big ones, 2 % at the 500-member cap; summing to the target."""
    out = []
    for _ in range(sizes.groups):
        if rng.random() < 0.02:
            out.append(sizes.max_group)
        else:
            out.append(max(3, min(sizes.max_group, int(rng.lognormvariate(3.8, 0.9)))))
    factor = sizes.memberships / sum(out)
    out = [max(3, min(sizes.max_group, round(s * factor))) for s in out]
    i = 0
    while (diff := sizes.memberships - sum(out)) != 0:  # exact total: adjust the groups below the cap
        j = i % len(out)
        if diff > 0 and out[j] < sizes.max_group:
            out[j] += 1
        elif diff < 0 and out[j] > 3:
            out[j] -= 1
        i += 1
    return out


def step_groups_and_memberships(world: World) -> None:
    from django.db import connection

    rng = random.Random(13)
    sizes = world.sizes
    with connection.cursor() as cur:
        cur.execute("SELECT id, name, department_id, status FROM groups_employee ORDER BY id")
        employees = cur.fetchall()
    dept_name = {d[0]: d[1] for d in world.depts}
    dept_path = {d[0]: d[3] for d in world.depts}
    by_dept: dict[int, list[int]] = {}
    for emp_id, _name, dept, _status in employees:
        by_dept.setdefault(dept, []).append(emp_id)
    emp_name = {e[0]: e[1] for e in employees}
    emp_dept = {e[0]: e[2] for e in employees}
    emp_departed = {e[0] for e in employees if e[3] == "departed"}
    # a group's members come mostly from its department's subtree (the region for the big ones)
    subtree: dict[str, list[int]] = {}
    for dept, members in by_dept.items():
        path = dept_path[dept]
        for k in range(4, len(path) + 1, 4):
            subtree.setdefault(path[:k], []).extend(members)
    group_sizes = _group_sizes(sizes, rng)
    group_depts = rng.choices(world.staff_depts, weights=world.dept_weights, k=sizes.groups)
    platforms = ["wechat"] * 6 + ["wecom"] * 3 + ["dingtalk", "qq"]
    now = dt.datetime.now(TZ)
    today = now.date()
    groups, admins, members = [], [], []
    membership_id = 0
    for gid in range(1, sizes.groups + 1):
        dept = group_depts[gid - 1]
        size = group_sizes[gid - 1]
        path = dept_path[dept]
        pool = subtree[path] if len(subtree[path]) >= size * 1.5 else subtree[path[:8]]
        if len(pool) < size * 1.2:
            pool = subtree[path[:4]]
        kind = rng.choices(["department", "project", "company", "customer", "meeting"], [70, 12, 5, 8, 5])[0]
        admits = kind == "customer"
        picked = rng.sample(pool, min(len(pool), int(size * 0.85)))
        extra = rng.sample(range(1, len(employees) + 1), size - len(picked))  # colleagues from elsewhere
        seen = set()
        people = [p for p in picked + extra if not (p in seen or seen.add(p))]
        owner = people[0]
        end_date = today + dt.timedelta(days=rng.randint(-120, 200)) if kind == "project" else None
        groups.append(
            (
                gid, f"{dept_name[dept]}{rng.choice(GROUP_SUFFIX)}{gid:05d}", rng.choice(platforms), kind,
                f"G{gid:06d}", dept, owner, "日常工作沟通",
                None if rng.random() < 0.015 else now - dt.timedelta(days=400),
                "", "active", end_date, "{department}-{name}", admits, "", now, now, "", "",
            )
        )  # fmt: skip
        admins.extend((gid, a) for a in people[1:3])
        for emp in people:
            membership_id += 1
            departed = emp in emp_departed
            left = None
            if departed and rng.random() < 0.5:
                left = now - dt.timedelta(days=rng.randint(1, 300))  # most departed were removed
            elif rng.random() < 0.03:
                left = now - dt.timedelta(days=rng.randint(1, 300))  # left the group
            nick = f"{dept_name[emp_dept[emp]]}-{emp_name[emp]}"
            if rng.random() < 0.055:
                nick = _bad_nickname(rng, dept_name[emp_dept[emp]], emp_name[emp])
            platform_id = f"wx_{emp:07d}"
            joined = now - dt.timedelta(days=rng.randint(301, 900))
            members.append(
                (membership_id, gid, emp, nick, platform_id, f"id:{platform_id}", joined, left,
                 emp == owner, now, now)
            )  # fmt: skip
        outsiders = max(1, size // 5) if admits else (1 if rng.random() < 0.3 else 0)
        for k in range(outsiders):
            membership_id += 1
            nick = rng.choice(["客户-", "供应商-", "", "外包-"]) + _person_name(rng)
            pid = f"ext_{gid}_{k}"
            members.append((membership_id, gid, None, nick, pid, f"id:{pid}", now - dt.timedelta(days=30),
                            None, False, now, now))  # fmt: skip
    _copy(
        "groups_chatgroup",
        [
            "id", "name", "platform", "kind", "external_id", "department_id", "owner_id", "purpose", "approved_at",
            "filing_ref", "status", "end_date", "nickname_convention", "admits_outsiders", "wecom_webhook_url",
            "created_at", "updated_at", "wecom_chat_type", "wecom_member_version",
        ],
        groups,
    )  # fmt: skip
    _copy("groups_chatgroup_admins", ["chatgroup_id", "employee_id"], admins)
    _copy(
        "groups_membership",
        [
            "id", "group_id", "employee_id", "nickname", "platform_id", "member_key", "joined_at", "left_at",
            "is_admin", "created_at", "updated_at", "nickname_set",
        ],
        ((*member, True) for member in members),
    )  # fmt: skip
    with connection.cursor() as cur:
        for table in ("groups_chatgroup", "groups_chatgroup_admins", "groups_membership"):
            _reset_sequence(cur, table)
        cur.execute("ANALYZE groups_employee, groups_chatgroup, groups_membership")


def step_violations(world: World) -> None:
    """Violations skewed to repeat offenders; statuses and sanctions as in a working company."""
    from django.db import connection

    rng = random.Random(17)
    sizes = world.sizes
    with connection.cursor() as cur:
        cur.execute("SELECT id FROM violations_rule ORDER BY code")
        rules = [r[0] for r in cur.fetchall()]
        cur.execute("SELECT DISTINCT ON (employee_id) employee_id, group_id FROM groups_membership"
                    " WHERE employee_id IS NOT NULL ORDER BY employee_id, id")  # fmt: skip
        home_group = dict(cur.fetchall())
        cur.execute("SELECT id, name FROM groups_chatgroup")
        group_name = dict(cur.fetchall())
    n_emp = sizes.employees
    offenders = [1 + int(n_emp * (rng.random() ** 2.2)) % n_emp for _ in range(sizes.violations)]
    rng.shuffle(offenders)
    now = dt.datetime(2026, 12, 1, 12, tzinfo=TZ)
    violations, sanctions, appeals = [], [], []
    sanction_id = 0
    for vid in range(1, sizes.violations + 1):
        emp = offenders[vid - 1]
        group = home_group.get(emp) if rng.random() < 0.9 else None
        occurred = now - dt.timedelta(seconds=rng.randint(0, 455 * 86400))
        roll = rng.random()
        status = (
            "reported" if roll < 0.04 else "confirmed" if roll < 0.06 else "dismissed" if roll < 0.11
            else "overturned" if roll < 0.12 else "upheld" if roll < 0.13 else "appealed" if roll < 0.132
            else "sanctioned"
        )  # fmt: skip
        text = rng.choice(DESCRIPTIONS).format(g=group_name.get(group, "工作群"))
        violations.append(
            (vid, emp, group, rules[vid % len(rules)], occurred, text, False, rng.choice(["admin", "admin", "web"]),
             status, "证据不足" if status == "dismissed" else "", occurred + dt.timedelta(days=1),
             occurred.date() + dt.timedelta(days=10), occurred, occurred, 1)
        )  # fmt: skip
        if status in ("sanctioned", "upheld", "appealed", "overturned"):
            kinds = ["warning", "fine", "demerit", "removal", "points", "reminder"]
            kind = rng.choices(kinds, [40, 20, 8, 4, 18, 10])[0]
            withdrawn = occurred + dt.timedelta(days=6) if status == "overturned" else None
            sanction_id += 1
            sanctions.append(
                (sanction_id, vid, emp, kind, rng.choice([50, 100, 200, 500]) if kind == "fine" else None,
                 5 if kind == "points" else 0, 3 if kind == "removal" else None, False, "", "",
                 occurred + dt.timedelta(days=2) if kind == "removal" and rng.random() < 0.95 else None,
                 withdrawn, "申诉成立,撤销处分" if withdrawn else "", occurred)
            )  # fmt: skip
        if status in ("appealed", "upheld", "overturned"):
            decided = None if status == "appealed" else occurred + dt.timedelta(days=5)
            appeals.append(
                (vid, "当时情况特殊,请求复核", False, occurred + dt.timedelta(days=2), False,
                 occurred.date() + dt.timedelta(days=12),
                 {"appealed": "pending", "upheld": "upheld", "overturned": "overturned"}[status], decided,
                 "" if decided is None else "经复核")
            )  # fmt: skip
    _copy(
        "violations_violation",
        [
            "id", "employee_id", "group_id", "rule_id", "occurred_at", "description", "is_anonymous", "channel",
            "status", "dismissed_reason", "notified_at", "appeal_deadline", "created_at", "updated_at",
            "report_count",
        ],
        violations,
    )  # fmt: skip
    del violations
    _copy(
        "violations_sanction",
        [
            "id", "violation_id", "employee_id", "kind", "amount", "points", "days", "is_derived", "ladder_step",
            "explanation", "carried_out_at", "withdrawn_at", "withdrawn_reason", "created_at",
        ],
        sanctions,
    )  # fmt: skip
    _copy(
        "violations_appeal",
        [
            "violation_id", "statement", "on_behalf", "filed_at", "filed_late", "decision_due", "status",
            "decided_at", "decision_reason",
        ],
        appeals,
    )  # fmt: skip
    with connection.cursor() as cur:
        for table in ("violations_violation", "violations_sanction", "violations_appeal"):
            _reset_sequence(cur, table)


def step_reconcile(world: World) -> None:
    """Findings as the portal finds them: its own reconciliation over the built rosters."""
    from django.db import connection

    from groups import reconcile

    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    started = time.perf_counter()
    summary = reconcile.reconcile_all()
    print(f"    reconcile_all {time.perf_counter() - started:.1f} s: {summary}", flush=True)


def step_users(world: World) -> None:
    """bench_hr (HR) and bench_head: head of the region with the share of staff nearest a tenth."""
    from django.conf import settings
    from django.contrib.auth.models import Group, User
    from django.db import connection

    from groups.models import Department, Employee
    from groups.roles import sync_derived_roles

    hr = User.objects.create_user("bench_hr", password=PASSWORD, is_staff=True)
    hr.groups.add(Group.objects.get(name=settings.ROLE_HR_ADMIN))
    with connection.cursor() as cur:
        cur.execute(
            "SELECT d.id, count(e.id) FROM groups_department d JOIN groups_department s"
            " ON s.path LIKE d.path || '%%' JOIN groups_employee e ON e.department_id = s.id"
            " WHERE d.depth = 2 GROUP BY d.id"
        )
        counts = cur.fetchall()
    total = sum(c for _d, c in counts)
    region_id = min(counts, key=lambda dc: abs(dc[1] / total - 0.1))[0]
    region = Department.objects.get(pk=region_id)
    head_emp = Employee.objects.filter(department=region, status="active").first() or (
        Employee.objects.filter(department__path__startswith=region.path, status="active").first()
    )
    head = User.objects.create_user("bench_head", password=PASSWORD)
    head_emp.user = head
    head_emp.save(update_fields=["user"])
    Department.objects.filter(pk=region.pk).update(head=head_emp)
    sync_derived_roles()


def step_rollups(world: World) -> None:
    from portal.dashboard.rollups import refresh_all

    print(f"    rollups {refresh_all()}", flush=True)
    from django.apps import apps
    from django.db import connection

    with connection.cursor() as cur:  # a rerun (after migrations recreated them) comes after the analyze step
        for model in apps.get_app_config("dashboard").get_models():
            cur.execute(f"ANALYZE {model._meta.db_table}")


def step_analyze(world: World) -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE")


STEPS = [
    ("departments", step_departments),
    ("employees", step_employees),
    ("groups+memberships", step_groups_and_memberships),
    ("violations+sanctions", step_violations),
    ("reconcile", step_reconcile),
    ("users", step_users),
    ("rollups", step_rollups),
    ("analyze", step_analyze),
]


@dataclass(frozen=True)
class Info:
    db: str
    scale: float
    counts: dict


def counts() -> dict:
    from django.db import connection

    tables = {
        "departments": "groups_department", "employees": "groups_employee", "groups": "groups_chatgroup",
        "memberships": "groups_membership", "violations": "violations_violation",
        "sanctions": "violations_sanction", "appeals": "violations_appeal", "findings": "groups_rosterfinding",
    }  # fmt: skip
    with connection.cursor() as cur:
        out = {}
        for label, table in tables.items():
            cur.execute(f"SELECT count(*) FROM {table}")
            out[label] = cur.fetchone()[0]
        cur.execute("SELECT kind, count(*) FROM groups_rosterfinding GROUP BY kind ORDER BY 2 DESC")
        out["finding_kinds"] = dict(cur.fetchall())
        cur.execute("SELECT max(c) FROM (SELECT count(*) c FROM groups_membership GROUP BY group_id) s")
        out["largest_group"] = cur.fetchone()[0]
    return out


def _rollups_emptied() -> bool:
    """True when a rollup table that data holds is empty: recreated by a migration after the build."""
    from portal.dashboard.models import GroupRosterCell, ViolationCell

    return not (ViolationCell.objects.exists() and GroupRosterCell.objects.exists())


def prepare(
    db: str,
    scale: float = 1.0,
    *,
    rebuild: bool = False,
    migrate: bool = True,
    quiet: bool = False,
    employees_at_1: int | None = None,
) -> Info:
    """Make sure ``db`` holds the company at ``scale`` (building what is missing), set up Django on it.

    ``migrate=False`` leaves the schema as it is (a benchmark of an older commit runs on the schema
    that commit built; see bench_pages.py). ``employees_at_1`` changes the head count at scale 1
    (default 100,000; groups and memberships stay): bench_month.py's company has 50,000.
    """
    say = (lambda *a, **k: None) if quiet else print
    state = _state(db)
    wanted: dict = {"scale": scale, "shape": SHAPE_VERSION}
    if employees_at_1 is not None:
        wanted["employees_at_1"] = employees_at_1
    stale = state is not None and state.get("params") not in (None, wanted)
    if rebuild or stale:
        why = "rebuild requested" if rebuild else f"holds another shape {state.get('params')}"
        say(f"{db}: {why}; recreating")
        state = None
        _create(db, drop=True)
    elif state is None:
        _create(db, drop=False)
    setup_django(db)
    from django.core.management import call_command
    from django.db import connection

    if migrate or not state:
        call_command("migrate", verbosity=0)
    with connection.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS bench_meta (key text PRIMARY KEY, value jsonb)")
        cur.execute("INSERT INTO bench_meta VALUES ('params', %s) ON CONFLICT (key) DO NOTHING", [json.dumps(wanted)])
        cur.execute("SELECT value FROM bench_meta WHERE key = 'done'")
        row = cur.fetchone()
    done = (json.loads(row[0]) if isinstance(row[0], str) else list(row[0])) if row else []
    if migrate and "rollups" in done and _rollups_emptied():
        done.remove("rollups")  # bench_pages migrated back to an older commit (dropping them) and forward
    world = World(Sizes.for_scale(scale, employees_at_1 or 100_000), random.Random(1), [], [], [])
    todo = [(name, fn) for name, fn in STEPS if name not in done]
    if todo:
        say(f"{db}: building at scale {scale} ({world.sizes}); steps left: {[n for n, _ in todo]}", flush=True)
    from django.db import transaction

    for name, fn in STEPS:
        if name in done:
            continue
        if name != "departments" and not world.depts:
            _load_depts(world)
        started = time.perf_counter()
        if name == "analyze":  # VACUUM (the visibility map: index-only scans) cannot run in a transaction
            fn(world)
        with transaction.atomic():
            if name != "analyze":
                fn(world)
            done.append(name)
            with connection.cursor() as cur:
                cur.execute(
                    "INSERT INTO bench_meta VALUES ('done', %s) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                    [json.dumps(done)],
                )
        if name == "departments":
            _load_depts(world)
        say(f"  {name:<24} {time.perf_counter() - started:7.1f} s", flush=True)
    return Info(db=db, scale=scale, counts=counts())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", default="qungui_bench_company", help="bench database (created if missing)")
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 100k employees, 1M memberships/violations")
    parser.add_argument("--rebuild", action="store_true", help="drop and build again")
    args = parser.parse_args()
    if "bench" not in args.db:
        sys.exit("refusing a database whose name lacks 'bench'")
    started = time.perf_counter()
    info = prepare(args.db, args.scale, rebuild=args.rebuild)
    print(f"{info.db} (scale {info.scale}), {time.perf_counter() - started:.1f} s:")
    print(json.dumps(info.counts, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
