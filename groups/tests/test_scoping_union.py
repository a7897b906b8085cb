"""The union-of-id-sets scope filters (issue #14) return exactly what the old OR filters returned.

The reference filters below are the previous implementation, kept here verbatim: one OR across the
joined tables. On a random organisation every role's visible set must be identical.
"""

from __future__ import annotations

import datetime
import random

import pytest
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone

from groups.findings import RosterFinding
from groups.models import ChatGroup, Department, Employee, Membership
from groups.services import create_department
from portal.scoping import reset_scope, scope_for
from violations.models import Appeal, PerformanceDeduction, Rule, Sanction, Violation


def old_membership_q(scope):
    query = (
        Q(group__department_id__in=scope.dept_ids)
        | Q(group_id__in=scope.group_ids)
        | Q(employee__department_id__in=scope.dept_ids)
    )
    if scope.employee_id:
        query |= Q(employee_id=scope.employee_id)
    return query


def old_employee_q(scope):
    query = Q(department_id__in=scope.dept_ids)
    if scope.group_ids:
        query |= Q(pk__in=Membership.objects.filter(group_id__in=scope.group_ids).values("employee_id"))
    if scope.employee_id:
        query |= Q(pk=scope.employee_id)
    return query


def old_violation_q(scope, prefix=""):
    query = Q(pk__in=[])
    if scope.dept_ids:
        query |= Q(**{f"{prefix}employee__department_id__in": scope.dept_ids})
    if scope.group_ids:
        query |= Q(**{f"{prefix}group_id__in": scope.group_ids})
    if scope.employee_id:
        query |= Q(**{f"{prefix}employee_id": scope.employee_id})
    return query


def old_finding_q(scope):
    return Q(group__department_id__in=scope.dept_ids) | Q(group_id__in=scope.group_ids)


def old_deduction_q(scope):
    query = Q(pk__in=[])
    if scope.dept_ids:
        query |= Q(employee__department_id__in=scope.dept_ids)
    if scope.employee_id:
        query |= Q(employee_id=scope.employee_id)
    return query


@pytest.fixture
def company(db):
    rng = random.Random(1414)
    root = create_department("集团")
    departments = [root]
    for i in range(12):
        departments.append(create_department(f"部门{i}", parent=rng.choice(departments)))
    departments = list(Department.objects.all())
    people = [
        Employee.objects.create(
            employee_no=f"R{i:04d}",
            name=f"员工{i}",
            department=rng.choice(departments),
            status="active" if rng.random() < 0.85 else "departed",
        )
        for i in range(90)
    ]
    groups = []
    for i in range(15):
        group = ChatGroup.objects.create(
            name=f"群{i}",
            platform="wechat",
            kind="department",
            department=rng.choice(departments),
            owner=rng.choice(people) if rng.random() < 0.6 else None,
        )
        group.admins.add(*rng.sample(people, rng.randint(0, 2)))
        groups.append(group)
    now = timezone.now()
    memberships = []
    for group in groups:
        for n, person in enumerate(rng.sample(people, rng.randint(3, 20))):
            outsider = rng.random() < 0.1
            memberships.append(
                Membership(
                    group=group,
                    employee=None if outsider else person,
                    nickname=f"昵称{n}",
                    member_key=f"nick:{group.pk}-{n}",
                    left_at=now if rng.random() < 0.2 else None,
                )
            )
    Membership.objects.bulk_create(memberships)
    rule = Rule.objects.first()
    violations = Violation.objects.bulk_create(
        Violation(
            employee=rng.choice(people),
            group=rng.choice(groups) if rng.random() < 0.7 else None,
            rule=rule,
            occurred_at=now - datetime.timedelta(days=rng.randint(0, 90)),
            description="x",
        )
        for _ in range(150)
    )
    Sanction.objects.bulk_create(
        Sanction(violation=v, employee=v.employee, kind="warning") for v in violations if rng.random() < 0.5
    )
    Appeal.objects.bulk_create(
        Appeal(violation=v, statement="r", decision_due=now.date()) for v in violations[:20] if rng.random() < 0.5
    )
    RosterFinding.objects.bulk_create(
        RosterFinding(
            kind="outsider",
            group=rng.choice(groups),
            detail=f"f{i}",
            first_seen_at=now,
            last_seen_at=now,
            status="resolved",
            resolved_at=now,
        )
        for i in range(40)
    )
    month = now.date().replace(day=1)
    PerformanceDeduction.objects.bulk_create(
        PerformanceDeduction(
            employee=p,
            month=month,
            base_score=100,
            points_deducted=0,
            final_score=100,
            sanction_count=0,
            breakdown={},
            computed_at=now,
        )
        for p in people
        if rng.random() < 0.5
    )
    users = []
    user_model = get_user_model()
    heads = rng.sample(departments, 5)
    for i, person in enumerate(rng.sample(people, 30)):
        if i < len(heads):
            heads[i].head = person
            heads[i].save(update_fields=["head"])
        user = user_model.objects.create_user(username=f"u{i}", password="x")
        person.user = user
        person.save(update_fields=["user"])
        users.append(user)
    return users


CASES = [
    (Membership, old_membership_q),
    (Employee, old_employee_q),
    (Violation, old_violation_q),
    (Sanction, lambda s: old_violation_q(s, "violation__")),
    (Appeal, lambda s: old_violation_q(s, "violation__")),
    (RosterFinding, old_finding_q),
    (PerformanceDeduction, old_deduction_q),
]


def test_union_scope_equals_the_old_or_filter_for_every_user(company):
    kinds = {"head": 0, "group_admin": 0, "employee_only": 0}
    for user in company:
        reset_scope(user)
        scope = scope_for(user)
        if scope.everything or not scope.employee_id:
            continue
        kinds["head" if scope.dept_ids else "group_admin" if scope.group_ids else "employee_only"] += 1
        for model, old_q in CASES:
            new = set(model.objects.visible_to(user).values_list("pk", flat=True))
            old = set(model.objects.filter(old_q(scope)).values_list("pk", flat=True))
            assert new == old, (model.__name__, user.username)
    assert all(kinds.values()), kinds  # the random company exercises every kind of scope
