"""A membership's lifecycle (群成员的生命周期): reported removals, rejoin bars and mutes, department moves.

Re-exported by ``groups.models``. Groups import no violations: a carried-out sanction (清出群, 禁言)
is written here as data by ``violations.services`` through ``groups.services``, and reconciliation
(``groups.lifecycle_checks``) reads only these rows.

- ``ReportedRemoval``: someone said the member is out (已移出群, or a 清出群 sanction carried out).
  The membership was closed then; the group's next roster snapshot checks the report
  (``checked_at``) and, if it still lists the person, links the open row it made (``reappeared``):
  a finding 报告已移出但仍在群.
- ``MemberRestriction``: a rejoin bar (``until`` empty = permanent) or a mute, per group and person,
  with the sanction it came from (``source``, e.g. ``violations.Sanction:12``) so a retry writes it once.
- ``DepartmentMove``: an employee's department changed (roster import or a single edit). A member
  still in a department group of the department they left is a finding 调岗后仍在原部门群.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from .choices import RemovalSource, RestrictionKind


class ReportedRemoval(models.Model):
    """A removal someone reported, waiting for the group's next roster snapshot to confirm it."""

    membership = models.OneToOneField(
        "groups.Membership", verbose_name=_("群成员"), on_delete=models.CASCADE, related_name="reported_removal"
    )
    group = models.ForeignKey(
        "groups.ChatGroup", verbose_name=_("群"), on_delete=models.CASCADE, related_name="reported_removals"
    )
    employee = models.ForeignKey(
        "groups.Employee",
        verbose_name=_("员工"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="reported_removals",
    )
    member_key = models.CharField(_("成员标识"), max_length=220)
    source = models.CharField(_("来源"), max_length=12, choices=RemovalSource.choices)
    reported_at = models.DateTimeField(_("报告时间"))
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("报告人"), null=True, blank=True, on_delete=models.SET_NULL
    )
    checked_at = models.DateTimeField(_("名单核对时间"), null=True, blank=True, db_index=True)
    reappeared = models.ForeignKey(
        "groups.Membership",
        verbose_name=_("仍在群的成员记录"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("报告之后的第一份群成员名单仍列出此人时,名单新建的成员记录"),
    )

    class Meta:
        verbose_name = _("已报告的移出")
        verbose_name_plural = pgettext_lazy("plural", "已报告的移出")
        ordering = ["-reported_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(reappeared__isnull=True) | Q(checked_at__isnull=False),
                name="reportedremoval_reappeared_only_when_checked",
            )
        ]

    def __str__(self) -> str:
        return f"{self.member_key} @ {self.group_id}"


class MemberRestrictionQuerySet(models.QuerySet):
    def in_force(self, today: datetime.date | None = None):
        today = today or timezone.localdate()
        return self.filter(Q(until__isnull=True) | Q(until__gte=today))

    def mutes(self, today: datetime.date | None = None):
        return self.in_force(today).filter(kind=RestrictionKind.MUTE)


class MemberRestriction(models.Model):
    """禁止再入群 (a rejoin bar, until a date or permanent) or 禁言 (a mute until a date) in one group."""

    kind = models.CharField(_("类型"), max_length=12, choices=RestrictionKind.choices)
    group = models.ForeignKey(
        "groups.ChatGroup", verbose_name=_("群"), on_delete=models.CASCADE, related_name="restrictions"
    )
    employee = models.ForeignKey(
        "groups.Employee", verbose_name=_("员工"), on_delete=models.CASCADE, related_name="group_restrictions"
    )
    starts_at = models.DateTimeField(_("开始时间"))
    until = models.DateField(_("截止日期"), null=True, blank=True, help_text=_("为空表示永久"))
    reason = models.CharField(_("原因"), max_length=300, blank=True)
    source = models.CharField(_("来源"), max_length=100)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    objects = MemberRestrictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("入群限制")
        verbose_name_plural = pgettext_lazy("plural", "入群限制")
        ordering = ["-starts_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "group", "employee", "source"], name="memberrestriction_once_per_source"
            ),
        ]
        indexes = [models.Index(fields=["group", "employee"], name="memberrestriction_subject")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.employee_id} @ {self.group_id}"


class DepartmentMove(models.Model):
    """调岗: an employee moved from one department to another."""

    employee = models.ForeignKey(
        "groups.Employee", verbose_name=_("员工"), on_delete=models.CASCADE, related_name="department_moves"
    )
    from_department = models.ForeignKey(
        "groups.Department", verbose_name=_("原部门"), on_delete=models.CASCADE, related_name="+"
    )
    to_department = models.ForeignKey(
        "groups.Department", verbose_name=_("新部门"), on_delete=models.CASCADE, related_name="+"
    )
    moved_at = models.DateTimeField(_("调岗时间"))

    class Meta:
        verbose_name = _("调岗记录")
        verbose_name_plural = pgettext_lazy("plural", "调岗记录")
        ordering = ["-moved_at"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(from_department=models.F("to_department")), name="departmentmove_changes_department"
            )
        ]

    def __str__(self) -> str:
        return f"{self.employee_id}: {self.from_department_id} → {self.to_department_id}"
