"""Reads and scoping for violations, sanctions, appeals and evidence.

Every page, export, API call and admin list starts from ``visible_to(user)``:
HR and auditors see everything; a department head sees violations of employees in their subtree;
a group admin sees violations recorded in their groups; an employee sees their own.
"""

from __future__ import annotations

import datetime
import unicodedata

from django.db import models
from django.db.models import Q
from django.utils import timezone

from portal.months import month_bounds
from portal.scoping import any_of, scope_for

from .choices import SUSPECTED_STATUSES, VOID_STATUSES, AppealStatus, ViolationStatus


def _violation_scope_q(user, prefix: str = "") -> Q | None:
    """None means everything; otherwise the Q a user's violations must match."""
    scope = scope_for(user)
    if scope.everything:
        return None
    from groups.models import Employee

    from .models import Violation

    # One semi-join per reason (visible people, administered groups), a UNION of id sets when there
    # are several: not one OR across the employee join, which the planner can only hash-join (#14).
    conditions = []
    if scope.dept_ids or scope.employee_id:
        own = [scope.employee_id] if scope.employee_id else []
        people = Employee.objects.filter(Q(department_id__in=scope.dept_ids) | Q(pk__in=own)).order_by().values("pk")
        conditions.append(Q(employee_id__in=people))
    if scope.group_ids:
        conditions.append(Q(group_id__in=scope.group_ids))
    if scope.employee_id:
        # A suspicion (待核实) is no violation yet: the person it names does not see it until confirmed,
        # not even as a head of their department or an admin of the group.
        not_mine = ~Q(employee_id=scope.employee_id, status__in=SUSPECTED_STATUSES)
        conditions = [condition & not_mine for condition in conditions]
    return any_of(Violation, *conditions, prefix=prefix)


def visible_departments(user) -> list[int] | None:
    """Departments that hold the employee of every violation ``user`` sees, when the scope says so
    (a head's subtree and their own department); None for everything or a group-based scope.

    A redundant bound for lists sorted by department: walking departments in name order, the
    planner otherwise reads every employee of the departments before the head's (the scope is
    checked per employee), 0.5–4 s at 100k employees; bounded, it starts inside the subtree.
    """
    scope = scope_for(user)
    if scope.everything or scope.group_ids:
        return None
    from groups.models import Employee

    ids = set(scope.dept_ids)
    if scope.employee_id:
        ids.update(Employee.objects.filter(pk=scope.employee_id).values_list("department_id", flat=True))
    return sorted(ids)


def normalize_description(text: str) -> str:
    """What two descriptions are compared by: NFKC (full-width → half-width), case folded, without
    whitespace or invisible characters, so "在群里 辱骂同事。" and "在群里辱骂同事。" are the same text."""
    text = unicodedata.normalize("NFKC", text or "").casefold()
    return "".join(ch for ch in text if not ch.isspace() and unicodedata.category(ch) != "Cf")


class RuleQuerySet(models.QuerySet):
    def visible_to(self, user) -> RuleQuerySet:
        """The rule catalog is public to every signed-in user (it is the company's published regulation)."""
        return self.all()

    def active(self) -> RuleQuerySet:
        return self.filter(is_active=True)


class ViolationQuerySet(models.QuerySet):
    def visible_to(self, user) -> ViolationQuerySet:
        query = _violation_scope_q(user)
        return self.all() if query is None else self.filter(query)

    def for_month(self, month: datetime.date) -> ViolationQuerySet:
        start, end = month_bounds(month)
        return self.filter(occurred_at__gte=start, occurred_at__lt=end)

    def with_active_sanction(self, kind: str) -> ViolationQuerySet:
        """Violations holding a sanction of ``kind`` that is not withdrawn (admin 处分类型, API
        ``sanction_kind``): a semi-join read from the index ``sanction_active_kind`` alone, not a
        join to sanctions that needs ``DISTINCT`` over every column (1.4 s at 1M violations)."""
        from .models import Sanction

        active = Sanction.objects.filter(kind=kind, withdrawn_at__isnull=True).order_by()
        return self.filter(pk__in=active.values("violation_id"))

    def likely_duplicates(
        self,
        *,
        employee,
        rule,
        group,
        occurred_at: datetime.datetime | None,
        description: str,
        window: datetime.timedelta,
    ) -> list:
        """Records that are probably the same incident as the one about to be recorded.

        The same employee, an occurrence at most ``window`` before or after ``occurred_at``, and
        either the same rule and group (no group on both counts as the same) or the same
        description once normalised (``normalize_description``). Each result carries
        ``duplicate_reasons`` (``"rule_group"``, ``"text"``). Dismissed records are included: HR
        should know a report was already looked at. Oldest first.
        """
        if employee is None or occurred_at is None:
            return []
        nearby = self.filter(
            employee=employee, occurred_at__gte=occurred_at - window, occurred_at__lte=occurred_at + window
        ).select_related("employee", "rule", "group")
        text = normalize_description(description)
        found = []
        for violation in nearby.order_by("occurred_at", "pk"):
            reasons = []
            if rule is not None and violation.rule_id == rule.pk and violation.group_id == getattr(group, "pk", None):
                reasons.append("rule_group")
            if text and normalize_description(violation.description) == text:
                reasons.append("text")
            if reasons:
                violation.duplicate_reasons = reasons
                found.append(violation)
        return found

    def standing(self) -> ViolationQuerySet:
        """Not dismissed, not overturned, and no mere suspicion (待核实)."""
        return self.exclude(status__in=(*VOID_STATUSES, *SUSPECTED_STATUSES))

    def counted(self) -> ViolationQuerySet:
        """Every violation as such: all but the suspicions of chat detection not confirmed yet (待核实).

        Reports, dashboard figures and rollups start here (or from ``standing``), never from ``all()``.
        """
        return self.exclude(status__in=SUSPECTED_STATUSES)

    def suspected(self) -> ViolationQuerySet:
        """Suspicions of chat detection waiting for a person to confirm or dismiss them (待核实)."""
        return self.filter(status__in=SUSPECTED_STATUSES)


class SanctionQuerySet(models.QuerySet):
    def visible_to(self, user) -> SanctionQuerySet:
        query = _violation_scope_q(user, "violation__")
        return self.all() if query is None else self.filter(query)

    def active(self) -> SanctionQuerySet:
        """Not withdrawn, on a violation that still stands: what the escalation ladder counts."""
        return self.filter(withdrawn_at__isnull=True).exclude(violation__status__in=VOID_STATUSES)

    def counting(self) -> SanctionQuerySet:
        """Sanctions that count toward performance deductions.

        Rule: a sanction whose violation — or, for a derived sanction, any violation that caused
        it — is under a pending appeal does not count until the appeal is decided. If the month it
        belongs to was closed meanwhile, the deductions job books it (upheld) as an adjustment in
        the next open month; overturned, it never counts (it is withdrawn).
        """
        return (
            self.active()
            .exclude(violation__status=ViolationStatus.APPEALED)
            .exclude(caused_by__status=ViolationStatus.APPEALED)
        )

    def effective_for_month(self, month: datetime.date) -> SanctionQuerySet:
        """Counting sanctions of violations that happened in ``month`` (company time zone)."""
        start, end = month_bounds(month)
        return self.counting().filter(violation__occurred_at__gte=start, violation__occurred_at__lt=end)


class AppealQuerySet(models.QuerySet):
    def visible_to(self, user) -> AppealQuerySet:
        query = _violation_scope_q(user, "violation__")
        return self.all() if query is None else self.filter(query)

    def pending(self) -> AppealQuerySet:
        return self.filter(status=AppealStatus.PENDING)

    def overdue(self, today: datetime.date | None = None) -> AppealQuerySet:
        """Pending appeals whose decision date has passed."""
        return self.pending().filter(decision_due__lt=today or timezone.localdate())


class EvidenceQuerySet(models.QuerySet):
    def visible_to(self, user) -> EvidenceQuerySet:
        query = _violation_scope_q(user, "violation__")
        return self.all() if query is None else self.filter(query)


class PerformanceMonthQuerySet(models.QuerySet):
    def visible_to(self, user) -> PerformanceMonthQuerySet:
        """Months carry no personal data: HR, auditors and department heads see them all."""
        scope = scope_for(user)
        return self.all() if scope.everything or scope.is_department_head else self.none()

    def closed(self) -> PerformanceMonthQuerySet:
        from .choices import MonthStatus

        return self.filter(status=MonthStatus.CLOSED)


class PerformanceDeductionQuerySet(models.QuerySet):
    def visible_to(self, user) -> PerformanceDeductionQuerySet:
        """HR and auditors: everyone; a department head: their subtree; an employee: their own rows."""
        scope = scope_for(user)
        if scope.everything:
            return self.all()
        from groups.models import Employee

        own = [scope.employee_id] if scope.employee_id else []
        people = Employee.objects.filter(Q(department_id__in=scope.dept_ids) | Q(pk__in=own)).order_by()
        return self.filter(employee_id__in=people.values("pk"))

    def for_month(self, month: datetime.date) -> PerformanceDeductionQuerySet:
        return self.filter(month=month.replace(day=1))
