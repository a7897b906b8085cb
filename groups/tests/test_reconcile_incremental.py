"""Incremental reconciliation (issue #14): only groups marked changed are rescanned, and the result
is the full run's, on randomized changes made through every kind of writer."""

from __future__ import annotations

import random

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from groups.importing.writers import _mark_changed
from groups.models import ChatGroup, Department, Employee, Membership, RosterFinding
from groups.reconcile import reconcile_all
from groups.services import create_department

pytestmark = pytest.mark.django_db


def state() -> set[tuple]:
    return set(
        RosterFinding.objects.values_list(
            "kind", "group_id", "membership_id", "employee_id", "status", "detail", "suggested_successor_id"
        )
    )


def summary_of(run) -> dict:
    data = run.as_dict()
    data.pop("scope")
    return data


@pytest.fixture
def company(db):
    rng = random.Random(314)
    root = create_department("集团")
    for i in range(6):
        create_department(f"部{i}", parent=rng.choice(list(Department.objects.all())))
    depts = list(Department.objects.all())
    people = [
        Employee.objects.create(employee_no=f"I{i:03d}", name=f"人{i}", department=rng.choice(depts), title="员")
        for i in range(60)
    ]
    groups = [
        ChatGroup.objects.create(
            name=f"群{i}",
            platform="wechat",
            kind="department",
            department=rng.choice(depts),
            owner=rng.choice(people),
            admits_outsiders=i % 4 == 0,
        )
        for i in range(12)
    ]
    for group in groups:
        for person in rng.sample(people, 8):
            nickname = f"{person.department.name}-{person.name}" if rng.random() < 0.7 else f"x{person.name}"
            Membership.objects.create(group=group, employee=person, nickname=nickname, platform_id=f"{person.pk}")
        Membership.objects.create(group=group, nickname=f"外{group.pk}", platform_id=f"o{group.pk}")
    return {"rng": rng, "root": root, "depts": depts, "people": people, "groups": groups}


def random_change(company, rng: random.Random) -> None:
    people, groups, depts = company["people"], company["groups"], company["depts"]
    person = Employee.objects.get(pk=rng.choice(people).pk)
    group = ChatGroup.objects.get(pk=rng.choice(groups).pk)
    choice = rng.randrange(9)
    if choice == 0:  # departure through save()
        person.status = "departed" if person.status == "active" else "active"
        person.save()
    elif choice == 1:  # transfer: the expected nickname changes
        person.department = rng.choice(depts)
        person.save(update_fields=["department"])
    elif choice == 2:  # a bulk import's write: UPDATE, then the import marks the written numbers
        Employee.objects.filter(pk=person.pk).update(name=person.name + "改", title="经理")
        _mark_changed([person.employee_no])
    elif choice == 3:  # someone leaves a group
        member = group.memberships.filter(left_at__isnull=True).order_by("?").first()
        if member:
            member.left_at = timezone.now()
            member.save()
    elif choice == 4:  # someone joins, or fixes a nickname
        member = group.memberships.filter(left_at__isnull=True, employee__isnull=False).order_by("?").first()
        if member:
            member.nickname = f"{member.employee.department.name}-{member.employee.name}"
            member.save()
        elif not group.memberships.filter(employee=person, left_at__isnull=True).exists():
            Membership.objects.create(group=group, employee=person, nickname=f"新{person.name}", platform_id="n")
    elif choice == 5:  # group settings
        group.admits_outsiders = not group.admits_outsiders
        group.save()
    elif choice == 6:
        group.nickname_convention = rng.choice(["{department}-{name}", "{name}", "{name}({title})"])
        group.save()
    elif choice == 7:  # a department renamed: every nickname naming it changes
        dept = Department.objects.get(pk=rng.choice(depts).pk)
        dept.name = dept.name + "新"
        dept.save()
    else:  # a group dissolved (and its findings go)
        if group.status == "active":
            group.status = "dissolved"
            group.dissolved_at = group.created_at
            group.save()


def test_incremental_equals_full_on_random_changes(company):
    rng = company["rng"]
    reconcile_all(full=True)
    for round_ in range(20):
        for _ in range(rng.randint(1, 4)):
            random_change(company, rng)
        with transaction.atomic():
            incremental = reconcile_all(full=False)
            after_incremental = state()
            transaction.set_rollback(True)  # the same changes again, for the full run
        full = reconcile_all(full=True)
        assert after_incremental == state(), f"round {round_}"
        assert summary_of(incremental) == summary_of(full), f"round {round_}"


def test_an_unchanged_day_rescans_no_group(company):
    reconcile_all(full=True)
    run = reconcile_all(full=False)
    assert run.scope == "0 groups" and run.created == {} and run.resolved == {}
    with CaptureQueriesContext(connection) as queries:
        reconcile_all(full=False)
    member_scans = [q for q in queries if "groups_membership" in q["sql"] and "nickname_convention" in q["sql"]]
    assert len(member_scans) == 1  # restricted to the (no) marked groups by one JSON id set
    assert "json_each" in member_scans[0]["sql"] or "jsonb" in member_scans[0]["sql"]


def test_one_changed_group_is_the_only_one_rescanned(company):
    reconcile_all(full=True)
    group = company["groups"][3]
    member = group.memberships.filter(left_at__isnull=True, employee__isnull=False).first()
    member.employee.status = "departed"
    member.employee.save()
    run = reconcile_all(full=False)
    rescanned = set(
        Membership.objects.filter(employee=member.employee, left_at__isnull=True).values_list("group", flat=True)
    )
    assert run.scope == f"{len(rescanned)} groups"
    assert RosterFinding.objects.filter(kind="departed_member", employee=member.employee, status="open").count() == len(
        rescanned
    )


def test_the_marks_are_cleared_by_the_run_that_checked_them(company):
    reconcile_all(full=True)
    assert not ChatGroup.objects.filter(roster_changed_at__isnull=False).exists()
    person = company["people"][0]
    person.title = "主管"
    person.save()
    assert Employee.objects.filter(pk=person.pk, employment_changed_at__isnull=False).exists()
    reconcile_all(full=False)
    assert not Employee.objects.filter(employment_changed_at__isnull=False).exists()


def test_a_rolled_back_run_leaves_the_marks(company):
    reconcile_all(full=True)
    group = ChatGroup.objects.get(pk=company["groups"][0].pk)
    group.admits_outsiders = not group.admits_outsiders
    group.save()
    with transaction.atomic():
        reconcile_all(full=False)
        transaction.set_rollback(True)
    assert ChatGroup.objects.get(pk=group.pk).roster_changed_at is not None
