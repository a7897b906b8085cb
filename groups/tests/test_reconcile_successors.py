"""Who reconciliation suggests as the new owner of a group whose owner has departed, and which
groups it flags as unapproved: never a departed person, a stable choice, only active groups."""

from __future__ import annotations

import pytest
from django.utils import timezone

from groups.choices import FindingKind
from groups.models import ChatGroup, Employee, RosterFinding
from groups.reconcile import reconcile_all

pytestmark = pytest.mark.django_db


def depart(*employees):
    Employee.objects.filter(pk__in=[e.pk for e in employees]).update(status="departed")


def successor_of(group):
    finding = RosterFinding.objects.get(kind=FindingKind.OWNER_DEPARTED, group=group)
    return finding.suggested_successor, finding.detail


def test_a_departed_admin_is_not_suggested(org):
    group = org["sales_group"]  # owner 李销售, admin 孙七
    assert org["east_departed"].pk < org["tech_dev"].pk  # would win the tie-break if it counted
    group.admins.add(org["east_departed"])
    depart(org["sales_head"])
    reconcile_all()
    assert successor_of(group) == (org["tech_dev"], "孙七")


def test_the_admin_with_the_lowest_employee_id_is_suggested(org):
    group = org["sales_group"]
    group.admins.add(org["east_rep"])
    assert org["east_rep"].pk < org["tech_dev"].pk
    depart(org["sales_head"])
    reconcile_all()
    assert successor_of(group) == (org["east_rep"], "张三")


def test_with_only_departed_admins_the_department_head_is_suggested(org):
    group = org["tech_group"]
    group.owner = org["tech_dev"]
    group.save()
    group.admins.add(org["east_departed"])
    depart(org["tech_dev"])
    reconcile_all()
    assert successor_of(group) == (org["tech_head"], "陈技术")


def test_a_departed_department_head_is_skipped_for_the_nearest_active_one_above(org):
    org["root"].head = org["ceo"]
    org["root"].save()
    group = org["tech_group"]
    group.owner = org["tech_dev"]
    group.save()
    depart(org["tech_dev"], org["tech_head"])
    reconcile_all()
    assert successor_of(group) == (org["ceo"], "王总")


def test_a_department_without_a_head_falls_back_to_its_parents_head(org):
    group = ChatGroup.objects.create(
        name="华东区工作群", platform="wechat", kind="department", department=org["east"], owner=org["east_departed"]
    )
    reconcile_all()
    assert successor_of(group) == (org["sales_head"], "李销售")


def test_no_active_admin_or_head_anywhere_suggests_nobody(org):
    group = org["tech_group"]
    group.owner = org["tech_dev"]
    group.save()
    depart(org["tech_dev"], org["tech_head"])  # the root has no head
    reconcile_all()
    assert successor_of(group) == (None, "")


def test_the_departed_owner_is_not_suggested_as_their_own_successor(org):
    # The owner is also the department's head: the suggestion goes up the tree.
    org["root"].head = org["ceo"]
    org["root"].save()
    group = org["tech_group"]
    group.owner = org["tech_head"]
    group.save()
    depart(org["tech_head"])
    reconcile_all()
    assert successor_of(group) == (org["ceo"], "王总")


def test_groups_with_an_active_owner_get_no_owner_finding(org):
    depart(org["east_departed"])
    reconcile_all()
    assert not RosterFinding.objects.filter(kind=FindingKind.OWNER_DEPARTED).exists()


def test_a_dissolved_group_of_a_departed_owner_is_not_flagged(org):
    ChatGroup.objects.filter(pk=org["sales_group"].pk).update(status="dissolved", dissolved_at=timezone.now())
    depart(org["sales_head"])
    reconcile_all()
    assert not RosterFinding.objects.filter(kind=FindingKind.OWNER_DEPARTED).exists()


def test_dissolved_unapproved_groups_are_not_flagged(org):
    ChatGroup.objects.filter(pk=org["sales_group"].pk).update(status="dissolved", dissolved_at=timezone.now())
    reconcile_all()
    flagged = set(RosterFinding.objects.filter(kind=FindingKind.UNAPPROVED_GROUP).values_list("group_id", flat=True))
    assert flagged == {org["tech_group"].pk}


def test_approved_groups_are_not_flagged_as_unapproved(org):
    ChatGroup.objects.filter(pk=org["tech_group"].pk).update(approved_at=timezone.now())
    reconcile_all()
    flagged = set(RosterFinding.objects.filter(kind=FindingKind.UNAPPROVED_GROUP).values_list("group_id", flat=True))
    assert flagged == {org["sales_group"].pk}


def test_only_project_groups_are_overdue_after_their_end_date(org):
    from datetime import timedelta

    past = timezone.localdate() - timedelta(days=10)
    ChatGroup.objects.filter(pk=org["tech_group"].pk).update(end_date=past)  # a department group
    project = ChatGroup.objects.create(
        name="项目X", platform="qq", kind="project", department=org["tech"], end_date=past, approved_at=timezone.now()
    )
    reconcile_all()
    overdue = RosterFinding.objects.filter(kind=FindingKind.PROJECT_OVERDUE)
    assert list(overdue.values_list("group_id", "detail")) == [(project.pk, past.isoformat())]
