"""What happened and what followed: violations, their evidence, sanctions and appeals."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from portal.choices import Channel

from ..choices import AppealStatus, EvidenceType, SanctionKind, ViolationStatus
from ..querysets import AppealQuerySet, EvidenceQuerySet, SanctionQuerySet, ViolationQuerySet


class Violation(models.Model):
    """One breach of a rule by one employee (违规记录), from report to final decision.

    Status: reported → confirmed → sanctioned, or dismissed (with a reason); a sanctioned violation
    may be appealed → upheld | overturned. ``notified_at`` starts the appeal window; the deadline
    (``appeal_deadline``, a date on China's working-day calendar) is stored when notifying.
    The reporter is never shown to the reported person or to department heads; an anonymous report
    stores no reporter at all.
    """

    # indexed by violation_employee_cover (employee, -occurred_at, -id), not a second index of its own
    employee = models.ForeignKey(
        "groups.Employee", verbose_name=_("员工"), on_delete=models.PROTECT, related_name="violations", db_index=False
    )
    group = models.ForeignKey(
        "groups.ChatGroup",
        verbose_name=_("工作群"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="violations",
        help_text=_("发生在群外时留空"),
    )
    rule = models.ForeignKey(
        "violations.Rule", verbose_name=_("条款"), on_delete=models.PROTECT, related_name="violations"
    )
    # indexed by violation_time_id (occurred_at, id), whose prefix serves what a single index would
    occurred_at = models.DateTimeField(_("发生时间"))
    description = models.TextField(_("经过"))
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("举报人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    is_anonymous = models.BooleanField(_("匿名举报"), default=False)
    report_count = models.PositiveIntegerField(
        _("举报次数"),
        default=1,
        editable=False,
        help_text=_("同样内容的匿名举报合并到第一条,这里计数(同一举报 ×N);不记录是谁举报的"),
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("记录人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    channel = models.CharField(_("来源"), max_length=20, choices=Channel.choices, default=Channel.ADMIN)
    # indexed by violation_status_recent (status, -occurred_at, -id)
    status = models.CharField(
        _("状态"), max_length=12, choices=ViolationStatus.choices, default=ViolationStatus.REPORTED
    )
    dismissed_reason = models.TextField(_("不予处理理由"), blank=True)
    notified_at = models.DateTimeField(_("通知时间"), null=True, blank=True)
    appeal_deadline = models.DateField(_("申诉截止日"), null=True, blank=True)
    # Not auto_now_add: an anonymous report is stored at the start of its hour (services.report_violation).
    created_at = models.DateTimeField(
        _("创建时间"), default=timezone.now, editable=False, help_text=_("匿名举报只记录到小时")
    )
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    objects = ViolationQuerySet.as_manager()

    class Meta:
        verbose_name = _("违规记录")
        verbose_name_plural = pgettext_lazy("plural", "违规记录")
        ordering = ["-occurred_at", "-pk"]
        indexes = [
            # A person's records in time order, covering what a scope checks (status, group): a
            # head's list reads its ~100k rows index-only from the visible employees (admin deep
            # pages, the appeals and sanctions lists' scope), not the whole table (#14).
            models.Index(
                fields=["employee", "-occurred_at", "-id"], name="violation_employee_cover", include=["status", "group"]
            ),
            # The default order (-occurred_at, -id) read backwards: API pages and keyset cursors.
            models.Index(fields=["occurred_at", "id"], name="violation_time_id"),
            # under the status filter (admin and API lists, deep pages); the trigram index on
            # description: migration 0009 (PostgreSQL)
            models.Index(fields=["status", "-occurred_at", "-id"], name="violation_status_recent"),
            # the open appeal windows (the holiday-calendar notice on every violations page)
            models.Index(
                fields=["appeal_deadline"],
                condition=Q(status="sanctioned", notified_at__isnull=False),
                name="violation_open_appeal_window",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status=ViolationStatus.DISMISSED) | ~Q(dismissed_reason=""),
                name="violation_dismissed_needs_reason",
                violation_error_message=_("不予处理必须填写理由。"),
            ),
            models.CheckConstraint(
                condition=Q(is_anonymous=False) | Q(reporter__isnull=True),
                name="violation_anonymous_has_no_reporter",
                violation_error_message=_("匿名举报不保存举报人。"),
            ),
            models.CheckConstraint(
                condition=Q(report_count=1) | Q(report_count__gt=1, is_anonymous=True),
                name="violation_only_anonymous_reports_grouped",
                violation_error_message=_("只有匿名举报会合并计数。"),
            ),
            models.CheckConstraint(
                condition=Q(notified_at__isnull=True) | Q(appeal_deadline__isnull=False),
                name="violation_notified_has_deadline",
                violation_error_message=_("已通知的记录必须有申诉截止日。"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.employee} · {self.rule.code} · {timezone.localtime(self.occurred_at):%Y-%m-%d}"

    @property
    def is_void(self) -> bool:
        return self.status in (ViolationStatus.DISMISSED, ViolationStatus.OVERTURNED)

    @property
    def appeal_deadline_provisional(self) -> bool:
        """暂定: the appeal window runs through a year without the official holiday schedule."""
        from ..workdays import is_provisional

        start = timezone.localdate(self.notified_at) if self.notified_at else None
        return is_provisional(self.appeal_deadline, start)


def evidence_upload_to(instance: Evidence, filename: str) -> str:
    # The stored name never reuses the uploaded name: no path tricks, no guessable URLs.
    return f"evidence/{timezone.now():%Y/%m}/{uuid.uuid4().hex}.{instance.file_type}"


class Evidence(models.Model):
    """A screenshot or PDF backing a violation or an appeal, stored privately under MEDIA_ROOT.

    Type is checked by extension and by the file's first bytes; size by EVIDENCE_UPLOAD_MAX_BYTES.
    Served only through ``violations:evidence``, which checks visibility.
    """

    violation = models.ForeignKey(
        Violation, verbose_name=_("违规记录"), on_delete=models.CASCADE, related_name="evidence"
    )
    appeal = models.ForeignKey(
        "violations.Appeal",
        verbose_name=_("申诉"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="evidence",
    )
    file = models.FileField(_("文件"), upload_to=evidence_upload_to, max_length=300)
    original_name = models.CharField(_("原文件名"), max_length=255)
    file_type = models.CharField(_("类型"), max_length=5, choices=EvidenceType.choices)
    size = models.PositiveBigIntegerField(_("大小(字节)"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("上传人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    uploaded_at = models.DateTimeField(
        _("上传时间"), default=timezone.now, editable=False, help_text=_("匿名举报的证据只记录到小时")
    )

    objects = EvidenceQuerySet.as_manager()

    class Meta:
        verbose_name = _("证据")
        verbose_name_plural = pgettext_lazy("plural", "证据")
        ordering = ["uploaded_at", "pk"]

    def __str__(self) -> str:
        return self.original_name


class Sanction(models.Model):
    """One sanction (处分) imposed for a violation; several per violation.

    Derived sanctions come from the escalation ladder (third warning → demerit, third demerit →
    dismissal recommended, a rule's own repeat escalation): ``is_derived`` with ``ladder_step`` naming
    the step and ``caused_by`` the violations that caused it. Sanctions are never deleted: withdrawal
    sets ``withdrawn_at`` and a reason, so the history shows both.
    """

    violation = models.ForeignKey(
        Violation, verbose_name=_("违规记录"), on_delete=models.PROTECT, related_name="sanctions"
    )
    employee = models.ForeignKey(
        "groups.Employee", verbose_name=_("员工"), on_delete=models.PROTECT, related_name="sanctions", editable=False
    )
    kind = models.CharField(_("处分类型"), max_length=24, choices=SanctionKind.choices, db_index=True)
    amount = models.DecimalField(_("罚款金额(元)"), max_digits=10, decimal_places=2, null=True, blank=True)
    points = models.PositiveSmallIntegerField(_("扣绩效分"), default=0)
    days = models.PositiveSmallIntegerField(
        _("期限(天)"), null=True, blank=True, help_text=_("清出群: 禁止再入群的天数,空为永久;禁言: 天数")
    )
    is_derived = models.BooleanField(_("升级产生"), default=False)
    ladder_step = models.CharField(_("升级步骤"), max_length=300, blank=True)
    caused_by = models.ManyToManyField(Violation, verbose_name=_("起因"), blank=True, related_name="caused_sanctions")
    explanation = models.CharField(_("说明"), max_length=300, blank=True)
    carried_out_at = models.DateTimeField(_("执行时间"), null=True, blank=True)
    carried_out_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("执行人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    withdrawn_at = models.DateTimeField(_("撤回时间"), null=True, blank=True)
    withdrawn_reason = models.CharField(_("撤回理由"), max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("创建人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    objects = SanctionQuerySet.as_manager()

    class Meta:
        verbose_name = pgettext_lazy("singular", "处分")
        verbose_name_plural = pgettext_lazy("plural", "处分")
        ordering = ["violation_id", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind=SanctionKind.FINE) | Q(amount__gt=0),
                name="sanction_fine_has_amount",
                violation_error_message=_("罚款金额必须大于0。"),
            ),
            models.CheckConstraint(
                condition=Q(kind=SanctionKind.FINE) | Q(amount__isnull=True),
                name="sanction_amount_only_for_fine",
                violation_error_message=_("只有罚款有金额。"),
            ),
            models.CheckConstraint(
                condition=Q(withdrawn_at__isnull=True) | ~Q(withdrawn_reason=""),
                name="sanction_withdrawal_needs_reason",
                violation_error_message=_("撤回必须填写理由。"),
            ),
            models.CheckConstraint(
                condition=Q(is_derived=False, ladder_step="") | (Q(is_derived=True) & ~Q(ladder_step="")),
                name="sanction_derived_has_step",
                violation_error_message=_("升级产生的处分必须注明升级步骤。"),
            ),
            models.CheckConstraint(
                condition=Q(carried_out_at__isnull=True) | Q(kind__in=[SanctionKind.REMOVAL, SanctionKind.MUTE]),
                name="sanction_carried_out_only_removal_or_mute",
                violation_error_message=_("只有清出群和禁言需要记录执行。"),
            ),
            models.UniqueConstraint(
                fields=["employee", "ladder_step", "kind"],
                condition=Q(is_derived=True, withdrawn_at__isnull=True),
                name="sanction_derived_unique_per_step",
                violation_error_message=_("该升级步骤已产生过此处分。"),
            ),
        ]
        # "violations with an active fine" (admin 处分类型 filter, API sanction_kind): a semi-join on this
        indexes = [
            models.Index(
                fields=["kind", "violation"], condition=Q(withdrawn_at__isnull=True), name="sanction_active_kind"
            )
        ]

    def __str__(self) -> str:
        text = str(self.get_kind_display())
        if self.kind == SanctionKind.FINE and self.amount:
            text += " " + _("%(amount)s元") % {"amount": number_format(self.amount, 2, force_grouping=True)}
        return text

    def save(self, *args, **kwargs):
        if self.violation_id and not self.employee_id:
            self.employee_id = self.violation.employee_id
        super().save(*args, **kwargs)

    @property
    def is_withdrawn(self) -> bool:
        return self.withdrawn_at is not None


class Appeal(models.Model):
    """An employee's appeal (申诉) against a sanctioned violation; at most one per violation.

    Filed within ``appeal_window_workdays`` working days of the notice (HR may file late on the
    employee's behalf; ``filed_late`` flags it); HR decides by ``decision_due``.
    """

    violation = models.OneToOneField(
        Violation, verbose_name=_("违规记录"), on_delete=models.PROTECT, related_name="appeal"
    )
    statement = models.TextField(_("申诉理由"))
    filed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("提交人"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    on_behalf = models.BooleanField(_("人资代为提交"), default=False)
    filed_at = models.DateTimeField(_("提交时间"), default=timezone.now)
    filed_late = models.BooleanField(_("逾期提交"), default=False)
    decision_due = models.DateField(_("裁决截止日"))
    status = models.CharField(
        _("状态"), max_length=12, choices=AppealStatus.choices, default=AppealStatus.PENDING, db_index=True
    )
    decided_at = models.DateTimeField(_("裁决时间"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("裁决人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decision_reason = models.TextField(_("裁决理由"), blank=True)

    objects = AppealQuerySet.as_manager()

    class Meta:
        verbose_name = _("申诉")
        verbose_name_plural = pgettext_lazy("plural", "申诉")
        ordering = ["-filed_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status=AppealStatus.PENDING, decided_at__isnull=True)
                | (~Q(status=AppealStatus.PENDING) & Q(decided_at__isnull=False) & ~Q(decision_reason="")),
                name="appeal_decision_complete",
                violation_error_message=_("裁决必须有时间和理由。"),
            ),
        ]

    def __str__(self) -> str:
        return f"{_('申诉')} {self.violation}"

    @property
    def decision_due_provisional(self) -> bool:
        """暂定: HR's decision window runs through a year without the official holiday schedule."""
        from ..workdays import is_provisional

        return is_provisional(self.decision_due, timezone.localdate(self.filed_at))

    def is_overdue(self, today=None) -> bool:
        today = today or timezone.localdate()
        return self.status == AppealStatus.PENDING and self.decision_due < today
