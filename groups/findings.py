"""Roster findings (花名册核查结果): what the daily reconciliation found, and their scoped reads.

Re-exported by ``groups.models`` so that ``from groups.models import RosterFinding`` works.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Case, F, Q, Subquery, Value, When
from django.db.models.functions import Coalesce, Greatest
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

    def with_last_seen(self):
        """Annotate ``seen_at``: when the condition was last seen.

        An open finding was seen by the latest run by definition (a run resolves what it no longer
        sees), so reconciliation does not rewrite every open row daily; its time is read from the
        latest ``ReconcileRun``. Closed and waived findings keep their stored ``last_seen_at``.
        """
        latest_at = Subquery(ReconcileRun.objects.order_by("-finished_at").values("finished_at")[:1])
        return self.annotate(
            seen_at=Case(
                When(status=FindingStatus.OPEN, then=Greatest("last_seen_at", Coalesce(latest_at, "last_seen_at"))),
                default=F("last_seen_at"),
            )
        )

    def older_than(self, delta: timedelta, *, now=None):
        return self.filter(first_seen_at__lt=(now or timezone.now()) - delta)

    def visible_to(self, user):
        """HR and auditors: all; department heads: groups of their subtree; group admins: their groups."""
        scope = scope_for(user)
        if scope.everything:
            return self.all()
        from .models import ChatGroup

        # One semi-join on group_id (the visible groups' ids), not an OR across the group join.
        groups = ChatGroup.objects.filter(Q(department_id__in=scope.dept_ids) | Q(pk__in=scope.group_ids))
        return self.filter(group_id__in=groups.order_by().values("pk"))


class ReconcileRun(models.Model):
    """One completed reconciliation run: its time (the stamp of the findings it wrote) and summary."""

    finished_at = models.DateTimeField(_("核查时间"), db_index=True)
    summary = models.JSONField(_("摘要"), default=dict, blank=True)

    class Meta:
        verbose_name = _("核查运行")
        verbose_name_plural = pgettext_lazy("plural", "核查运行")
        ordering = ["-finished_at"]

    def __str__(self) -> str:
        return f"{self.finished_at:%Y-%m-%d %H:%M}"

    @classmethod
    def latest_at(cls):
        return cls.objects.order_by("-finished_at").values_list("finished_at", flat=True).first()


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
    # Written when the finding is created, closed, or seen again while waived; for an open finding
    # the latest ReconcileRun is later (RosterFinding.objects.with_last_seen()).
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
        indexes = [
            models.Index(fields=["status", "kind"], name="rosterfinding_status_kind"),
            # The default order (-first_seen_at, id): API pages and keyset cursors read it in order.
            models.Index(fields=["-first_seen_at", "id"], name="rosterfinding_first_seen"),
            # the dashboard's oldest open findings of a kind (departed members first) and overdue counts
            models.Index(
                fields=["kind", "first_seen_at", "id"], condition=Q(status="open"), name="rosterfinding_open_kind_age"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.group_id}"

    @property
    def is_open(self) -> bool:
        return self.status == FindingStatus.OPEN
