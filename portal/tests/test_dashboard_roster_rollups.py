"""The dashboard's membership and finding numbers come from per-group rollups that equal the live
counts after every kind of change, for HR and for a department head, at a fixed query cost."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.db.models import Count
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from groups.choices import FindingStatus
from groups.models import ChatGroup, Employee, Membership, RosterFinding
from groups.reconcile import reconcile_all
from portal.dashboard import sections as dash
from portal.dashboard.models import GroupFindingCell, GroupRosterCell
from portal.scoping import reset_scope

from .dashboard_data import NOW, THIS_MONTH, build, commit_pending, finding

pytestmark = pytest.mark.django_db


def live(user, area) -> dict:
    """The numbers as the dashboard computed them before the rollups: straight from the tables."""
    members = dash.area_memberships(user, area)
    findings = dash.area_findings(user, area).filter(status=FindingStatus.OPEN)
    units, unit_of = dash.breakdown_units(area)
    by_unit: dict[str, dict] = {"departed": {}, "findings": {}}
    if all(unit.own for unit in units):  # a leaf department shows no breakdown
        unit_of = {}
    for name, rows in (("departed", members.filter(dash.DEPARTED_IN_GROUP)), ("findings", findings)):
        for dept_id in rows.values_list("group__department_id", flat=True):
            key = unit_of.get(dept_id)
            if key is not None:
                by_unit[name][key] = by_unit[name].get(key, 0) + 1
    per_group = dict(findings.values_list("group_id").annotate(n=Count("pk")).order_by())
    return {
        "departed": members.filter(dash.DEPARTED_IN_GROUP).count(),
        "outsiders": members.filter(dash.OUTSIDER_IN_GROUP).count(),
        "findings": findings.count(),
        "kinds": dict(findings.values_list("kind").annotate(n=Count("pk")).order_by()),
        "by_unit": by_unit,
        "per_group": per_group,
        "members": {
            g: Membership.objects.open().filter(group_id=g).count()
            for g in ChatGroup.objects.values_list("pk", flat=True)
        },
    }


def shown(user, area) -> dict:
    """The same numbers as the dashboard shows them now (rollups)."""
    result = dash.build(user, area, THIS_MONTH, now=NOW)
    by_unit = {"departed": {}, "findings": {}}
    for row in result["subdepartments"]:
        for name, column in (("departed", "departed_in_groups"), ("findings", "findings")):
            if row[column]:
                by_unit[name][row["key"]] = row[column]
    worst = {g["pk"]: g for g in result["groups"]["most_findings"]}
    return {
        "departed": result["org"]["departed_in_groups"],
        "outsiders": result["org"]["outsiders_in_groups"],
        "findings": result["findings"]["total"],
        "kinds": {k["kind"]: k["count"] for k in result["findings"]["kinds"]},
        "by_unit": by_unit,
        "per_group": {pk: g["findings"] for pk, g in worst.items()},
        "members": dict(GroupRosterCell.objects.values_list("group_id", "members")),
        "worst_members": {pk: g["members"] for pk, g in worst.items()},
    }


def assert_agree(*users) -> None:
    for user in users:
        reset_scope(user)
        area = dash.resolve_area(user, None)
        expected, got = live(user, area), shown(user, area)
        assert got.pop("worst_members") == {pk: expected["members"][pk] for pk in got["per_group"]}
        assert got == expected, user.username


@pytest.fixture
def data(org):
    build(org)
    commit_pending()
    return org


def test_rollups_follow_memberships_departures_and_findings(hr, head_sales, data, django_capture_on_commit_callbacks):
    org = data
    assert_agree(hr, head_sales)
    assert shown(head_sales, dash.resolve_area(head_sales, None))["departed"] == 1

    with django_capture_on_commit_callbacks(execute=True):  # a member joins, another leaves
        joined = Membership.objects.create(group=org["sales_group"], employee=org["east_rep"], nickname="华东区-张三")
        leaver = Membership.objects.get(nickname="外人甲")
        leaver.left_at = NOW
        leaver.save()
    assert_agree(hr, head_sales)
    assert GroupRosterCell.objects.get(group=org["sales_group"]).outsiders == 0

    with django_capture_on_commit_callbacks(execute=True):  # 张三 leaves the company, still in the group
        east_rep = Employee.objects.get(pk=org["east_rep"].pk)
        east_rep.status = "departed"
        east_rep.save()
    assert_agree(hr, head_sales)
    assert shown(hr, dash.resolve_area(hr, None))["departed"] == 2

    with django_capture_on_commit_callbacks(execute=True):  # a finding opened, another resolved
        opened = finding(org["tech_group"], "bad_nickname", age=datetime.timedelta(days=2))
        resolved = RosterFinding.objects.get(kind="departed_member")
        resolved.status = FindingStatus.RESOLVED
        resolved.resolved_at = NOW
        resolved.save()
    assert_agree(hr, head_sales)
    assert GroupFindingCell.objects.get(group=org["tech_group"], kind="bad_nickname").count == 1
    assert not GroupFindingCell.objects.filter(group=org["sales_group"]).exists()

    with django_capture_on_commit_callbacks(execute=True):
        joined.delete()
        opened.delete()
    assert_agree(hr, head_sales)


def test_rollups_follow_a_reconciliation_run(hr, head_sales, head_tech, data, django_capture_on_commit_callbacks):
    org = data
    # Bulk writes send no model signals: a departure written by update(), then the run.
    Employee.objects.filter(pk=org["east_rep"].pk).update(status="departed")
    Membership.objects.create(group=org["tech_group"], employee=org["east_rep"], nickname="张三")
    commit_pending()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        reconcile_all(now=NOW)
    assert callbacks  # the run's rosters_changed signal queued the refresh
    assert RosterFinding.objects.filter(status=FindingStatus.OPEN).count() > 2  # the run opened findings
    assert_agree(hr, head_sales, head_tech)


def test_an_incremental_run_refreshes_only_the_groups_it_touched(
    hr, head_sales, head_tech, data, django_capture_on_commit_callbacks, monkeypatch
):
    """An unchanged day recounts no group's cells; a day's change recounts that group's (and agrees)."""
    from portal.dashboard import signals as rollup_signals

    org = data
    with django_capture_on_commit_callbacks(execute=True):
        reconcile_all(now=NOW)  # the first run is full
    queued: list = []

    def incremental_run() -> None:
        with monkeypatch.context() as patch, django_capture_on_commit_callbacks(execute=True):
            patch.setattr(rollup_signals, "_enqueue", lambda state: queued.append(state))
            reconcile_all(now=NOW, full=False)

    incremental_run()
    assert queued == []  # nothing changed: no recount of every group's memberships

    with django_capture_on_commit_callbacks(execute=True):  # 张三 departs and is still in 销售群
        Employee.objects.filter(pk=org["east_rep"].pk).update(status="departed", employment_changed_at=NOW)
        Membership.objects.create(group=org["sales_group"], employee=org["east_rep"], nickname="华东区-张三")
    incremental_run()
    assert len(queued) == 1 and not queued[0]["all_rosters"]
    assert org["sales_group"].pk in queued[0]["rosters"]
    assert org["tech_group"].pk not in queued[0]["rosters"]
    rollup_signals._enqueue(queued[0])
    assert_agree(hr, head_sales, head_tech)


def test_dashboard_states_the_age_of_the_rollups(client, head_sales, hr, data):
    data = {**data, "hr_user": hr}
    client.force_login(head_sales)
    GroupRosterCell.objects.filter(group=data["tech_group"]).update(refreshed_at=NOW - datetime.timedelta(days=9))
    GroupRosterCell.objects.exclude(group=data["tech_group"]).update(refreshed_at=NOW)
    page = client.get(reverse("dashboard"), {"month": "2026-10"}).content.decode()
    assert "群成员与花名册问题统计于 2026-10-15 10:00" in page  # NOW, company time (技术部 is not theirs)
    client.force_login(data["hr_user"])
    page = client.get(reverse("dashboard"), {"month": "2026-10"}).content.decode()
    assert "群成员与花名册问题统计于 2026-10-06 10:00" in page  # the oldest of the groups summed
    GroupRosterCell.objects.all().delete()
    page = client.get(reverse("dashboard"), {"month": "2026-10"}).content.decode()
    assert "群成员与花名册问题尚未统计" in page


def grow(org, count: int, start: int) -> None:
    """``count`` more memberships (departed staff, outsiders, staff) and findings in the area."""
    from portal.dashboard.rollups import refresh_all

    people = [Employee(employee_no=f"G{start + i:05d}", name=f"成员{i}", department=org["east"],
                       status="departed" if i % 3 == 0 else "active") for i in range(count)]  # fmt: skip
    Employee.objects.bulk_create(people)
    people = list(Employee.objects.filter(employee_no__startswith="G").order_by("pk"))[start:]
    groups = [org["sales_group"], org["tech_group"]]
    Membership.objects.bulk_create(
        Membership(
            group=groups[i % 2],
            employee=None if i % 5 == 0 else p,
            nickname=f"成员{start + i}",
            member_key=Membership.key_for("", f"成员{start + i}"),
        )
        for i, p in enumerate(people)
    )
    RosterFinding.objects.bulk_create(
        RosterFinding(kind="bad_nickname", group=groups[i % 2], employee=p, first_seen_at=NOW, last_seen_at=NOW)
        for i, p in enumerate(people)
    )
    refresh_all(now=NOW)


@pytest.mark.parametrize("role", ["hr", "head_sales"])
def test_query_count_does_not_grow_with_memberships(request, data, role):
    user = request.getfixturevalue(role)
    counts = []
    for start, size in ((0, 30), (30, 60)):  # N, then 3N rows
        grow(data, size, start)
        reset_scope(user)
        area = dash.resolve_area(user, None)
        with CaptureQueriesContext(connection) as ctx:
            dash.build(user, area, THIS_MONTH, now=NOW)
        counts.append(len(ctx.captured_queries))
        if role == "hr":  # every membership number is read from the rollup: nothing counts the table
            table = Membership._meta.db_table
            assert not [q["sql"] for q in ctx.captured_queries if table in q["sql"] and "COUNT(" in q["sql"]]
        assert_agree(user)
    assert counts[0] == counts[1]
