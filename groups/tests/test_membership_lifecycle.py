"""A membership's lifecycle: a reported removal closes the row and the next snapshot checks it; a
rejoin while barred, a member left in the old department's group after 调岗; reruns do not duplicate."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from groups import services
from groups.choices import FindingKind, GroupKind, RemovalSource, RestrictionKind
from groups.models import (
    ChatGroup,
    Department,
    DepartmentMove,
    Employee,
    Membership,
    ReportedRemoval,
    RosterFinding,
)
from groups.reconcile import mark_removed, reconcile_all

from .import_helpers import EMP_HEADER, run_employees, run_roster, write_csv

K = FindingKind
pytestmark = pytest.mark.django_db
ROSTER = ["群昵称", "微信号"]


@pytest.fixture
def sales(org):
    ChatGroup.objects.update(approved_at=timezone.now())
    return org["sales_group"]


def roster(tmp_path, group, rows, name="r.csv"):
    return run_roster(write_csv(tmp_path / name, [ROSTER, *rows]), group=group)


def kinds(group=None, status="open"):
    found = RosterFinding.objects.filter(status=status)
    if group is not None:
        found = found.filter(group=group)
    return sorted(found.values_list("kind", flat=True))


def open_row(group, employee):
    return Membership.objects.open().get(group=group, employee=employee)


# --- reported removals ----------------------------------------------------------------------------


def test_confirmed_removal_closes_the_membership_and_the_rerun_does_not_reopen(hr, org, sales, tmp_path):
    roster(tmp_path, sales, [["华东区-赵六", "wx_zhaoliu"], ["华东区-张三", "wx_zhangsan"]])
    reconcile_all()
    departed = RosterFinding.objects.get(kind=K.DEPARTED_MEMBER)
    assert mark_removed([departed.pk], acting_user=hr) == 1
    membership = Membership.objects.get(pk=departed.membership_id)
    assert membership.left_at is not None
    report = ReportedRemoval.objects.get(membership=membership)
    assert (report.source, report.reported_by, report.checked_at) == (RemovalSource.CONFIRMED, hr, None)
    reconcile_all()
    reconcile_all()
    assert K.DEPARTED_MEMBER not in kinds(sales) and K.STILL_PRESENT not in kinds(sales)


def test_next_snapshot_still_listing_the_person_opens_still_present(hr, org, sales, tmp_path):
    roster(tmp_path, sales, [["华东区-赵六", "wx_zhaoliu"], ["华东区-张三", "wx_zhangsan"]])
    reconcile_all()
    departed = RosterFinding.objects.get(kind=K.DEPARTED_MEMBER)
    mark_removed([departed.pk], acting_user=hr)
    roster(tmp_path, sales, [["华东区-赵六", "wx_zhaoliu"], ["华东区-张三", "wx_zhangsan"]], name="r2.csv")
    reconcile_all()
    again = open_row(sales, org["east_departed"])
    finding = RosterFinding.objects.get(group=sales, membership=again, status="open")
    # one finding with the reason that matters: not also a second 离职员工仍在群
    assert finding.kind == K.STILL_PRESENT
    assert finding.employee == org["east_departed"]
    assert finding.detail == timezone.localdate(ReportedRemoval.objects.get().reported_at).isoformat()
    assert ReportedRemoval.objects.get().reappeared == again
    reconcile_all()
    assert RosterFinding.objects.filter(kind=K.STILL_PRESENT).count() == 1  # twice: no duplicate
    # removed for real this time: the snapshot without them resolves it, and nothing reopens
    roster(tmp_path, sales, [["华东区-张三", "wx_zhangsan"]], name="r3.csv")
    reconcile_all()
    assert RosterFinding.objects.get(kind=K.STILL_PRESENT).status == "resolved"
    assert kinds(sales) == []


def test_next_snapshot_without_the_person_checks_the_report(hr, org, sales, tmp_path):
    roster(tmp_path, sales, [["华东区-赵六", "wx_zhaoliu"], ["华东区-张三", "wx_zhangsan"]])
    reconcile_all()
    mark_removed([RosterFinding.objects.get(kind=K.DEPARTED_MEMBER).pk], acting_user=hr)
    roster(tmp_path, sales, [["华东区-张三", "wx_zhangsan"]], name="r2.csv")
    report = ReportedRemoval.objects.get()
    assert report.checked_at is not None and report.reappeared is None
    # a later snapshot listing them again is a rejoin, not "still present" (the report was checked)
    roster(tmp_path, sales, [["华东区-赵六", "wx_zhaoliu"], ["华东区-张三", "wx_zhangsan"]], name="r3.csv")
    reconcile_all()
    assert kinds(sales) == [K.DEPARTED_MEMBER]


def test_snapshot_of_another_group_leaves_the_report_pending(hr, org, sales, tmp_path):
    roster(tmp_path, sales, [["华东区-赵六", "wx_zhaoliu"]])
    reconcile_all()
    mark_removed([RosterFinding.objects.get(kind=K.DEPARTED_MEMBER).pk], acting_user=hr)
    roster(tmp_path, org["tech_group"], [["技术部-孙七", ""]], name="t.csv")
    assert ReportedRemoval.objects.get().checked_at is None


# --- removal sanctions and rejoin bars (groups.services, as violations calls them) -------------------


def test_removal_sanction_closes_membership_and_resolves_its_findings(hr, org, sales, tmp_path):
    roster(tmp_path, sales, [["张三", "wx_zhangsan"]])  # nickname breaks the convention
    reconcile_all()
    assert kinds(sales) == [K.BAD_NICKNAME]
    closed = services.remove_from_group(
        sales, org["east_rep"], acting_user=hr, source="violations.Sanction:1", days=30, reason="B02 清出群"
    )
    assert closed == 1
    assert not Membership.objects.open().filter(group=sales, employee=org["east_rep"]).exists()
    assert kinds(sales) == []
    report = ReportedRemoval.objects.get()
    assert report.source == RemovalSource.SANCTION
    bar = org["east_rep"].group_restrictions.get()
    assert (bar.kind, bar.until) == (RestrictionKind.REJOIN_BAR, timezone.localdate() + timedelta(days=30))
    # a retry of the same sanction writes the bar once
    services.remove_from_group(sales, org["east_rep"], acting_user=hr, source="violations.Sanction:1", days=30)
    assert org["east_rep"].group_restrictions.count() == 1
    reconcile_all()
    assert kinds(sales) == []


def _rejoin(sales, employee, when):
    return Membership.objects.create(group=sales, employee=employee, nickname="华东区-张三", joined_at=when)


def test_rejoin_within_the_bar_is_a_finding_and_after_it_none(hr, org, sales):
    removed_at = timezone.now() - timedelta(days=40)
    services.remove_from_group(sales, org["east_rep"], acting_user=hr, source="s:1", days=30, at=removed_at)
    inside = _rejoin(sales, org["east_rep"], removed_at + timedelta(days=10))
    reconcile_all()
    finding = RosterFinding.objects.get(kind=K.REJOINED_BARRED)
    assert (finding.membership, finding.employee) == (inside, org["east_rep"])
    assert finding.detail == (timezone.localdate(removed_at) + timedelta(days=30)).isoformat()
    reconcile_all()
    assert RosterFinding.objects.filter(kind=K.REJOINED_BARRED).count() == 1
    # they leave; rejoining after the bar ended is no finding, and the old one resolved
    Membership.objects.filter(pk=inside.pk).update(left_at=removed_at + timedelta(days=20))
    _rejoin(sales, org["east_rep"], removed_at + timedelta(days=35))
    reconcile_all()
    assert RosterFinding.objects.get(kind=K.REJOINED_BARRED).status == "resolved"
    assert K.REJOINED_BARRED not in kinds(sales)


def test_permanent_bar_and_bar_of_another_group(hr, org, sales):
    removed_at = timezone.now() - timedelta(days=400)
    services.remove_from_group(sales, org["east_rep"], acting_user=hr, source="s:2", days=None, at=removed_at)
    _rejoin(sales, org["east_rep"], timezone.now() - timedelta(days=1))
    Membership.objects.create(group=org["tech_group"], employee=org["east_rep"], nickname="技术部-张三")
    reconcile_all()
    finding = RosterFinding.objects.get(kind=K.REJOINED_BARRED)
    assert (finding.group, finding.detail) == (sales, "")  # permanent; the tech group is not barred


def test_mute_has_an_end_date(hr, org, sales):
    at = timezone.now()
    mute = services.mute_in_group(sales, org["east_rep"], acting_user=hr, source="s:3", days=7, at=at)
    assert (mute.kind, mute.until) == (RestrictionKind.MUTE, timezone.localdate(at) + timedelta(days=7))
    assert list(org["east_rep"].group_restrictions.mutes()) == [mute]
    assert not org["east_rep"].group_restrictions.mutes(timezone.localdate(at) + timedelta(days=8)).exists()


# --- 调岗 ----------------------------------------------------------------------------------------


def move_by_import(tmp_path, no, name, department, name_csv="e.csv"):
    path = write_csv(tmp_path / name_csv, [EMP_HEADER, [no, name, department, "", "在职", "", "", ""]])
    return run_employees(path)


def test_moved_department_opens_and_resolves_when_they_leave(org, sales, tmp_path):
    Membership.objects.create(group=org["tech_group"], employee=org["tech_dev"], nickname="技术部-孙七")
    reconcile_all()
    assert kinds(org["tech_group"]) == []
    move_by_import(tmp_path, "E0201", "孙七", "总公司/销售部")
    move = DepartmentMove.objects.get()
    assert (move.from_department, move.to_department) == (org["tech"], org["sales"])
    reconcile_all()
    finding = RosterFinding.objects.get(kind=K.MOVED_DEPARTMENT)
    assert (finding.group, finding.employee, finding.detail) == (org["tech_group"], org["tech_dev"], "销售部")
    reconcile_all()
    assert RosterFinding.objects.filter(kind=K.MOVED_DEPARTMENT).count() == 1
    Membership.objects.filter(group=org["tech_group"]).update(left_at=timezone.now())
    reconcile_all()
    assert RosterFinding.objects.get(kind=K.MOVED_DEPARTMENT).status == "resolved"


def test_moved_department_resolves_when_they_move_back(hr, org, sales):
    Membership.objects.create(group=org["tech_group"], employee=org["tech_dev"], nickname="技术部-孙七")
    services.update_employee(org["tech_dev"], acting_user=hr, department=org["sales"])
    reconcile_all()
    assert kinds(org["tech_group"]) == [K.MOVED_DEPARTMENT]
    services.update_employee(org["tech_dev"], acting_user=hr, department=org["tech"])
    reconcile_all()
    assert kinds(org["tech_group"]) == []
    assert DepartmentMove.objects.count() == 2


def test_move_within_the_subtree_and_other_group_kinds_are_no_finding(hr, org, sales):
    # 张三 of 销售部/华东区 moves to a sibling team: still in 销售部's department group, rightly
    south = services.create_department("华南区", parent=Department.objects.get(pk=org["sales"].pk))
    Membership.objects.create(group=sales, employee=org["east_rep"], nickname="华南区-张三")
    project = ChatGroup.objects.create(
        name="项目群", platform="wechat", kind=GroupKind.PROJECT, department=org["tech"], approved_at=timezone.now()
    )
    Membership.objects.create(group=project, employee=org["tech_dev"], nickname="销售部-孙七")
    services.update_employee(org["east_rep"], acting_user=hr, department=south)
    services.update_employee(org["tech_dev"], acting_user=hr, department=org["sales"])
    reconcile_all()
    assert K.MOVED_DEPARTMENT not in kinds()


def test_member_of_a_subteam_group_who_moved_to_the_parent_is_a_finding(hr, org, sales):
    east_group = ChatGroup.objects.create(
        name="华东区群",
        platform="wechat",
        kind=GroupKind.DEPARTMENT,
        department=org["east"],
        approved_at=timezone.now(),
    )
    Membership.objects.create(group=east_group, employee=org["east_rep"], nickname="销售部-张三")
    services.update_employee(org["east_rep"], acting_user=hr, department=org["sales"])
    reconcile_all()
    assert kinds(east_group) == [K.MOVED_DEPARTMENT]


# --- one transaction ------------------------------------------------------------------------------


def test_a_run_killed_midway_writes_nothing(hr, org, sales, monkeypatch):
    services.remove_from_group(sales, org["east_rep"], acting_user=hr, source="s:4", days=None)
    _rejoin(sales, org["east_rep"], timezone.now())
    from groups import reconcile

    def killed(*args, **kwargs):
        raise RuntimeError("worker killed")

    monkeypatch.setattr(reconcile, "_audit", killed)  # after the findings were written
    with pytest.raises(RuntimeError):
        reconcile_all()
    assert not RosterFinding.objects.filter(kind=K.REJOINED_BARRED).exists()
    monkeypatch.undo()
    reconcile_all()
    assert RosterFinding.objects.filter(kind=K.REJOINED_BARRED).count() == 1


def test_lifecycle_kinds_cost_a_fixed_number_of_queries(hr, org, sales, django_assert_max_num_queries):
    for n in range(5):
        group = ChatGroup.objects.create(
            name=f"群{n}", platform="qq", kind=GroupKind.DEPARTMENT, department=org["tech"], approved_at=timezone.now()
        )
        Membership.objects.create(group=group, employee=org["tech_dev"], nickname="x")
    services.update_employee(org["tech_dev"], acting_user=hr, department=org["sales"])
    from groups.lifecycle_checks import lifecycle_sightings
    from groups.reconcile import Sighting

    with django_assert_max_num_queries(4):
        found = list(lifecycle_sightings(Sighting))
    assert {s.kind for s in found} == {K.MOVED_DEPARTMENT}
    assert len(found) == 5


# --- who is told --------------------------------------------------------------------------------


def test_rejoin_while_barred_is_told_to_the_group_admin_and_hr_once(hr, org, sales):
    from portal.models import NotificationLog

    hr_person = Employee.objects.create(
        employee_no="E0900", name="周人资", department=org["root"], email="hr@example.com", user=hr
    )
    org["tech_dev"].email = "sun@example.com"  # the sales group's admin
    org["tech_dev"].save()
    services.remove_from_group(sales, org["east_rep"], acting_user=hr, source="s:5", days=None)
    _rejoin(sales, org["east_rep"], timezone.now())
    reconcile_all()
    reconcile_all()
    admin_note = NotificationLog.objects.get(recipient=org["tech_dev"])
    assert "禁入期内重新入群: 张三(永久禁止再入群)" in admin_note.body
    hr_note = NotificationLog.objects.get(recipient=hr_person)
    assert "禁入期内重新入群" in hr_note.subject and "销售部工作群" in hr_note.body


def test_a_per_group_run_sees_the_same_lifecycle_conditions(hr, org, sales):
    from groups.lifecycle_checks import lifecycle_sightings
    from groups.reconcile import Sighting

    services.remove_from_group(sales, org["east_rep"], acting_user=hr, source="s:6", days=None)
    _rejoin(sales, org["east_rep"], timezone.now())
    Membership.objects.create(group=org["tech_group"], employee=org["tech_dev"], nickname="技术部-孙七")
    services.update_employee(org["tech_dev"], acting_user=hr, department=org["sales"])
    full = {(s.kind, s.group_id) for s in lifecycle_sightings(Sighting)}
    assert full == {(K.REJOINED_BARRED, sales.pk), (K.MOVED_DEPARTMENT, org["tech_group"].pk)}
    assert {(s.kind, s.group_id) for s in lifecycle_sightings(Sighting, [sales.pk])} == {(K.REJOINED_BARRED, sales.pk)}
    tech_only = {s.kind for s in lifecycle_sightings(Sighting, [org["tech_group"].pk])}
    assert tech_only == {K.MOVED_DEPARTMENT}
