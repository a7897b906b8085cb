"""Read services behind the dashboard: one function per section, each a fixed number of queries.

Every section starts from ``Model.objects.visible_to(user)`` and narrows it to the dashboard's
``Area`` (one or more department subtrees, or the whole company). Counts are conditional aggregates
and group-bys on the materialised tree path, so the number of queries never grows with the data:
``portal/tests/test_dashboard_queries.py`` asserts it with 2 and with 20 departments.

Sections return plain dicts and lists; ``links.ListLinks`` builds the admin list URLs behind each number.
The ``area_*`` selectors are each model's scoped queryset narrowed to the area.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Case, Count, Min, OuterRef, Q, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from groups.choices import FindingKind, FindingStatus
from groups.models import ChatGroup, Department, Employee, Membership, RosterFinding, RosterSettings
from portal import months
from portal.scoping import scope_for
from violations.choices import VOID_STATUSES, AppealStatus, RuleCategory, SanctionKind, ViolationStatus
from violations.models import Appeal, CompanySettings, Sanction, Violation
from violations.workdays import deadline_years, years_without_official_data

from .models import GroupFindingCell, GroupMonthCell, GroupRosterCell, LadderStanding, ViolationCell

LIST_LIMIT = 10
# Groups with the most violations of the month considered for "most violations per member".
GROUP_CANDIDATES = 200
AT_RISK_LIMIT = 30
TREND_MONTHS = 12
# Findings that are not about a departed member count as overdue after this long.
FINDING_OVERDUE_DAYS = 7


@dataclass(frozen=True)
class Area:
    """The part of the organisation a dashboard shows.

    ``roots`` are subtree roots (their descendants included). ``whole_company`` means no department
    restriction beyond the user's scope (HR and auditors without a department chosen).
    """

    roots: tuple[Department, ...]
    whole_company: bool = False
    # Every department of the subtrees (``resolve_area`` fills it): rows are then narrowed by
    # ``department_id IN (…)`` on their own or one joined table, not by a join to the departments
    # table and a path ``LIKE`` per root. Empty: narrowed by path (an area built by hand).
    dept_ids: frozenset[int] = frozenset()

    @property
    def single(self) -> Department | None:
        return self.roots[0] if len(self.roots) == 1 and not self.whole_company else None

    def q(self, prefix: str) -> Q:
        """Rows whose department (reached through ``prefix``, e.g. ``employee__department__``) lie in the area."""
        if self.whole_company:
            return Q()
        if self.dept_ids:
            return Q(**{f"{prefix}pk__in": sorted(self.dept_ids)})
        query = Q(pk__in=[])
        for root in self.roots:
            query |= Q(**{f"{prefix}path__startswith": root.path})
        return query


def parse_month(value: str | None, *, today: datetime.date | None = None) -> datetime.date:
    """``"2026-10"`` → 2026-10-01; empty → the current month. Bad input names the parameter."""
    return months.parse_month(value) if value else months.current_month(today)


shift_month = months.shift_month


def resolve_area(user, dept_id: str | None) -> Area | None:
    """The area a user's dashboard shows; ``None`` if a requested department is not visible to them.

    HR and auditors: the whole company, or any department they pick. Department heads: their
    subtrees, or a department inside them. Others have no department scope: an empty area.
    """
    scope = scope_for(user)
    if dept_id:
        if not str(dept_id).isdigit():
            return None
        dept = Department.objects.visible_to(user).filter(pk=dept_id).first()
        if dept is None:
            return None
        subtree = Department.objects.filter(path__startswith=dept.path).values_list("pk", flat=True)
        return Area(roots=(dept,), dept_ids=frozenset(subtree))
    if scope.everything:
        return Area(roots=tuple(Department.objects.filter(depth=1)), whole_company=True)
    roots = tuple(Department.objects.filter(path__in=scope.dept_paths))
    # the head's subtrees are the scope's departments (``Scope.dept_ids``): no query for them
    return Area(roots=roots, dept_ids=scope.dept_ids if roots else frozenset())


def department_choices(user) -> list[tuple[int, str, int]]:
    """(id, name path, depth) of every department the user may pick, in tree order."""
    return list(Department.objects.visible_to(user).values_list("pk", "name_path", "depth"))


# --- base querysets: scoped, then narrowed to the area -------------------------------------------


def inside_scope(user, area: Area) -> bool:
    """Whether every department of ``area`` lies in the user's headed subtrees (or they see all)."""
    scope = scope_for(user)
    return scope.everything or (bool(area.dept_ids) and area.dept_ids <= scope.dept_ids)


def area_employees(user, area: Area):
    # Inside the headed subtrees every employee of the area is visible: the scope's union of id sets
    # (subtree, own record, members of administered groups) would only be hashed and probed again.
    base = Employee.objects.all() if inside_scope(user, area) else Employee.objects.visible_to(user)
    return base.filter(area.q("department__"))


def area_groups(user, area: Area):
    return ChatGroup.objects.visible_to(user).filter(area.q("department__"))


def area_memberships(user, area: Area):
    return Membership.objects.visible_to(user).open().filter(area.q("group__department__"))


def area_findings(user, area: Area):
    return RosterFinding.objects.visible_to(user).filter(area.q("group__department__"))


def area_roster_cells(user, area: Area):
    """Per-group membership counts (``GroupRosterCell`` rollup) of the groups in the area."""
    return GroupRosterCell.objects.visible_to(user).filter(area.q("group__department__"))


def area_finding_cells(user, area: Area):
    """Per-group open findings by kind (``GroupFindingCell`` rollup) of the groups in the area."""
    return GroupFindingCell.objects.visible_to(user).filter(area.q("group__department__"))


def area_violations(user, area: Area):
    return Violation.objects.visible_to(user).filter(area.q("employee__department__"))


def area_sanctions(user, area: Area):
    return Sanction.objects.visible_to(user).filter(area.q("employee__department__"))


def area_appeals(user, area: Area):
    # The area as a semi-join on the violation, not joins into the list: joined, the planner drove
    # from the area's employees through all their violations (1.5 s for a head at 1M violations)
    # instead of from the few pending appeals (0.27 s).
    in_area = Violation.objects.filter(area.q("employee__department__")).order_by().values("pk")
    return Appeal.objects.visible_to(user).filter(violation_id__in=in_area)


# --- sections -------------------------------------------------------------------------------------

DEPARTED_IN_GROUP = Q(employee__status="departed")
OUTSIDER_IN_GROUP = Q(employee__isnull=True, group__admits_outsiders=False)


def staff_by_department(user, area: Area) -> dict[tuple[int, str], int]:
    """Employees of the area per (department, status): the tiles and the breakdown share it. 1 query."""
    rows = area_employees(user, area).values_list("department_id", "status").annotate(n=Count("pk")).order_by()
    return {(dept, status): n for dept, status, n in rows}


def org_summary(user, area: Area, *, staff: dict[tuple[int, str], int] | None = None) -> dict:
    """Employees, groups, departed members still in groups, outsiders in groups. 3 queries (2 with
    ``staff``, the ``staff_by_department`` counts that ``build`` reads once for two sections).

    The membership numbers sum the ``GroupRosterCell`` rollup; ``as_of`` is its oldest row's time
    (the age of the numbers, shown on the page), None when no group has been counted yet.
    """
    staff = staff_by_department(user, area) if staff is None else staff
    people = {status: sum(n for (_dept, s), n in staff.items() if s == status) for status in ("active", "departed")}
    chats = area_groups(user, area).aggregate(active=Count("pk", filter=Q(status="active")))
    members = area_roster_cells(user, area).aggregate(
        departed=Coalesce(Sum("departed"), 0), outsiders=Coalesce(Sum("outsiders"), 0), as_of=Min("refreshed_at")
    )
    return {
        "employees_active": people["active"],
        "employees_departed": people["departed"],
        "groups_active": chats["active"],
        "departed_in_groups": members["departed"],
        "outsiders_in_groups": members["outsiders"],
        "as_of": members["as_of"],
    }


CONFIRMED_STATUSES = (ViolationStatus.CONFIRMED, ViolationStatus.SANCTIONED, ViolationStatus.UPHELD)


def cells(user, area: Area):
    return ViolationCell.objects.visible_to(user).filter(area.q("department__"))


def violation_summary(user, area: Area, month: datetime.date) -> dict:
    """The month's violations by state, fines and points deducted (``ViolationCell`` rollup). 1 query."""
    return (
        cells(user, area)
        .filter(month=month)
        .aggregate(
            total=Coalesce(Sum("count"), 0),
            reported=Coalesce(Sum("count", filter=Q(status=ViolationStatus.REPORTED)), 0),
            confirmed=Coalesce(Sum("count", filter=Q(status__in=CONFIRMED_STATUSES)), 0),
            appealed=Coalesce(Sum("count", filter=Q(status=ViolationStatus.APPEALED)), 0),
            dismissed=Coalesce(Sum("count", filter=Q(status__in=VOID_STATUSES)), 0),
            fines=Coalesce(Sum("fines"), Value(Decimal("0"))),
            points=Coalesce(Sum("points"), 0),
        )
    )


def settings_row() -> CompanySettings:
    """The company's ladder settings with HR's departed-member deadline (核查设置) in one query."""
    deadline = RosterSettings.objects.filter(singleton=True).values("departed_finding_overdue_hours")[:1]
    default = RosterSettings._meta.get_field("departed_finding_overdue_hours").default
    row = (
        CompanySettings.objects.filter(singleton=True)
        .annotate(departed_overdue_hours=Coalesce(Subquery(deadline), Value(default)))
        .first()
    )
    if row is None:  # a flushed test database: create both rows with their defaults
        row = CompanySettings.load()
        row.departed_overdue_hours = RosterSettings.load().departed_finding_overdue_hours
    return row


def at_risk(user, area: Area) -> dict:
    """People one warning short of a demerit, or one demerit short of a dismissal recommendation.

    Read from the ``LadderStanding`` rollup (portal.dashboard.rollups): active direct warnings modulo
    ``warnings_per_demerit`` and active demerits modulo ``demerits_for_dismissal`` over the
    company's window, as the ladder counts them. 3 queries (both settings rows, list, count).
    """
    ladder = settings_row()
    n, m = ladder.warnings_per_demerit, ladder.demerits_for_dismissal
    rows = LadderStanding.objects.visible_to(user).filter(area.q("department__")).with_remainders(n, m).at_risk(n, m)
    order = ("-near_dismissal", "-demerits", "-warnings", "employee_id")
    # Rank on the rollup alone, then join names for the first rows only.
    first = rows.order_by(*order).values("employee_id")[:AT_RISK_LIMIT]
    people = list(
        LadderStanding.objects.filter(employee_id__in=first)
        .with_remainders(n, m)
        .at_risk(n, m)
        .order_by(*order)
        .values(
            "employee_id", "warnings", "demerits", "near_demerit", "near_dismissal", "refreshed_at",
            "employee__name", "employee__employee_no", "employee__department__name", "employee__status",
        )
    )  # fmt: skip
    return {
        "count": rows.count(),
        "people": people,
        "warnings_per_demerit": ladder.warnings_per_demerit,
        "demerits_for_dismissal": ladder.demerits_for_dismissal,
        "window_months": ladder.window_months,
        "overdue_hours": ladder.departed_overdue_hours,
    }


def open_findings(user, area: Area, *, overdue_hours: int, now: datetime.datetime | None = None) -> dict:
    """Open roster findings by kind (``GroupFindingCell`` rollup), overdue ones and the oldest
    (departed members first), both live: overdue depends on the time of reading. 5 queries (4 when
    ten departed members' findings are open: the other kinds' ids are then not read)."""
    now = now or timezone.now()
    departed_due = now - datetime.timedelta(hours=overdue_hours)
    other_due = now - datetime.timedelta(days=FINDING_OVERDUE_DAYS)
    overdue_q = Q(kind=FindingKind.DEPARTED_MEMBER, first_seen_at__lt=departed_due) | (
        ~Q(kind=FindingKind.DEPARTED_MEMBER) & Q(first_seen_at__lt=other_due)
    )
    live = area_findings(user, area).filter(status=FindingStatus.OPEN)
    by_kind = {kind: Coalesce(Sum("count", filter=Q(kind=kind)), 0) for kind in FindingKind.values}
    counts = area_finding_cells(user, area).aggregate(total=Coalesce(Sum("count"), 0), **by_kind)
    # Only the findings older than the shorter deadline are read (the first-seen index), not all open ones.
    counts["overdue"] = live.filter(first_seen_at__lt=max(departed_due, other_due)).filter(overdue_q).count()
    departed_first = Case(When(kind=FindingKind.DEPARTED_MEMBER, then=Value(0)), default=Value(1))
    order = ("rank", "first_seen_at", "pk")
    # Pick the ten on the findings table alone — departed members' from the open-findings index by
    # kind and age, the others only when fewer than ten are departed — then join the names for those
    # ten only. Ranked by a CASE in SQL, every open finding was sorted on each load.
    oldest_first = ("first_seen_at", "pk")
    first_ids = list(
        live.filter(kind=FindingKind.DEPARTED_MEMBER).order_by(*oldest_first).values_list("pk", flat=True)[:LIST_LIMIT]
    )
    if len(first_ids) < LIST_LIMIT:
        others = live.exclude(kind=FindingKind.DEPARTED_MEMBER).order_by(*oldest_first)
        first_ids += others.values_list("pk", flat=True)[: LIST_LIMIT - len(first_ids)]
    oldest = list(
        RosterFinding.objects.filter(pk__in=first_ids)
        .annotate(rank=departed_first)
        .order_by(*order)
        .values(
            "pk",
            "kind",
            "first_seen_at",
            "detail",
            "group__name",
            "employee__name",
            "employee__employee_no",
            "employee__status",
            "membership__nickname",
        )
    )
    labels = dict(FindingKind.choices)
    for row in oldest:
        row["kind_label"] = labels.get(row["kind"], row["kind"])
        row["age_days"] = (now - row["first_seen_at"]).days
        row["age_hours"] = int((now - row["first_seen_at"]).total_seconds() // 3600)
        row["overdue"] = row["first_seen_at"] < (
            departed_due if row["kind"] == FindingKind.DEPARTED_MEMBER else other_due
        )
    kinds = [{"kind": k, "label": labels[k], "count": counts[k]} for k in FindingKind.values if counts[k]]
    return {"total": counts["total"], "overdue": counts["overdue"], "kinds": kinds, "oldest": oldest}


def pending_appeals(user, area: Area, *, today: datetime.date | None = None) -> dict:
    """Pending appeals, overdue decisions, and the ones due first. 2 queries (3 when a due date runs
    through a year without the official holiday schedule: those are marked provisional)."""
    today = today or timezone.localdate()
    pending = area_appeals(user, area).filter(status=AppealStatus.PENDING)
    counts = pending.aggregate(total=Count("pk"), overdue=Count("pk", filter=Q(decision_due__lt=today)))
    first = list(
        pending.order_by("decision_due", "pk").values(
            "pk",
            "decision_due",
            "filed_at",
            "violation_id",
            "violation__employee__name",
            "violation__employee__employee_no",
            "violation__employee__status",
            "violation__rule__code",
        )[:LIST_LIMIT]
    )
    spans = {row["pk"]: deadline_years(row["decision_due"], timezone.localdate(row["filed_at"])) for row in first}
    missing = set(years_without_official_data({year for span in spans.values() for year in span}))  # ≤ 1 query
    for row in first:
        row["overdue"] = row["decision_due"] < today
        row["provisional"] = any(year in missing for year in spans[row["pk"]])  # 暂定: no official calendar
    return {**counts, "first": first}


def suspected_pending(user, area: Area) -> int:
    """Suspicions of chat detection waiting for a person (待核实), whatever their month. 1 query."""
    return area_violations(user, area).suspected().count()


def removals_pending(user, area: Area) -> int:
    """Removals from a group decided and not yet carried out (they are due at once). 1 query."""
    return (
        area_sanctions(user, area)
        .filter(kind=SanctionKind.REMOVAL, carried_out_at__isnull=True, withdrawn_at__isnull=True)
        .count()
    )


def trend(user, area: Area, month: datetime.date) -> dict:
    """Standing violations per month and rule category over the 12 months ending with ``month``.

    Read from the ``ViolationCell`` rollup (portal.dashboard.rollups). 1 query.
    """
    first = shift_month(month, -(TREND_MONTHS - 1))
    rows = (
        cells(user, area)
        .filter(month__gte=first, month__lte=month)
        .exclude(status__in=VOID_STATUSES)
        .values("month", "category")
        .annotate(n=Sum("count"))
        .order_by()
    )
    months = [shift_month(first, i) for i in range(TREND_MONTHS)]
    index = {m: i for i, m in enumerate(months)}
    series = {category: [0] * TREND_MONTHS for category in RuleCategory.values}
    for row in rows:
        if row["month"] in index and row["category"] in series:
            series[row["category"]][index[row["month"]]] = row["n"]
    labels = dict(RuleCategory.choices)
    return {
        "months": [m.strftime("%Y-%m") for m in months],
        "series": [{"key": k, "label": str(labels[k]), "data": v} for k, v in series.items()],
        "total": sum(sum(v) for v in series.values()),
    }


# --- breakdowns -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Unit:
    """One row of the sub-department breakdown: a department's subtree, or (``own``) its direct staff."""

    key: str
    department: Department
    own: bool = False


def breakdown_units(area: Area) -> tuple[list[Unit], dict[int, str]]:
    """The rows of the breakdown and the unit key of every department of the area. 1 query.

    Rows: the children of a single root (plus the root's own staff), else the roots themselves.
    Counting then groups by a plain department id, mapped to its unit here, instead of grouping on
    a computed path in SQL.
    """
    departments = list(Department.objects.filter(area.q("")).order_by("path"))
    root = area.single or (area.roots[0] if area.whole_company and len(area.roots) == 1 else None)
    if root is None:
        units = [Unit(key=r.path, department=r) for r in area.roots]
    else:
        children = [d for d in departments if d.depth == root.depth + 1 and d.path.startswith(root.path)]
        units = [Unit(key=root.path, department=root, own=True), *(Unit(key=c.path, department=c) for c in children)]
    prefixes = sorted((u.key for u in units if not u.own), key=len, reverse=True)
    own = next((u.key for u in units if u.own), "")
    unit_of = {d.pk: next((key for key in prefixes if d.path.startswith(key)), own) for d in departments}
    return units, unit_of


def _count_by_unit(queryset, unit_of: dict[int, str], field: str, aggregate) -> dict[str, int]:
    totals: dict[str, int] = {}
    for row in queryset.values(field).annotate(n=aggregate).order_by():
        key = unit_of.get(row[field])
        if key is not None:
            totals[key] = totals.get(key, 0) + (row["n"] or 0)
    return totals


def by_subdepartment(
    user, area: Area, month: datetime.date, *, staff: dict[tuple[int, str], int] | None = None
) -> list[dict]:
    """Per sub-department: staff, groups, departed members in groups and open findings (group rollups),
    the month's violations and fines (rollup). 6 queries plus the units' one (5 with ``staff``)."""
    units, unit_of = breakdown_units(area)
    if not any(not unit.own for unit in units):
        return []  # a leaf department: its own numbers are the page's tiles
    staff = staff_by_department(user, area) if staff is None else staff
    employees: dict[str, int] = {}
    for (dept, status), n in staff.items():
        key = unit_of.get(dept)
        if status == "active" and key is not None:
            employees[key] = employees.get(key, 0) + n
    month_cells = cells(user, area).filter(month=month)
    columns = {
        "employees": employees,
        "groups": _count_by_unit(area_groups(user, area).active(), unit_of, "department_id", Count("pk")),
        "departed_in_groups": _count_by_unit(
            area_roster_cells(user, area), unit_of, "group__department_id", Sum("departed")
        ),
        "violations": _count_by_unit(month_cells, unit_of, "department_id", Sum("count")),
        "fines": _count_by_unit(month_cells, unit_of, "department_id", Sum("fines")),
        "findings": _count_by_unit(area_finding_cells(user, area), unit_of, "group__department_id", Sum("count")),
    }
    rows = []
    for unit in units:
        row = {"department": unit.department, "own": unit.own, "key": unit.key}
        row.update({name: values.get(unit.key) or 0 for name, values in columns.items()})
        if not unit.own or any(row[name] for name in columns):
            rows.append(row)
    return rows


def worst_groups(user, area: Area, month: datetime.date) -> dict:
    """Groups of the area with the most open findings and the most violations per member. 3 queries.

    Violations are counted where they were recorded (``GroupMonthCell``: the group's department in the
    area); findings and members come from the group rollups (``GroupFindingCell``, ``GroupRosterCell``).
    """
    per_group = (
        GroupMonthCell.objects.visible_to(user)
        .filter(area.q("group__department__"), month=month)
        .order_by("-count", "group_id")
        .values_list("group_id", "count")[:GROUP_CANDIDATES]
    )
    violation_counts = dict(per_group)
    finding_rows = (
        area_finding_cells(user, area)
        .values("group_id")
        .annotate(n=Sum("count"))
        .order_by("-n", "group_id")[:LIST_LIMIT]
    )
    finding_counts = {row["group_id"]: row["n"] for row in finding_rows}
    ids = set(violation_counts) | set(finding_counts)
    open_members = GroupRosterCell.objects.filter(group=OuterRef("pk")).values("members")[:1]
    info = {
        g["pk"]: g
        for g in ChatGroup.objects.visible_to(user)
        .filter(pk__in=ids)
        .annotate(members=Coalesce(Subquery(open_members), 0))
        .values("pk", "name", "platform", "department__name", "department_id", "members")
    }
    for pk, group in info.items():
        group["violations"] = violation_counts.get(pk, 0)
        group["findings"] = finding_counts.get(pk, 0)
        group["per_member"] = group["violations"] / group["members"] if group["members"] else None
    most_findings = sorted((info[pk] for pk in finding_counts if pk in info), key=lambda g: (-g["findings"], g["pk"]))
    # Groups without a roster (no members known) come last, by their number of violations.
    per_member = sorted(
        (g for g in info.values() if g["violations"]),
        key=lambda g: (g["per_member"] is None, -(g["per_member"] or 0), -g["violations"], g["pk"]),
    )
    return {"most_findings": most_findings[:LIST_LIMIT], "most_violations_per_member": per_member[:LIST_LIMIT]}


def build(user, area: Area, month: datetime.date, *, now: datetime.datetime | None = None) -> dict:
    """Every section of the dashboard for ``user`` over ``area`` and ``month``."""
    now = now or timezone.now()
    risk = at_risk(user, area)
    appeals_ = pending_appeals(user, area, today=timezone.localtime(now).date())
    found = open_findings(user, area, overdue_hours=risk["overdue_hours"], now=now)
    removals = removals_pending(user, area)
    staff = staff_by_department(user, area)
    return {
        "org": org_summary(user, area, staff=staff),
        "violations": violation_summary(user, area, month),
        "at_risk": risk,
        "findings": found,
        "appeals": appeals_,
        "suspected": suspected_pending(user, area),
        "overdue": {
            "findings": found["overdue"],
            "appeals": appeals_["overdue"],
            "removals": removals,
            "total": found["overdue"] + appeals_["overdue"] + removals,
        },
        "trend": trend(user, area, month),
        "subdepartments": by_subdepartment(user, area, month, staff=staff),
        "groups": worst_groups(user, area, month),
    }
