"""A group admin's work queue: their groups' open roster findings and unsettled violations.

On the top floor because it combines the organisation (groups) and discipline (violations). Groups
with work come newest first (the latest finding or violation), one page of groups at a time; each
group shows its newest items up to a bound, and the one-group view pages through all of them. A
fixed number of queries per page (three per group shown: findings, violations, mutes in force;
plus the page's groups).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.core.paginator import Page, Paginator
from django.db.models import DateTimeField, Exists, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce, Greatest

from groups.models import ChatGroup, MemberRestriction, RosterFinding
from portal.scoping import scope_for
from violations.choices import ViolationStatus
from violations.models import Violation

# Violations still waiting for someone: reported, suspected by chat detection (待核实: the group's admin
# confirms or dismisses it), or confirmed without a sanction yet.
OPEN_VIOLATION_STATUSES = (ViolationStatus.REPORTED, ViolationStatus.SUSPECTED, ViolationStatus.CONFIRMED)
GROUPS_PER_PAGE = 10
ITEMS_PER_GROUP = 10
ITEMS_PER_PAGE = 25
EPOCH = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)


def open_findings():
    return RosterFinding.objects.open().select_related("employee", "membership", "suggested_successor")


def mutes_in(group: ChatGroup) -> list:
    """Mutes in force in the group (禁言至 …), soonest end first: what the admin must keep up."""
    return list(
        MemberRestriction.objects.mutes().filter(group=group).select_related("employee").order_by("until", "pk")
    )


def open_violations(user=None):
    """Unsettled violations; never a suspicion about ``user`` themselves (HR decides it, unseen by them)."""
    rows = Violation.objects.filter(status__in=OPEN_VIOLATION_STATUSES).select_related("employee", "rule")
    own = scope_for(user).employee_id if user is not None else None
    return rows.exclude(employee_id=own, status=ViolationStatus.SUSPECTED) if own else rows


@dataclass
class GroupWork:
    group: ChatGroup
    findings: list = field(default_factory=list)
    violations: list = field(default_factory=list)
    findings_total: int = 0
    violations_total: int = 0
    findings_page: Page | None = None
    mutes: list = field(default_factory=list)

    @property
    def more(self) -> bool:
        return self.findings_total > len(self.findings) or self.violations_total > len(self.violations)


def groups_with_work(user):
    """The groups ``user`` administers (HR: all) that have open findings or violations, newest first."""
    findings = RosterFinding.objects.open().filter(group=OuterRef("pk"))
    # the same violations as the group's list shows: a suspicion about the user is no sign of work
    violations = open_violations(user).filter(group=OuterRef("pk")).select_related(None)
    latest_finding = findings.order_by("-first_seen_at").values("first_seen_at")[:1]
    latest_violation = violations.order_by("-occurred_at").values("occurred_at")[:1]
    epoch = Value(EPOCH, output_field=DateTimeField())
    return (
        ChatGroup.objects.administered_by(user)
        .filter(Q(Exists(findings)) | Q(Exists(violations)))
        .annotate(
            latest=Greatest(Coalesce(Subquery(latest_finding), epoch), Coalesce(Subquery(latest_violation), epoch))
        )
        .select_related("department", "owner")
        .order_by("-latest", "name", "pk")
    )


def _work(group: ChatGroup, limit: int, user=None) -> GroupWork:
    findings = open_findings().filter(group=group).order_by("-first_seen_at", "-pk")
    violations = open_violations(user).filter(group=group).order_by("-occurred_at", "-pk")
    found = list(findings[: limit + 1])
    seen = list(violations[: limit + 1])
    work = GroupWork(group, found[:limit], seen[:limit], mutes=mutes_in(group))
    work.findings_total = len(found) if len(found) <= limit else findings.count()
    work.violations_total = len(seen) if len(seen) <= limit else violations.count()
    return work


def queue_page(user, page_number) -> tuple[Page, list[GroupWork]]:
    """One page of groups, each with its newest items."""
    page = Paginator(groups_with_work(user), GROUPS_PER_PAGE).get_page(page_number)
    return page, [_work(group, ITEMS_PER_GROUP, user) for group in page.object_list]


def group_page(group: ChatGroup, page_number, user=None) -> GroupWork:
    """One group: its findings page by page, its open violations (newest, bounded)."""
    findings = open_findings().filter(group=group).order_by("-first_seen_at", "-pk")
    page = Paginator(findings, ITEMS_PER_PAGE).get_page(page_number)
    violations = open_violations(user).filter(group=group).order_by("-occurred_at", "-pk")
    seen = list(violations[:ITEMS_PER_PAGE])
    return GroupWork(
        group,
        list(page.object_list),
        seen,
        findings_total=page.paginator.count,
        violations_total=violations.count() if len(seen) == ITEMS_PER_PAGE else len(seen),
        findings_page=page,
        mutes=mutes_in(group),
    )
