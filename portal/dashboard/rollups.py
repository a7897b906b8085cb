"""Dashboard rollups: small summary tables for the numbers that would otherwise scan a year of data.

- ``ViolationCell``: violations per month, department (the employee's current one), rule category and
  status, with the fines and performance points of their active sanctions. The month's tiles, the
  12-month trend and the sub-department breakdown read a few thousand cells instead of ~1,000,000
  violations and their sanctions.
- ``GroupMonthCell``: standing violations per group and month (the "worst groups" list).
- ``LadderStanding``: per active employee, active warnings and demerits within the ladder window —
  "people at risk" compares them with the current ladder settings at read time.
- ``GroupRosterCell`` / ``GroupFindingCell``: per chat group, its open memberships (all, departed
  staff, outsiders) and its open roster findings by kind. The membership and finding numbers of the
  dashboard (tiles, per-department breakdown, worst groups) sum a few thousand rows instead of
  scanning up to 1,000,000 memberships and every finding; a head's area sums its subtree's groups.
  Reconciliation runs and roster imports write in bulk and send no model signals: they send
  ``groups.signals.rosters_changed`` and the refresh follows their commit; single saves of a
  membership, finding, group or an employee's status are caught by model signals like the rest.

They are kept current after every committed change of a violation, sanction or employee: signals
collect the touched (department, month), (group, month) and employee keys, and
``transaction.on_commit`` hands them to ``refresh_rollups_task`` once per transaction (``signals``,
``tasks``). They are rebuilt
in full nightly (the ladder window slides; bulk writes send no signals) and by
``manage.py refresh_dashboard``. Lists behind the numbers (the admin) are always live.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from decimal import Decimal

from django.db import transaction
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from portal.months import month_bounds, months_before

from .models import GroupFindingCell, GroupMonthCell, GroupRosterCell, LadderStanding, ViolationCell

Key = tuple[int, "datetime.date | None"]  # (department or group id, month); month None = all months


def _as_date(value) -> datetime.date:
    return timezone.localtime(value).date() if isinstance(value, datetime.datetime) else value


def _keys_q(keys: Iterable[Key], field: str, time_field: str) -> Q:
    query = Q(pk__in=[])
    for key_id, month in keys:
        part = Q(**{field: key_id})
        if month is not None:
            start, end = month_bounds(month)
            part &= Q(**{f"{time_field}__gte": start, f"{time_field}__lt": end})
        query |= part
    return query


def _cells_q(keys: Iterable[Key], field: str) -> Q:
    query = Q(pk__in=[])
    for key_id, month in keys:
        query |= Q(**{field: key_id}) if month is None else Q(**{field: key_id, "month": month})
    return query


@transaction.atomic
def refresh_violation_cells(*, keys: Iterable[Key] | None = None) -> int:
    """Recompute the cells of these (department, month) keys (all cells when None). Returns cells written."""
    from violations.models import Sanction, Violation

    cells, violations, sanctions = ViolationCell.objects.all(), Violation.objects.counted(), Sanction.objects.active()
    if keys is not None:
        keys = set(keys)
        cells = cells.filter(_cells_q(keys, "department_id"))
        violations = violations.filter(_keys_q(keys, "employee__department_id", "occurred_at"))
        sanctions = sanctions.filter(_keys_q(keys, "violation__employee__department_id", "violation__occurred_at"))
    cells.delete()
    tz = timezone.get_current_timezone()
    counted = (
        violations.annotate(m=TruncMonth("occurred_at", tzinfo=tz))
        .values("m", "employee__department_id", "rule__category", "status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    money = (
        sanctions.annotate(m=TruncMonth("violation__occurred_at", tzinfo=tz))
        .values("m", "violation__employee__department_id", "violation__rule__category", "violation__status")
        .annotate(fines=Sum("amount", filter=Q(kind="fine")), points=Sum("points"))
        .order_by()
    )
    sums = {
        (_as_date(r["m"]), r["violation__employee__department_id"], r["violation__rule__category"],
         r["violation__status"]): r
        for r in money
    }  # fmt: skip
    rows = []
    for r in counted:
        key = (_as_date(r["m"]), r["employee__department_id"], r["rule__category"], r["status"])
        extra = sums.get(key, {})
        rows.append(
            ViolationCell(month=key[0], department_id=key[1], category=key[2], status=key[3], count=r["n"],
                          fines=extra.get("fines") or Decimal("0"), points=extra.get("points") or 0)
        )  # fmt: skip
    return len(ViolationCell.objects.bulk_create(rows, batch_size=2000))


@transaction.atomic
def refresh_group_cells(*, keys: Iterable[Key] | None = None) -> int:
    """Recompute the (group, month) cells of these keys (all when None). Returns cells written."""
    from violations.models import Violation

    cells, violations = GroupMonthCell.objects.all(), Violation.objects.standing().filter(group__isnull=False)
    if keys is not None:
        keys = set(keys)
        cells = cells.filter(_cells_q(keys, "group_id"))
        violations = violations.filter(_keys_q(keys, "group_id", "occurred_at"))
    cells.delete()
    counted = (
        violations.annotate(m=TruncMonth("occurred_at", tzinfo=timezone.get_current_timezone()))
        .values("m", "group_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    rows = [GroupMonthCell(month=_as_date(r["m"]), group_id=r["group_id"], count=r["n"]) for r in counted]
    return len(GroupMonthCell.objects.bulk_create(rows, batch_size=2000))


@transaction.atomic
def refresh_ladder(*, employee_ids: Iterable[int] | None = None, now: datetime.datetime | None = None) -> int:
    """Recompute the ladder standings of ``employee_ids`` (all when None). Returns the rows written."""
    from violations.choices import SanctionKind
    from violations.models import CompanySettings, Sanction

    now = now or timezone.now()
    ladder = CompanySettings.load()
    since = months_before(timezone.localtime(now), ladder.window_months)
    standings = LadderStanding.objects.all()
    rows = Sanction.objects.active().filter(
        kind__in=[SanctionKind.WARNING, SanctionKind.DEMERIT],
        violation__occurred_at__gt=since,
        employee__status="active",
    )
    if employee_ids is not None:
        employee_ids = set(employee_ids)
        standings = standings.filter(employee_id__in=employee_ids)
        rows = rows.filter(employee_id__in=employee_ids)
    standings.delete()
    grouped = (
        rows.values("employee_id", "employee__department_id")
        .annotate(
            w=Count("pk", filter=Q(kind=SanctionKind.WARNING, is_derived=False)),
            d=Count("pk", filter=Q(kind=SanctionKind.DEMERIT)),
        )
        .order_by()
    )
    rows = [
        LadderStanding(employee_id=r["employee_id"], department_id=r["employee__department_id"], warnings=r["w"],
                       demerits=r["d"], refreshed_at=now)
        for r in grouped
    ]  # fmt: skip
    return len(LadderStanding.objects.bulk_create(rows, batch_size=2000))


@transaction.atomic
def refresh_roster_cells(*, group_ids: Iterable[int] | None = None, now: datetime.datetime | None = None) -> int:
    """Recompute the membership and finding cells of these groups (all when None). Returns groups written."""
    from groups.choices import EmployeeStatus, FindingStatus
    from groups.models import ChatGroup, Membership, RosterFinding

    now = now or timezone.now()
    groups = ChatGroup.objects.all()
    members = Membership.objects.open()
    findings = RosterFinding.objects.filter(status=FindingStatus.OPEN)
    roster_cells, finding_cells = GroupRosterCell.objects.all(), GroupFindingCell.objects.all()
    if group_ids is not None:
        ids = sorted(set(group_ids))
        if not ids:
            return 0
        groups, members, findings = (
            groups.filter(pk__in=ids),
            members.filter(group_id__in=ids),
            findings.filter(group_id__in=ids),
        )
        roster_cells, finding_cells = roster_cells.filter(group_id__in=ids), finding_cells.filter(group_id__in=ids)
    roster_cells.delete()
    finding_cells.delete()
    counted = {
        r["group_id"]: r
        for r in members.values("group_id")
        .annotate(
            n=Count("pk"),
            departed=Count("pk", filter=Q(employee__status=EmployeeStatus.DEPARTED)),
            outsiders=Count("pk", filter=Q(employee__isnull=True, group__admits_outsiders=False)),
        )
        .order_by()
    }
    empty = {"n": 0, "departed": 0, "outsiders": 0}
    rows = [
        GroupRosterCell(group_id=pk, members=c["n"], departed=c["departed"], outsiders=c["outsiders"], refreshed_at=now)
        for pk in groups.values_list("pk", flat=True).order_by()
        for c in (counted.get(pk, empty),)
    ]
    # A refresh of the same group committed meanwhile wrote the same numbers: keep its rows.
    GroupRosterCell.objects.bulk_create(rows, batch_size=2000, ignore_conflicts=True)
    kinds = findings.values("group_id", "kind").annotate(n=Count("pk")).order_by()
    GroupFindingCell.objects.bulk_create(
        [GroupFindingCell(group_id=r["group_id"], kind=r["kind"], count=r["n"]) for r in kinds],
        batch_size=2000,
        ignore_conflicts=True,
    )
    return len(rows)


def refresh_all(*, now: datetime.datetime | None = None) -> dict[str, int]:
    """Rebuild every rollup from scratch (nightly, and after bulk writes)."""
    return {
        "violation_cells": refresh_violation_cells(),
        "group_cells": refresh_group_cells(),
        "ladder_standings": refresh_ladder(now=now),
        "roster_cells": refresh_roster_cells(now=now),
    }
