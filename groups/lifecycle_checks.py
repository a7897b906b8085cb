"""Reconciliation of a membership's lifecycle: the kinds that read ``groups.lifecycle`` rows.

Self-contained on purpose: ``groups.reconcile.current_sightings`` adds ``lifecycle_sightings`` to its
sources and passes the result through ``supersede``; nothing else of the orchestration changes.
Each kind is one query over the open memberships of active groups (``group_ids`` narrows a run to
some groups), so a full run and a per-group run see the same conditions:

- 报告已移出但仍在群 (``still_present``): the first roster snapshot after a reported removal still
  listed the person (``ReportedRemoval.reappeared``, set by ``check_snapshot`` when the snapshot is
  written) and that row is still open;
- 禁入期内重新入群 (``rejoined_barred``): an open membership that began while a rejoin bar of that
  group and person was in force (from the removal to ``until``; no ``until``: permanent);
- 调岗后仍在原部门群 (``moved_department``): an active employee in a department group (kind 部门群)
  whose department subtree no longer holds their department, and who moved out of that subtree
  (``DepartmentMove``). A sub-department's staff belong in the parent's department group
  (销售部/华东区 in 销售部's group), so a move within the subtree is not a finding.

A condition that stops holding (the row closes, they are back in that department) resolves the
finding on the next run like every other kind. None depends on the clock (a bar's end is compared
with the day the membership began), so a run that scans only changed groups needs these changes to
mark a group: a roster snapshot written into it, a membership of it closed (a removal, reported or
carried out), and a member's department change (``DepartmentMove``: the groups the employee is in).
"""

from __future__ import annotations

import datetime
from collections.abc import Collection, Iterator

from django.db.models import Exists, F, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from .choices import EmployeeStatus, FindingKind, GroupKind, GroupStatus, RestrictionKind
from .lifecycle import DepartmentMove, MemberRestriction, ReportedRemoval
from .models import Membership

K = FindingKind
LIFECYCLE_KINDS = (K.STILL_PRESENT, K.REJOINED_BARRED, K.MOVED_DEPARTMENT)
# A member who must leave the group is one finding with the reason that matters: still present after
# a reported removal is not also departed, outsider, …; nor is a barred or moved member's nickname
# worth fixing. kind → the member-level kinds it hides for the same membership.
SUPERSEDES = {
    K.STILL_PRESENT: (K.DEPARTED_MEMBER, K.OUTSIDER, K.BAD_NICKNAME, K.REJOINED_BARRED, K.MOVED_DEPARTMENT),
    K.REJOINED_BARRED: (K.BAD_NICKNAME, K.MOVED_DEPARTMENT),
    K.MOVED_DEPARTMENT: (K.BAD_NICKNAME,),
}


def _open_members(group_ids: Collection[int] | None):
    rows = Membership.objects.open().filter(group__status=GroupStatus.ACTIVE).order_by()
    return rows if group_ids is None else rows.filter(group_id__in=list(group_ids))


def still_present(group_ids: Collection[int] | None = None) -> Iterator[tuple]:
    """(kind, group, membership, employee, detail): detail is the day the removal was reported."""
    reports = ReportedRemoval.objects.filter(
        reappeared__isnull=False, reappeared__left_at__isnull=True, group__status=GroupStatus.ACTIVE
    ).order_by("reported_at")
    if group_ids is not None:
        reports = reports.filter(group_id__in=list(group_ids))
    for group_id, membership_id, employee_id, reported_at in reports.values_list(
        "group_id", "reappeared_id", "reappeared__employee_id", "reported_at"
    ):
        yield K.STILL_PRESENT.value, group_id, membership_id, employee_id, timezone.localdate(reported_at).isoformat()


def rejoined_barred(group_ids: Collection[int] | None = None) -> Iterator[tuple]:
    """Detail: the bar's last day (ISO), empty for a permanent bar."""
    joined = Coalesce("joined_at", "created_at")
    bars = MemberRestriction.objects.filter(
        kind=RestrictionKind.REJOIN_BAR, group=OuterRef("group_id"), employee=OuterRef("employee_id")
    )
    barred = MemberRestriction.objects.filter(kind=RestrictionKind.REJOIN_BAR).values("employee_id")
    rows = (
        _open_members(group_ids)
        .filter(employee_id__in=barred)  # implied by the Exists; lets the planner start from the few bars
        .annotate(joined=joined)
        .filter(Exists(bars.filter(starts_at__lte=OuterRef("joined"))))
        .values_list("pk", "group_id", "employee_id", "joined")
    )
    rows = list(rows)
    if not rows:
        return
    bar_rows = MemberRestriction.objects.filter(
        kind=RestrictionKind.REJOIN_BAR, employee_id__in={r[2] for r in rows}, group_id__in={r[1] for r in rows}
    ).values_list("group_id", "employee_id", "starts_at", "until")
    bars_of: dict[tuple[int, int], list[tuple[datetime.datetime, datetime.date | None]]] = {}
    for group_id, employee_id, starts_at, until in bar_rows:
        bars_of.setdefault((group_id, employee_id), []).append((starts_at, until))
    for pk, group_id, employee_id, joined_at in rows:
        day = timezone.localdate(joined_at)
        ends = [until for starts_at, until in bars_of.get((group_id, employee_id), []) if starts_at <= joined_at]
        if None in ends:
            yield K.REJOINED_BARRED.value, group_id, pk, employee_id, ""
        elif covering := [until for until in ends if until >= day]:
            yield K.REJOINED_BARRED.value, group_id, pk, employee_id, max(covering).isoformat()


def moved_department(group_ids: Collection[int] | None = None) -> Iterator[tuple]:
    """Detail: the department the member is in now."""
    moves = DepartmentMove.objects.filter(
        employee=OuterRef("employee_id"), from_department__path__startswith=OuterRef("group__department__path")
    )
    rows = (
        _open_members(group_ids)
        .filter(employee_id__in=DepartmentMove.objects.values("employee_id"))  # the few who moved, first
        .filter(group__kind=GroupKind.DEPARTMENT, employee__status=EmployeeStatus.ACTIVE)
        .exclude(employee__department__path__startswith=F("group__department__path"))
        .filter(Exists(moves))
        .values_list("pk", "group_id", "employee_id", "employee__department__name")
    )
    for pk, group_id, employee_id, department in rows:
        yield K.MOVED_DEPARTMENT.value, group_id, pk, employee_id, department[:300]


def lifecycle_sightings(sighting, group_ids: Collection[int] | None = None) -> Iterator:
    """Every lifecycle condition as ``sighting(kind, group_id, membership_id, employee_id, detail)``
    (``groups.reconcile.Sighting``, passed in so that this module does not import the orchestration)."""
    for source in (still_present, rejoined_barred, moved_department):
        for kind, group_id, membership_id, employee_id, detail in source(group_ids):
            yield sighting(kind, group_id, membership_id, employee_id, detail)


def supersede(current: dict) -> dict:
    """Drop the sightings ``SUPERSEDES`` hides: the admin sees one item per member, with the reason
    that matters (``current`` is keyed like ``groups.reconcile.Key``: kind, group, membership, employee)."""
    hidden: set[tuple[str, int]] = set()
    for key in current:
        for kind in SUPERSEDES.get(key[0], ()):
            hidden.add((kind, key[2]))
    if not hidden:
        return current
    return {key: s for key, s in current.items() if (key[0], key[2]) not in hidden}


def explain(kind: str, detail: str) -> str | None:
    """The lifecycle kinds' ``detail`` in words (notices; the pages use groups/_lifecycle_detail.html)."""
    if kind == K.STILL_PRESENT:
        return _("已于 %(day)s 报告移出,最新群成员名单仍有此人") % {"day": detail}
    if kind == K.REJOINED_BARRED:
        return _("禁止再入群至 %(day)s") % {"day": detail} if detail else _("永久禁止再入群")
    if kind == K.MOVED_DEPARTMENT:
        return _("已调至 %(department)s") % {"department": detail}
    return None


# --- written with a group roster snapshot ----------------------------------------------------------


def check_snapshot(group_ids: Collection[int], now: datetime.datetime) -> int:
    """A group's roster snapshot was written: it checks the removals reported before it (one UPDATE).

    After a snapshot the group's open rows are exactly its lines, so a pending report's person is
    still there if an open row of that group has their key or their employee: that row becomes
    ``reappeared``. Returns the number of reports checked.
    """
    if not group_ids:
        return 0
    same_person = Q(member_key=OuterRef("member_key")) | Q(employee_id=OuterRef("employee_id"))
    still_there = (
        Membership.objects.filter(group_id=OuterRef("group_id"), left_at__isnull=True)
        .filter(same_person)
        .order_by("pk")
        .values("pk")[:1]
    )
    return ReportedRemoval.objects.filter(
        group_id__in=list(group_ids), checked_at__isnull=True, reported_at__lte=now
    ).update(checked_at=now, reappeared=Subquery(still_there))
