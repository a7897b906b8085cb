"""Data the dashboard tests share: violations, sanctions, an appeal and roster findings in the conftest org.

Rows are created directly (these are read tests; the services that write them are tested in their apps).
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.utils import timezone

from groups.models import Department, Employee, Membership, RosterFinding
from portal.dashboard.rollups import refresh_all
from violations.catalog_seed import RULES
from violations.models import Appeal, Rule, Sanction, Violation

NOW = timezone.make_aware(datetime.datetime(2026, 10, 15, 10, 0))
THIS_MONTH = datetime.date(2026, 10, 1)


def rule(code: str) -> Rule:
    """A catalog rule; re-created from the seed when a transactional test's flush removed the catalog."""
    found = Rule.objects.filter(code=code).first()
    if found is None:
        zh, en, category = next((r[1], r[2], r[3]) for r in RULES if r[0] == code)
        found = Rule.objects.create(code=code, title_zh=zh, title_en=en, category=category)
    return found


def violation(employee, code, *, at=NOW, status="sanctioned", group=None, sanctions=()):
    rule_ = rule(code)
    record = Violation.objects.create(
        employee=employee, rule=rule_, occurred_at=at, description="测试", status=status, group=group
    )
    for kind, extra in sanctions:
        Sanction.objects.create(violation=record, employee=employee, kind=kind, **extra)
    return record


def finding(group, kind, *, age, membership=None, employee=None, now=NOW):
    seen = now - age
    return RosterFinding.objects.create(
        kind=kind, group=group, membership=membership, employee=employee, first_seen_at=seen, last_seen_at=now
    )


def build(org, *, now: datetime.datetime = NOW) -> dict:
    """销售部/华东区: 张三 with two warnings (one short of a demerit), a fine, a reported violation, a departed
    member still in the sales group; 技术部: 孙七 with an appealed violation whose decision is overdue."""
    east_rep, tech_dev = org["east_rep"], org["tech_dev"]
    warn = ("warning", {"points": 2})
    v1 = violation(east_rep, "C04", at=now, group=org["sales_group"], sanctions=[warn])
    violation(east_rep, "C05", at=now - datetime.timedelta(days=40), group=org["sales_group"], sanctions=[warn])
    violation(east_rep, "R01", at=now, group=org["sales_group"], sanctions=[("fine", {"amount": Decimal("1234.50")})])
    violation(east_rep, "C08", at=now, status="reported", group=org["sales_group"])
    appealed = violation(tech_dev, "B03", at=now, status="appealed", group=org["tech_group"], sanctions=[warn])
    Appeal.objects.create(
        violation=appealed, statement="不服", decision_due=now.date() - datetime.timedelta(days=2), filed_at=now
    )
    member = Membership.objects.create(group=org["sales_group"], employee=org["east_departed"], nickname="华东区-赵六")
    Membership.objects.create(group=org["sales_group"], employee=None, nickname="外人甲")
    finding(org["sales_group"], "departed_member", membership=member, employee=org["east_departed"],
            age=datetime.timedelta(days=3), now=now)  # fmt: skip
    finding(org["tech_group"], "unapproved_group", age=datetime.timedelta(hours=5), now=now)
    refresh_all(now=now)
    return {"v1": v1, "appealed": appealed}


def commit_pending() -> None:
    """Run the on-commit work the test's fixtures queued, as a commit would (tests run in one transaction)."""
    from django.db import transaction

    connection = transaction.get_connection()
    pending, connection.run_on_commit = connection.run_on_commit, []
    for _sids, func, _robust in pending:
        func()


def add_departments(org, count: int) -> None:
    """``count`` more sub-departments under 销售部, each with staff, a group and a violation."""
    from groups.models import ChatGroup
    from groups.services import create_department

    sales = Department.objects.get(pk=org["sales"].pk)
    start = Department.objects.filter(name__startswith="分部").count()
    for i in range(start, start + count):
        dept = create_department(f"分部{i:02d}", parent=sales)
        sales.refresh_from_db()
        emp = Employee.objects.create(employee_no=f"X{i:04d}", name=f"员工{i}", department=dept)
        group = ChatGroup.objects.create(name=f"分部群{i}", platform="wechat", kind="department", department=dept)
        Membership.objects.create(group=group, employee=emp, nickname=f"分部{i:02d}-员工{i}")
        violation(emp, "C04", group=group, sanctions=[("warning", {"points": 2})])
        finding(group, "bad_nickname", age=datetime.timedelta(days=1))
    refresh_all(now=NOW)
