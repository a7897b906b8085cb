"""The department parts of an expected nickname: {department}, {parent}, {subsidiary}, {company},
each taken from the right depth of the tree (root = company, depth 2 = subsidiary/region)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from groups.choices import FindingKind
from groups.models import ChatGroup, Employee, Membership, RosterFinding
from groups.reconcile import DeptTree, reconcile_all
from groups.services import create_department

pytestmark = pytest.mark.django_db


@pytest.fixture
def shanghai(org):
    """总公司 › 销售部 › 华东区 › 上海组: a department four levels deep."""
    return create_department("上海组", parent=org["east"])


def test_parts_four_levels_deep(org, shanghai):
    assert DeptTree().parts(shanghai.pk) == {
        "department": "上海组",
        "parent": "华东区",
        "subsidiary": "销售部",
        "company": "总公司",
    }


def test_parts_three_levels_deep(org):
    assert DeptTree().parts(org["east"].pk) == {
        "department": "华东区",
        "parent": "销售部",
        "subsidiary": "销售部",
        "company": "总公司",
    }


def test_parts_of_a_subsidiary_itself(org):
    assert DeptTree().parts(org["sales"].pk) == {
        "department": "销售部",
        "parent": "总公司",
        "subsidiary": "销售部",
        "company": "总公司",
    }


def test_parts_of_the_root_have_no_parent_or_subsidiary(org):
    assert DeptTree().parts(org["root"].pk) == {
        "department": "总公司",
        "parent": "",
        "subsidiary": "",
        "company": "总公司",
    }


def test_ancestor_name_beyond_the_path_is_empty(org):
    tree = DeptTree()
    assert tree.ancestor_name(org["sales"].path, 2) == "销售部"
    assert tree.ancestor_name(org["sales"].path, 3) == ""


@pytest.mark.parametrize(
    ("convention", "expected"),
    [
        ("{parent}-{name}", "华东区-钱八"),
        ("{subsidiary}-{name}", "销售部-钱八"),
        ("{company}{department}{name}", "总公司上海组钱八"),
    ],
)
def test_reconciliation_expects_the_parts_of_the_members_department(org, shanghai, convention, expected):
    group = ChatGroup.objects.create(
        name="上海组群",
        platform="wechat",
        kind="department",
        department=shanghai,
        nickname_convention=convention,
        approved_at=timezone.now(),
    )
    person = Employee.objects.create(employee_no="E0103", name="钱八", department=shanghai)
    wrong = Membership.objects.create(group=group, nickname="钱八", employee=person)
    right = Employee.objects.create(employee_no="E0104", name="吴九", department=shanghai)
    Membership.objects.create(group=group, nickname=expected.replace("钱八", "吴九"), employee=right)
    reconcile_all()
    bad = RosterFinding.objects.filter(kind=FindingKind.BAD_NICKNAME, group=group)
    assert list(bad.values_list("membership_id", "detail")) == [(wrong.pk, expected)]


def test_an_expected_nickname_longer_than_the_detail_column_is_cut_at_300(org):
    region = create_department("甲" * 100, parent=org["root"])
    team = create_department("乙" * 100, parent=region)
    group = ChatGroup.objects.create(
        name="长名群",
        platform="wechat",
        kind="department",
        department=team,
        nickname_convention="{subsidiary}{parent}{department}{name}",
        approved_at=timezone.now(),
    )
    person = Employee.objects.create(employee_no="E0105", name="郑十", department=team)
    Membership.objects.create(group=group, nickname="郑十", employee=person)
    reconcile_all()
    detail = RosterFinding.objects.get(kind=FindingKind.BAD_NICKNAME, group=group).detail
    assert detail == ("甲" * 200 + "乙" * 100 + "郑十")[:300] and len(detail) == 300
