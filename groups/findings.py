"""Roster findings (花名册核查结果): what the daily reconciliation found, and their scoped reads.

Re-exported by ``groups.models`` so that ``from groups.models import RosterFinding`` works.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from portal.scoping import scope_for

from .choices import FindingKind, FindingStatus

# A finding is "live" while open or waived: reruns match it instead of creating a twin.
LIVE_STATUSES = (FindingStatus.OPEN, FindingStatus.WAIVED)


class RosterFindingQuerySet(models.QuerySet):
    def open(self):
        return self.filter(status=FindingStatus.OPEN)

    def live(self):
        return self.filter(status__in=LIVE_STATUSES)

    def in_subtree(self, department):
        return self.filter(group__department__path__startswith=department.path)

    def older_than(self, delta: timedelta, *, now=None):
        return self.filter(first_seen_at__lt=(now or timezone.now()) - delta)

    def visible_to(self, user):
        """HR and auditors: all; department heads: groups of their subtree; group admins: their groups."""
        scope = scope_for(user)
        if scope.everything:
            return self.all()
        return self.filter(Q(group__department_id__in=scope.dept_ids) | Q(group_id__in=scope.group_ids))


class RosterFinding(models.Model):
    """One condition found by reconciliation in one group, tracked from first to last sighting.

    ``membership`` is set for person-level kinds (departed member, outsider, nickname); ``employee``
    names the person (the departed owner for ``owner_departed``). ``detail`` holds the expected
    value: the expected nickname, the suggested successor's name, the project's end date.
    At most one open-or-waived finding exists per (kind, group, membership, employee): a rerun finds
    it again instead of duplicating it, and a waived finding stays waived.
    """

    kind = models.CharField(_("类型"), max_length=20, choices=FindingKind.choices)
    group = models.ForeignKey(
        "groups.ChatGroup", verbose_name=_("群"), on_delete=models.CASCADE, related_name="findings"
    )
    membership = models.ForeignKey(
        "groups.Membership",
        verbose_name=_("群成员"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="findings",
    )
    employee = models.ForeignKey(
        "groups.Employee",
        verbose_name=_("员工"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="findings",
    )
    detail = models.CharField(_("应为/说明"), max_length=300, blank=True)
    suggested_successor = models.ForeignKey(
        "groups.Employee",
        verbose_name=_("建议继任群主"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # few indexes: the daily last_seen_at UPDATE stays a HOT update
    )
    first_seen_at = models.DateTimeField(_("首次发现"))
    last_seen_at = models.DateTimeField(_("最近发现"))
    status = models.CharField(_("状态"), max_length=10, choices=FindingStatus.choices, default=FindingStatus.OPEN)
    resolved_at = models.DateTimeField(_("解决时间"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("处理人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        help_text=_("为空表示条件消失后自动解决"),
    )
    waive_reason = models.TextField(_("豁免原因"), blank=True)
    escalated_at = models.DateTimeField(_("升级通知时间"), null=True, blank=True)

    objects = RosterFindingQuerySet.as_manager()

    class Meta:
        verbose_name = _("花名册核查结果")
        verbose_name_plural = pgettext_lazy("plural", "花名册核查结果")
        ordering = ["-first_seen_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                "kind",
                "group",
                Coalesce("membership", Value(0)),
                Coalesce("employee", Value(0)),
                condition=Q(status__in=["open", "waived"]),
                name="rosterfinding_one_live_per_subject",
                violation_error_message=_("该群已有相同的未关闭核查结果。"),
            ),
            models.CheckConstraint(
                condition=~Q(status="waived") | ~Q(waive_reason=""),
                name="rosterfinding_waived_has_reason",
                violation_error_message=_("豁免必须填写原因。"),
            ),
            models.CheckConstraint(
                condition=Q(status="open") | Q(resolved_at__isnull=False),
                name="rosterfinding_closed_has_time",
                violation_error_message=_("已解决或已豁免的结果必须有处理时间。"),
            ),
        ]
        indexes = [models.Index(fields=["status", "kind"], name="rosterfinding_status_kind")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.group_id}"

    @property
    def is_open(self) -> bool:
        return self.status == FindingStatus.OPEN
